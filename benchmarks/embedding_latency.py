"""Latency of one query with the ONNX default embedder vs sentence-transformers (issue 14: <= 5 ms in process, <= 1.0 s CLI).

Two tables:

1. **In process, warm**: one 10-word query embedded by each embedder (the sentence-transformers
   function on torch, ONNX int8 = the default, ONNX fp32), each loaded and warmed up first;
   ``--calls`` rounds, each embedding the query once with every embedder, in an order that
   alternates between rounds so load from other jobs hits all alike; p50 and p90 per embedder.
2. **``ragstore query`` from the shell**: a persistent store of ``--chunks`` chunks (SciFact abstracts cut
   into pieces of at most 600 characters) built once per run in a temp dir, with vectors computed
   once by the int8 encoder and added with ``embeddings=``: collection ``default`` with the default
   embedding function (persisted ``"default"``), and collection ``torch`` with the same vectors
   but the sentence-transformers function (persisted ``"sentence_transformer"``, so the CLI loads
   torch: the figure before issue 14). Then ``ragstore query "<10 words>" --path STORE --collection C``
   as a subprocess, wall time from spawn to exit (the results are printed by then; interpreter exit is
   included), ``--spawns`` times per collection, interleaved, after one untimed run each so the OS
   file cache and the ONNX model cache are warm. The cold first use is measured once before that:
   ``RAGSTORE_CACHE_DIR`` empty, so the process builds the ONNX model from the weights, caches it
   and answers.

Usage::

    .venv/bin/python benchmarks/embedding_latency.py [--calls 200] [--chunks 10000] [--spawns 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _embedders import EMBEDDERS, LABELS, embedder, load_average, machine
from _measure import percentile_ms
from _table import number, ratio

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"
QUERY = "Does vitamin D deficiency increase the risk of multiple sclerosis"  # 10 words
PIECE = 600  # characters per chunk: about 120 word pieces, a typical RAG chunk


def in_process(calls: int) -> dict[str, list[float]]:
    """Seconds per single-query embedding, per embedder, over ``calls`` interleaved rounds."""
    functions: dict[str, Callable[[list[str]], Any]] = {kind: embedder(kind) for kind in EMBEDDERS}
    for function in functions.values():
        for _ in range(5):  # load, then warm the thread pools and allocators
            function([QUERY])
    seconds: dict[str, list[float]] = {kind: [] for kind in functions}
    for round_ in range(calls):
        for kind in EMBEDDERS if round_ % 2 == 0 else tuple(reversed(EMBEDDERS)):
            started = time.perf_counter()
            functions[kind]([QUERY])
            seconds[kind].append(time.perf_counter() - started)
    return seconds


def chunks(count: int) -> list[str]:
    """``count`` chunks: SciFact's ``title + " " + text`` cut at sentence ends into pieces of at most ``PIECE`` characters."""
    out: list[str] = []
    with SCIFACT.open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            piece = ""
            for sentence in f"{doc['title']}. {doc['text']}".split(". "):
                if piece and len(piece) + len(sentence) > PIECE:
                    out.append(piece)
                    piece = ""
                piece = f"{piece}{sentence}. "
            out.append(piece)
            if len(out) >= count:
                return out[:count]
    raise ValueError(f"SciFact has fewer than {count} chunks of {PIECE} characters")


def build_store(path: Path, count: int) -> float:
    """The two collections of ``count`` chunks (vectors from the int8 encoder, computed once); returns the embedding seconds."""
    import ragstore

    texts = chunks(count)
    started = time.perf_counter()
    vectors = np.stack(embedder("int8")(texts))
    embed_seconds = time.perf_counter() - started
    client = ragstore.PersistentClient(str(path))
    ids = [f"chunk-{i}" for i in range(count)]
    metadatas = [{"source": f"scifact-{i // 3}.txt"} for i in range(count)]
    for name, function in (("default", embedder("int8")), ("torch", embedder("torch"))):
        collection = client.create_collection(name, embedding_function=function)
        for lo in range(0, count, 1000):
            collection.add(
                ids=ids[lo : lo + 1000],
                embeddings=vectors[lo : lo + 1000],
                documents=texts[lo : lo + 1000],
                metadatas=metadatas[lo : lo + 1000],
            )
    client.close()
    return embed_seconds


def cli_seconds(store: Path, collection: str, cache: Path) -> float:
    """Wall time of one ``ragstore query`` process, spawn to exit, with ``RAGSTORE_CACHE_DIR=cache``."""
    env = dict(os.environ, RAGSTORE_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1")
    command = [str(Path(sys.executable).with_name("ragstore")), "query", QUERY, "--path", str(store), "--collection", collection]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "scifact-" not in done.stdout:
        raise RuntimeError(f"ragstore query failed (exit {done.returncode}):\n{done.stdout[-1000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    """Run both parts and print the two tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200, help="in-process rounds (one query per embedder each)")
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the store the CLI queries")
    parser.add_argument("--spawns", type=int, default=7, help="timed CLI runs per collection")
    args = parser.parse_args()

    print(f"Query latency; query: {QUERY!r} ({len(QUERY.split())} words)")
    print(f"Machine: {machine()}")
    print()
    seconds = in_process(args.calls)
    torch_p50 = percentile_ms(seconds["torch"], 50)
    print(f"In process, warm: one query per call, median of {args.calls} interleaved rounds")
    print()
    print("| embedder | p50 (ms) | p90 (ms) | p50 vs torch |")
    print("|---|--:|--:|--:|")
    for kind, runs in seconds.items():
        p50 = percentile_ms(runs, 50)
        print(f"| {LABELS[kind]} | {number(p50)} | {number(percentile_ms(runs, 90))} | {ratio(p50, torch_p50)} |", flush=True)

    with tempfile.TemporaryDirectory(prefix="ragstore-latency-") as tmp:
        store, cache = Path(tmp) / "store", Path(tmp) / "onnx-cache"
        embed_seconds = build_store(store, args.chunks)
        cold = cli_seconds(store, "default", cache)  # empty cache: builds the ONNX model, then answers
        timed: dict[str, list[float]] = {"default": [], "torch": []}
        for name in timed:
            cli_seconds(store, name, cache)  # untimed: OS file cache warm for this collection's model and index
        for spawn in range(args.spawns):
            for name in list(timed) if spawn % 2 == 0 else list(reversed(timed)):
                timed[name].append(cli_seconds(store, name, cache))
    print()
    print(
        f"`ragstore query` on a persistent store of {args.chunks:,} chunks (vectors by ONNX int8 in {embed_seconds:.0f} s), "
        f"spawn to exit, median (min-max) of {args.spawns} interleaved runs, model cache and OS file cache warm; "
        f"load average {load_average()}"
    )
    print()
    print("| collection (embedding function) | p50 (s) | min-max (s) | vs torch |")
    print("|---|--:|--:|--:|")
    rows = {"default": "`default` (ONNX int8)", "torch": "`torch` (sentence_transformer, today)"}
    for name, runs in timed.items():
        mid = statistics.median(runs)
        print(f"| {rows[name]} | {mid:.2f} | {min(runs):.2f}-{max(runs):.2f} | {ratio(mid, statistics.median(timed['torch']))} |")
    print(f"| `default`, cold first use (empty RAGSTORE_CACHE_DIR: build the ONNX model + query), once | {cold:.2f} | | |")


if __name__ == "__main__":
    main()
