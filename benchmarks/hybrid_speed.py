"""Hybrid search speed (issue 16): BM25 upkeep on add, and dense, BM25 and hybrid query latency, as one markdown table.

The issue's speed targets, on 100,000 documents with embedding time excluded: a hybrid query
costs at most 2x a dense query's p50, and BM25 upkeep adds at most 30% to add time.

Data: 100,000 real text chunks (Gutenberg books, ~1,000 characters each, ``_text_chunks.py``)
with the clustered 384-d vectors of ``bench.py`` (``_datasets.clustered``, same seed), metadata
``{"book", "cluster", "i", "chars"}``, and keyword queries of 2-6 words from the corpus paired
with bench.py's query vectors. Every system gets the same records and queries in the same run.

Rows:

- **ragstore persistent / ephemeral**: add the corpus in batches of 5,000 (ids, documents,
  metadata, vectors) to a collection without a BM25 index and to one with it (chromadb's
  ``Schema`` with a ``SparseVectorIndexConfig`` on ``K.DOCUMENT``, key ``bm25``; the order of the
  two alternates between repeats), then on the BM25 collection: the first BM25 query (it builds
  the in-memory index from SQLite), and per query text and vector, interleaved: ``query`` dense,
  ``query(mode="bm25")``, ``query(mode="hybrid")`` (k=10, documents, metadatas and distances),
  the two sides alone at the hybrid's depth (k=200, distances only), and ``collection.search``
  with a dense ``Knn``, a BM25 ``Knn`` and ``Rrf`` of both (candidates 200, limit 10,
  documents, scores and metadata);
- **chromadb persistent** (1.5.9): the usual peer; it has no local Search or BM25, so add and
  dense query only; every ratio in the table is against this row;
- **hnswlib (raw)** at ragstore's defaults and **bm25s (raw)** (its own tokenizer, English stems
  and stop words, one thread): what the two sides cost with nothing around them.

Each system's repeat runs in a fresh worker process, the systems interleaved inside each repeat; each cell is ``median (min-max) ratio``.

Usage::

    .venv/bin/python benchmarks/hybrid_speed.py [--n 100000] [--queries 200] [--repeats 3] [--systems a,b]

Example:
    .venv/bin/python benchmarks/hybrid_speed.py --n 5000 --queries 50 --repeats 1   # a smoke run, about a minute
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from typing import Any

import numpy as np
from _datasets import SEED, clustered
from _measure import percentile_ms
from _table import Column, Row, report
from _text_chunks import gutenberg_chunks, keyword_queries
from _workers import print_result, run_interleaved, spawn_worker

ADD_BATCH = 5_000
K_OUT = 10  # results per query
CANDIDATES = 200  # the hybrid's depth per side (ragstore.local.hybrid_query.HYBRID_CANDIDATES)
WARMUP = 10  # queries of each kind before timing (caches, the sparse index's first build is timed apart)
INCLUDE: Any = ["documents", "metadatas", "distances"]  # Any: chromadb types include as a list of its literals
BASELINE = "chromadb-persistent"
LABELS = {
    "ragstore-persistent": "ragstore persistent",
    "ragstore-ephemeral": "ragstore ephemeral",
    "chromadb-persistent": "chromadb persistent",
    "hnswlib": "hnswlib (raw)",
    "bm25s": "bm25s (raw)",
}
SYSTEMS = tuple(LABELS)


def _latency(kind: str, name: str, note: str, p99: bool = False) -> list[Column]:
    """The p50 column of a kind of query, under the key :func:`_latencies` gives it (``<kind>_p50``), and its p99 if ``p99``."""
    p50 = Column(f"{kind}_p50", f"{name} p50 (ms)", False, note)
    return [p50, Column(f"{kind}_p99", f"{name} p99 (ms)", False, "its 99th percentile")] if p99 else [p50]


COLUMNS = [
    Column(
        "add_plain", "add, no BM25 (rec/s)", True, "records per second adding the corpus in batches of 5,000 with documents and metadata"
    ),
    Column(
        "add_bm25",
        "add with BM25 (rec/s)",
        True,
        "the same into a collection whose schema has a BM25 index on the documents (bm25s: tokenizing and indexing the texts)",
    ),
    Column("upkeep_pct", "BM25 upkeep (% add)", False, "add time with the BM25 index over add time without it, minus 1, per repeat"),
    Column(
        "add_cpu_plain",
        "add CPU, no BM25 (us/rec)",
        False,
        "the process's CPU time (every thread: the writer and the background indexer) from the first add until the collection is"
        " fully indexed, per record",
    ),
    Column("add_cpu_bm25", "add CPU with BM25 (us/rec)", False, "the same for the collection with the BM25 index"),
    Column(
        "upkeep_cpu_pct",
        "BM25 upkeep, CPU (% add)",
        False,
        "add CPU time with the BM25 index over add CPU time without it, minus 1, per repeat: what keeping BM25 current costs,"
        " unmoved by other processes' load, which wall time on a shared machine is not",
    ),
    Column("first_bm25_ms", "1st BM25 query (ms)", False, "the first BM25 query after the add: it builds the in-memory BM25 index"),
    *_latency("dense", "dense", "`query(query_embeddings=...)`, k=10 with documents, metadatas, distances", p99=True),
    *_latency("bm25", "bm25", '`query(query_texts=..., mode="bm25")`, k=10, same fields (bm25s: tokenize + retrieve)'),
    *_latency("hybrid", "hybrid", '`query(query_texts=..., query_embeddings=..., mode="hybrid")`, k=10, same fields', p99=True),
    Column("hybrid_ratio", "hybrid / dense p50", False, "hybrid p50 over dense p50 in the same repeat (target: at most 2)"),
    *_latency("dense200", "dense k=200", "the hybrid's dense side alone: `query`, k=200, distances only"),
    *_latency("bm25_200", "bm25 k=200", 'its BM25 side alone: `query(mode="bm25")`, k=200, distances only'),
    *_latency("s_dense", "Search dense", "`search(Search().rank(Knn(query=vector, limit=200)).limit(10).select(...))`"),
    *_latency("s_bm25", "Search BM25", '`Knn(query=text, key="bm25", limit=200)`, same limit and select'),
    *_latency(
        "s_rrf",
        "Search Rrf",
        "`Rrf([dense Knn, BM25 Knn])` (return_rank, limit 200 and default 200 each), limit 10, select document, score, metadata",
        p99=True,
    ),
    Column("rrf_ratio", "Search Rrf / dense p50", False, "Search Rrf p50 over dense `query` p50 in the same repeat"),
]


@dataclass
class SpeedRow(Row):
    """A row of this table: every ratio divides by chromadb persistent."""

    @property
    def label(self) -> str:
        return LABELS[self.system]

    @property
    def baseline(self) -> str:
        return BASELINE


@dataclass
class Data:
    """What every worker indexes and asks: chunk texts with metadata and vectors, query texts with vectors."""

    ids: list[str]
    texts: list[str]
    metadatas: list[Mapping[str, Any]]
    vectors: np.ndarray
    query_texts: list[str]
    query_vectors: np.ndarray


def load_data(n: int, q: int) -> Data:
    """The corpus for ``n`` records and ``q`` queries; deterministic, rebuilt in each worker in about 3 s at 100,000."""
    chunks = gutenberg_chunks(n)
    source = clustered(n, q)
    metadatas: list[Mapping[str, Any]] = [
        {"book": book, "cluster": c, "i": i, "chars": len(text)}
        for i, (book, c, text) in enumerate(zip(chunks.books, source.cluster.tolist(), chunks.texts, strict=True))
    ]
    texts = keyword_queries(chunks.texts, q, SEED)
    return Data([str(i) for i in range(n)], chunks.texts, metadatas, source.vectors, texts, source.queries)


# ---------------------------------------------------------------------- timing


def _timed_add(add: Callable[[int, int], Any], n: int) -> float:
    """Seconds to add records ``0..n`` in batches of :data:`ADD_BATCH` through ``add(lo, hi)``."""
    started = time.perf_counter()
    for lo in range(0, n, ADD_BATCH):
        add(lo, min(lo + ADD_BATCH, n))
    return time.perf_counter() - started


def add_data(col: Any, data: Data) -> float:
    """Seconds to add every record (ids, vectors, documents, metadata) to a collection of ragstore's or chromadb's API."""

    def add(lo: int, hi: int) -> None:
        col.add(ids=data.ids[lo:hi], embeddings=data.vectors[lo:hi], documents=data.texts[lo:hi], metadatas=data.metadatas[lo:hi])

    return _timed_add(add, len(data.ids))


def add_until_indexed(col: Any, data: Data) -> tuple[float, float]:
    """Add every record (:func:`add_data`) and wait until all is indexed: (add wall seconds, process CPU seconds until indexed).

    Process CPU (``time.process_time``) counts every thread: the writer's and the background indexer's work.
    """
    cpu = time.process_time()
    seconds = add_data(col, data)
    while col.get_indexing_status().num_unindexed_ops:
        time.sleep(0.01)
    return seconds, time.process_time() - cpu


def _latencies(kinds: dict[str, Callable[[int], Any]], q: int) -> dict[str, float]:
    """p50 and p99 (ms) of each kind of query over queries ``0..q``, the kinds interleaved (drift hits all alike)."""
    for i in range(min(WARMUP, q)):
        for ask in kinds.values():
            ask(i)
    seconds: dict[str, list[float]] = {name: [] for name in kinds}
    # Each kind starts at another query, so adjacent calls never ask the same one: asked right after the
    # dense k=10 query of the same vector, raw hnswlib's k=200 query ran faster than the k=10 one (warm caches).
    shift = max(1, q // len(kinds))
    for i in range(q):
        for j, (name, ask) in enumerate(kinds.items()):
            t0 = time.perf_counter()
            ask((i + j * shift) % q)
            seconds[name].append(time.perf_counter() - t0)
    out = {}
    for name, values in seconds.items():
        out[f"{name}_p50"], out[f"{name}_p99"] = percentile_ms(values, 50), percentile_ms(values, 99)
    return out


# ---------------------------------------------------------------------- workers


def bm25_schema() -> Any:
    """chromadb's way to declare a BM25 index on the documents, with every name taken from ragstore."""
    import ragstore

    # chromadb's documented form passes K.DOCUMENT; ragstore's annotation says str (see the report), the value is accepted.
    document: Any = ragstore.K.DOCUMENT
    config = ragstore.SparseVectorIndexConfig(source_key=document, embedding_function=ragstore.ChromaBm25EmbeddingFunction())
    return ragstore.Schema().create_index(config=config, key="bm25")


def search_kinds(data: Data) -> dict[str, Callable[[int], Any]]:
    """The Searches for query ``i``: a dense Knn, a BM25 Knn, and Rrf of both, each selecting document, score and metadata.

    The Rrf's leaves give a record one side missed the rank just past that side's list
    (``default=CANDIDATES``), so a record found by either side is a candidate. Without a
    default chroma requires a record in every list; on this data, whose texts and vectors are
    unrelated, the two top-200 lists hardly meet and such an Rrf returns almost nothing (the
    ``check_rrf_required_rows`` line of the worker's output says how little).
    """
    from ragstore import K, Knn, Rrf, Search

    select = (K.DOCUMENT, K.SCORE, K.METADATA)

    def dense(i: int, rank: bool = False, default: float | None = None) -> Any:
        return Knn(query=data.query_vectors[i].tolist(), limit=CANDIDATES, return_rank=rank, default=default)

    def bm25(i: int, rank: bool = False, default: float | None = None) -> Any:
        return Knn(query=data.query_texts[i], key="bm25", limit=CANDIDATES, return_rank=rank, default=default)

    return {
        "s_dense": lambda i: Search().rank(dense(i)).limit(K_OUT).select(*select),
        "s_bm25": lambda i: Search().rank(bm25(i)).limit(K_OUT).select(*select),
        "s_rrf": lambda i: Search().rank(Rrf([dense(i, True, CANDIDATES), bm25(i, True, CANDIDATES)])).limit(K_OUT).select(*select),
    }


def _searcher(col: Any, build: Callable[[int], Any]) -> Callable[[int], Any]:
    """Query ``i`` as ``col.search(build(i))``: building the Search is part of what a caller pays."""
    return lambda i: col.search(build(i))


def query_kinds(col: Any, data: Data) -> dict[str, Callable[[int], Any]]:
    """The ``Collection.query`` calls for query ``i``, by the name their columns start with; chromadb answers the dense ones."""
    texts, vectors = data.query_texts, data.query_vectors
    return {
        "dense": lambda i: col.query(query_embeddings=vectors[i][None, :], n_results=K_OUT, include=INCLUDE),
        "bm25": lambda i: col.query(query_texts=[texts[i]], n_results=K_OUT, include=INCLUDE, mode="bm25"),
        "hybrid": lambda i: col.query(
            query_texts=[texts[i]], query_embeddings=vectors[i][None, :], n_results=K_OUT, include=INCLUDE, mode="hybrid"
        ),
        "dense200": lambda i: col.query(query_embeddings=vectors[i][None, :], n_results=CANDIDATES, include=["distances"]),
        "bm25_200": lambda i: col.query(query_texts=[texts[i]], n_results=CANDIDATES, include=["distances"], mode="bm25"),
    }


def ragstore_kinds(col: Any, data: Data) -> dict[str, Callable[[int], Any]]:
    """Every kind of query ragstore answers here: :func:`query_kinds`, then :func:`search_kinds` through ``col.search``."""
    return {**query_kinds(col, data), **{name: _searcher(col, build) for name, build in search_kinds(data).items()}}


def measure_ragstore(mode: str, data: Data, repeat: int) -> dict[str, Any]:
    """Add with and without a BM25 index, then every kind of query on the BM25 collection (see the module docstring)."""
    import ragstore

    n, q = len(data.ids), len(data.query_texts)
    with tempfile.TemporaryDirectory(prefix="hybrid-speed-") as root:
        client = ragstore.PersistentClient(root) if mode == "persistent" else ragstore.EphemeralClient()
        seconds: dict[str, float] = {}
        cpu: dict[str, float] = {}
        collections: dict[str, Any] = {}
        # Alternate which collection is built first, so neither always meets a warmer (or more fragmented) process.
        for variant in ("plain", "bm25") if repeat % 2 == 0 else ("bm25", "plain"):
            schema = bm25_schema() if variant == "bm25" else None
            collections[variant] = client.create_collection(f"speed-{variant}", schema=schema, embedding_function=None)
            seconds[variant], cpu[variant] = add_until_indexed(collections[variant], data)
        client.delete_collection("speed-plain")
        col = collections["bm25"]
        out: dict[str, Any] = {"add_plain": n / seconds["plain"], "add_bm25": n / seconds["bm25"]}
        out["upkeep_pct"] = 100.0 * (seconds["bm25"] / seconds["plain"] - 1.0)
        out["add_cpu_plain"], out["add_cpu_bm25"] = cpu["plain"] / n * 1e6, cpu["bm25"] / n * 1e6
        out["upkeep_cpu_pct"] = 100.0 * (cpu["bm25"] / cpu["plain"] - 1.0)

        started = time.perf_counter()
        col.query(query_texts=[data.query_texts[0]], n_results=K_OUT, include=INCLUDE, mode="bm25")
        out["first_bm25_ms"] = (time.perf_counter() - started) * 1000

        out.update(_latencies(ragstore_kinds(col, data), q))
        out["hybrid_ratio"] = out["hybrid_p50"] / out["dense_p50"]
        out["rrf_ratio"] = out["s_rrf_p50"] / out["dense_p50"]
        out.update(_agreement(col, data))
        client.close()
    return out


def _agreement(col: Any, data: Data) -> dict[str, float]:
    """Sanity checks kept beside the timings: share of queries where two paths give the same top 10 (not table columns)."""
    from ragstore import K as Key
    from ragstore import Knn, Rrf, Search

    same_bm25 = filled = rrf_full = required_rows = 0
    rrf = search_kinds(data)["s_rrf"]
    for i, text in enumerate(data.query_texts):
        by_query = col.query(query_texts=[text], n_results=K_OUT, include=[], mode="bm25")["ids"][0]
        by_search = col.search(Search().rank(Knn(query=text, key="bm25", limit=CANDIDATES)).limit(K_OUT).select(Key.SCORE))["ids"][0]
        same_bm25 += set(by_query) == set(by_search)
        hybrid = col.query(query_texts=[text], query_embeddings=data.query_vectors[:1], n_results=K_OUT, include=[], mode="hybrid")
        filled += len(hybrid["ids"][0]) == K_OUT
        rrf_full += len(col.search(rrf(i))["ids"][0]) == K_OUT
        both: list[Any] = [  # Any: ragstore types Rrf's ranks as list[Rank], so a list[Knn] is refused by mypy (see the report)
            Knn(query=data.query_vectors[i].tolist(), limit=CANDIDATES, return_rank=True),
            Knn(query=text, key="bm25", limit=CANDIDATES, return_rank=True),
        ]
        required_rows += len(col.search(Search().rank(Rrf(both)).limit(K_OUT))["ids"][0])
    q = len(data.query_texts)
    return {
        "check_bm25_query_vs_search": same_bm25 / q,
        "check_hybrid_full": filled / q,
        "check_rrf_full": rrf_full / q,
        "check_rrf_required_rows": required_rows / q,
    }


def measure_chromadb(data: Data) -> dict[str, Any]:
    """chromadb 1.5.9 persistent: add the corpus (no BM25: chroma's local engine has none), then dense queries."""
    import chromadb
    from chromadb.config import Settings

    with tempfile.TemporaryDirectory(prefix="hybrid-speed-chromadb-") as root:
        client = chromadb.PersistentClient(root, settings=Settings(anonymized_telemetry=False))
        col = client.create_collection("speed", embedding_function=None)
        out: dict[str, Any] = {"add_plain": len(data.ids) / add_data(col, data)}
        kinds = {name: ask for name, ask in query_kinds(col, data).items() if name in ("dense", "dense200")}
        out.update(_latencies(kinds, len(data.query_texts)))
        client.clear_system_cache()
    return out


def measure_hnswlib(data: Data) -> dict[str, Any]:
    """Raw hnswlib at ragstore's defaults (M, ef_construction, ef, all cores): add in batches, query at k=10 and k=200."""
    import hnswlib
    from _baselines import EF_CONSTRUCTION, EF_SEARCH, THREADS, M

    n, dim = data.vectors.shape
    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)
    index.set_num_threads(THREADS)
    out: dict[str, Any] = {"add_plain": n / _timed_add(lambda lo, hi: index.add_items(data.vectors[lo:hi], np.arange(lo, hi)), n)}
    vectors = data.query_vectors
    kinds: dict[str, Callable[[int], Any]] = {
        "dense": lambda i: index.knn_query(vectors[i], k=K_OUT),
        "dense200": lambda i: index.knn_query(vectors[i], k=CANDIDATES),
    }
    out.update(_latencies(kinds, len(vectors)))
    return out


def measure_bm25s(data: Data) -> dict[str, Any]:
    """Raw bm25s (Lucene BM25, English Snowball stems and stop words): tokenize and index, then query at k=10 and k=200."""
    import bm25s  # type: ignore[import-untyped]
    import Stemmer  # type: ignore[import-not-found]

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    started = time.perf_counter()
    retriever.index(bm25s.tokenize(data.texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    out: dict[str, Any] = {"add_bm25": len(data.texts) / (time.perf_counter() - started)}

    def ask(i: int, k: int) -> Any:
        tokens = bm25s.tokenize([data.query_texts[i]], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
        return retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)

    kinds: dict[str, Callable[[int], Any]] = {"bm25": lambda i: ask(i, K_OUT), "bm25_200": lambda i: ask(i, CANDIDATES)}
    out.update(_latencies(kinds, len(data.query_texts)))
    return out


def worker_main(system: str, n: int, q: int, repeat: int) -> None:
    """Build the data, measure one system, print one result line (runs in its own process)."""
    data = load_data(n, q)
    if system.startswith("ragstore-"):
        out = measure_ragstore(system.split("-", 1)[1], data, repeat)
    elif system == "chromadb-persistent":
        out = measure_chromadb(data)
    elif system == "hnswlib":
        out = measure_hnswlib(data)
    else:
        out = measure_bm25s(data)
    print_result(out)


# ---------------------------------------------------------------------- driver


def run_worker(system: str, n: int, q: int, repeat: int, timeout: float) -> dict[str, Any]:
    """One repeat of one system in a fresh process; its result dict, or ``{"error": ...}``."""
    return spawn_worker(__file__, ["--worker", system, "--n", str(n), "--queries", str(q), "--repeat", str(repeat)], timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records (default 100,000)")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind (default 200)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.n, args.queries, args.repeat)
        return
    systems = args.systems.split(",") if args.systems else list(SYSTEMS)
    if unknown := set(systems) - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(unknown)}; choose from {','.join(SYSTEMS)}")
    started = time.perf_counter()
    rows = {system: SpeedRow(system) for system in systems}
    failures = run_interleaved(rows, args.repeats, lambda system, repeat: run_worker(system, args.n, args.queries, repeat, timeout=3600.0))
    print(
        f"\n{date.today().isoformat()}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"chromadb {version('chromadb')}, hnswlib {version('hnswlib')}, bm25s {version('bm25s')}. {args.n:,} Gutenberg chunks of "
        f"~1,000 characters with 384-d clustered vectors (seed {SEED}) and 4 metadata fields; {args.queries:,} keyword queries "
        f"(2-6 words) with vectors; k={K_OUT}, hybrid depth {CANDIDATES} per side. Median (min-max) of {args.repeats} repeat(s), "
        "each system in a fresh process, interleaved; embedding excluded (vectors given).\n"
    )
    explanation = (
        "Each cell: median (min-max) over the repeats, then the ratio of the median to chromadb persistent's "
        '(none on that row). "-": the metric does not apply.'
    )
    print(report(list(rows.values()), COLUMNS, explanation, failures))
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
