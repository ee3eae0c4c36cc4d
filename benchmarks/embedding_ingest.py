"""Wall time of ``make demo``'s ingest with the ONNX default embedder vs sentence-transformers (issue 14: >= 2.5x faster).

The demo (``examples/demo.py``) ingests the httpx and Starlette Markdown documentation in
``../shared/data/docs/markdown`` with ``examples.chatbot.store.ingest_folder`` (ragstore's
``ingest`` with the Markdown header splitter, a progress bar). This script calls that same
function (its progress bar drawn to a string) into a fresh persistent store per run, with
a collection whose embedding function is the default (ONNX int8), the sentence-transformers
function (torch: the default before issue 14), or ONNX fp32. Every model is loaded and warmed up
before timing (its load time is printed apart), so a cell is the ingest alone: load, split,
embed, write. Rounds alternate the order of the embedders; a cell is the median of ``--repeats``.

The SciFact ingest (5,183 abstracts through ``collection.upsert``) is timed by
``scifact_retrieval.py``, which scores the same stores.

Usage::

    .venv/bin/python benchmarks/embedding_ingest.py [--repeats 2] [--embedders int8,torch,fp32]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _embedders import EMBEDDERS, LABELS, embedder, load_average, machine
from _fresh_store import timed_ingest
from _table import number, ratio

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # the demo's own ingest function, from examples/ (after PYTHONPATH, so a snapshot there wins)

from examples.chatbot.store import DEFAULT_DOCS, ingest_folder  # noqa: E402 - needs the path above
from examples.demo import SHARED  # noqa: E402


def ingest_once(function: Any, docs: Path) -> tuple[float, int]:
    """Seconds to ingest ``docs`` as the demo does into a fresh persistent store; and the chunks written."""
    from rich.console import Console

    return timed_ingest(function, lambda collection: ingest_folder(collection, docs, Console(file=io.StringIO()), glob=SHARED.glob))


def main() -> None:
    """Run the rounds and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=2, help="ingests per embedder (the median is reported)")
    parser.add_argument("--embedders", default="int8,torch,fp32", help=f"a subset of {','.join(EMBEDDERS)}")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the folder to ingest (the demo's by default)")
    args = parser.parse_args()
    kinds = args.embedders.split(",")

    functions, load_seconds = {}, {}
    for kind in kinds:
        started = time.perf_counter()
        functions[kind] = embedder(kind)
        functions[kind](["a warm-up sentence"] * 8)
        load_seconds[kind] = time.perf_counter() - started
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    written: dict[str, int] = {}
    print(f"make demo's ingest: {args.docs} ({', '.join(SHARED.glob)}), fresh persistent store per run, median of {args.repeats}")
    print(f"Machine: {machine()}")
    for repeat in range(args.repeats):
        for kind in kinds if repeat % 2 == 0 else list(reversed(kinds)):
            elapsed, written[kind] = ingest_once(functions[kind], args.docs)
            seconds[kind].append(elapsed)
            print(f"  {kind}: {elapsed:.1f} s, {written[kind]} chunks (load average {load_average()})", file=sys.stderr, flush=True)
    print()
    print("| embedding function | ingest (s) | chunks/s | faster than torch | model load (s, apart) | runs (s) |")
    print("|---|--:|--:|--:|--:|---|")
    base = statistics.median(seconds["torch"]) if "torch" in seconds else None
    for kind in kinds:
        mid = statistics.median(seconds[kind])
        faster = ratio(base, mid) if base is not None else "-"
        runs = ", ".join(f"{x:.1f}" for x in seconds[kind])
        print(f"| {LABELS[kind]} | {number(mid)} | {number(written[kind] / mid)} | {faster} | {load_seconds[kind]:.2f} | {runs} |")
    print()
    print(f"{next(iter(written.values()))} chunks per ingest; load average after: {load_average()}")


if __name__ == "__main__":
    main()
