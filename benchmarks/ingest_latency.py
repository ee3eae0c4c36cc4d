"""Query latency during a long ingest: one writer adds the corpus in batches of 5,000 while a reader queries, per system.

Rows: ragstore persistent, ephemeral and over HTTP (``python -m ragstore run``), chromadb 1.5.9
persistent and over HTTP (``chroma run``, its HTTP peer), and raw ``hnswlib`` (``add_items`` and
``knn_query`` from two threads) as the floor.
Every system gets bench.py's data (``clustered``: 100,000 x 384, 1,000 queries; ``--quick``: 10,000
and 100) in a fresh worker process. The writer adds durable batches with documents and metadata;
from the first acknowledged batch until the collection is fully indexed a reader thread sends
single queries (k=10, documents, metadatas and distances) at a fixed rate. Then every query is
asked once more on the finished collection. See ``_ingest.py`` for what a sample holds and how
its recall is scored.

Outputs: the markdown table on stdout (cells ``median (min-max) ratio``, the ratio to chromadb
persistent); a small JSON summary in ``benchmarks/results/ingest_latency.json`` (the table's
numbers and the acknowledgement times of every run, and each query's start and latency in the
first repeat, which ``charts.py`` draws); every sample of every repeat, with the records it saw
and its recall, in ``benchmarks/.cache/ingest_latency_samples.json`` (not committed).

Usage::

    .venv/bin/python benchmarks/ingest_latency.py [--quick] [--n N] [--queries Q] [--repeats R] [--qps 50] [--batch 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Mapping
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from _corpus import K, corpus_file, summary
from _datasets import CACHE_DIR
from _stores import ADD_BATCH
from _table import Column, Row, report
from _workers import print_result, run_interleaved, spawn_worker

SYSTEMS = ("ragstore-persistent", "ragstore-ephemeral", "ragstore-http", "chromadb-persistent", "chromadb-http", "hnswlib")
BASELINE = "chromadb-persistent"
EXTRAS = ("indexed_by", "commits", "samples")  # a worker's results that are not table cells
RESULTS = Path(__file__).resolve().parent / "results"

COLUMNS = [
    Column("add_per_s", "add (vec/s)", True, "vectors per second from the first add until the last add returns, with the reader going"),
    Column(
        "indexed_s",
        "indexed at (s)",
        False,
        "seconds from the first add until the vector index holds every record: `get_indexing_status()` where the client "
        "reports it, else the end of the last add (see the paragraph above the table for which it was)",
    ),
    Column("during_p50_ms", "during p50 (ms)", False, "single-query latency while the ingest runs"),
    Column("during_p95_ms", "during p95 (ms)", False, "its 95th percentile"),
    Column("during_p99_ms", "during p99 (ms)", False, "its 99th percentile"),
    Column("during_max_ms", "during max (ms)", False, "the slowest query during the ingest"),
    Column(
        "open_p50_ms",
        "steady-load p50 (ms)",
        False,
        "the during-ingest latencies with the queries a steady load would have sent while one stalled added back, each "
        "waiting out the rest of the stall (the reader waits for each answer, so a 2 s stall hides 100 queries at 50/s); "
        "what a query arriving at a random moment of the ingest waits, which the plain percentiles understate",
    ),
    Column("open_p99_ms", "steady-load p99 (ms)", False, "its 99th percentile"),
    Column(
        "during_recall",
        "during recall@10",
        True,
        "recall@10 against the exact answer over the records acknowledged when the query started (ties count)",
        recall=True,
    ),
    Column("after_p50_ms", "after p50 (ms)", False, "every query once on the finished collection, one at a time"),
    Column("after_p95_ms", "after p95 (ms)", False, "their 95th percentile"),
    Column("after_p99_ms", "after p99 (ms)", False, "their 99th percentile"),
    Column("after_recall", "after recall@10", True, "recall@10 of those queries against exact search over everything", recall=True),
]


class IngestRow(Row):
    """A row whose ratio divides by chromadb persistent, the one chromadb row this script runs."""

    @property
    def baseline(self) -> str:
        return BASELINE


def kth_file(corpus: Path, batch: int) -> Path:
    """The cached per-prefix exact answers for ``corpus`` ingested in batches of ``batch`` (computed once per corpus)."""
    path = CACHE_DIR / f"{corpus.stem}-prefix-kth-b{batch}.npy"
    if not path.exists():
        from _corpus import load
        from _ingest import prefix_kth

        print(f"preparing {path.name} (exact answers over each acknowledged prefix)...", file=sys.stderr, flush=True)
        corpus_data = load(corpus)
        np.save(path, prefix_kth(corpus_data.vectors, corpus_data.queries, batch))
    return path


def worker_main(system: str, corpus_path: Path, kth_path: Path, batch: int, qps: float) -> None:
    """Load the corpus, measure one system, print one result line (samples included); runs in its own process."""
    from _corpus import load
    from _ingest import measure

    corpus = load(corpus_path)
    _ = corpus.ids, corpus.metadatas
    print_result(measure(system, corpus, batch, qps, np.load(kth_path)))


def describe(meta: dict[str, Any], rows: Mapping[str, Row], extras: Mapping[str, list[dict[str, Any]]]) -> str:
    """The paragraph above the table: data, parameters, versions, and where each row's "indexed at" came from."""
    how = {(row.label, extra["indexed_by"]) for system, row in rows.items() for extra in extras[system]}
    by_status = sorted(label for label, by in how if by == "indexing status")
    by_add = sorted(label for label, by in how if by == "last add")
    indexed = "; ".join(
        part
        for part in (
            f"from get_indexing_status() for {', '.join(by_status)}" if by_status else "",
            f"the end of the last add for {', '.join(by_add)} (no indexing status to ask)" if by_add else "",
        )
        if part
    )
    counts = ", ".join(f"{row.label} {median:,.0f}" for row in rows.values() if (median := row.median("during_queries")) is not None)
    return (
        f"{meta['date']}, {meta['platform']}. Data: {meta['dataset']}; k={K}. One writer adds batches of {meta['batch']:,} "
        "(documents and metadata; durable where the mode is); a reader thread (its own client over HTTP) sends single "
        f"queries at {meta['qps']:g}/s from the first acknowledged batch until the collection is fully indexed, then every "
        f"query is asked once more. Queries during the ingest (median): {counts}. "
        f'"Indexed at": {indexed}. Median (min-max) of {meta["repeats"]} repeat(s), each system in a fresh process, interleaved.'
    )


def derive(numbers: dict[str, Any], samples: dict[str, list[Any]], qps: float) -> None:
    """Add the steady-load percentiles to one run's ``numbers``, from its samples that started before it was fully indexed."""
    from _ingest import open_loop

    during = [lat for t, lat in zip(samples["t_s"], samples["latency_ms"], strict=True) if t < numbers["indexed_s"]]
    steady = open_loop(during, 1000.0 / qps)
    for pct in (50, 99):
        numbers[f"open_p{pct}_ms"] = float(np.percentile(steady, pct)) if steady else None


def tidy(value: Any) -> Any:
    """``value`` with every float rounded to 6 significant digits (timer noise beyond them only bloats the file).

    Example:
        >>> tidy({"p50_ms": 1.2345678901, "runs": [3.14159265358979, 2]})
        {'p50_ms': 1.23457, 'runs': [3.14159, 2]}
    """
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tidy(item) for item in value]
    return value


def write_json(path: Path, payload: dict[str, Any], indent: int | None = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tidy(payload), indent=indent) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 vectors, 100 queries, batches of 1,000 (about 2 minutes)")
    parser.add_argument("--n", type=int, help="number of vectors (default 100,000)")
    parser.add_argument("--queries", type=int, help="number of query vectors the reader cycles through (default 1,000)")
    parser.add_argument("--batch", type=int, help=f"vectors per add (default {ADD_BATCH:,}; 1,000 with --quick)")
    parser.add_argument("--qps", type=float, default=50.0, help="the reader's query rate during the ingest (default 50/s)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--systems", help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--json", type=Path, default=RESULTS / "ingest_latency.json", help="the summary JSON (charts.py reads it)")
    parser.add_argument("--samples", type=Path, default=CACHE_DIR / "ingest_latency_samples.json", help="every query's sample")
    parser.add_argument("--replay", action="store_true", help="print the table again from --json and --samples, measuring nothing")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    batch = args.batch or (1_000 if args.quick else ADD_BATCH)
    if args.worker:
        worker_main(args.worker, args.corpus, args.kth, batch, args.qps)
        return
    if args.replay:
        replay(args.json, args.samples)
        return

    systems = args.systems.split(",") if args.systems else list(SYSTEMS)
    if set(systems) - set(SYSTEMS):
        parser.error(f"--systems takes a subset of {','.join(SYSTEMS)}")
    n, q = (args.n or 10_000, args.queries or 100) if args.quick else (args.n, args.queries)
    started = time.perf_counter()
    corpus = corpus_file("clustered", n, q)  # bench.py's file for the same sizes, so its cache is shared
    kth = kth_file(corpus, batch)
    info = summary(corpus)
    print(f"{info['n']:,} x {info['dim']}, {info['queries']:,} queries, batches of {batch:,}, {args.repeats} repeat(s)", file=sys.stderr)

    rows = {system: IngestRow(system) for system in systems}
    extras: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}

    def run(system: str, _repeat: int) -> dict[str, Any]:
        worker = ["--worker", system, "--corpus", str(corpus), "--kth", str(kth), "--batch", str(batch), "--qps", str(args.qps)]
        result = spawn_worker(__file__, worker, timeout=3600.0)
        if "error" not in result:
            extras[system].append({key: result.pop(key) for key in EXTRAS})
        return result

    failures = run_interleaved(rows, args.repeats, run)
    meta = {
        "date": date.today().isoformat(),
        "platform": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, ragstore {version('ragstore')}, "
        f"chromadb {version('chromadb')}, hnswlib {version('hnswlib')}",
        "dataset": info["description"],
        **{key: info[key] for key in ("n", "dim", "queries")},
        **{"batch": batch, "qps": args.qps, "repeats": args.repeats, "failures": failures},
    }
    finish(meta, rows, extras, args.json, args.samples)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)


def replay(summary_path: Path, samples_path: Path) -> None:
    """Print the table and rewrite the summary again from a finished run's two files, without measuring anything."""
    saved = json.loads(summary_path.read_text(encoding="utf-8"))
    raw = json.loads(samples_path.read_text(encoding="utf-8"))["systems"]
    meta = {key: value for key, value in saved.items() if key not in ("systems", "description")}
    rows, extras = {}, {}
    for system, entry in saved["systems"].items():
        rows[system] = IngestRow(system, [{key: value for key, value in run.items() if key not in EXTRAS} for run in entry["runs"]])
        extras[system] = [
            {**{key: run[key] for key in EXTRAS if key != "samples"}, "samples": sampled}
            for run, sampled in zip(entry["runs"], raw[system], strict=True)
        ]
    finish(meta, rows, extras, summary_path, samples_path)


def finish(
    meta: dict[str, Any], rows: Mapping[str, Row], extras: dict[str, list[dict[str, Any]]], summary_path: Path, samples_path: Path
) -> None:
    """Derive the steady-load columns, print the paragraph and the table, write the summary and the samples."""
    for system, row in rows.items():
        # Rounded as the files keep them first, so a replay of the files prints the very same table.
        row.runs, extras[system] = tidy(row.runs), tidy(extras[system])
        for numbers, extra in zip(row.runs, extras[system], strict=True):
            derive(numbers, extra["samples"], meta["qps"])
    text = describe(meta, rows, extras)
    explanation = (
        "Each cell: median (min-max) over the repeats, then the ratio of the median to chromadb persistent's. "
        'For columns where higher is better a ratio above 1x favours the row, otherwise below 1x does. "-": nothing to measure.'
    )
    print(f"\n{text}\n\n{report(list(rows.values()), COLUMNS, explanation, meta['failures'])}")
    systems = {}
    for system, row in rows.items():
        runs = [
            {**numbers, "indexed_by": extra["indexed_by"], "commits": extra["commits"]}
            for numbers, extra in zip(row.runs, extras[system], strict=True)
        ]
        # The first repeat's queries, for the chart: a few thousand pairs at most (the reader's rate caps them).
        first = {key: extras[system][0]["samples"][key] for key in ("t_s", "latency_ms")} if extras[system] else None
        systems[system] = {"label": row.label, "runs": runs, "queries": first}
    write_json(summary_path, {**meta, "description": text, "systems": systems})
    samples = {system: [extra["samples"] for extra in runs] for system, runs in extras.items()}
    write_json(samples_path, {**meta, "systems": samples}, indent=None)
    print(f"\nsummary: {summary_path}; samples: {samples_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
