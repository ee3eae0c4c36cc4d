"""Retrieval quality of the default embedder on BEIR SciFact, through ragstore end to end.

Ingests the 5,183 SciFact abstracts (``title + " " + text``, as BEIR does) into a
ragstore collection with the default embedding function, runs the 300 test
queries, and prints nDCG@10 and recall@100 next to the published
all-MiniLM-L6-v2 figure (nDCG@10 ~0.645).

Usage::

    python benchmarks/scifact_retrieval.py [--data ../shared/data/retrieval/scifact] [--path DIR]

Without ``--path`` the store is in memory; with it, a persistent store is used
(and reused on the next run, so only the queries are measured again).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    ingest_seconds: float
    query_seconds: float


def read_jsonl(path: Path) -> Iterable[dict[str, str]]:
    """The records of a JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}`` from a BEIR qrels TSV (header line, CRLF tolerated)."""
    qrels: dict[str, dict[str, int]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        query_id, doc_id, grade = line.strip().split("\t")
        if int(grade) > 0:
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with graded gains (``grade / log2(rank + 1)``), as pytrec_eval computes it for BEIR."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``."""
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def evaluate(data: Path, client: ragstore.ClientAPI) -> Scores:
    """Ingest SciFact into ``client`` (unless already there) and score the test queries."""
    collection = client.get_or_create_collection("scifact", configuration={"hnsw": {"space": "cosine"}})
    corpus = list(read_jsonl(data / "corpus.jsonl"))
    started = time.perf_counter()
    if collection.count() != len(corpus):
        for start in range(0, len(corpus), BATCH):
            batch = corpus[start : start + BATCH]
            collection.upsert(ids=[doc["_id"] for doc in batch], documents=[f"{doc['title']} {doc['text']}".strip() for doc in batch])
    ingest_seconds = time.perf_counter() - started

    qrels = read_qrels(data / "qrels" / "test.tsv")
    queries = {q["_id"]: q["text"] for q in read_jsonl(data / "queries.jsonl") if q["_id"] in qrels}
    ids = sorted(queries)
    started = time.perf_counter()
    result = collection.query(query_texts=[queries[i] for i in ids], n_results=100, include=[])
    query_seconds = time.perf_counter() - started
    ndcg = [ndcg_at(ranked, qrels[q], 10) for q, ranked in zip(ids, result["ids"], strict=True)]
    recall = [recall_at(ranked, qrels[q], 100) for q, ranked in zip(ids, result["ids"], strict=True)]
    return Scores(sum(ndcg) / len(ndcg), sum(recall) / len(recall), len(ids), ingest_seconds, query_seconds)


def main() -> None:
    """Print one table of the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact folder")
    parser.add_argument("--path", type=Path, default=None, help="persistent store to (re)use; memory if omitted")
    args = parser.parse_args()
    client = ragstore.PersistentClient(args.path) if args.path else ragstore.EphemeralClient()
    scores = evaluate(args.data, client)
    print(f"SciFact test ({scores.queries} queries), default embedder {ragstore.DefaultEmbeddingFunction.__name__}")
    print("| metric | ragstore | published all-MiniLM-L6-v2 |")
    print("|---|---|---|")
    print(f"| nDCG@10 | {scores.ndcg_at_10:.3f} | {PUBLISHED_NDCG_AT_10:.3f} |")
    print(f"| recall@100 | {scores.recall_at_100:.3f} | |")
    print(f"| ingest (s) | {scores.ingest_seconds:.1f} | |")
    print(f"| {scores.queries} queries (s) | {scores.query_seconds:.2f} | |")


if __name__ == "__main__":
    main()
