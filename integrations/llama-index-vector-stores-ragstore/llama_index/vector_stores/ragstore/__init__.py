"""LlamaIndex vector store integration for ragstore.

Example:
    >>> from llama_index.vector_stores.ragstore import RagstoreVectorStore
    >>> RagstoreVectorStore.class_name()
    'RagstoreVectorStore'

"""

from llama_index.vector_stores.ragstore.base import RagstoreVectorStore
from llama_index.vector_stores.ragstore.errors import (
    InvalidNodeError,
    MissingCollectionError,
    RagstoreVectorStoreError,
    UnsupportedFilterError,
    UnsupportedQueryError,
)

__all__ = [
    "InvalidNodeError",
    "MissingCollectionError",
    "RagstoreVectorStore",
    "RagstoreVectorStoreError",
    "UnsupportedFilterError",
    "UnsupportedQueryError",
]
