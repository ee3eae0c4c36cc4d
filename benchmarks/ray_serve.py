"""Query latency, throughput and recall of the sharded Ray Serve service against one ``ragstore run`` (issue 20).

The same clustered random vectors (``--n`` x ``--dim``, L2) are added over HTTP, in batches, to:

- ``ragstore run``: one server process on a fresh store;
- ``ray, S shards``: ``ragstore.distributed.serve.start_service`` with S shards x 1 replica on one local Ray
  instance (``ray.init(num_cpus=CORES)`` on 127.0.0.1, started before timing) on a fresh root.

Each system is loaded, waits until its vector indexes have taken in every record (``get_indexing_status``),
then answers ``--queries`` single queries one after another (p50, p99: the client's wall time per
``query(n_results=10)``), then ``--clients`` threads query for ``--seconds`` (throughput), and its top 10 are
compared with numpy brute force (recall@10). Systems run one after the other, not interleaved (each needs its
own load), so a change of load on the shared machine between them shows in the cells: the load average
is printed before each.

Where a sharded query's time goes: each system also answers three requests ``--hops`` times each, interleaved
(p50 of the client's wall time): ``GET /api/v2/pre-flight-checks`` (the router answers itself: Serve's HTTP proxy
and the router replica, no shard), ``GET /api/v2/version`` (one shard replica, the authority) and
``GET /api/v2/heartbeat`` (every shard in parallel). A query is the last plus the search itself.

Usage::

    .venv/bin/python benchmarks/ray_serve.py [--n 20000] [--dim 128] [--queries 300] [--shards 2,4] [--clients 4] [--seconds 8]
        [--hops 200] [--json benchmarks/results/ray_serve.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Ray's single-node mode: the local instance's processes talk over 127.0.0.1 (read when Ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from _measure import concurrent_rate, percentile_ms, timed_each
from _table import number, ratio

BATCH = 2_000
K = 10


def clustered(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors around 64 centres and ``queries`` query vectors drawn the same way."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)).astype(np.float32) * 4
    data = centres[rng.integers(0, 64, n)] + rng.normal(size=(n, dim)).astype(np.float32)
    asked = centres[rng.integers(0, 64, queries)] + rng.normal(size=(queries, dim)).astype(np.float32)
    return data, asked


def true_top(data: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The exact ``K`` nearest (squared L2) of each query, as row numbers."""
    norms = (data * data).sum(axis=1)
    return [set(np.argsort(norms - 2 * data @ q)[:K].tolist()) for q in queries]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def ragstore_run(root: Path) -> Iterator[int]:
    from ragstore.testing import RunningServer

    with RunningServer.start(root / "single") as server:
        yield server.port


@contextmanager
def sharded(root: Path, shards: int) -> Iterator[int]:
    from ragstore.distributed.serve import start_service, stop_service

    port = free_port()
    start_service(root / f"shards-{shards}", shards, 1, port=port)
    try:
        yield port
    finally:
        stop_service()


def load(port: int, data: np.ndarray) -> tuple[Any, float]:
    """A fresh collection filled with ``data``; the add rate (records/s, until every index has them)."""
    import ragstore

    client = ragstore.HttpClient(host="127.0.0.1", port=port)
    collection = client.create_collection("bench", embedding_function=None, configuration={"hnsw": {"ef_search": 64}})
    started = time.perf_counter()
    for lo in range(0, len(data), BATCH):
        chunk = data[lo : lo + BATCH]
        collection.add(ids=[str(i) for i in range(lo, lo + len(chunk))], embeddings=chunk)
    while collection.get_indexing_status().num_unindexed_ops:
        time.sleep(0.2)
    return collection, len(data) / (time.perf_counter() - started)


HOP_PATHS = {"no shard": "/api/v2/pre-flight-checks", "one shard": "/api/v2/version", "every shard": "/api/v2/heartbeat"}


def hops(port: int, repeats: int) -> dict[str, float]:
    """p50 (ms) of requests that reach no shard, one shard and every shard (interleaved, one connection)."""
    import httpx

    timings: dict[str, list[float]] = {name: [] for name in HOP_PATHS}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(10):  # warm-up
            for path in HOP_PATHS.values():
                http.get(path).raise_for_status()
        for _ in range(repeats):
            for name, path in HOP_PATHS.items():
                started = time.perf_counter()
                http.get(path).raise_for_status()
                timings[name].append(time.perf_counter() - started)
    return {name: percentile_ms(values, 50) for name, values in timings.items()}


def measure(
    port: int, data: np.ndarray, queries: np.ndarray, truth: list[set[int]], clients: int, seconds: float, repeats: int
) -> dict[str, float]:
    import ragstore

    collection, add_rate = load(port, data)

    def ask(query: np.ndarray) -> list[str]:
        ids: list[str] = collection.query(query_embeddings=[query], n_results=K, include=["distances"])["ids"][0]
        return ids

    for query in queries[:20]:  # warm-up: connections, caches
        ask(query)
    latencies, answers = timed_each(ask, queries)
    recall = float(np.mean([len(truth[i] & {int(x) for x in got}) / K for i, got in enumerate(answers)]))

    def session() -> tuple[Callable[[np.ndarray], Any], Callable[[], None]]:
        own = ragstore.HttpClient(host="127.0.0.1", port=port)
        mine = own.get_collection("bench", embedding_function=None)
        return (lambda q: mine.query(query_embeddings=[q], n_results=K, include=["distances"])), own.close

    rate, p99_concurrent = concurrent_rate(session, queries, clients, seconds)
    return {
        **{f"hop p50 {name}": value for name, value in hops(port, repeats).items()},
        "add": add_rate,
        "p50": percentile_ms(latencies, 50),
        "p99": percentile_ms(latencies, 99),
        "rate": rate,
        "p99c": p99_concurrent,
        "recall": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--shards", default="2,4")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--hops", type=int, default=200, help="repeats of each request of the hop breakdown")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    import ray

    data, queries = clustered(args.n, args.dim, args.queries)
    truth = true_top(data, queries)
    cores = os.cpu_count() or 1
    ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    results: dict[str, dict[str, float]] = {}
    loads: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            systems: list[tuple[str, Callable[[], Any]]] = [("ragstore run", lambda: ragstore_run(Path(tmp)))]
            for shards in (int(s) for s in args.shards.split(",")):
                systems.append((f"ray, {shards} shards", lambda shards=shards: sharded(Path(tmp), shards)))  # type: ignore[misc]
            for name, start in systems:
                loads[name] = " ".join(f"{x:.1f}" for x in os.getloadavg())
                with start() as port:
                    results[name] = measure(port, data, queries, truth, args.clients, args.seconds, args.hops)
                print(f"{name}: done", file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    base = results["ragstore run"]
    print(f"{args.n:,} x {args.dim} vectors (L2), {args.queries} queries, {args.clients} clients for {args.seconds:g} s, {cores} cores\n")
    print("| system | load avg | add (rec/s) | p50 (ms) | p99 (ms) | clients (q/s) | clients p99 (ms) | recall@10 |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in results.items():
        cells = [
            loads[name],
            f"{number(r['add'])} {ratio(r['add'], base['add'])}",
            f"{number(r['p50'])} {ratio(r['p50'], base['p50'])}",
            f"{number(r['p99'])} {ratio(r['p99'], base['p99'])}",
            f"{number(r['rate'])} {ratio(r['rate'], base['rate'])}",
            f"{number(r['p99c'])} {ratio(r['p99c'], base['p99c'])}",
            number(r["recall"], recall=True),
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n| system | no shard p50 (ms) | one shard p50 (ms) | every shard p50 (ms) | query p50 (ms) |")
    print("|---|--:|--:|--:|--:|")
    for name, r in results.items():
        cells = [number(r[f"hop p50 {hop}"]) for hop in HOP_PATHS] + [number(r["p50"])]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json is not None:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        record = {
            "settings": settings,
            "cores": cores,
            "load_avg": loads,
            "results": results,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
