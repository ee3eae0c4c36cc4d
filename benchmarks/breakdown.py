"""Where ragstore's add and query time goes, next to raw hnswlib's on the same data in the same process.

The two targets ``bench.py`` can miss (add throughput and single-query p50 against chromadb)
are bounded by work ragstore cannot skip. This script times that work: it wraps the engine's
stages (validation, SQLite writes, the hnswlib calls, index file saves, result fetching) with
wall-clock timers, adds the corpus to a persistent collection in batches of 5,000 and runs the
single queries, then does the same with a bare ``hnswlib.Index`` at ragstore's defaults. It
prints one table per path: each stage's share of the wall time, in microseconds per vector
(add) or per query.

The single queries alternate with raw hnswlib's ``knn_query`` on its own index, query by
query (which goes first alternates too), so a shared machine's changing load hits both
alike; the query phase runs ``--query-rounds`` times and the table is the round with the
median wall time (the range of the rounds is printed under it).

Usage:
    .venv/bin/python benchmarks/breakdown.py [--dataset clustered] [--n 100000] [--queries 1000] [--query-rounds 3]

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
    ("ragstore.local.catalog:RowCache.get_by_id", "catalog row"),
    ("ragstore.local.engine:search", "search"),
    ("ragstore.local.index:VectorIndex._knn", "graph search"),
    ("ragstore.local.orphans:Orphans.merge", "orphans"),
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
    ("engine: collection row (cached while the store is unchanged)", "catalog row", "engine query", []),
    (
        "engine: the rest (the request was checked once, in the client; cache check)",
        "engine query",
        "total",
        ["catalog row", "search", "result rows"],
    ),
    ("engine: hnswlib knn_query", "graph search", "search", ["orphans"]),
    ("engine: exact search of the graph's unreachable points (orphans), merged", "orphans", "search", []),
    ("engine: search around it (labels, locks, plan)", "search", "total", ["graph search"]),
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


def raw_index(corpus: Corpus) -> tuple[Any, float]:
    """Raw hnswlib at ragstore's defaults holding the corpus, added in the same batches; and the seconds that took."""
    import hnswlib
    from _baselines import EF_CONSTRUCTION, EF_SEARCH, M

    n, dim = corpus.vectors.shape
    index = hnswlib.Index(space="l2", dim=dim)
    started = time.perf_counter()
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)
    for lo in range(0, n, ADD_BATCH):
        index.add_items(corpus.vectors[lo : lo + ADD_BATCH], np.arange(lo, min(lo + ADD_BATCH, n)), num_threads=THREADS)
    return index, time.perf_counter() - started


def query_rounds(corpus: Corpus, collection: Any, raw: Any, timer: StageTimer, rounds: int) -> list[tuple[dict[str, float], float]]:
    """Each round: every query through ragstore and through raw hnswlib, alternating; its stages and raw hnswlib's seconds.

    The round's ``"total"`` is ragstore's share of the block only (raw hnswlib's calls are taken out).
    """
    measured = []
    for _ in range(rounds):
        raw_seconds = 0.0
        with timer.measuring() as ask:
            for i, query in enumerate(corpus.queries):
                if i % 2:
                    started = time.perf_counter()
                    raw.knn_query(query, k=K)
                    raw_seconds += time.perf_counter() - started
                collection.query(query_embeddings=query[None, :], n_results=K, include=INCLUDE)
                if not i % 2:
                    started = time.perf_counter()
                    raw.knn_query(query, k=K)
                    raw_seconds += time.perf_counter() - started
        stages = dict(ask)
        stages["total"] -= raw_seconds
        measured.append((stages, raw_seconds))
    return measured


def ragstore_run(
    corpus: Corpus, timer: StageTimer, rounds: int
) -> tuple[dict[str, float], list[tuple[dict[str, float], float]], float, int]:
    """Add the corpus to a fresh persistent collection, then run the single queries beside raw hnswlib's, timing the stages.

    Returns the add's stages, each query round's (stages, raw hnswlib seconds), raw hnswlib's add seconds, and the graph's orphans.
    """
    import ragstore
    from ragstore.local import catalog

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
        api = client._api
        with api._db.read() as conn:  # how many points the graph cannot reach (searched exactly with every query)
            orphans = len(api._indexes.graph(conn, catalog.get_by_id(conn, collection.id)).orphans)
        raw, raw_add = raw_index(corpus)
        for query in corpus.queries[:20]:  # warm the caches, as bench.py's first queries do
            collection.query(query_embeddings=query[None, :], n_results=K, include=INCLUDE)
            raw.knn_query(query, k=K)
        measured = query_rounds(corpus, collection, raw, timer, rounds)
        client.close()
        return add, measured, raw_add, orphans


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="clustered", choices=["clustered", "sift", "scifact"])
    parser.add_argument("--n", type=int, default=None, help="records (default: the whole data set; clustered: 100,000)")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--query-rounds", type=int, default=3, help="times the query phase runs (the median round is shown)")
    args = parser.parse_args(argv)

    corpus = load(corpus_file(args.dataset, args.n, args.queries))
    timer = StageTimer()
    timer.wrap_each(WRAPPED)
    add, measured, raw_add, orphans = ragstore_run(corpus, timer, max(1, args.query_rounds))
    by_total = sorted(measured, key=lambda round_: round_[0]["total"])
    ask, raw_ask = by_total[len(by_total) // 2]
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
    print(f"\nIn the indexer's thread, beside the rows above: {background}. The finished graph has {orphans} orphans.")
    print()
    query_title = f"single query: k={K}, include={list(INCLUDE)}, {q:,} queries"
    print(stage_table(query_title, "us per query", q, ask, QUERY_ROWS, raw_ask, "raw hnswlib knn_query (its own index, alternating)"))
    totals = ", ".join(f"{stages['total'] / q * 1e6:,.0f} / {raw / q * 1e6:,.0f}" for stages, raw in measured)
    own_knn = ask.get("graph search", 0.0) - ask.get("orphans", 0.0)
    print(
        f"\nRounds (ragstore / raw hnswlib, us per query): {totals}. Median round: ragstore {ask['total'] / raw_ask:.2f}x raw hnswlib's "
        f"knn_query; {ask['total'] / own_knn:.2f}x its own graph's knn_query."
    )


if __name__ == "__main__":
    sys.exit(main())
