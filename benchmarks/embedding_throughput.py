"""Documents per second of ragstore's default embedder vs sentence-transformers' ``encode``.

Embeds the same real texts (SciFact, from ``../shared/data/retrieval/scifact``: whole
abstracts, and a mix of abstracts, titles and first sentences; see :func:`load_corpora`) with:

- ``ragstore DefaultEmbeddingFunction``: what ``collection.add(documents=...)`` runs;
- ``SentenceTransformer.encode``: the same loaded model called directly (the target: within 5%);
- ``encode, batches in input order``: 32 texts at a time without sorting by length,
  to show what the length sort saves.

The model is loaded and warmed up before timing; runs are interleaved so that
drifting machine load hits every method alike; each cell is the median of
``--repeats`` runs; "vs encode" is the median of per-round time ratios
(encode's time / the method's, so above 100% is faster). Prints one table.

Usage::

    .venv/bin/python benchmarks/embedding_throughput.py [--docs 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIRECT = "SentenceTransformer.encode (direct)"
SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"


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


def machine() -> str:
    """One line describing the CPU, cores and library versions."""
    import sentence_transformers
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"sentence-transformers {sentence_transformers.__version__}, Python {platform.python_version()}"
    )


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=256, help="number of SciFact documents to embed per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per method (the median is reported)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    from ragstore.embeddings import DefaultEmbeddingFunction

    corpora = load_corpora(args.docs)
    ef = DefaultEmbeddingFunction()
    model = ef.model()
    ef(corpora["abstracts"][:64])  # warm up (first-call allocations)

    def unsorted_batches(items: list[str]) -> Any:
        return [model.encode(items[i : i + args.batch_size], batch_size=args.batch_size) for i in range(0, len(items), args.batch_size)]

    methods: dict[str, Callable[[list[str]], Any]] = {
        "ragstore DefaultEmbeddingFunction": ef,
        DIRECT: lambda items: model.encode(
            items, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ),
        "encode, batches in input order (no sort)": unsorted_batches,
    }
    print(f"Embedding throughput: {args.docs} SciFact docs per corpus, batch {args.batch_size}, median of {args.repeats} runs")
    print(f"Machine: {machine()}")
    print()
    print(f"| {'corpus (mean words)':<20} | {'method':<42} | {'docs/s':>7} | {'vs encode':>9} | runs (s)")
    print(f"|{'-' * 22}|{'-' * 44}|{'-' * 8}:|{'-' * 10}:|{'-' * 30}")
    for corpus, texts in corpora.items():
        seconds: dict[str, list[float]] = {name: [] for name in methods}
        for repeat in range(args.repeats):
            names = list(methods) if repeat % 2 == 0 else list(reversed(methods))
            for name in names:
                started = time.perf_counter()
                methods[name](texts)
                seconds[name].append(time.perf_counter() - started)
        direct = seconds[DIRECT]
        label = f"{corpus} ({sum(len(t.split()) for t in texts) / len(texts):.0f})"
        for name, runs in seconds.items():
            rate = len(texts) / statistics.median(runs)
            # Paired per round (same moment, same machine load), then the median: robust to drifting load.
            ratio = statistics.median(d / r for d, r in zip(direct, runs, strict=True))
            print(f"| {label:<20} | {name:<42} | {rate:>7.1f} | {ratio:>9.1%} | {', '.join(f'{x:.2f}' for x in runs)}", flush=True)


if __name__ == "__main__":
    main()
