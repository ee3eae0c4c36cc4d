"""PNG charts for RESULTS.md: cost against collection size (``scaling.py``) and query latency during a long ingest (``ingest_latency.py``).

Reads the JSON files those scripts write to ``benchmarks/results/`` and draws
``benchmarks/charts/scaling.png`` (add rate, query p50 and recall@10 against the number of
vectors, one line per system) and ``benchmarks/charts/ingest_latency.png`` (one panel per
system: each query as a dash from its start to its answer, at the height of its latency, and
the share of the corpus acknowledged on a second axis, from the first repeat). matplotlib's Agg backend draws without a display, so
``make bench-charts`` runs on a server or in CI.

Usage::

    .venv/bin/python benchmarks/charts.py [--scaling FILE] [--ingest FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
from _table import number
from matplotlib.axes import Axes
from scaling import label

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
CHARTS = BENCH_DIR / "charts"
DPI = 110
# One colour per system in every chart: ragstore in blues and purple, chromadb orange, the floors green and grey.
COLOURS = {
    "ragstore-persistent": "#1f5fbf",
    "ragstore-ephemeral": "#5fa8e8",
    "ragstore-http": "#7b3fb0",
    "chromadb-persistent": "#e07b00",
    "hnswlib": "#2e9e4f",
    "numpy": "#7f7f7f",
}


def spread(values: list[float]) -> tuple[float, float, float]:
    """Median, and how far the minimum and maximum lie below and above it (for error bars).

    Example:
        >>> spread([1.0, 4.0, 2.0])
        (2.0, 1.0, 2.0)
    """
    mid = statistics.median(values)
    return mid, mid - min(values), max(values) - mid


def scaling_chart(data: dict[str, Any], path: Path) -> Path:
    """Three panels against the number of vectors (log scale): add vectors/s, query p50 and recall@10; medians, min-max bars."""
    by_system: dict[str, dict[tuple[int, int], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    labels = {}
    for record in data["results"]:
        by_system[record["system"]][(record["n"], record["dim"])].append(record)
        labels[record["system"]] = record["label"]
    sizes = sorted({size for points in by_system.values() for size in points})
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), dpi=DPI)
    panels = (("add_per_s", "add (vectors/s)", True), ("p50_ms", "query p50 (ms)", True), ("recall", "recall@10", False))
    for ax, (key, title, log) in zip(axes, panels, strict=True):
        for system, points in by_system.items():
            xs = sorted(points)
            stats = [spread([float(r[key]) for r in points[x] if r.get(key) is not None]) for x in xs]
            ax.errorbar(
                [n for n, _ in xs],
                [s[0] for s in stats],
                yerr=[[s[1] for s in stats], [s[2] for s in stats]],
                label=labels[system],
                color=COLOURS.get(system),
                marker="o",
                capsize=3,
            )
        ax.set_xscale("log")
        ax.set_xticks([n for n, _ in sizes], [label(n, dim) for n, dim in sizes])
        ax.minorticks_off()
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(top=1.005)
        ax.set_title(title + (" (higher is better)" if key != "p50_ms" else " (lower is better)"), fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8)
    repeats = f"median of {data['repeats']} repeats, min-max bars" if data.get("repeats", 1) > 1 else "one repeat"
    fig.suptitle(f"How cost grows with the collection (scaling.py, {data['date']}, {data['queries']} queries, {repeats})", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _ingest_panel(ax: Axes, system: str, entry: dict[str, Any], n: int) -> None:
    """One system's panel: each query as a dash from its start to its answer at its latency, and the acknowledged share."""
    colour, run, queries = COLOURS.get(system, "black"), entry["runs"][0], entry["queries"]
    starts, latencies = queries["t_s"], queries["latency_ms"]
    # A dash as long as the wait: a query stuck behind a write for seconds shows as the stretch of time it lost.
    ax.hlines(latencies, starts, [t + ms / 1000 for t, ms in zip(starts, latencies, strict=True)], color=colour, linewidth=2, alpha=0.7)
    ax.plot(starts, latencies, linestyle="none", marker=".", markersize=3, alpha=0.5, color=colour)
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.axvline(run["indexed_s"], color="#444444", linewidth=0.8, linestyle=":")
    progress = ax.twinx()
    times = [0.0] + [t for t, _ in run["commits"]]
    shares = [0.0] + [100.0 * count / n for _, count in run["commits"]]
    progress.step(times, shares, where="post", color="#444444", linewidth=1, linestyle="--")
    progress.set_ylim(0, 105)
    progress.set_ylabel("% acknowledged", fontsize=8)
    title = f"{entry['label']}: {run['add_per_s']:,.0f} vec/s, {len(starts):,} queries during the ingest"
    if run.get("during_p50_ms") is not None and run.get("open_p50_ms") is not None:
        title += f"; p50 {number(run['during_p50_ms'])} ms, at a steady load {number(run['open_p50_ms'])} ms"
    if run.get("after_p50_ms") is not None:
        title += f"; after: {number(run['after_p50_ms'])} ms"
    ax.set_title(title, loc="left", fontsize=8)


def ingest_chart(data: dict[str, Any], path: Path) -> Path:
    """One panel per system, shared axes: every query's latency over the ingest, and the share of the corpus acknowledged."""
    entries = [(system, entry) for system, entry in data["systems"].items() if entry["runs"]]
    fig, axes = plt.subplots(len(entries), 1, figsize=(11, 1.0 + 2.0 * len(entries)), dpi=DPI, sharex=True, sharey=True, squeeze=False)
    for ax, (system, entry) in zip(axes[:, 0], entries, strict=True):
        _ingest_panel(ax, system, entry, data["n"])
        ax.set_ylabel("query (ms)", fontsize=8)
    axes[-1, 0].set_xlabel(
        "seconds since the first add. A dash per query, from its start to its answer; dashed line (right axis): share of the "
        "corpus acknowledged; dotted: fully indexed",
        fontsize=9,
    )
    title = (
        f"Query latency during an ingest of {data['n']:,} x {data['dim']} in batches of {data['batch']:,}, "
        f"reader at {data['qps']:g} queries/s ({data['date']}"
    )
    fig.suptitle(title + (f", repeat 1 of {data['repeats']})" if data.get("repeats", 1) > 1 else ")"), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata: redrawing unchanged data gives the same bytes, so git sees no change.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scaling", type=Path, help=f"scaling.py's JSON (default {RESULTS / 'scaling.json'}, drawn if it exists)")
    parser.add_argument("--ingest", type=Path, help=f"ingest_latency.py's JSON (default {RESULTS / 'ingest_latency.json'}, if it exists)")
    parser.add_argument("--out", type=Path, default=CHARTS, help="directory for the PNGs")
    args = parser.parse_args()
    inputs = [
        (args.scaling or RESULTS / "scaling.json", args.scaling is not None, scaling_chart, "scaling.png"),
        (args.ingest or RESULTS / "ingest_latency.json", args.ingest is not None, ingest_chart, "ingest_latency.png"),
    ]
    drawn = 0
    for source, named, draw, name in inputs:
        if not source.exists():
            if named:
                parser.error(f"{source} does not exist")
            continue
        # Only the files named on the command line are drawn when any is named.
        if (args.scaling or args.ingest) and not named:
            continue
        print(draw(json.loads(source.read_text(encoding="utf-8")), args.out / name))
        drawn += 1
    if not drawn:
        parser.error(f"nothing to draw: no results in {RESULTS} (run scaling.py or ingest_latency.py first)")


if __name__ == "__main__":
    main()
