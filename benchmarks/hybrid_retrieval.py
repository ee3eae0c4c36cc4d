"""Retrieval quality of dense, BM25 and fused (hybrid) search on the four judged collections (issue 16).

One table, a row per collection, split and method, with nDCG@10, recall@100 and query time:

- **dense**: ragstore's public API as it is today: a cosine collection holding each corpus's
  cached all-MiniLM-L6-v2 vectors (see ``_judged.py``), ``collection.query(query_embeddings=...)``;
- **bm25s**: the raw library bm25s (Lucene BM25, k1=1.5, b=0.75) with PyStemmer's English
  Snowball stemmer and bm25s's English stop words: the reference a ragstore BM25 must reach;
  and bm25s over ``ragstore.bm25_text``'s tokens (chroma's tokenizer) with chroma's k1=1.2,
  b=0.75: what ragstore's engine-owned BM25, which must hash those tokens, should reproduce;
- **RRF / DBSF / min-max**: the two lists above fused in this script (``_fusion.py``), top
  ``--candidates`` (200) of each side: the references for ragstore's hybrid;
- **ragstore bm25 / ragstore hybrid**: the same through ``collection.search`` with chromadb's
  Search API, on a collection whose schema has a BM25 sparse index on the documents (key
  ``bm25``). They run only where ``ragstore.Search`` exists; elsewhere they print ``-``.

``--tune`` chooses each fusion's parameters (RRF k, dense:bm25 weights, candidates per side) on
the SciFact **train** queries only, prints the grid, then reports two choices per fusion on SciFact
test and the other three collections, which were never tuned on: the grid's argmax, and the
one-standard-error choice (the setting nearest the literature's default among those within one
paired standard error of the best; see :func:`tune`).

Quality is deterministic, so each row is one run. Query times are wall time of one batched call
over all the split's queries divided by their number (dense and bm25s), the fusion alone for the
script's fusions (add the two sides for a full hybrid query), and per ``search`` call for ragstore's
rows; they are indicative only (two shared cores). Embedding time is excluded everywhere: the
query vectors come from the cache.

Usage::

    python benchmarks/hybrid_retrieval.py [--collections scifact,nfcorpus,vaswani,cranfield] [--tune]

``--queries Q`` keeps the first Q queries of each split (a smoke test; the scores then mean little).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from _embedders import cpu_name, load_average
from _fusion import Ranked, dbsf, minmax, rrf
from _judged import COLLECTIONS, EMBEDDER_LABEL, DenseVectors, JudgedCollection, Quality, dense_vectors, load, ndcg_at, quality

import ragstore

CANDIDATES = 200  # per side, as Qdrant's article fuses (and the RRF reference of issue 16)
OUTPUT = 100  # ranked documents kept per query: recall@100 needs 100
BATCH = 1_000
QUERY_BATCH = 250  # query vectors per collection.query call (x 200 results stays under ragstore's 100,000 cap)
SEARCH_BATCH = 50  # Search payloads per collection.search call
RRF_K = 60
# chroma drops a document missing from any Knn whose default is None; a rank far past every
# candidate list makes a missing side add ~0, i.e. textbook RRF, the reference computed here
MISSING_RANK = 1_000_000
PUBLISHED = (
    "Published SciFact test nDCG@10: BM25 0.665 (BEIR), bm25s 0.686 here, dense all-MiniLM-L6-v2 0.645; "
    "Qdrant's hybrid article (200 candidates): dense 0.624, BM25 0.689, RRF 0.718, DBSF 0.732. "
    "NFCorpus: BM25 0.325 (BEIR, 3,633 docs), MiniLM 0.316."
)


@dataclass(frozen=True)
class Setting:
    """One fusion's parameters: method, dense weight (bm25 gets ``1 - dense``), RRF k, candidates per side.

    Example:
        >>> Setting("rrf", 0.5).label
        'RRF k=60 w=0.5:0.5 200+200'
        >>> Setting("dbsf", 0.5, candidates=2).fuse(Ranked.of([1, 2], [0.9, 0.1]), Ranked.of([2], [5.0]))  # 2: found by both
        [2, 1]
    """

    method: str  # "rrf", "dbsf" or "minmax"
    dense_weight: float = 0.5
    k: int = RRF_K
    candidates: int = CANDIDATES

    @property
    def label(self) -> str:
        """E.g. ``RRF k=60 w=0.5:0.5 200+200``."""
        k = f" k={self.k}" if self.method == "rrf" else ""
        name = {"rrf": "RRF", "dbsf": "DBSF", "minmax": "min-max"}[self.method]
        return f"{name}{k} w={self.dense_weight:g}:{1 - self.dense_weight:g} {self.candidates}+{self.candidates}"

    def fuse(self, dense: Ranked, bm25: Ranked) -> list[int]:
        """The fused top :data:`OUTPUT` document indices of one query."""
        lists = [dense.top(self.candidates), bm25.top(self.candidates)]
        weights = [self.dense_weight, 1 - self.dense_weight]
        if self.method == "rrf":
            return rrf(lists, weights, self.k, OUTPUT)
        if self.method == "dbsf":
            return dbsf(lists, weights, OUTPUT)
        return minmax(lists, weights, OUTPUT)


DEFAULT_SETTINGS = (Setting("rrf", 0.5), Setting("dbsf", 0.5), Setting("minmax", 0.5))


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    collection: str
    split: str
    method: str
    quality: Quality | None  # None: not run (ragstore's Search missing)
    ms_per_query: float | None


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


# -- the two sides ------------------------------------------------------------------------------


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


def fused_quality(collection: JudgedCollection, split: str, runs: SplitRuns, setting: Setting) -> tuple[Quality, float]:
    """Quality of ``setting``'s fusion over a split, and the fusion's own milliseconds per query."""
    doc_ids = collection.doc_ids
    with timer() as elapsed:
        fused = {q: [doc_ids[i] for i in setting.fuse(runs.dense[q], runs.bm25[q])] for q in runs.query_ids}
    return quality(fused, _qrels(collection, split, runs)), elapsed[0] * 1000 / max(len(runs.query_ids), 1)


def _qrels(collection: JudgedCollection, split: str, runs: SplitRuns) -> dict[str, dict[str, int]]:
    return {q: collection.qrels[split][q] for q in runs.query_ids}


def side_quality(collection: JudgedCollection, split: str, runs: SplitRuns, side: dict[str, Ranked]) -> Quality:
    """Quality of one side alone (its top :data:`OUTPUT`)."""
    doc_ids = collection.doc_ids
    ranked = {q: [doc_ids[i] for i in side[q].indices[:OUTPUT].tolist()] for q in runs.query_ids}
    return quality(ranked, _qrels(collection, split, runs))


# -- ragstore's own Search API (rows that run once it exists) ----------------------------------


def search_api_missing() -> str | None:
    """Why the ragstore rows cannot run, or ``None`` when ``ragstore.Search`` exists."""
    if hasattr(ragstore, "Search"):
        return None
    return (
        f"ragstore {getattr(ragstore, '__version__', '?')} has no Search API yet (hasattr(ragstore, 'Search') is False): its rows print '-'"
    )


def _search_names() -> dict[str, Any]:
    """chromadb's Search API names, taken from ragstore (``import ragstore as chromadb`` code runs unchanged)."""
    names = {}
    for name in ("Search", "Knn", "Rrf", "K", "Schema", "VectorIndexConfig", "SparseVectorIndexConfig"):
        names[name] = getattr(ragstore, name)
    names["Bm25"] = getattr(ragstore, "ChromaBm25EmbeddingFunction", None) or ragstore.embeddings.ChromaBm25EmbeddingFunction
    return names


class SearchSide:
    """The corpus in a ragstore collection whose schema has dense cosine vectors and a BM25 sparse index on the documents."""

    def __init__(self, collection: JudgedCollection, vectors: DenseVectors) -> None:
        self.api = _search_names()
        schema = self.api["Schema"]()
        schema.create_index(config=self.api["VectorIndexConfig"](space="cosine"))
        schema.create_index(
            config=self.api["SparseVectorIndexConfig"](source_key=self.api["K"].DOCUMENT, embedding_function=self.api["Bm25"]()), key="bm25"
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
        self.ingest_seconds = elapsed[0]

    def close(self) -> None:
        """Close the client and remove its files."""
        self._client.close()
        self._tmp.cleanup()

    def bm25(self, text: str) -> Any:
        """``Search().rank(Knn(query=text, key="bm25"))`` with scores: BM25 alone, :data:`CANDIDATES` deep."""
        api = self.api
        return api["Search"]().rank(api["Knn"](query=text, key="bm25", limit=CANDIDATES)).limit(CANDIDATES).select(api["K"].SCORE)

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


def ragstore_rows(
    collection: JudgedCollection, vectors: DenseVectors, runs: dict[str, SplitRuns], settings: Sequence[Setting]
) -> list[Row]:
    """The ragstore rows of every split (``-`` when the Search API is missing).

    ``ragstore bm25``: the BM25 sparse index alone; ``ragstore hybrid``: chroma's ``Rrf`` through
    ``search`` for each RRF setting; for the score fusions, which chroma's rank expressions cannot
    state (they need each list's mean and spread), ragstore's BM25 list and the dense list fused in
    this script. For the first RRF setting it also prints how often the engine's ``Rrf`` top 10
    equals the script's RRF over ragstore's own two lists (it should, always).
    """
    rrf_settings = [s for s in settings if s.method == "rrf"]
    score_settings = [s for s in settings if s.method != "rrf"]
    methods = ["ragstore bm25 (Search, Knn key=bm25)"]
    methods += [f"ragstore hybrid (Search, {s.label})" for s in rrf_settings]
    methods += [f"ragstore bm25 + dense, {s.label} (fused in script)" for s in score_settings]
    if search_api_missing():
        return [Row(collection.name, split, method, None, None) for split in runs for method in methods]
    side = SearchSide(collection, vectors)
    doc_ids, index = collection.doc_ids, {doc_id: i for i, doc_id in enumerate(collection.doc_ids)}
    rows = []
    try:
        for split, split_run in runs.items():
            qrels, query_ids = _qrels(collection, split, split_run), split_run.query_ids
            texts = [collection.queries[split][q] for q in query_ids]
            query_vectors = dict(zip(*vectors.for_split(collection, split), strict=True))
            ids, scores, ms = side.run([side.bm25(t) for t in texts])
            rows.append(
                Row(collection.name, split, methods[0], quality({q: r[:OUTPUT] for q, r in zip(query_ids, ids, strict=True)}, qrels), ms)
            )
            # scores ascend (lower is better) and a sparse Knn yields the negated BM25: negate back
            bm25 = {q: Ranked.of([index[i] for i in r], [-x for x in sc]) for q, r, sc in zip(query_ids, ids, scores, strict=True)}
            for setting in rrf_settings:
                fused, _, ms = side.run([side.hybrid(t, query_vectors[q], setting) for q, t in zip(query_ids, texts, strict=True)])
                rows.append(
                    Row(
                        collection.name,
                        split,
                        f"ragstore hybrid (Search, {setting.label})",
                        quality(dict(zip(query_ids, fused, strict=True)), qrels),
                        ms,
                    )
                )
                if setting is rrf_settings[0]:
                    script = [[doc_ids[i] for i in setting.fuse(split_run.dense[q], bm25[q])][:10] for q in query_ids]
                    same = sum(a[:10] == b for a, b in zip(fused, script, strict=True))
                    print(
                        f"{collection.name} {split}: engine Rrf top 10 = script RRF of ragstore's lists in {same}/{len(query_ids)} queries"
                    )
            for setting in score_settings:
                with timer() as elapsed:
                    fused_ids = {q: [doc_ids[i] for i in setting.fuse(split_run.dense[q], bm25[q])] for q in query_ids}
                label = f"ragstore bm25 + dense, {setting.label} (fused in script)"
                rows.append(Row(collection.name, split, label, quality(fused_ids, qrels), elapsed[0] * 1000 / max(len(query_ids), 1)))
    finally:
        side.close()
    return rows


# -- tuning on SciFact train ----------------------------------------------------------------------


GRID_K = (5, 10, 20, 40, 60, 100)
GRID_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GRID_CANDIDATES = (50, 100, 200)


def _per_query_ndcg(collection: JudgedCollection, split: str, runs: SplitRuns, setting: Setting) -> np.ndarray:
    doc_ids, qrels = collection.doc_ids, collection.qrels[split]
    return np.array([ndcg_at([doc_ids[i] for i in setting.fuse(runs.dense[q], runs.bm25[q])], qrels[q], 10) for q in runs.query_ids])


def _distance_from_default(setting: Setting) -> tuple[float, int, float]:
    """How far a setting strays from the literature's (equal weights, 200 candidates, k=60), for the one-standard-error rule."""
    # candidates before k: fewer than 100 per side cannot fill the 100 answers recall@100 reads
    return (abs(setting.dense_weight - 0.5), abs(setting.candidates - CANDIDATES), abs(math.log(setting.k / RRF_K)))


def tune(collection: JudgedCollection, runs: SplitRuns, split: str) -> list[Setting]:
    """Each fusion's setting chosen on ``split`` (SciFact train), printing every grid point; returns the argmax and the 1-SE choice.

    The choice follows the one-standard-error rule (Breiman et al.): among the settings whose mean
    nDCG@10 is within one standard error of the best (the SE of the per-query paired difference),
    take the one closest to the literature's default; with a few hundred queries, differences
    smaller than that are noise, and the argmax of a 100-point grid is an optimistic pick.
    """
    chosen: list[Setting] = []
    print(f"\nTuning on {collection.name} {split} ({len(runs.query_ids)} queries): nDCG@10; columns: dense weight (bm25: 1 - it)")
    print("* = best on this split; + = within one standard error of it (paired, per query)\n")
    for method, ks in (("rrf", GRID_K), ("dbsf", (RRF_K,)), ("minmax", (RRF_K,))):
        grid = [Setting(method, w, k, c) for c, k, w in itertools.product(GRID_CANDIDATES, ks, GRID_WEIGHTS)]
        # grid order: fewer candidates and smaller k first, so an exact tie keeps the cheaper setting
        per_query = {setting: _per_query_ndcg(collection, split, runs, setting) for setting in grid}
        best = max(grid, key=lambda setting: float(per_query[setting].mean()))
        within = set()
        for setting in grid:
            diff = per_query[best] - per_query[setting]
            if diff.mean() <= diff.std(ddof=1) / math.sqrt(len(diff)):
                within.add(setting)
        pick = min(within, key=_distance_from_default)
        print(f"| {method} | " + " | ".join(f"w={w:g}" for w in GRID_WEIGHTS) + " |")
        print("|---|" + "--:|" * len(GRID_WEIGHTS))
        for candidates, k in itertools.product(GRID_CANDIDATES, ks):
            cells = []
            for weight in GRID_WEIGHTS:
                setting = Setting(method, weight, k, candidates)
                mark = "*" if setting == best else "+" if setting in within else ""
                cells.append(f"{per_query[setting].mean():.4f}{mark}")
            where = f"{candidates} cand." + (f", k={k}" if method == "rrf" else "")
            print(f"| {where} | " + " | ".join(cells) + " |")
        print(f"\n{method}: best {best.label} ({per_query[best].mean():.4f}); one-SE choice {pick.label} ({per_query[pick].mean():.4f})\n")
        chosen += [best, pick]
    return chosen


def machine() -> str:
    """One line: date, CPU, cores, Python, the libraries measured, where ragstore comes from, the load average."""
    return (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"bm25s {version('bm25s')}, PyStemmer {version('PyStemmer')}, onnxruntime {version('onnxruntime')}; "
        f"ragstore from {Path(ragstore.__file__).parent}; load average {load_average()}"
    )


# -- the table ------------------------------------------------------------------------------------


def collection_rows(
    collection: JudgedCollection, vectors: DenseVectors, runs: dict[str, SplitRuns], settings: Sequence[Setting]
) -> list[Row]:
    """Every row of one collection: dense, bm25s, the script's fusions, then ragstore's Search rows."""
    rows = []
    for split, split_run in runs.items():
        rows.append(
            Row(
                collection.name,
                split,
                "dense: ragstore collection.query (cosine)",
                side_quality(collection, split, split_run, split_run.dense),
                split_run.dense_ms,
            )
        )
        rows.append(
            Row(
                collection.name,
                split,
                "bm25s (stemmed, stop words)",
                side_quality(collection, split, split_run, split_run.bm25),
                split_run.bm25_ms,
            )
        )
        if split_run.bm25_ragstore_tokens is not None:
            label = "bm25s over ragstore.bm25_text tokens, k1=1.2 b=0.75 (ragstore bm25's target)"
            tokens_quality = side_quality(collection, split, split_run, split_run.bm25_ragstore_tokens)
            rows.append(Row(collection.name, split, label, tokens_quality, split_run.bm25_ragstore_tokens_ms))
        for setting in settings:
            fused, ms = fused_quality(collection, split, split_run, setting)
            rows.append(Row(collection.name, split, f"{setting.label} (script; fusion only)", fused, ms))
    by_split: dict[str, list[Row]] = {split: [r for r in rows if r.split == split] for split in runs}
    for row in ragstore_rows(collection, vectors, runs, settings):
        by_split[row.split].append(row)
    return [row for split in runs for row in by_split[split]]


def print_table(rows: Sequence[Row]) -> None:
    """The markdown table."""
    print("| collection | split | queries | method | nDCG@10 | recall@100 | ms/query |")
    print("|---|---|--:|---|--:|--:|--:|")
    for row in rows:
        q = row.quality
        cells = (f"{q.queries}", f"{q.ndcg_at_10:.4f}", f"{q.recall_at_100:.4f}") if q else ("-", "-", "-")
        ms = f"{row.ms_per_query:.2f}" if row.ms_per_query is not None else "-"
        print(f"| {row.collection} | {row.split} | {cells[0]} | {row.method} | {cells[1]} | {cells[2]} | {ms} |")


def main(argv: Sequence[str] | None = None) -> None:
    """Run every collection, print the tuning grid if asked, then the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--collections", default=",".join(COLLECTIONS), help=f"a subset of {','.join(COLLECTIONS)} (or nfcorpus-all, ...)")
    parser.add_argument("--tune", action="store_true", help="choose fusion parameters on SciFact train, then report them everywhere")
    parser.add_argument("--queries", type=int, default=None, help="only the first Q queries of each split (smoke tests)")
    args = parser.parse_args(argv)
    names = args.collections.split(",")
    if args.tune and "scifact" not in names:
        names.insert(0, "scifact")

    print("Hybrid retrieval quality: dense (ragstore), BM25 (bm25s), fusions, ragstore's Search API")
    print(f"Machine: {machine()}")
    print(f"Dense vectors: {EMBEDDER_LABEL}, cached; candidates per side {CANDIDATES}, {OUTPUT} ranked per query")
    if why := search_api_missing():
        print(why)
    loaded = {name: load(name) for name in names}
    vectors = {name: dense_vectors(c) for name, c in loaded.items()}
    runs = {name: split_runs(c, vectors[name], args.queries) for name, c in loaded.items()}

    settings = list(DEFAULT_SETTINGS)
    if args.tune:
        tuned = tune(loaded["scifact"], runs["scifact"]["train"], "train")
        settings += [s for s in tuned if s not in settings]
    rows = [row for name, c in loaded.items() for row in collection_rows(c, vectors[name], runs[name], settings)]
    print()
    print(PUBLISHED)
    print()
    print_table(rows)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
