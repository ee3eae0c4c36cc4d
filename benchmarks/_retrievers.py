"""The two sides a hybrid query fuses, as the hybrid benchmark runs them: dense through ragstore, BM25 through bm25s.

- :class:`DenseSide`: a collection's cached MiniLM vectors in a ragstore collection (cosine),
  asked with ``collection.query``: ragstore's public API as it is before issue 16;
- :class:`Bm25sSide`: the raw library bm25s with an English stemmer and stop words, the
  reference a ragstore BM25 must reach;
- :class:`RagstoreTokensSide`: bm25s scoring ``ragstore.bm25_text``'s tokens (chroma's tokenizer)
  with chroma's k1/b: what ragstore's engine-owned BM25 should reproduce.

:func:`split_runs` asks every side once per split and keeps each query's top
:data:`~_fusion.CANDIDATES` with scores (higher is better), so fusions and the tuning grid
re-rank those lists without asking again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from _fusion import CANDIDATES, Ranked
from _judged import DenseVectors, JudgedCollection

import ragstore

BATCH = 1_000  # records per add call
QUERY_BATCH = 250  # query vectors per collection.query call (x 200 results stays under ragstore's 100,000 cap)


@dataclass
class SplitRuns:
    """Both sides' candidates for every query of one split, by query id."""

    query_ids: list[str]
    dense: dict[str, Ranked]
    bm25: dict[str, Ranked]
    dense_ms: float
    bm25_ms: float
    bm25_ragstore_tokens: dict[str, Ranked] | None = None  # bm25s over ragstore.bm25_text's tokens, where it exists
    bm25_ragstore_tokens_ms: float | None = None


@contextmanager
def timer() -> Iterator[list[float]]:
    """Yields a one-element list that holds the elapsed seconds once the block ends."""
    elapsed = [0.0]
    started = time.perf_counter()
    yield elapsed
    elapsed[0] = time.perf_counter() - started


class DenseSide:
    """The corpus's cached vectors in a ragstore collection (cosine), queried through ``collection.query``."""

    def __init__(self, collection: JudgedCollection, vectors: DenseVectors) -> None:
        self._client = ragstore.EphemeralClient()
        self._collection = self._client.create_collection(f"dense-{collection.name}", configuration={"hnsw": {"space": "cosine"}})
        self._index = {doc_id: i for i, doc_id in enumerate(collection.doc_ids)}
        ids, texts = collection.doc_ids, collection.texts
        for start in range(0, len(ids), BATCH):
            end = start + BATCH
            self._collection.add(ids=ids[start:end], embeddings=vectors.documents[start:end], documents=texts[start:end])

    def run(self, query_vectors: np.ndarray) -> tuple[list[Ranked], float]:
        """Top :data:`CANDIDATES` per query (score = cosine similarity) and the seconds of the batched calls."""
        ranked = []
        with timer() as elapsed:
            # ragstore caps one call at 100,000 results (MAX_QUERY_RESULTS), chromadb's limit
            for start in range(0, len(query_vectors), QUERY_BATCH):
                result = self._collection.query(
                    query_embeddings=query_vectors[start : start + QUERY_BATCH], n_results=CANDIDATES, include=["distances"]
                )
                for ids, distances in zip(result["ids"], result["distances"] or [], strict=True):
                    ranked.append(Ranked.of([self._index[i] for i in ids], [1.0 - d for d in distances]))
        return ranked, elapsed[0]


class Bm25sSide:
    """bm25s over the corpus: Lucene BM25 (k1=1.5, b=0.75), English Snowball stems, English stop words."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s  # type: ignore[import-untyped]
        import Stemmer  # type: ignore[import-not-found]

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self._retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
        self._retriever.index(bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stemmer, show_progress=False), show_progress=False)
        self._size = len(texts)

    def run(self, queries: Sequence[str]) -> tuple[list[Ranked], float]:
        """Top :data:`CANDIDATES` per query with a positive score (a sparse index returns nothing else) and the seconds taken."""
        with timer() as elapsed:
            tokens = self._bm25s.tokenize(list(queries), stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)
            indices, scores = self._retriever.retrieve(tokens, k=min(CANDIDATES, self._size), show_progress=False, n_threads=1)
        ranked = []
        for row, row_scores in zip(indices, scores, strict=True):
            keep = row_scores > 0
            ranked.append(Ranked.of(row[keep], row_scores[keep]))
        return ranked, elapsed[0]


class RagstoreTokensSide:
    """bm25s scoring ragstore's BM25 tokens (chroma's tokenizer: its stop words, Snowball stems) with chroma's k1=1.2, b=0.75.

    What ragstore's engine-owned BM25 should reproduce: the same tokens and parameters, with the
    Lucene IDF and the collection's own document lengths (not chroma's fixed ``avg_doc_length``).
    """

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s
        from bm25s.tokenization import Tokenized  # type: ignore[import-untyped]

        from ragstore.bm25_text import default_tokenizer

        self._tokenized, self._tokenizer, self._vocab = Tokenized, default_tokenizer(), {"": 0}
        self._retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        self._retriever.index(self._ids(texts, grow=True), show_progress=False)
        self._size = len(texts)

    def _ids(self, texts: Sequence[str], grow: bool) -> Any:
        rows = []
        for text in texts:
            row = []
            for token in self._tokenizer.tokenize(text):
                if token not in self._vocab and grow:
                    self._vocab[token] = len(self._vocab)
                if token in self._vocab:  # a query word no document has scores nothing anyway
                    row.append(self._vocab[token])
            rows.append(row or [0])  # bm25s needs a token per query; "" matches no document
        return self._tokenized(ids=rows, vocab=self._vocab)

    def run(self, queries: Sequence[str]) -> tuple[list[Ranked], float]:
        """Top :data:`CANDIDATES` per query with a positive score, and the seconds taken."""
        with timer() as elapsed:
            indices, scores = self._retriever.retrieve(self._ids(queries, grow=False), k=min(CANDIDATES, self._size), show_progress=False)
        return [
            Ranked.of(row[row_scores > 0], row_scores[row_scores > 0]) for row, row_scores in zip(indices, scores, strict=True)
        ], elapsed[0]


def ragstore_tokens_available() -> bool:
    """Whether ``ragstore.bm25_text`` (chroma's BM25 tokenizer, issue 16) is there to tokenise with."""
    try:
        import ragstore.bm25_text  # noqa: F401
    except ImportError:
        return False
    return True


def split_runs(collection: JudgedCollection, vectors: DenseVectors, limit: int | None) -> dict[str, SplitRuns]:
    """Dense and bm25s candidates (and bm25s over ragstore's tokens, where it can) for every split's queries (the first ``limit``)."""
    dense_side, bm25_side = DenseSide(collection, vectors), Bm25sSide(collection.texts)
    tokens_side = RagstoreTokensSide(collection.texts) if ragstore_tokens_available() else None
    runs = {}
    for split in collection.splits:
        query_ids, query_vectors = vectors.for_split(collection, split)
        query_ids, query_vectors = query_ids[:limit], query_vectors[:limit]
        texts = [collection.queries[split][q] for q in query_ids]
        dense, dense_seconds = dense_side.run(query_vectors)
        bm25, bm25_seconds = bm25_side.run(texts)
        per_query = 1000 / max(len(query_ids), 1)
        run = SplitRuns(
            query_ids,
            dict(zip(query_ids, dense, strict=True)),
            dict(zip(query_ids, bm25, strict=True)),
            dense_seconds * per_query,
            bm25_seconds * per_query,
        )
        if tokens_side:
            chroma_tokens, chroma_seconds = tokens_side.run(texts)
            run.bm25_ragstore_tokens, run.bm25_ragstore_tokens_ms = (
                dict(zip(query_ids, chroma_tokens, strict=True)),
                chroma_seconds * per_query,
            )
        runs[split] = run
    return runs
