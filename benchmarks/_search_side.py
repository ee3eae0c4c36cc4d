"""ragstore's own Search API as the hybrid benchmark asks it, written as chromadb code would be.

The collection's schema holds dense cosine vectors and a BM25 sparse index on the documents
(key ``bm25``, chroma's ``ChromaBm25EmbeddingFunction``), as chromadb documents it:
``Schema().create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT,
embedding_function=ChromaBm25EmbeddingFunction()), key="bm25")``. Every name comes from
``ragstore``, so ``import ragstore as chromadb`` code is what runs. Until ``ragstore.Search``
and ``Collection.search`` exist, :func:`search_api_missing` says why and nothing here runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
from _fusion import CANDIDATES, OUTPUT, Setting
from _judged import DenseVectors, JudgedCollection
from _retrievers import BATCH, timer

import ragstore

SEARCH_BATCH = 50  # Search payloads per collection.search call
# chroma drops a document missing from any Knn whose default is None; a rank far past every
# candidate list makes a missing side add ~0, i.e. textbook RRF, the reference computed here
MISSING_RANK = 1_000_000


def search_api_missing() -> str | None:
    """Why the ragstore rows cannot run, or ``None`` when ``ragstore.Search`` and ``Collection.search`` both exist."""
    from ragstore.collection import Collection

    version = getattr(ragstore, "__version__", "?")
    if not hasattr(ragstore, "Search"):
        return f"ragstore {version} has no Search API yet (hasattr(ragstore, 'Search') is False): its rows print '-'"
    if not hasattr(Collection, "search"):
        return f"ragstore {version} exports Search but Collection has no search() yet: its rows print '-'"
    return None


def _search_names() -> dict[str, Any]:
    """chromadb's Search API names, taken from ragstore (``import ragstore as chromadb`` code runs unchanged)."""
    names = ("Search", "Knn", "Rrf", "K", "Schema", "VectorIndexConfig", "SparseVectorIndexConfig", "ChromaBm25EmbeddingFunction")
    return {name: getattr(ragstore, name) for name in names}


class SearchSide:
    """The corpus in a ragstore collection whose schema has dense cosine vectors and a BM25 sparse index on the documents."""

    def __init__(self, collection: JudgedCollection, vectors: DenseVectors) -> None:
        self.api = _search_names()
        schema = self.api["Schema"]()
        schema.create_index(config=self.api["VectorIndexConfig"](space="cosine"))
        schema.create_index(
            config=self.api["SparseVectorIndexConfig"](
                source_key=self.api["K"].DOCUMENT, embedding_function=self.api["ChromaBm25EmbeddingFunction"]()
            ),
            key="bm25",
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="ragstore-hybrid-")
        self._client = ragstore.PersistentClient(self._tmp.name)
        # Any: Collection.search arrives with issue 16; this class runs only once it has
        self._collection: Any = self._client.create_collection(f"hybrid-{collection.name}", schema=schema)
        ids, texts = collection.doc_ids, collection.texts
        with timer() as elapsed:
            for start in range(0, len(ids), BATCH):
                end = start + BATCH
                self._collection.add(ids=ids[start:end], embeddings=vectors.documents[start:end], documents=texts[start:end])
        self.ingest_seconds = elapsed[0]  # embeddings given: this is storage plus BM25 upkeep

    def hybrid_query(self, texts: list[str], vectors: list[Any], n_results: int) -> tuple[list[list[str]], float]:
        """``query(query_texts=..., query_embeddings=..., mode="hybrid")``: the one-line hybrid, batched; ids and ms a query."""
        ids: list[list[str]] = []
        with timer() as elapsed:
            for start in range(0, len(texts), 250):  # queries x n_results stays under chromadb's 100,000
                found = self._collection.query(
                    query_texts=texts[start : start + 250],
                    query_embeddings=vectors[start : start + 250],
                    n_results=n_results,
                    include=[],
                    mode="hybrid",
                )
                ids.extend(found["ids"])
        return ids, elapsed[0] * 1000 / max(len(texts), 1)

    def close(self) -> None:
        """Close the client and remove its files."""
        self._client.close()
        self._tmp.cleanup()

    def bm25(self, text: str) -> Any:
        """``Search().rank(Knn(query=text, key="bm25"))`` with scores: BM25 alone, :data:`CANDIDATES` deep."""
        api = self.api
        return api["Search"]().rank(api["Knn"](query=text, key="bm25", limit=CANDIDATES)).limit(CANDIDATES).select(api["K"].SCORE)

    def dense(self, vector: np.ndarray) -> Any:
        """``Search().rank(Knn(query=vector))`` with scores (cosine distances): the dense side alone, :data:`CANDIDATES` deep."""
        api = self.api
        return api["Search"]().rank(api["Knn"](query=vector.tolist(), limit=CANDIDATES)).limit(CANDIDATES).select(api["K"].SCORE)

    def hybrid(self, text: str, vector: np.ndarray, setting: Setting) -> Any:
        """``Rrf([dense Knn, bm25 Knn])`` with ``setting``'s k, weights and candidates."""
        api = self.api
        dense = api["Knn"](query=vector.tolist(), return_rank=True, limit=setting.candidates, default=MISSING_RANK)
        bm25 = api["Knn"](query=text, key="bm25", return_rank=True, limit=setting.candidates, default=MISSING_RANK)
        rank = api["Rrf"]([dense, bm25], k=setting.k, weights=[setting.dense_weight, 1 - setting.dense_weight])
        return api["Search"]().rank(rank).limit(OUTPUT)

    def run(self, searches: Sequence[Any]) -> tuple[list[list[str]], list[list[float]], float]:
        """Ranked ids and scores per search, and milliseconds per search (:data:`SEARCH_BATCH` searches per call)."""
        ids: list[list[str]] = []
        scores: list[list[float]] = []
        with timer() as elapsed:
            for start in range(0, len(searches), SEARCH_BATCH):
                result = self._collection.search(list(searches[start : start + SEARCH_BATCH]))
                ids.extend(result["ids"])
                scores.extend(result.get("scores") or [[] for _ in result["ids"]])
        return ids, scores, elapsed[0] * 1000 / max(len(searches), 1)
