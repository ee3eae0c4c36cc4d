"""LangChain integration for ragstore: a vector store, embedding adapters, a document loader and a self-query translator.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore import RagstoreVectorStore
    >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
    >>> store.add_texts(["hello"], ids=["h"])
    ['h']

"""

from langchain_ragstore.document_loaders import RagstoreLoader
from langchain_ragstore.embeddings import EmbeddingError, LangChainEmbeddingFunction, RagstoreEmbeddings
from langchain_ragstore.filters import InvalidFilterError, normalize_filter
from langchain_ragstore.hybrid import BM25_KEY, MissingBm25IndexError
from langchain_ragstore.records import InvalidRecordsError
from langchain_ragstore.relevance import UnknownSpaceError, relevance_fn
from langchain_ragstore.retrievers import RagstoreRetriever
from langchain_ragstore.self_query import RagstoreTranslator
from langchain_ragstore.sources import ConflictingSourcesError, InvalidSourceError
from langchain_ragstore.vectorstores import AsyncOnlyStoreError, MissingEmbeddingsError, RagstoreVectorStore

__version__ = "0.1.0"

__all__ = [
    "BM25_KEY",
    "AsyncOnlyStoreError",
    "ConflictingSourcesError",
    "EmbeddingError",
    "InvalidFilterError",
    "InvalidRecordsError",
    "InvalidSourceError",
    "LangChainEmbeddingFunction",
    "MissingBm25IndexError",
    "MissingEmbeddingsError",
    "RagstoreEmbeddings",
    "RagstoreLoader",
    "RagstoreRetriever",
    "RagstoreTranslator",
    "RagstoreVectorStore",
    "UnknownSpaceError",
    "__version__",
    "normalize_filter",
    "relevance_fn",
]
