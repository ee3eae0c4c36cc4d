"""Embedding functions: the protocol, a registry of known ones, and the default.

An embedding function is any object with chromadb's protocol::

    __call__(self, input: list[str]) -> list of vectors
    embed_query(self, input: list[str]) -> list of vectors   # optional
    name() -> str; get_config() -> dict; build_from_config(config)  # optional, for persistence

A collection remembers the name and config of a *known* (registered) function,
so ``get_collection(name)`` rebuilds it without the caller passing it again.

Example:
    >>> from ragstore.embeddings import HashingEmbeddingFunction
    >>> ef = HashingEmbeddingFunction(dim=8)
    >>> len(ef(["hello world"])[0])
    8

"""

from __future__ import annotations

from ragstore.embeddings.base import (
    EmbeddingFunction,
    build_embedding_function,
    describe_embedding_function,
    embedding_functions_conflict,
    register_embedding_function,
)
from ragstore.embeddings.default import DefaultEmbeddingFunction, default_embedding_function
from ragstore.embeddings.hashing import HashingEmbeddingFunction

__all__ = [
    "DefaultEmbeddingFunction",
    "EmbeddingFunction",
    "HashingEmbeddingFunction",
    "build_embedding_function",
    "default_embedding_function",
    "describe_embedding_function",
    "embedding_functions_conflict",
    "register_embedding_function",
]
