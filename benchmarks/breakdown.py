"""Where ragstore's add and query time goes, next to raw hnswlib's on the same data in the same process.

The two targets ``bench.py`` can miss (add throughput and single-query p50 against chromadb)
are bounded by work ragstore cannot skip. This script times that work: it wraps the engine's
stages (validation, SQLite writes, the hnswlib calls, index file saves, result fetching) with
wall-clock timers, adds the corpus to a persistent collection in batches of 5,000 and runs the
single queries, then does the same with a bare ``hnswlib.Index`` at ragstore's defaults. It
prints one table per path: each stage's share of the wall time, in microseconds per vector
(add) or per query.

Usage:
    .venv/bin/python benchmarks/breakdown.py [--dataset clustered] [--n 100000] [--queries 1000]

Example:
    .venv/bin/python benchmarks/breakdown.py --n 10000 --queries 200   # a quick look, about 15 s
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from typing import Any

import numpy as np
from _corpus import Corpus, K, corpus_file, load
from _stage_timer import StageTimer
from _stores import ADD_BATCH, INCLUDE

THREADS = os.cpu_count() or 1


# (callable, stage): each stage's whole time, the stages it calls included (the rows below subtract their parts).
WRAPPED = [
    ("ragstore.collection:Collection.add", "client add"),
    ("ragstore.local.engine:LocalAPI.write", "engine add"),
    ("ragstore.local.engine:LocalAPI._checked", "engine validation"),
    ("ragstore.local.records:write_records", "SQLite rows"),
    ("ragstore.local.index_cache:IndexCache.written", "indexer hand-off"),
    ("ragstore.local.index_cache:IndexCache.flush", "final indexing"),
    ("ragstore.local.index:VectorIndex._apply", "hnswlib add_items"),
    ("ragstore.local.index:VectorIndex._save", "index file save"),
    ("ragstore.collection:Collection.query", "client query"),
    ("ragstore.local.engine:LocalAPI.query", "engine query"),
    ("ragstore.local.engine:search", "search"),
    ("ragstore.local.index:VectorIndex._knn", "hnswlib knn_query"),
    ("ragstore.local.engine:query_result", "result rows"),
]

# (label, stage, parent stage it is part of); "rest" rows are the parent minus its listed parts.
ADD_ROWS = [
    ("Collection.add: client-side validation and request", "client add", "total", ["engine add"]),
    ("engine: validation again", "engine validation", "engine add", []),
    ("engine: SQLite rows (records, metadata, documents)", "SQLite rows", "engine add", []),
    ("engine: hand-off to the indexer (a writer waits while too much is unindexed)", "indexer hand-off", "engine add", []),
    ("engine: transaction, commit (fsync), catalog", "engine add", "total", ["engine validation", "SQLite rows", "indexer hand-off"]),
    ("after the last add: until fully indexed (the indexer's rest)", "final indexing", "total", []),
]
# Stages of the indexer's thread: beside the rows above (which they overlap), not part of them.
BACKGROUND_ROWS = [("hnswlib add_items", "hnswlib add_items"), ("index file saves", "index file save")]
QUERY_ROWS = [
    ("Collection.query: the request (all its checks) and the result", "client query", "total", ["engine query"]),
    ("engine: catalog row, cache check (the request was checked once, in the client)", "engine query", "total", ["search", "result rows"]),
    ("engine: hnswlib knn_query", "hnswlib knn_query", "search", []),
    ("engine: search around it (labels, allowed set)", "search", "total", ["hnswlib knn_query"]),
    ("engine: result rows from SQLite (ids, documents, metadatas)", "result rows", "total", []),
]


def stage_table(title: str, unit: str, count: int, seconds: dict[str, float], rows: list[Any], floor: float, floor_label: str) -> str:
    """One markdown table: each stage's microseconds per item and share of the wall time."""
    total = seconds["total"]
    lines = [f"**{title}**", "", f"| stage | {unit} | share |", "|---|--:|--:|"]
    for label, stage, _parent, minus in rows:
        value = seconds.get(stage, 0.0) - sum(seconds.get(part, 0.0) for part in minus)
        lines.append(f"| {label} | {value / count * 1e6:,.1f} | {value / total:.0%} |")
    lines.append(f"| **ragstore, wall time** | **{total / count * 1e6:,.1f}** | 100% |")
    lines.append(f"| {floor_label} | {floor / count * 1e6:,.1f} | {floor / total:.0%} |")
    return "\n".join(lines)


def ragstore_run(corpus: Corpus, timer: StageTimer) -> tuple[dict[str, float], dict[str, float]]:
    """Add the corpus to a fresh persistent collection and run the single queries, timing the stages."""
    import ragstore

    with tempfile.TemporaryDirectory(prefix="ragstore-breakdown-") as root:
        client = ragstore.PersistentClient(path=root)
        collection = client.create_collection("breakdown", embedding_function=None)
        ids, documents, metadatas, n = corpus.ids, corpus.documents, corpus.metadatas, len(corpus.vectors)
        with timer.measuring() as add:
            for lo in range(0, n, ADD_BATCH):
                hi = lo + ADD_BATCH
                collection.add(ids=ids[lo:hi], embeddings=corpus.vectors[lo:hi], documents=documents[lo:hi], metadatas=metadatas[lo:hi])
            client._api._indexes.flush()  # the wall time runs until the graph holds every vector
        add = dict(add)
        for query in corpus.queries[:20]:  # warm the caches, as bench.py's first queries do
            collection.query(query_embeddings=query[None, :], n_results=K, include=INCLUDE)
        with timer.measuring() as ask:
            for query in corpus.queries:
                collection.query(query_embeddings=query[None, :], n_results=K, include=INCLUDE)
        client.close()
        return add, dict(ask)


def hnswlib_run(corpus: Corpus) -> tuple[float, float]:
    """Seconds for raw hnswlib to add the same batches and answer the same single queries."""
    import hnswlib
    from _baselines import EF_CONSTRUCTION, EF_SEARCH, M

    n, dim = corpus.vectors.shape
    index = hnswlib.Index(space="l2", dim=dim)
    started = time.perf_counter()
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)
    for lo in range(0, n, ADD_BATCH):
        index.add_items(corpus.vectors[lo : lo + ADD_BATCH], np.arange(lo, min(lo + ADD_BATCH, n)), num_threads=THREADS)
    add = time.perf_counter() - started
    for query in corpus.queries[:20]:
        index.knn_query(query, k=K)
    started = time.perf_counter()
    for query in corpus.queries:
        index.knn_query(query, k=K)
    return add, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="clustered", choices=["clustered", "sift", "scifact"])
    parser.add_argument("--n", type=int, default=None, help="records (default: the whole data set; clustered: 100,000)")
    parser.add_argument("--queries", type=int, default=None)
    args = parser.parse_args(argv)

    corpus = load(corpus_file(args.dataset, args.n, args.queries))
    timer = StageTimer()
    timer.wrap_each(WRAPPED)
    add, ask = ragstore_run(corpus, timer)
    raw_add, raw_ask = hnswlib_run(corpus)
    n, dim = corpus.vectors.shape
    q = len(corpus.queries)
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"{corpus.description}. ragstore PersistentClient at its defaults; hnswlib at the same M, ef_construction and ef, "
        f"{THREADS} threads. Stage times are wall time inside each wrapped function, so they include the GIL waits "
        "and cache misses the stage causes.\n"
    )
    add_title = f"add: {n:,} x {dim} in batches of {ADD_BATCH:,}"
    print(stage_table(add_title, "us per vector", n, add, ADD_ROWS, raw_add, "raw hnswlib, same batches"))
    background = ", ".join(f"{label} {add.get(stage, 0.0) / n * 1e6:,.1f} us per vector" for label, stage in BACKGROUND_ROWS)
    print(f"\nIn the indexer's thread, beside the rows above: {background}.")
    print()
    query_title = f"single query: k={K}, include={list(INCLUDE)}, {q:,} queries"
    print(stage_table(query_title, "us per query", q, ask, QUERY_ROWS, raw_ask, "raw hnswlib knn_query"))


if __name__ == "__main__":
    sys.exit(main())
