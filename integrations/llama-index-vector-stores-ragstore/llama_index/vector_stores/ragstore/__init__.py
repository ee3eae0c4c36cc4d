"""LlamaIndex vector store integration for ragstore, with an embedding model over ragstore's embedding functions.

Example:
    >>> from llama_index.vector_stores.ragstore import RagstoreVectorStore
    >>> RagstoreVectorStore.class_name()
    'RagstoreVectorStore'

"""

from llama_index.vector_stores.ragstore.base import RagstoreVectorStore
from llama_index.vector_stores.ragstore.embedding import RagstoreEmbedding
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
    "RagstoreEmbedding",
    "RagstoreVectorStore",
    "RagstoreVectorStoreError",
    "UnsupportedFilterError",
    "UnsupportedQueryError",
]
