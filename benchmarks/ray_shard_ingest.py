"""A 1M-chunk ingest into the sharded Ray Serve service (4 shards) against one ``ragstore run`` and one local store (issue 20).

The same ``--n`` chunks (precomputed clustered vectors of ``--dim`` dimensions, a short document and two metadata
fields each, ids as the ingest makes them: ``docs/file-<k>.md#chunk=<j>``) are upserted by one writer, in batches of
``--batch``, the call :class:`ragstore.distributed.writer.RowWriter` makes for each of a Ray ingest's batches, into:

- ``local store``: a persistent store opened in this process (``ragstore.PersistentClient``);
- ``ragstore run``: one server process on a fresh store (``python -m ragstore run``), through ``ragstore.HttpClient``;
- ``ray, S shards x 1``: ``ragstore.distributed.serve.start_service`` with ``--shards`` shards and one replica each,
  on a local Ray instance (``ray.init(num_cpus=CORES)``, started before timing), through ``ragstore.HttpClient``.

Precomputed vectors, not an embedding model: the question is what the stores take in, and an embedder would run the
same for every target (``benchmarks/ray_ingest.py`` measures the embedding side). Each system reports the writer's
wall time and rate, the time until every vector index has taken in every record (``get_indexing_status``), the
resident memory of each store process (peak ``VmHWM``, and ``VmRSS`` before the ingest and once indexed: per shard
replica for the sharded service, the server for ``ragstore run``, this process's growth for the local store), then
``count()`` (it must be ``--n``), recall@10 and the single-query p50 over ``--queries`` queries against numpy brute
force. Systems run one after the other (each is one long run), so the load average is printed with each.

Usage::

    .venv/bin/python benchmarks/ray_shard_ingest.py [--n 1000000] [--dim 64] [--shards 4] [--batch 2000] [--systems run,ray,local]
        [--json benchmarks/results/ray_shard_ingest.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Ray's single-node mode: the local instance's processes talk over 127.0.0.1 (read when Ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from _embedders import cpu_name
from _measure import percentile_ms, start_memory_window, timed_each
from _servers import free_port, running_server
from _table import number, ratio

K = 10
CHUNKS_PER_FILE = 20  # ids and the "source" metadata group chunks into files, as an ingest's do
_TEXT = (
    "the store keeps each chunk of a file with its vector and metadata so a query finds the nearest chunks and returns "
    "their text to the model which answers from them shards spread the records over machines replicas keep copies"
)
WORDS = _TEXT.split(" ")
SYSTEMS = {"run": "ragstore run", "ray": "ray, {shards} shards x 1", "local": "local store"}


@dataclass
class Result:
    """One system's run: times in seconds, memory in MiB (``processes`` holds each store process's numbers)."""

    system: str
    n: int
    add_s: float
    indexed_s: float
    count: int
    p50_ms: float
    recall: float
    load_before: str
    load_after: str
    processes: list[dict[str, float]] = field(default_factory=list)  # per store process: rss_before, rss_after, peak


def clustered(n: int, dim: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors around 64 centres and ``queries`` query vectors drawn the same way (``ray_serve.py``'s data)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)).astype(np.float32) * 4
    data = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):  # in slices: a 1M x 64 float64 temporary would be 512 MiB
        size = min(100_000, n - lo)
        data[lo : lo + size] = centres[rng.integers(0, 64, size)] + rng.normal(size=(size, dim)).astype(np.float32)
    asked = centres[rng.integers(0, 64, queries)] + rng.normal(size=(queries, dim)).astype(np.float32)
    return data, asked


def true_top(data: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The exact ``K`` nearest (squared L2) row numbers of each query."""
    norms = (data * data).sum(axis=1)
    return [set(np.argpartition(norms - 2 * data @ q, K)[:K].tolist()) for q in queries]


def chunk_id(i: int) -> str:
    return f"docs/file-{i // CHUNKS_PER_FILE}.md#chunk={i % CHUNKS_PER_FILE}"


def batches(data: np.ndarray, size: int) -> Iterator[dict[str, Any]]:
    """The upsert arguments, ``size`` chunks at a time: ids, a ~100-character document, two metadata fields, the vectors."""
    for lo in range(0, len(data), size):
        rows = range(lo, min(lo + size, len(data)))
        yield {
            "ids": [chunk_id(i) for i in rows],
            "documents": [f"chunk {i}: " + " ".join(WORDS[(i + w) % len(WORDS)] for w in range(14)) for i in rows],
            "metadatas": [{"source": f"docs/file-{i // CHUNKS_PER_FILE}.md", "chunk": i % CHUNKS_PER_FILE} for i in rows],
            "embeddings": data[lo : rows.stop],
        }


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def load_average() -> str:
    """The 1-minute load average (the machine is shared: it says how busy it was)."""
    return f"{os.getloadavg()[0]:.1f}"


@dataclass
class Target:
    """A running system: its collection, and the store processes whose memory counts (``memory`` reads them all)."""

    collection: Any
    memory: Callable[[], list[dict[str, float]]]


@contextmanager
def ragstore_run(root: Path) -> Iterator[Target]:
    import ragstore

    with running_server("ragstore", root) as server:
        client = ragstore.HttpClient(host="127.0.0.1", port=server.port)
        collection = client.create_collection("chunks", embedding_function=None)
        yield Target(collection, lambda: [memory_mb(server.proc.pid)])
        client.close()


@contextmanager
def sharded(root: Path, shards: int) -> Iterator[Target]:
    from ray import serve

    import ragstore
    from ragstore.distributed.serve import APP_NAME, start_service, stop_service

    port = free_port()
    start_service(root / "shards", shards, 1, port=port)
    try:
        client = ragstore.HttpClient(host="127.0.0.1", port=port)
        collection = client.create_collection("chunks", embedding_function=None)
        handles = [serve.get_deployment_handle(f"shard-{i}-replica-0", app_name=APP_NAME) for i in range(shards)]
        pids = [handle.process_id.remote().result() for handle in handles]
        yield Target(collection, lambda: [memory_mb(pid) for pid in pids])
        client.close()
    finally:
        stop_service()


@contextmanager
def local_store(root: Path) -> Iterator[Target]:
    import ragstore

    client = ragstore.PersistentClient(str(root / "local"))
    collection = client.create_collection("chunks", embedding_function=None)
    base = start_memory_window()  # this process also holds the data set: count what the store adds to it

    def memory() -> list[dict[str, float]]:
        now = memory_mb(os.getpid())
        return [{"VmRSS": now["VmRSS"] - base, "VmHWM": now["VmHWM"] - base}]

    yield Target(collection, memory)
    client.close()


def measure(name: str, target: Target, data: np.ndarray, queries: np.ndarray, truth: list[set[int]], batch: int) -> Result:
    """Upsert everything, wait until indexed, read memory, then count, query and score."""
    collection = target.collection
    load_before = load_average()
    before = target.memory()
    started = time.perf_counter()
    for done, arguments in enumerate(batches(data, batch), start=1):
        collection.upsert(**arguments)
        if done % 50 == 0:
            print(f"  {name}: {done * batch:,} chunks, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    add_s = time.perf_counter() - started
    while collection.get_indexing_status().num_unindexed_ops:
        time.sleep(0.5)
    indexed_s = time.perf_counter() - started
    after = target.memory()

    def ask(query: np.ndarray) -> list[str]:
        ids: list[str] = collection.query(query_embeddings=[query], n_results=K, include=["distances"])["ids"][0]
        return ids

    for query in queries[:10]:  # warm-up: connections, the first pages read
        ask(query)
    latencies, answers = timed_each(ask, queries)
    wanted = [{chunk_id(i) for i in top} for top in truth]
    recall = float(np.mean([len(wanted[q] & set(got)) / K for q, got in enumerate(answers)]))
    processes = [{"rss_before": b["VmRSS"], "rss_after": a["VmRSS"], "peak": a["VmHWM"]} for b, a in zip(before, after, strict=True)]
    return Result(
        name, len(data), add_s, indexed_s, collection.count(), percentile_ms(latencies, 50), recall, load_before, load_average(), processes
    )


def table(results: list[Result]) -> list[str]:
    """One markdown row per system; ratios divide by the ``ragstore run`` row when there is one (else the first)."""
    base = next((r for r in results if r.system == SYSTEMS["run"]), results[0])
    lines = [
        "| system | load before / after | upserted in (s) | chunks/s | indexed at (s) | indexed chunks/s | store processes' peak RSS (MiB) "
        "| RSS once indexed, above idle (MiB) | count | p50 (ms) | recall@10 |",
        "|---|--:|--:|--:|--:|--:|---|---|--:|--:|--:|",
    ]
    for r in results:
        peaks = [p["peak"] for p in r.processes]
        grown = [p["rss_after"] - p["rss_before"] for p in r.processes]
        each = "" if len(peaks) == 1 else f" ({', '.join(number(p) for p in peaks)})"
        grown_each = "" if len(grown) == 1 else f" ({', '.join(number(g) for g in grown)})"
        cells = [
            f"{r.load_before} / {r.load_after}",
            number(r.add_s),
            f"{number(r.n / r.add_s)} {ratio(r.n / r.add_s, base.n / base.add_s)}",
            number(r.indexed_s),
            f"{number(r.n / r.indexed_s)} {ratio(r.n / r.indexed_s, base.n / base.indexed_s)}",
            f"{number(sum(peaks))}{each}",
            f"{number(sum(grown))}{grown_each}",
            f"{r.count:,}",
            number(r.p50_ms),
            number(r.recall, recall=True),
        ]
        lines.append(f"| {r.system} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    """Generate the chunks, run each system once, print one table (and write the JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1_000_000, help="chunks to ingest")
    parser.add_argument("--dim", type=int, default=64, help="vector dimensions (64, as scaling.py's 1M size)")
    parser.add_argument("--shards", type=int, default=4, help="shards of the Ray service (one replica each)")
    parser.add_argument("--batch", type=int, default=2_000, help="chunks per upsert")
    parser.add_argument("--queries", type=int, default=100, help="queries for p50 and recall@10 once indexed")
    parser.add_argument("--systems", default="run,ray,local", help="which to run, in this order: run, ray, local")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    args = parser.parse_args()

    data, queries = clustered(args.n, args.dim, args.queries)
    truth = true_top(data, queries)
    cores = len(os.sched_getaffinity(0))
    chosen = [s.strip() for s in args.systems.split(",")]
    results: list[Result] = []
    started_ray = False
    try:
        with tempfile.TemporaryDirectory(prefix="ray_shard_ingest_") as tmp:
            for system in chosen:
                root = Path(tmp) / system
                root.mkdir()
                name = SYSTEMS[system].format(shards=args.shards)
                if system == "ray":
                    import ray

                    if not started_ray:
                        ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
                        started_ray = True
                    start: Any = sharded(root, args.shards)
                else:
                    start = ragstore_run(root) if system == "run" else local_store(root)
                with start as target:
                    results.append(measure(name, target, data, queries, truth, args.batch))
                print(f"{name}: {results[-1].add_s:.0f} s, indexed at {results[-1].indexed_s:.0f} s", file=sys.stderr, flush=True)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print(
        f"{args.n:,} chunks x {args.dim} dimensions (clustered, L2, ~100-character documents, 2 metadata fields), one writer, "
        f"batches of {args.batch:,}; {args.queries} queries once indexed."
    )
    print(
        f"Machine: {when} UTC, {cpu_name()}, {cores} cores, Python {platform.python_version()}, ray {version('ray')}; "
        f"ragstore run and the Ray replicas each one process on this machine\n"
    )
    print("\n".join(table(results)))
    if args.json is not None:
        args.json.write_text(
            json.dumps({"date": when, "dim": args.dim, "batch": args.batch, "results": [asdict(r) for r in results]}, indent=1)
        )


if __name__ == "__main__":
    main()
