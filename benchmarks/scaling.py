"""How cost grows with the collection: add throughput, single-query p50 and recall@10 at 10k, 100k and 1M vectors.

Rows: ragstore persistent, chromadb persistent, raw hnswlib and numpy brute force; one group of
columns per size, so reading a row left to right shows the growth. The data is bench.py's
``clustered`` set (50 Gaussian clusters, short documents, ``{"cluster", "i"}`` metadata, fixed
seed) at each size, 384-dim up to 100k and 64-dim from 1M on by default (``--big-dim``:
1M x 384 is 1.5 GB of float32 per process, plus an index build several times longer on
2 cores; pass ``--dim 64`` for one dimension at every size, so the columns compare directly).
Each system and size runs in a fresh worker process (``bench.py --worker ... --core``: add in
batches of 5,000, then single queries with documents, metadatas and distances), interleaved
within each repeat; cells are ``median (min-max) ratio`` with the ratio to chromadb persistent.
Next to the table it writes every measurement (system, size, dimensions, repeat, add, p50,
recall) to ``benchmarks/results/scaling.json`` (``--json``), which ``charts.py`` draws.

Usage::

    .venv/bin/python benchmarks/scaling.py [--sizes 10000,100000,1000000] [--queries 200] [--repeats 3] [--dim 384] [--big-dim 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

from _corpus import K, corpus_file
from _table import Column, Row, render
from bench import run_worker

SYSTEMS = ["ragstore-persistent", "chromadb-persistent", "hnswlib", "numpy"]
BIG = 1_000_000  # from this size on, vectors get --big-dim dimensions
RESULTS = Path(__file__).resolve().parent / "results"


def label(size: int, dim: int) -> str:
    """``10k x 384``, ``1M x 64``."""
    count = f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else f"{size:,}"
    return f"{count} x {dim}"


def columns(sizes: list[tuple[int, int]]) -> list[Column]:
    """Three columns per size: add throughput, query p50, recall@10."""
    out = []
    for size, dim in sizes:
        name = label(size, dim)
        out += [
            Column(f"{size}:add_per_s", f"{name} add (vec/s)", True),
            Column(f"{size}:p50_ms", f"{name} p50 (ms)", False),
            Column(f"{size}:recall", f"{name} recall@10", True, recall=True),
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated numbers of vectors")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=384, help="dimensions below 1M vectors")
    parser.add_argument("--big-dim", type=int, default=64, help="dimensions from 1M vectors on")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--json", type=Path, default=RESULTS / "scaling.json", help="where to write every measurement as JSON")
    args = parser.parse_args()
    sizes = [(size, args.big_dim if size >= BIG else args.dim) for size in (int(s) for s in args.sizes.split(","))]
    systems = args.systems.split(",")
    if set(systems) - set(SYSTEMS):
        parser.error(f"--systems takes a subset of {','.join(SYSTEMS)}")

    started = time.perf_counter()
    rows = {system: Row(system, [{} for _ in range(args.repeats)]) for system in systems}
    failures = []
    records = []  # one per system, size and repeat: what the JSON file holds
    for size, dim in sizes:
        corpus = corpus_file("clustered", size, args.queries, dim, core_only=True)
        for repeat in range(args.repeats):
            for system in systems:
                t0 = time.perf_counter()
                # A generous bound (an hour per 100k vectors): it only stops a hung worker.
                result = run_worker(system, corpus, False, 0.0, 1, timeout=3600.0 * max(1, size // 100_000))
                took = time.perf_counter() - t0
                if "error" in result:
                    failures.append(f"{system} at {label(size, dim)}, repeat {repeat + 1}: {result['error']}")
                else:
                    rows[system].runs[repeat].update({f"{size}:{key}": value for key, value in result.items()})
                    keep = {key: result[key] for key in ("add_per_s", "p50_ms", "p99_ms", "recall")}
                    records.append({"system": system, "label": rows[system].label, "n": size, "dim": dim, "repeat": repeat + 1, **keep})
                shown = result.get("error") or "  ".join(f"{k} {result[k]:.4g}" for k in ("add_per_s", "p50_ms", "recall"))
                print(f"  {label(size, dim):>10} repeat {repeat + 1}/{args.repeats} {system:<20} {took:7.1f} s  {shown}", file=sys.stderr)

    text = (
        f"{date.today().isoformat()}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"chromadb {version('chromadb')}, hnswlib {version('hnswlib')}. Clustered vectors (bench.py's data set) at each size, "
        f"{args.queries} queries, k={K}, batches of 5,000; median (min-max) of {args.repeats} repeats, each in a fresh process; "
        "the ratio divides by chromadb persistent. Add is vectors/s (higher is better), p50 the single-query latency "
        "with documents, metadatas and distances (lower is better), recall@10 against exact search."
    )
    print(f"\n{text}\n")
    print(render(list(rows.values()), columns(sizes)))
    for line in failures:
        print(f"\nFailed: {line}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": date.today().isoformat(), "description": text, "queries": args.queries, "repeats": args.repeats}
    args.json.write_text(json.dumps({**payload, "failures": failures, "results": records}, indent=1) + "\n", encoding="utf-8")
    print(f"\nmeasurements: {args.json}", file=sys.stderr)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
