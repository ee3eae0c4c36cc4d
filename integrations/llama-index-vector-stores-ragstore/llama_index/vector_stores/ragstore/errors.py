"""Errors raised by the ragstore vector store integration.

Every error is a :class:`RagstoreVectorStoreError`; those about bad input are also
``ValueError`` so callers that catch ``ValueError`` (as LlamaIndex code does) keep working.

Example:
    >>> from llama_index.vector_stores.ragstore.errors import UnsupportedFilterError
    >>> issubclass(UnsupportedFilterError, ValueError)
    True

"""

from __future__ import annotations


class RagstoreVectorStoreError(Exception):
    """Base class of the integration's errors."""


class UnsupportedFilterError(RagstoreVectorStoreError, ValueError):
    """A metadata filter whose operator and value do not fit together (e.g. ``in`` with a scalar)."""


class InvalidNodeError(RagstoreVectorStoreError, ValueError):
    """A node that cannot be stored: no embedding, or metadata ragstore cannot hold."""


class UnsupportedQueryError(RagstoreVectorStoreError, ValueError):
    """A query this store does not serve: an unsupported mode, conflicting or unknown arguments."""


class MissingCollectionError(RagstoreVectorStoreError, TypeError):
    """A sync call on a store built from an async collection only (or the reverse misuse)."""
