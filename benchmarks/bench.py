"""Core-engine benchmark: ragstore against chromadb, raw hnswlib and numpy brute force.

Every system gets the same data in the same run: ``N`` clustered 384-dim float32
vectors (50 Gaussian clusters, fixed seed) with a short document and small metadata
(``{"cluster": c, "i": i}``) each, and ``Q`` queries drawn near the data. Rows:

- ragstore ephemeral (``ragstore.EphemeralClient()``) and persistent (``ragstore.PersistentClient(tmpdir)``);
- chromadb ephemeral and persistent (same API, telemetry off);
- ragstore http (``python -m ragstore run --port 0``, ``ragstore.HttpClient``) and chromadb http
  (``chroma run``, ``chromadb.HttpClient``): one server each for the whole run, stopped with SIGTERM;
- raw ``hnswlib.Index`` with the collection defaults (M=16, ef_construction=100, ef=100,
  ``num_threads`` = CPU count, as ragstore's default);
- numpy brute force (exact search, the ground truth for recall).

Stores always get explicit embeddings and ``embedding_function=None``. Metrics per row:
add throughput (vectors/s, batches of 5,000), single-query latency p50/p99 (k=10; the
stores return documents, metadatas and distances), recall@10 against exact search, filtered-query
p50 and recall@10 (``where={"cluster": {"$lt": 5}}``, about 10% of the records, against exact search
over just those records; numpy masks its exact search, hnswlib has no metadata), and get-by-id p50
(``get(ids=[one id], include=["documents", "metadatas"])``; stores only).
Each cell is the median of ``--repeats`` runs with min-max; the systems run interleaved
inside each repeat so machine-load drift hits all alike. "vs chromadb" divides a row's
value by the chromadb row of the same mode (hnswlib and numpy: chromadb persistent), so
above 1x is faster for add and below 1x is faster for latency; "-" marks a metric that does not apply. Prints one markdown table.

Usage::

    .venv/bin/python benchmarks/bench.py [--quick] [--n 100000] [--queries 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import DIM, WHERE, Data, K, Row, Run, http_servers, make_data, percentile_ms, recall_at_k

BATCH = 5_000
M, EF_CONSTRUCTION, EF_SEARCH = 16, 100, 100
THREADS = os.cpu_count() or 1
INCLUDE = ["documents", "metadatas", "distances"]


def timed_queries(search: Callable[[np.ndarray], set[int]], queries: np.ndarray) -> tuple[list[float], list[set[int]]]:
    """Run ``search`` once per query; return the latencies (s) and the returned row-index sets."""
    latencies, hits = [], []
    for query in queries:
        t0 = time.perf_counter()
        found = search(query)
        latencies.append(time.perf_counter() - t0)
        hits.append(found)
    return latencies, hits


def bench_collection(client: Any, data: Data) -> Run:
    """Add ``data`` to a fresh collection of a chromadb-API client in batches, then query, filter-query and get one at a time."""
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

    def search(query: np.ndarray, where: dict[str, Any] | None = None) -> set[int]:
        result = collection.query(query_embeddings=[query], n_results=K, where=where, include=INCLUDE)
        return {int(i) for i in result["ids"][0]}

    latencies, hits = timed_queries(search, data.queries)
    flatencies, fhits = timed_queries(lambda query: search(query, WHERE), data.queries)
    get_latencies = []
    for id_ in data.get_ids:
        t0 = time.perf_counter()
        got = collection.get(ids=[id_], include=["documents", "metadatas"])
        get_latencies.append(time.perf_counter() - t0)
        assert got["ids"] == [id_], got["ids"]
    client.delete_collection(name)
    return Run(
        n / add_seconds,
        percentile_ms(latencies, 50),
        percentile_ms(latencies, 99),
        recall_at_k(hits, data.truth),
        fp50_ms=percentile_ms(flatencies, 50),
        frecall=recall_at_k(fhits, data.filtered_truth),
        get_p50_ms=percentile_ms(get_latencies, 50),
    )


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


def bench_ragstore_http(data: Data, port: int) -> Run:
    import ragstore

    client = ragstore.HttpClient(host="127.0.0.1", port=port)
    try:
        return bench_collection(client, data)
    finally:
        client.close()


def bench_chromadb_http(data: Data, port: int) -> Run:
    import chromadb

    return bench_collection(chromadb.HttpClient(host="127.0.0.1", port=port, settings=chromadb_settings()), data)


def bench_hnswlib(data: Data) -> Run:
    """Raw ``hnswlib.Index`` with the collection defaults: the floor a store built on it can reach (no metadata, no get)."""
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
    latencies, hits = timed_queries(lambda query: set(index.knn_query(query, k=K)[0][0].tolist()), data.queries)
    return Run(n / add_seconds, percentile_ms(latencies, 50), percentile_ms(latencies, 99), recall_at_k(hits, data.truth))


def bench_numpy(data: Data) -> Run:
    """Exact search: "add" stacks the batches into one matrix and precomputes the norms; filtering masks the distances."""
    n = len(data.ids)
    start = time.perf_counter()
    matrix = np.concatenate([data.vectors[lo : lo + BATCH].copy() for lo in range(0, n, BATCH)])
    norms = np.einsum("ij,ij->i", matrix, matrix)
    add_seconds = time.perf_counter() - start
    excluded = np.array([m["cluster"] >= WHERE["cluster"]["$lt"] for m in data.metadatas])

    def search(query: np.ndarray, mask: np.ndarray | None = None) -> set[int]:
        d = norms - 2.0 * (matrix @ query)
        if mask is not None:
            d[mask] = np.inf
        top = np.argpartition(d, K)[:K]
        return set(top[np.argsort(d[top])].tolist())

    latencies, hits = timed_queries(search, data.queries)
    flatencies, fhits = timed_queries(lambda query: search(query, excluded), data.queries)
    return Run(
        n / add_seconds,
        percentile_ms(latencies, 50),
        percentile_ms(latencies, 99),
        recall_at_k(hits, data.truth),
        fp50_ms=percentile_ms(flatencies, 50),
        frecall=recall_at_k(fhits, data.filtered_truth),
    )


def systems(ports: dict[str, int]) -> list[tuple[str, str, Callable[[Data], Run]]]:
    """(row name, baseline row, benchmark) for every system; the HTTP rows talk to the servers on ``ports``."""
    return [
        ("ragstore ephemeral", "chromadb ephemeral", bench_ragstore_ephemeral),
        ("ragstore persistent", "chromadb persistent", bench_ragstore_persistent),
        ("ragstore http", "chromadb http", lambda data: bench_ragstore_http(data, ports["ragstore"])),
        ("chromadb ephemeral", "chromadb ephemeral", bench_chromadb_ephemeral),
        ("chromadb persistent", "chromadb persistent", bench_chromadb_persistent),
        ("chromadb http", "chromadb http", lambda data: bench_chromadb_http(data, ports["chromadb"])),
        ("hnswlib (raw)", "chromadb persistent", bench_hnswlib),
        ("numpy brute force", "chromadb persistent", bench_numpy),
    ]


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else f"{value:{spec}}"


def run_all(data: Data, repeats: int, ports: dict[str, int]) -> list[Row]:
    """Run every system once per repeat, interleaved, and collect the rows."""
    table = systems(ports)
    rows = {name: Row(name, baseline, []) for name, baseline, _ in table}
    for repeat in range(repeats):
        for name, _, bench in table:
            t0 = time.perf_counter()
            run = bench(data)
            rows[name].runs.append(run)
            print(
                f"  repeat {repeat + 1}/{repeats} {name:<20} {time.perf_counter() - t0:6.1f} s  "
                f"add {run.add_per_s:9.0f}/s  p50 {run.p50_ms:6.2f} ms  recall {run.recall:.3f}  "
                f"filtered p50 {fmt(run.fp50_ms, '6.2f')} ms  recall {fmt(run.frecall, '.3f')}  get p50 {fmt(run.get_p50_ms, '6.2f')} ms",
                file=sys.stderr,
                flush=True,
            )
    return list(rows.values())


def ratio(row: Row, base: Row, field: str) -> str:
    value, base_value = row.median(field), base.median(field)
    return "-" if value is None or base_value is None else f"{value / base_value:.2f}x"


def render(rows: list[Row]) -> str:
    """The markdown table: median (min-max) per metric, and ratios to the matching chromadb row."""
    by_name = {row.name: row for row in rows}
    lines = [
        "| system | add (vectors/s) | query p50 (ms) | query p99 (ms) | recall@10 | filtered p50 (ms) | filtered recall@10 "
        "| get p50 (ms) | vs chromadb: add / p50 / filtered p50 / get p50 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        base = by_name[row.baseline]
        ratios = " / ".join(ratio(row, base, field) for field in ("add_per_s", "p50_ms", "fp50_ms", "get_p50_ms"))
        lines.append(
            f"| {row.name} | {row.cell('add_per_s', ',.0f')} | {row.cell('p50_ms', '.2f')} | {row.cell('p99_ms', '.2f')} | "
            f"{row.cell('recall', '.3f')} | {row.cell('fp50_ms', '.2f')} | {row.cell('frecall', '.3f')} | "
            f"{row.cell('get_p50_ms', '.2f')} | {ratios} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=20,000, Q=200, 3 repeats (about 4 minutes)")
    parser.add_argument("--n", type=int, help="number of vectors (default 100,000; 20,000 with --quick)")
    parser.add_argument("--queries", type=int, help="number of queries (default 1,000; 200 with --quick)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.n or (20_000 if args.quick else 100_000)
    q = args.queries or (200 if args.quick else 1_000)

    started = time.perf_counter()
    data = make_data(n, q)
    print(f"data: {n:,} x {DIM} vectors, {q:,} queries, {args.repeats} repeats", file=sys.stderr)
    with http_servers() as ports:
        rows = run_all(data, args.repeats, ports)
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
