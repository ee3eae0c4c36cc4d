"""Core-engine benchmark: ragstore against chromadb 1.5.9, raw hnswlib and numpy brute force, as one markdown table.

Rows: ragstore ephemeral / persistent / http (``python -m ragstore run``), chromadb ephemeral /
persistent / http (``chroma run``), raw ``hnswlib`` and numpy brute force. Every system gets the
same records, queries and exact answers in the same run (one cached corpus file, see
``_corpus.py``), with explicit embeddings, ``embedding_function=None`` and the l2 space.

The driver runs each system's repeat in a fresh worker process (``bench.py --worker SYSTEM``)
so its peak RSS is its own; the systems are interleaved inside each repeat, so load drift on
the machine hits all of them alike. Each cell is ``median (min-max) ratio`` over the repeats,
where the ratio divides by the chromadb row of the same mode (hnswlib and numpy: chromadb
persistent). The columns are explained under the table.

Data sets (``--dataset``): ``clustered`` (default; 100,000 x 384 synthetic vectors in 50 clusters,
1,000 queries; ``--quick``: 10,000 and 100), ``sift`` (SIFT-small, 10,000 x 128, 100 queries,
its own ground truth) and ``scifact`` (5,183 BEIR SciFact abstracts and 300 queries embedded
with all-MiniLM-L6-v2; computed once, about 200 s, then cached in ``benchmarks/.cache/``).

Usage::

    .venv/bin/python benchmarks/bench.py [--dataset clustered|sift|scifact] [--quick] [--n N] [--queries Q] [--repeats R]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import platform
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _corpus import DELETE_SHARE, K, corpus_file, summary
from _datasets import DATASETS
from _table import LABELS, Column, Row, report
from _workers import print_result, run_interleaved, spawn_worker

SYSTEMS = tuple(LABELS)

COLUMNS = [
    Column(
        "add_per_s",
        "add (vec/s)",
        True,
        "vectors per second adding the corpus in batches of 5,000 with documents and metadata, timed until "
        "the last add returns (persistent and HTTP rows have committed to disk by then)",
    ),
    Column(
        "indexed_s",
        "indexed at (s)",
        False,
        "seconds from the first add until the vector index holds every record (ragstore: `get_indexing_status()`; "
        "chromadb's local modes and hnswlib index before an add returns); the queries below run after it",
    ),
    Column(
        "p50_ms",
        "query p50 (ms)",
        False,
        "single-query latency, k=10, including documents, metadatas and distances (hnswlib/numpy: a plain search)",
    ),
    Column("p99_ms", "query p99 (ms)", False, "the same queries' 99th percentile"),
    Column(
        "batch_qps",
        "batch (q/s)",
        True,
        "queries per second sending 100 query vectors per call (at least 1,000 queries, k=10, same include)",
    ),
    Column("recall", "recall@10", True, "share of the exact top 10 returned (ties count)", recall=True),
    Column(
        "f10_p50_ms",
        "10% filter p50 (ms)",
        False,
        'query p50 with `where={"cluster": {"$lt": 5}}` (5 of 50 clusters, about 10% of the records)',
    ),
    Column(
        "f10_recall",
        "10% filter recall",
        True,
        "recall@10 against exact search over just the matching records; hnswlib has no metadata",
        recall=True,
    ),
    Column(
        "f05_p50_ms",
        "0.5% filter p50 (ms)",
        False,
        'query p50 with `where={"i": {"$lt": n/200}}` (the first 0.5% of the records by their integer field i)',
    ),
    Column("f05_recall", "0.5% filter recall", True, "recall@10 against exact search over those records", recall=True),
    Column("get_p50_ms", "get p50 (ms)", False, '`get(ids=[one id], include=["documents", "metadatas"])`; stores only'),
    Column(
        "delete_per_s",
        "delete (rec/s)",
        True,
        f"records per second deleting a random {DELETE_SHARE:.0%} by id in calls of 1,000 (hnswlib: mark_deleted; numpy: a mask)",
    ),
    Column("del_p50_ms", "after-delete p50 (ms)", False, "single-query p50 on what remains"),
    Column("del_recall", "after-delete recall", True, "recall@10 against exact search over the remaining records", recall=True),
    Column(
        "start_s",
        "start to 1st query (s)",
        False,
        "persistent rows: wall time from spawning a fresh `python -c` that imports "
        "the library, opens the closed store and answers one query, until the answer (OS page cache warm)",
    ),
    Column(
        "disk_mb",
        "disk (MiB)",
        False,
        "persistent rows: allocated size of the store directory after closing the client (after the deletes)",
    ),
    Column(
        "rss_mb",
        "peak memory (MiB)",
        False,
        "the worker's peak resident memory while it runs the row, minus what it held before (the corpus): what the "
        "system itself needed at its peak (HTTP rows: the client side only). The vectors alone are n x dim x 4 bytes",
    ),
    Column(
        "server_rss_mb",
        "server RSS (MiB)",
        False,
        "HTTP rows: peak resident memory (VmHWM) of the server process, a fresh server per repeat",
    ),
    Column(
        "conc_qps",
        "32 clients (q/s)",
        True,
        "HTTP rows: queries per second from 32 threads in the client process, each "
        "with its own client, sending single queries for a fixed time",
    ),
    Column("conc_p99_ms", "32 clients p99 (ms)", False, "HTTP rows: p99 latency of those queries"),
]


def run_worker(system: str, corpus: Path, full: bool, concurrent_seconds: float, spawns: int, timeout: float) -> dict[str, Any]:
    """One repeat of one system in a fresh process; its result dict, or ``{"error": ...}`` if it failed."""
    args = ["--worker", system, "--corpus", str(corpus), "--concurrent-seconds", str(concurrent_seconds), "--spawns", str(spawns)]
    return spawn_worker(__file__, args + ([] if full else ["--core"]), timeout)


def worker_main(system: str, corpus_path: Path, full: bool, concurrent_seconds: float, spawns: int) -> None:
    """Load the corpus, measure one system, print one result line; runs in its own process (see ``run_worker``)."""
    from _corpus import load
    from _measure import peak_rss_mb, start_memory_window

    corpus = load(corpus_path)
    _ = corpus.ids, corpus.metadatas  # built now, so the baseline below holds everything the benchmark holds
    base_rss = start_memory_window()
    if system == "hnswlib":
        from _baselines import measure_hnswlib

        out = measure_hnswlib(corpus, full)
    elif system == "numpy":
        from _baselines import measure_numpy

        out = measure_numpy(corpus, full)
    else:
        from _stores import measure_store, open_target

        with open_target(system) as target:
            out = measure_store(target, corpus, full, concurrent_seconds, spawns)
    out.update(rss_mb=peak_rss_mb() - base_rss, base_rss_mb=base_rss)
    print_result(out)


def run_all(
    corpus: Path, systems: list[str], repeats: int, full: bool, concurrent_seconds: float, spawns: int
) -> tuple[list[Row], list[str]]:
    """Every system once per repeat, interleaved; the rows and the failed runs. Progress goes to stderr."""
    rows = {system: Row(system) for system in systems}
    failures = run_interleaved(rows, repeats, lambda system, _repeat: run_worker(system, corpus, full, concurrent_seconds, spawns, 3600.0))
    return list(rows.values()), failures


def describe(info: dict[str, Any], rows: list[Row], repeats: int, spawns: int, concurrent_seconds: float) -> str:
    """The paragraph above the table: data, parameters, versions."""
    base = [run["base_rss_mb"] for row in rows for run in row.runs if run.get("base_rss_mb") is not None]
    baseline = f" A worker holds {min(base):.0f}-{max(base):.0f} MiB of corpus before it imports any store." if base else ""
    from _baselines import EF_CONSTRUCTION, EF_SEARCH, THREADS, M

    return (
        f"{date.today().isoformat()}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"chromadb {version('chromadb')}, hnswlib {version('hnswlib')}, numpy {version('numpy')}. "
        f"Data set `{info['dataset']}`: {info['description']}; k={K}; ground truth: {info['truth_note']}. "
        f"hnswlib: M={M}, ef_construction={EF_CONSTRUCTION}, ef={EF_SEARCH}, {THREADS} threads (ragstore's defaults; "
        f"chromadb's are the same but M=16). "
        f"Median (min-max) of {repeats} repeat(s), each system in a fresh process, interleaved; start-up is the median of "
        f"{spawns} spawn(s) per repeat; the 32-client phase runs {concurrent_seconds:g} s.{baseline}"
    )


def ragstore_package() -> str:
    """The directory of the ragstore package this interpreter imports (without importing it)."""
    spec = importlib.util.find_spec("ragstore")
    assert spec is not None and spec.origin is not None, "ragstore is not installed in this environment"
    return spec.origin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="clustered")
    parser.add_argument(
        "--quick", action="store_true", help="under 3 minutes: 10,000 vectors (clustered), 100 queries, 1 s concurrent phase, 1 spawn"
    )
    parser.add_argument("--n", type=int, help="number of vectors (clustered default 100,000; sift/scifact: all, or the first N)")
    parser.add_argument("--queries", type=int, help="number of queries (clustered default 1,000; sift/scifact: all, or the first Q)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--concurrent-seconds", type=float, help="duration of the 32-client phase (default 5; 1 with --quick)")
    parser.add_argument("--spawns", type=int, help="cold-start spawns per repeat (default 3; 1 with --quick)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--core", action="store_true", help=argparse.SUPPRESS)  # worker: add + single queries only
    args = parser.parse_args()
    # Quick mode keeps 3 repeats but shrinks everything else: each repeat spends about 30 s just starting
    # 8 worker processes, 2 servers and the cold-start spawns, so 20,000 vectors did not fit in 3 minutes.
    concurrent_seconds = args.concurrent_seconds or (1.0 if args.quick else 5.0)
    spawns = args.spawns or (1 if args.quick else 3)
    if args.worker:
        worker_main(args.worker, args.corpus, not args.core, concurrent_seconds, spawns)
        return

    systems = args.systems.split(",") if args.systems else list(SYSTEMS)
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {','.join(SYSTEMS)}")
    n, q = args.n, args.queries
    if args.quick:
        n = n or (10_000 if args.dataset == "clustered" else None)
        q = q or 100
    started = time.perf_counter()
    # An installed wheel carries compiled bytecode (chromadb's does); this editable checkout, run with
    # PYTHONDONTWRITEBYTECODE=1 here, would otherwise compile every ragstore module at each cold start.
    compileall.compile_dir(str(Path(ragstore_package()).parent), quiet=1)
    corpus = corpus_file(args.dataset, n, q)
    info = summary(corpus)
    print(f"{info['dataset']}: {info['n']:,} x {info['dim']}, {info['queries']:,} queries, {args.repeats} repeats", file=sys.stderr)
    rows, failures = run_all(corpus, systems, args.repeats, True, concurrent_seconds, spawns)
    print("\n" + describe(info, rows, args.repeats, spawns, concurrent_seconds) + "\n")
    explanation = (
        "Each cell: median (min-max) over the repeats, then the ratio of the median to the chromadb row of the same mode "
        "(hnswlib and numpy: chromadb persistent; none on the chromadb rows themselves). For columns where higher is better "
        'a ratio above 1x favours the row, otherwise below 1x does. "-": the metric does not apply.'
    )
    print(report(rows, COLUMNS, explanation, failures))
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
