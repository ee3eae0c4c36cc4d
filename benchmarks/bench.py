"""Core-engine benchmark: ragstore against chromadb, raw hnswlib and numpy brute force.

Every system gets the same data in the same run: ``N`` clustered 384-dim float32
vectors (50 Gaussian clusters, fixed seed) with a short document and small metadata
(``{"cluster": c, "i": i}``) each, and ``Q`` queries drawn near the data. Rows:

- ragstore ephemeral (``ragstore.EphemeralClient()``) and persistent (``ragstore.PersistentClient(tmpdir)``);
- chromadb ephemeral and persistent (same API, telemetry off);
- raw ``hnswlib.Index`` with the collection defaults (M=16, ef_construction=100, ef=100,
  ``num_threads`` = CPU count, as ragstore's default);
- numpy brute force (exact search, the ground truth for recall).

Stores always get explicit embeddings and ``embedding_function=None``. Metrics per row:
add throughput (vectors/s, batches of 5,000), single-query latency p50/p99 (k=10; the
stores return documents, metadatas and distances), and recall@10 against exact search.
Each cell is the median of ``--repeats`` runs with min-max; the systems run interleaved
inside each repeat so machine-load drift hits all alike. "vs chromadb" divides a row's
value by the chromadb row of the same mode (hnswlib and numpy: chromadb persistent), so
above 1x is faster for add and below 1x is faster for latency. Prints one markdown table.

Usage::

    .venv/bin/python benchmarks/bench.py [--quick] [--n 100000] [--queries 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

DIM = 384
K = 10
BATCH = 5_000
CLUSTERS = 50
SEED = 1234
M, EF_CONSTRUCTION, EF_SEARCH = 16, 100, 100
THREADS = os.cpu_count() or 1
INCLUDE = ["documents", "metadatas", "distances"]


@dataclass
class Data:
    """The benchmark corpus, the queries, and the exact top-``K`` row indices per query."""

    vectors: np.ndarray
    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, int]]
    queries: np.ndarray
    truth: list[set[int]]


@dataclass
class Run:
    """One system's measurements from one repeat."""

    add_per_s: float
    p50_ms: float
    p99_ms: float
    recall: float


@dataclass
class Row:
    """One line of the table: a system and its runs over all repeats."""

    name: str
    baseline: str  # the row whose values the "vs chromadb" column divides by
    runs: list[Run]

    def median(self, field: str) -> float:
        return statistics.median(getattr(r, field) for r in self.runs)

    def cell(self, field: str, fmt: str) -> str:
        values = [getattr(r, field) for r in self.runs]
        return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row indices of the ``k`` nearest vectors (squared L2) for each query, nearest first."""
    norms = np.einsum("ij,ij->i", vectors, vectors)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        q = queries[start : start + 256]
        d = norms[None, :] - 2.0 * (q @ vectors.T)
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start : start + 256] = np.take_along_axis(part, order, axis=1)
    return out


def make_data(n: int, q: int, seed: int = SEED) -> Data:
    """``n`` vectors in ``CLUSTERS`` Gaussian clusters, and ``q`` queries near random data points."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (CLUSTERS, DIM)).astype(np.float32)
    cluster = rng.integers(0, CLUSTERS, n)
    vectors = (centers[cluster] + rng.normal(0.0, 0.35, (n, DIM))).astype(np.float32)
    anchors = rng.integers(0, n, q)
    queries = (vectors[anchors] + rng.normal(0.0, 0.2, (q, DIM))).astype(np.float32)
    truth = [set(row.tolist()) for row in exact_topk(vectors, queries)]
    return Data(
        vectors=vectors,
        ids=[str(i) for i in range(n)],
        documents=[f"document {i} about topic {c}" for i, c in enumerate(cluster.tolist())],
        metadatas=[{"cluster": c, "i": i} for i, c in enumerate(cluster.tolist())],
        queries=queries,
        truth=truth,
    )


def summarize(add_seconds: float, n: int, latencies: list[float], hits: list[set[int]], data: Data) -> Run:
    """Turn raw timings and per-query result sets into a :class:`Run`."""
    lat_ms = np.array(latencies) * 1000.0
    recall = float(np.mean([len(h & t) / K for h, t in zip(hits, data.truth, strict=True)]))
    return Run(n / add_seconds, float(np.percentile(lat_ms, 50)), float(np.percentile(lat_ms, 99)), recall)


def bench_collection(client: Any, data: Data) -> Run:
    """Add ``data`` to a fresh collection of a chromadb-API client in batches, then query one at a time."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    collection = client.create_collection(name, embedding_function=None)
    n = len(data.ids)
    start = time.perf_counter()
    for lo in range(0, n, BATCH):
        hi = lo + BATCH
        collection.add(
            ids=data.ids[lo:hi],
            embeddings=data.vectors[lo:hi],
            documents=data.documents[lo:hi],
            metadatas=data.metadatas[lo:hi],
        )
    add_seconds = time.perf_counter() - start
    latencies, hits = [], []
    for query in data.queries:
        t0 = time.perf_counter()
        result = collection.query(query_embeddings=[query], n_results=K, include=INCLUDE)
        latencies.append(time.perf_counter() - t0)
        hits.append({int(i) for i in result["ids"][0]})
    client.delete_collection(name)
    return summarize(add_seconds, n, latencies, hits, data)


def bench_ragstore_ephemeral(data: Data) -> Run:
    import ragstore

    client = ragstore.EphemeralClient()
    try:
        return bench_collection(client, data)
    finally:
        client.close()


def bench_ragstore_persistent(data: Data) -> Run:
    import ragstore

    with tempfile.TemporaryDirectory(prefix="bench_ragstore_") as path:
        client = ragstore.PersistentClient(path)
        try:
            return bench_collection(client, data)
        finally:
            client.close()


def chromadb_settings() -> Any:
    import chromadb
    import chromadb.config

    return chromadb.config.Settings(anonymized_telemetry=False)


def bench_chromadb_ephemeral(data: Data) -> Run:
    """Chromadb's ephemeral clients share one in-process system; the unique collection name keeps repeats apart."""
    import chromadb

    return bench_collection(chromadb.EphemeralClient(settings=chromadb_settings()), data)


def bench_chromadb_persistent(data: Data) -> Run:
    import chromadb

    with tempfile.TemporaryDirectory(prefix="bench_chromadb_", ignore_cleanup_errors=True) as path:
        return bench_collection(chromadb.PersistentClient(path, settings=chromadb_settings()), data)


def bench_hnswlib(data: Data) -> Run:
    """Raw ``hnswlib.Index`` with the collection defaults: the floor a store built on it can reach."""
    import hnswlib

    n = len(data.ids)
    start = time.perf_counter()
    index = hnswlib.Index(space="l2", dim=DIM)
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)
    index.set_num_threads(THREADS)
    for lo in range(0, n, BATCH):
        index.add_items(data.vectors[lo : lo + BATCH], np.arange(lo, min(lo + BATCH, n)), num_threads=THREADS)
    add_seconds = time.perf_counter() - start
    latencies, hits = [], []
    for query in data.queries:
        t0 = time.perf_counter()
        labels, _ = index.knn_query(query, k=K)
        latencies.append(time.perf_counter() - t0)
        hits.append(set(labels[0].tolist()))
    return summarize(add_seconds, n, latencies, hits, data)


def bench_numpy(data: Data) -> Run:
    """Exact search: "add" stacks the batches into one matrix and precomputes the norms."""
    n = len(data.ids)
    start = time.perf_counter()
    matrix = np.concatenate([data.vectors[lo : lo + BATCH].copy() for lo in range(0, n, BATCH)])
    norms = np.einsum("ij,ij->i", matrix, matrix)
    add_seconds = time.perf_counter() - start
    latencies, hits = [], []
    for query in data.queries:
        t0 = time.perf_counter()
        d = norms - 2.0 * (matrix @ query)
        top = np.argpartition(d, K)[:K]
        top = top[np.argsort(d[top])]
        latencies.append(time.perf_counter() - t0)
        hits.append(set(top.tolist()))
    return summarize(add_seconds, n, latencies, hits, data)


SYSTEMS: list[tuple[str, str, Callable[[Data], Run]]] = [
    ("ragstore ephemeral", "chromadb ephemeral", bench_ragstore_ephemeral),
    ("ragstore persistent", "chromadb persistent", bench_ragstore_persistent),
    ("chromadb ephemeral", "chromadb ephemeral", bench_chromadb_ephemeral),
    ("chromadb persistent", "chromadb persistent", bench_chromadb_persistent),
    ("hnswlib (raw)", "chromadb persistent", bench_hnswlib),
    ("numpy brute force", "chromadb persistent", bench_numpy),
]


def run_all(data: Data, repeats: int) -> list[Row]:
    """Run every system once per repeat, interleaved, and collect the rows."""
    rows = {name: Row(name, baseline, []) for name, baseline, _ in SYSTEMS}
    for repeat in range(repeats):
        for name, _, bench in SYSTEMS:
            t0 = time.perf_counter()
            run = bench(data)
            rows[name].runs.append(run)
            print(
                f"  repeat {repeat + 1}/{repeats} {name:<20} {time.perf_counter() - t0:6.1f} s  "
                f"add {run.add_per_s:9.0f}/s  p50 {run.p50_ms:6.2f} ms  recall {run.recall:.3f}",
                file=sys.stderr,
                flush=True,
            )
    return list(rows.values())


def render(rows: list[Row]) -> str:
    """The markdown table: median (min-max) per metric, and ratios to the matching chromadb row."""
    by_name = {row.name: row for row in rows}
    lines = [
        "| system | add (vectors/s) | query p50 (ms) | query p99 (ms) | recall@10 | vs chromadb: add / p50 |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        base = by_name[row.baseline]
        ratio = f"{row.median('add_per_s') / base.median('add_per_s'):.2f}x / {row.median('p50_ms') / base.median('p50_ms'):.2f}x"
        lines.append(
            f"| {row.name} | {row.cell('add_per_s', ',.0f')} | {row.cell('p50_ms', '.2f')} | "
            f"{row.cell('p99_ms', '.2f')} | {row.cell('recall', '.3f')} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=20,000, Q=200, 3 repeats (under 3 minutes)")
    parser.add_argument("--n", type=int, help="number of vectors (default 100,000; 20,000 with --quick)")
    parser.add_argument("--queries", type=int, help="number of queries (default 1,000; 200 with --quick)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.n or (20_000 if args.quick else 100_000)
    q = args.queries or (200 if args.quick else 1_000)

    started = time.perf_counter()
    data = make_data(n, q)
    print(f"data: {n:,} x {DIM} vectors, {q:,} queries, {args.repeats} repeats", file=sys.stderr)
    rows = run_all(data, args.repeats)
    import chromadb

    print(
        f"\n{n:,} x {DIM} clustered vectors, {q:,} queries, k={K}, batches of {BATCH:,}; "
        f"M={M}, ef_construction={EF_CONSTRUCTION}, ef={EF_SEARCH}, {THREADS} threads; "
        f"median (min-max) of {args.repeats} repeats; chromadb {chromadb.__version__}, "
        f"Python {platform.python_version()}.\n"
    )
    print(render(rows))
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
