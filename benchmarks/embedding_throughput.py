"""Texts per second of the ONNX default embedder vs sentence-transformers' ``encode`` on torch (issue 14: >= 3x).

Embeds the same real texts (SciFact, from ``../shared/data/retrieval/scifact``: whole
abstracts, and a mix of abstracts, titles and first sentences; see :func:`load_corpora`) with:

- ``encode (torch)``: ``SentenceTransformer.encode`` of the bundled all-MiniLM-L6-v2, called directly
  (torch's threads: one per core, 2 here); the reference every ratio divides by;
- the sentence-transformers embedding function (the default until issue 14; ``encode`` per sorted batch);
- ``ONNX int8``: ``DefaultEmbeddingFunction``, the default now;
- ``ONNX fp32``: ``OnnxEmbeddingFunction(precision="fp32")``.

Every model is loaded and warmed up before timing. Each round runs every method once, in
an order that alternates between rounds, so drifting machine load (other jobs share these
cores) hits every method alike. A cell is the median of ``--repeats`` rounds; "x encode" is
the median of the per-round ratios (encode's time / the method's: above 1 is faster).
Prints one table, with the load average before and after.

Usage::

    .venv/bin/python benchmarks/embedding_throughput.py [--docs 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _embedders import LABELS, embedder, load_average, machine
from _table import number

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"
ENCODE = "encode (torch)"


def load_corpora(n: int) -> dict[str, list[str]]:
    """Two corpora of ``n`` SciFact documents each.

    ``abstracts``: ``title + " " + text`` (mostly beyond the 256-token window, so truncated to
    similar lengths); ``mixed``: a third each of whole abstracts, titles, and first sentences,
    the realistic case of chunks of different sizes, where batching by length matters.
    """
    with SCIFACT.open(encoding="utf-8") as lines:
        docs = list(map(json.loads, itertools.islice(lines, n)))
    shapes = (lambda d: f"{d['title']} {d['text']}", lambda d: d["title"], lambda d: d["text"].split(". ")[0])
    return {"abstracts": [shapes[0](d) for d in docs], "mixed": [shapes[i % 3](d) for i, d in enumerate(docs)]}


def methods(batch_size: int) -> dict[str, Callable[[list[str]], Any]]:
    """The four embedders by row label, each loaded and warmed up."""
    torch_function, int8, fp32 = embedder("torch"), embedder("int8"), embedder("fp32")
    model = torch_function.model()
    found: dict[str, Callable[[list[str]], Any]] = {
        ENCODE: lambda items: model.encode(
            items, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ),
        LABELS["torch"]: torch_function,
        LABELS["int8"]: int8,
        LABELS["fp32"]: fp32,
    }
    for call in found.values():
        call(["a warm-up sentence of a few words"] * 8)  # first-call allocations, thread pools
    return found


def measure(texts: list[str], named: dict[str, Callable[[list[str]], Any]], repeats: int) -> dict[str, list[float]]:
    """Seconds per method per round, rounds interleaved (forward order, then reversed, and so on)."""
    seconds: dict[str, list[float]] = {name: [] for name in named}
    for repeat in range(repeats):
        for name in list(named) if repeat % 2 == 0 else list(reversed(named)):
            started = time.perf_counter()
            named[name](texts)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=256, help="number of SciFact documents to embed per run")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (the median is reported)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    corpora = load_corpora(args.docs)
    named = methods(args.batch_size)
    print(
        f"Embedding throughput: {args.docs} SciFact texts per corpus, batch {args.batch_size}, median of {args.repeats} interleaved rounds"
    )
    print(f"Machine: {machine()}")
    print()
    print("| corpus (mean words) | method | texts/s | x encode | runs (s) |")
    print("|---|---|--:|--:|---|")
    for corpus, texts in corpora.items():
        seconds = measure(texts, named, args.repeats)
        label = f"{corpus} ({sum(len(t.split()) for t in texts) / len(texts):.0f})"
        for name, runs in seconds.items():
            rate = len(texts) / statistics.median(runs)
            # Paired per round (same moment, same load), then the median: robust to drifting load.
            speedup = statistics.median(e / r for e, r in zip(seconds[ENCODE], runs, strict=True))
            print(f"| {label} | {name} | {number(rate)} | {speedup:.2f}x | {', '.join(f'{x:.2f}' for x in runs)} |", flush=True)
    print()
    print(f"Load average after: {load_average()}")


if __name__ == "__main__":
    main()
