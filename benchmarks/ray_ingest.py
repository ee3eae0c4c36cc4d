"""Chunks/s of ``ragstore ingest --ray`` with 1 and 2 embedding actors against the single-process ingest (issue 20).

The same files (``../shared/data/docs/markdown`` and the smallest Gutenberg books, each book a root of
its own) are ingested with the default embedder (all-MiniLM-L6-v2, ONNX int8) into a fresh persistent
store per run by:

- ``single process``: :func:`ragstore.ingest.ingest` (threads: plan, embed, write), the model loaded and
  warmed up before the first timed run, as ``embedding_ingest.py`` does;
- ``ray, N actors``: :func:`ragstore.distributed.ray_ingest` on one local Ray instance started before timing
  (``ray.init(num_cpus=CORES)`` on 127.0.0.1); each job starts its actors, which load their own model, so
  a cell includes that start (what a user's job pays every time).

Rounds alternate the order of the systems; a cell is the median of ``--repeats`` with the range.
The 1M-chunk run into 4 shards belongs to the sharded-serving part of issue 20.

Usage::

    .venv/bin/python benchmarks/ray_ingest.py [--repeats 3] [--books 6] [--actors 1,2] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships with ragstore; a benchmark never downloads
# Ray's single-node mode: the local instance's processes talk over 127.0.0.1 (read when Ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from _embedders import cpu_name, load_average
from _fresh_store import timed_ingest
from _table import number, ratio

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
MARKDOWN = SHARED / "docs" / "markdown"
GUTENBERG = SHARED / "text" / "gutenberg"
SINGLE = "single process"


def corpus(books: int) -> list[Path]:
    """The Markdown docs folder and the ``books`` smallest Gutenberg books."""
    smallest = sorted(GUTENBERG.glob("*.txt"), key=lambda path: path.stat().st_size)[:books]
    return [MARKDOWN, *smallest]


def run_once(system: str, paths: list[Path], batch_size: int) -> tuple[float, int]:
    """Seconds for one ingest of ``paths`` into a fresh persistent store, and the chunks written."""
    import ragstore
    from ragstore.distributed import ray_ingest
    from ragstore.ingest import ingest

    def run(collection: Any) -> Any:
        if system == SINGLE:
            return ingest(collection, paths, batch_size=batch_size)
        return ray_ingest(collection, paths, actors=int(system.split()[1]), batch_size=batch_size)

    return timed_ingest(ragstore.DefaultEmbeddingFunction(), run)


def main() -> None:
    """Start Ray, run the rounds, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="ingests per system (the median is reported)")
    parser.add_argument("--books", type=int, default=6, help="how many of the smallest Gutenberg books join the Markdown docs")
    parser.add_argument("--actors", default="1,2", help="embedding-actor counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=128, help="chunks per embedding call and upsert (both ingests)")
    args = parser.parse_args()

    import ray

    import ragstore

    paths = corpus(args.books)
    systems = [SINGLE, *(f"ray {n} actor{'s' if int(n) > 1 else ''}" for n in args.actors.split(","))]
    cores = len(os.sched_getaffinity(0))
    ragstore.DefaultEmbeddingFunction()(["a warm-up sentence"] * 8)  # the single-process ingest's model, loaded before timing
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    print(
        f"Ingest of {', '.join(path.name for path in paths)} (../shared/data), default embedder, batch {args.batch_size}, "
        f"fresh persistent store per run, median of {args.repeats}"
    )
    print(
        f"Machine: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {cpu_name()}, {cores} cores, Python {platform.python_version()}, "
        f"ray {version('ray')}, onnxruntime {version('onnxruntime')}; local Ray instance with {cores} CPUs"
    )
    seconds: dict[str, list[float]] = {system: [] for system in systems}
    written: dict[str, int] = {}
    try:
        for repeat in range(args.repeats):
            for system in systems if repeat % 2 == 0 else list(reversed(systems)):
                elapsed, written[system] = run_once(system, paths, args.batch_size)
                seconds[system].append(elapsed)
                print(f"  {system}: {elapsed:.1f} s, {written[system]} chunks (load average {load_average()})", file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    print()
    print("| ingest | wall (s) | chunks/s | vs single process | runs (s) |")
    print("|---|--:|--:|--:|---|")
    base = statistics.median(seconds[SINGLE])
    for system in systems:
        mid = statistics.median(seconds[system])
        spread = f" ({number(min(seconds[system]))}-{number(max(seconds[system]))})" if len(seconds[system]) > 1 else ""
        runs = ", ".join(f"{x:.1f}" for x in seconds[system])
        print(f"| {system} | {number(mid)}{spread} | {number(written[system] / mid)} | {ratio(base, mid)} | {runs} |")
    print()
    counts: Any = set(written.values())
    print(f"{' / '.join(str(count) for count in sorted(counts))} chunks per ingest; load average after: {load_average()}")


if __name__ == "__main__":
    main()
