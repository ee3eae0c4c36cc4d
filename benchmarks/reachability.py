"""Stored records that no similarity query can find: counted before and after ragstore's reachability check.

hnswlib leaves a few points of its graph with no way in (see ``ragstore/local/reachability.py``).
This script counts, in a real persistent store, the live records

* no bottom-layer path from the graph's entry point reaches and a query with their own vector
  misses (``unreachable``: the graph cannot return them; orphans, searched exactly, are not counted), and
* a query with the record's own vector at ``n_results=1`` does not return (``own-vector misses``;
  a record at the same distance, a duplicate, counts as found), and of those, the ones not even
  in the top 1,000 of their own vector (``lost``: the issue's measure),

on two workloads: ``churn`` (batches of 50 adds, deletes of 50, upserts of 1-26 records with new
vectors, after a growth phase to 20,000 live records; 32-dim Gaussian vectors; 14,000 operations
by default) and ``clustered`` (bench.py's 100k x 384 clustered vectors, added in batches of 5,000).
Each runs twice: ``before`` with the check turned off (hnswlib's graph as it comes) and ``after``
with it; each is measured right after the writes, and again after closing and reopening the store
(the index loads from its files). ``unreachable`` counts the graph after repairs, so ``after``
rows count points still unreachable that are not searched exactly (orphans are listed apart).

Usage::

    .venv/bin/python benchmarks/reachability.py [--workload churn|clustered|both] [--check off|on|both] [--ops 14000] [--size 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _datasets import clustered

import ragstore
from ragstore.local import reachability
from ragstore.local.index import VectorIndex

CHURN_DIM = 32
CHURN_LIVE = 20_000
QUERY_BATCH = 2_000


def churn(collection: Any, ops: int, seed: int = 7) -> dict[str, np.ndarray]:
    """The churn workload; returns the live records' vectors by id."""
    rng = np.random.default_rng(seed)
    live: dict[str, np.ndarray] = {}
    ids: list[str] = []
    serial = 0

    def add(count: int) -> None:
        nonlocal serial
        new = [f"r{serial + i}" for i in range(count)]
        serial += count
        vectors = rng.standard_normal((count, CHURN_DIM)).astype(np.float32)
        collection.add(ids=new, embeddings=vectors)
        live.update(zip(new, vectors, strict=True))
        ids.extend(new)

    def pick(count: int) -> list[str]:
        chosen = sorted(rng.choice(len(ids), count, replace=False).tolist(), reverse=True)
        picked = []
        for position in chosen:
            picked.append(ids[position])
            ids[position] = ids[-1]
            ids.pop()
        return picked

    for op in range(ops):
        if len(live) < CHURN_LIVE or op % 3 == 0:
            add(50)
        elif op % 3 == 1:
            gone = pick(50)
            collection.delete(ids=gone)
            for record in gone:
                del live[record]
        else:
            chosen = pick(int(rng.integers(1, 27)))
            vectors = rng.standard_normal((len(chosen), CHURN_DIM)).astype(np.float32)
            collection.upsert(ids=chosen, embeddings=vectors)
            live.update(zip(chosen, vectors, strict=True))
            ids.extend(chosen)
    return live


def bulk(collection: Any, size: int) -> dict[str, np.ndarray]:
    """bench.py's clustered vectors, added in batches of 5,000."""
    vectors = clustered(size, 10).vectors
    ids = [f"c{i}" for i in range(size)]
    for start in range(0, size, 5_000):
        collection.add(ids=ids[start : start + 5_000], embeddings=vectors[start : start + 5_000])
    return dict(zip(ids, vectors, strict=True))


def measure(client: Any, name: str, live: dict[str, np.ndarray]) -> dict[str, Any]:
    """Unreachable graph points, orphans and own-vector misses of the collection ``name``."""
    collection = client.get_collection(name)
    ids = list(live)
    vectors = np.stack([live[i] for i in ids])
    missed: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(ids), QUERY_BATCH):
        batch = vectors[start : start + QUERY_BATCH]
        found = collection.query(query_embeddings=batch, n_results=1, include=["distances"])
        for row, (hit, distance, vector) in enumerate(zip(found["ids"], found["distances"], batch, strict=True)):
            if hit[0] != ids[start + row] and distance[0] > 1e-6 * (1.0 + float(vector @ vector)):
                missed.append(start + row)
    query_s = time.perf_counter() - started
    latencies = []
    for row in np.random.default_rng(3).choice(len(ids), 300, replace=False):
        one = time.perf_counter()
        collection.query(query_embeddings=vectors[row : row + 1] + np.float32(0.01), n_results=10)
        latencies.append(time.perf_counter() - one)
    lost = 0
    for start in range(0, len(missed), 100):
        rows = missed[start : start + 100]
        found = collection.query(query_embeddings=vectors[rows], n_results=1000, include=[])
        lost += sum(ids[row] not in hit for row, hit in zip(rows, found["ids"], strict=True))
    index = _index(client, name)
    started = time.perf_counter()
    cut_off = np.setdiff1d(reachability.unreachable(index._index), list(index.orphans.labels))
    survey_s = time.perf_counter() - started
    # A point reached through upper-layer links only may still be found (the descent can end on it).
    own = np.asarray(index._index.get_items(cut_off), dtype=np.float32).reshape(len(cut_off), index.dim)
    cut_off = cut_off[reachability.unfound(index._index, cut_off, own, index.space, num_threads=2)]
    return {
        "live": len(ids),
        "unreachable": len(cut_off),
        "orphans": len(index.orphans),
        "misses": len(missed),
        "lost": lost,
        "query_s": query_s,
        "p50_ms": 1000 * float(np.median(latencies)),
        "survey_s": survey_s,
    }


def _index(client: Any, name: str) -> VectorIndex:
    """The collection's in-memory index (the benchmark looks inside; nothing else should)."""
    engine = client._api
    with engine._db.read() as conn:
        pk = conn.execute("SELECT pk FROM collections WHERE name = ?", (name,)).fetchone()[0]
    return engine._indexes._cached[pk].index


def run(workload: str, check: bool, write: Callable[[Any], dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """One workload in a fresh store; measured after the writes and after reopening."""
    VectorIndex.checks_reachability = check
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "store")
        client = ragstore.PersistentClient(path)
        collection = client.create_collection(workload, embedding_function=None)
        started = time.perf_counter()
        live = write(collection)
        write_s = time.perf_counter() - started
        rows.append(
            {"workload": workload, "check": check, "when": "after the writes", "write_s": write_s, **measure(client, workload, live)}
        )
        client.close()
        client = ragstore.PersistentClient(path)
        rows.append({"workload": workload, "check": check, "when": "reopened", "write_s": 0.0, **measure(client, workload, live)})
        client.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", choices=["churn", "clustered", "both"], default="both")
    parser.add_argument("--ops", type=int, default=14_000)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--check", choices=["off", "on", "both"], default="both")
    args = parser.parse_args()
    workloads: list[tuple[str, Callable[[Any], dict[str, np.ndarray]]]] = []
    if args.workload in ("churn", "both"):
        workloads.append((f"churn {args.ops:,} ops x {CHURN_DIM}", lambda c: churn(c, args.ops)))
    if args.workload in ("clustered", "both"):
        workloads.append((f"clustered {args.size // 1000}k x 384", lambda c: bulk(c, args.size)))
    print(
        "| workload | check | measured | live | unreachable | orphans | own-vector misses (n_results=1) "
        "| lost (not in top 1,000) | writes s | own-vector queries s | query p50 ms | one survey s |"
    )
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, write in workloads:
        for check in [c == "on" for c in (("off", "on") if args.check == "both" else (args.check,))]:
            for row in run(name.split()[0], check, write):
                print(
                    f"| {name} | {'on' if check else 'off'} | {row['when']} | {row['live']:,} | {row['unreachable']} | {row['orphans']} "
                    f"| {row['misses']} | {row['lost']} | {row['write_s']:.1f} | {row['query_s']:.1f} "
                    f"| {row['p50_ms']:.2f} | {row['survey_s']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
