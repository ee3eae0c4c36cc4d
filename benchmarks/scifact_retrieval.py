"""Retrieval quality and ingest time of each embedder on BEIR SciFact, through ragstore end to end (issue 14).

For each embedder (the sentence-transformers function on torch = the default before issue 14,
ONNX fp32, ONNX int8 = the default now): ingests the 5,183 SciFact abstracts (``title + " " +
text``, as BEIR does) with ``collection.upsert`` in batches of 512 into a fresh persistent
collection (cosine space) in a temp dir, timing that wall time with the model already
loaded; then runs the 300 test queries in one ``query(query_texts=..., n_results=100)`` and
prints nDCG@10 and recall@100 (published all-MiniLM-L6-v2: nDCG@10 ~0.645), the ingest time
and its ratio to torch's. One run per embedder (torch's ingest takes minutes); the load average
at the end of each is printed beside it, since other jobs share the cores.

Usage::

    python benchmarks/scifact_retrieval.py [--data ../shared/data/retrieval/scifact] [--embedders int8,fp32,torch]

``--docs N`` / ``--queries Q`` cut the corpus and the judged queries (a smoke test; the scores then mean little).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _embedders import EMBEDDERS, LABELS, embedder, load_average, machine
from _judged import ndcg_at, read_beir_qrels, read_jsonl, recall_at
from _table import ratio

import ragstore

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "retrieval" / "scifact"
PUBLISHED_NDCG_AT_10 = 0.645
BATCH = 512


@dataclass(frozen=True)
class Scores:
    """Mean metrics over the judged queries."""

    ndcg_at_10: float
    recall_at_100: float
    queries: int
    documents: int
    ingest_seconds: float
    query_seconds: float


def evaluate(data: Path, client: ragstore.ClientAPI, function: Any = None, docs: int | None = None, queries: int | None = None) -> Scores:
    """Ingest SciFact into ``client`` with ``function`` (the default if ``None``) unless already there, and score the test queries."""
    collection = client.get_or_create_collection("scifact", configuration={"hnsw": {"space": "cosine"}}, embedding_function=function)
    corpus = list(read_jsonl(data / "corpus.jsonl"))[:docs]
    started = time.perf_counter()
    if collection.count() != len(corpus):
        for start in range(0, len(corpus), BATCH):
            batch = corpus[start : start + BATCH]
            collection.upsert(ids=[doc["_id"] for doc in batch], documents=[f"{doc['title']} {doc['text']}".strip() for doc in batch])
    ingest_seconds = time.perf_counter() - started

    qrels = read_beir_qrels(data / "qrels" / "test.tsv")
    texts = {q["_id"]: q["text"] for q in read_jsonl(data / "queries.jsonl") if q["_id"] in qrels}
    ids = sorted(texts)[:queries]
    started = time.perf_counter()
    result = collection.query(query_texts=[texts[i] for i in ids], n_results=min(100, len(corpus)), include=[])
    query_seconds = time.perf_counter() - started
    ndcg = [ndcg_at(ranked, qrels[q], 10) for q, ranked in zip(ids, result["ids"], strict=True)]
    recall = [recall_at(ranked, qrels[q], 100) for q, ranked in zip(ids, result["ids"], strict=True)]
    return Scores(sum(ndcg) / len(ndcg), sum(recall) / len(recall), len(ids), len(corpus), ingest_seconds, query_seconds)


def main() -> None:
    """Print one table: a row per embedder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder")
    parser.add_argument("--embedders", default="int8,fp32,torch", help=f"a subset of {','.join(EMBEDDERS)}, run in this order")
    parser.add_argument("--docs", type=int, default=None, help="ingest only the first N abstracts (smoke tests)")
    parser.add_argument("--queries", type=int, default=None, help="score only the first Q judged queries (smoke tests)")
    args = parser.parse_args()
    kinds = args.embedders.split(",")

    print("SciFact test: each embedder ingests into a fresh persistent store (model loaded first), then answers the queries")
    print(f"Machine: {machine()}")
    scores, loads = {}, {}
    for kind in kinds:
        function = embedder(kind)
        function(["a warm-up sentence"] * 8)
        with tempfile.TemporaryDirectory(prefix="ragstore-scifact-") as tmp:
            client = ragstore.PersistentClient(tmp)
            scores[kind] = evaluate(args.data, client, function, args.docs, args.queries)
            client.close()
        loads[kind] = load_average()
    any_scores = next(iter(scores.values()))
    print()
    print(
        f"{any_scores.queries} queries, {any_scores.documents:,} abstracts; published all-MiniLM-L6-v2 nDCG@10 ~{PUBLISHED_NDCG_AT_10:.3f}"
    )
    print()
    print(
        "| embedder | nDCG@10 | recall@100 | ingest (s) | docs/s | ingest faster than torch | queries, one call (s) | load average after |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|---|")
    for kind, s in scores.items():
        faster = ratio(scores["torch"].ingest_seconds, s.ingest_seconds) if "torch" in scores else "-"
        print(
            f"| {LABELS[kind]} | {s.ndcg_at_10:.4f} | {s.recall_at_100:.4f} | {s.ingest_seconds:.1f} "
            f"| {s.documents / s.ingest_seconds:.1f} | {faster} | {s.query_seconds:.2f} | {loads[kind]} |"
        )


if __name__ == "__main__":
    main()
