"""SciFact: the store's HYBRID mode across ``alpha`` against ``query(mode="hybrid")`` and chroma's weighted Rrf.

What it answers (issue 16, H7): does ``alpha=0.5`` through the store's own weighted fusion (two
``query`` calls, a DBSF in the integration and a ``get``: ``text_modes.weighted_hybrid``, which
serves every other alpha) rank as well as ragstore's one-line ``collection.query(mode="hybrid")``
(which the store calls for alpha None or 0.5), and would chroma's ``Rrf(weights=...)`` through
``collection.search`` (one call) have done as well? It also times ``add`` through the store with
and without the BM25 index the store creates by default.

One persistent collection holds SciFact's 5,183 abstracts with the cached all-MiniLM-L6-v2
vectors (``benchmarks/_judged.py``; the store's ``add``), and every method asks it for 100
results per query of the chosen split (default ``test``, 300 queries). Quality is deterministic;
times are one run on shared cores, indicative only.

Usage (from the repository root)::

    HF_HUB_OFFLINE=1 .venv/bin/python integrations/llama-index-vector-stores-ragstore/benchmarks/alpha_scifact.py [--split test]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import ragstore  # noqa: E402
from _judged import dense_vectors, load, quality  # noqa: E402
from llama_index.core.schema import TextNode  # noqa: E402
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode  # noqa: E402

from llama_index.vector_stores.ragstore import RagstoreVectorStore  # noqa: E402
from llama_index.vector_stores.ragstore.driving import run_sync  # noqa: E402
from llama_index.vector_stores.ragstore.text_modes import weighted_hybrid  # noqa: E402

RESULTS = 100  # nDCG@10 and recall@100
CANDIDATES = 200  # per side, as query(mode="hybrid") fuses
MISSING_RANK = 1_000_000  # chroma's Rrf drops a record missing from a Knn without default; this makes it add ~0 instead
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def timed(run: Callable[[], list[list[str]]], count: int) -> tuple[list[list[str]], float]:
    started = time.perf_counter()
    ids = run()
    return ids, (time.perf_counter() - started) * 1000 / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "test"])
    args = parser.parse_args()
    scifact = load("scifact")
    vectors = dense_vectors(scifact)
    nodes = [
        TextNode(id_=doc_id, text=text, embedding=[float(v) for v in vector])
        for (doc_id, text), vector in zip(scifact.documents, vectors.documents, strict=True)
    ]
    query_ids, query_vectors = vectors.for_split(scifact, args.split)
    texts = [scifact.queries[args.split][q] for q in query_ids]
    qrels = scifact.qrels[args.split]
    rows: list[tuple[str, list[list[str]], float]] = []
    with tempfile.TemporaryDirectory(prefix="li-alpha-") as tmp:
        ingest = {}
        for hybrid in (False, True):
            store = RagstoreVectorStore.from_params(f"scifact-{hybrid}", persist_dir=tmp, enable_hybrid=hybrid)
            started = time.perf_counter()
            store.add(nodes)
            ingest[hybrid] = time.perf_counter() - started
            if not hybrid:
                store.close()
        collection = store.client

        def engine() -> list[list[str]]:
            found: list[list[str]] = []
            for start in range(0, len(texts), 250):
                batch = slice(start, start + 250)
                got = collection.query(
                    query_texts=texts[batch], query_embeddings=query_vectors[batch], n_results=RESULTS, include=[], mode="hybrid"
                )
                found.extend(got["ids"])
            return found

        rows.append(('collection.query(mode="hybrid")', *timed(engine, len(texts))))

        def asked(text: str, vector: Any, alpha: float | None) -> VectorStoreQuery:
            embedding = [float(v) for v in vector]
            return VectorStoreQuery(
                query_str=text, query_embedding=embedding, mode=VectorStoreQueryMode.HYBRID, alpha=alpha, similarity_top_k=RESULTS
            )

        def default_alpha() -> list[list[str]]:
            return [list(store.query(asked(text, vector, None)).ids or []) for text, vector in zip(texts, query_vectors, strict=True)]

        rows.append(("store HYBRID alpha=None (the engine's call)", *timed(default_alpha, len(texts))))
        for alpha in ALPHAS:

            def weighted(alpha: float = alpha) -> list[list[str]]:
                return [
                    list(run_sync(collection, weighted_hybrid(asked(text, vector, alpha), {})).ids or [])
                    for text, vector in zip(texts, query_vectors, strict=True)
                ]

            rows.append((f"store weighted DBSF alpha={alpha}", *timed(weighted, len(texts))))
        for alpha in (0.25, 0.5, 0.75):

            def rrf(alpha: float = alpha) -> list[list[str]]:
                searches = []
                for text, vector in zip(texts, query_vectors, strict=True):
                    dense = ragstore.Knn(query=[float(v) for v in vector], return_rank=True, limit=CANDIDATES, default=MISSING_RANK)
                    bm25 = ragstore.Knn(query=text, key="bm25", return_rank=True, limit=CANDIDATES, default=MISSING_RANK)
                    searches.append(ragstore.Search().rank(ragstore.Rrf([dense, bm25], weights=[alpha, 1 - alpha])).limit(RESULTS))
                found: list[list[str]] = []
                for start in range(0, len(searches), 50):
                    found.extend(collection.search(searches[start : start + 50])["ids"])
                return found

            rows.append((f"search Rrf(k=60, weights=[{alpha}, {1 - alpha}])", *timed(rrf, len(texts))))
        sparse = [
            list(store.query(VectorStoreQuery(query_str=t, mode=VectorStoreQueryMode.SPARSE, similarity_top_k=RESULTS)).ids or [])
            for t in texts
        ]
        rows.append(("store SPARSE", sparse, 0.0))
        store.close()
    print(f"SciFact {args.split}: {len(texts)} queries, {len(nodes):,} abstracts, {RESULTS} results a query")
    print(f"store.add of every node: {ingest[False]:.1f} s without a BM25 index, {ingest[True]:.1f} s with (enable_hybrid)")
    print(f"{'method':<44} {'nDCG@10':>8} {'R@100':>7} {'ms/query':>9}")
    for name, ids, ms in rows:
        scores = quality(dict(zip(query_ids, ids, strict=True)), qrels)
        print(f"{name:<44} {scores.ndcg_at_10:>8.4f} {scores.recall_at_100:>7.4f} {ms:>9.2f}")
    engine_ids = rows[0][1]
    for label in ("store HYBRID alpha=None", "store weighted DBSF alpha=0.5"):
        ids = next(ids for name, ids, _ in rows if name.startswith(label))
        same = sum(a == b for a, b in zip(engine_ids, ids, strict=True))
        print(f"{label} returns the engine's {RESULTS} ids in the engine's order on {same} of {len(texts)} queries")


if __name__ == "__main__":
    main()
