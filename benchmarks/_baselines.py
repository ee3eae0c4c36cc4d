"""The two floor rows: raw ``hnswlib`` (what a store built on it could reach) and numpy brute force (exact search).

Both run the phases that apply to a bare index: add, single and batched queries, delete 10%
and query again; numpy also answers the filtered queries by masking its exact distances.
Neither has documents or metadata, so get-by-id, disk, cold start and the HTTP columns are "-".
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from _corpus import Corpus, K, recall_at_k
from _measure import batch_rate, percentile_ms, timed_each
from _stores import ADD_BATCH, BATCH_AT_LEAST, DELETE_BATCH, QUERY_BATCH

from ragstore.configuration import default_hnsw

# hnswlib with ragstore's collection defaults (the floor ragstore is held to: M=32, where chromadb
# uses 16), and all cores, as ragstore uses by default.
_DEFAULTS = default_hnsw()
M, EF_CONSTRUCTION, EF_SEARCH = _DEFAULTS["max_neighbors"], _DEFAULTS["ef_construction"], _DEFAULTS["ef_search"]
THREADS = os.cpu_count() or 1


def measure_hnswlib(corpus: Corpus, full: bool) -> dict[str, Any]:
    """``hnswlib.Index(space="l2")``: add in batches, query one at a time and in batches, ``mark_deleted`` 10%, query again."""
    import hnswlib

    n, dim = corpus.vectors.shape
    out: dict[str, Any] = {}
    started = time.perf_counter()
    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)
    index.set_num_threads(THREADS)
    for lo in range(0, n, ADD_BATCH):
        index.add_items(corpus.vectors[lo : lo + ADD_BATCH], np.arange(lo, min(lo + ADD_BATCH, n)), num_threads=THREADS)
    out["indexed_s"] = time.perf_counter() - started
    out["add_per_s"] = n / out["indexed_s"]

    def ask(query: np.ndarray) -> list[int]:
        return [int(i) for i in index.knn_query(query, k=K)[0][0]]

    latencies, hits = timed_each(ask, corpus.queries)
    out.update(p50_ms=percentile_ms(latencies, 50), p99_ms=percentile_ms(latencies, 99), recall=recall_at_k(hits, corpus.truth, corpus))
    if not full:
        return out
    out["batch_qps"] = batch_rate(lambda block: index.knn_query(block, k=K), corpus.queries, QUERY_BATCH, BATCH_AT_LEAST)

    started = time.perf_counter()
    for lo in range(0, len(corpus.deleted), DELETE_BATCH):
        for label in corpus.deleted[lo : lo + DELETE_BATCH].tolist():
            index.mark_deleted(label)
    out["delete_per_s"] = len(corpus.deleted) / (time.perf_counter() - started)
    assert corpus.after_truth is not None
    latencies, hits = timed_each(ask, corpus.queries)
    out["del_p50_ms"], out["del_recall"] = percentile_ms(latencies, 50), recall_at_k(hits, corpus.after_truth, corpus, corpus.alive())
    return out


def measure_numpy(corpus: Corpus, full: bool) -> dict[str, Any]:
    """Exact search. "Add" stacks the batches into one matrix and precomputes norms; filters and deletes mask distances."""
    n = len(corpus.vectors)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    matrix = np.concatenate([corpus.vectors[lo : lo + ADD_BATCH].copy() for lo in range(0, n, ADD_BATCH)])
    norms = np.einsum("ij,ij->i", matrix, matrix)
    out["add_per_s"] = n / (time.perf_counter() - started)

    def ask(query: np.ndarray, excluded: np.ndarray | None = None) -> list[int]:
        d = norms - 2.0 * (matrix @ query)
        if excluded is not None:
            d[excluded] = np.inf
        top = np.argpartition(d, K)[:K]
        return top[np.argsort(d[top])].tolist()

    latencies, hits = timed_each(ask, corpus.queries)
    out.update(p50_ms=percentile_ms(latencies, 50), p99_ms=percentile_ms(latencies, 99), recall=recall_at_k(hits, corpus.truth, corpus))
    if not full:
        return out

    def ask_many(block: np.ndarray) -> np.ndarray:
        d = norms[None, :] - 2.0 * (block @ matrix.T)
        return np.argpartition(d, K, axis=1)[:, :K]

    out["batch_qps"] = batch_rate(ask_many, corpus.queries, QUERY_BATCH, BATCH_AT_LEAST)
    for key, mask, truth in (("f10", corpus.mask10(), corpus.f10_truth), ("f05", corpus.mask05(), corpus.f05_truth)):
        assert truth is not None
        excluded = ~mask
        latencies, hits = timed_each(lambda query, excluded=excluded: ask(query, excluded), corpus.queries)
        out[f"{key}_p50_ms"], out[f"{key}_recall"] = percentile_ms(latencies, 50), recall_at_k(hits, truth, corpus, mask)

    # Deleting marks rows dead in a mask; searches skip them, as hnswlib's mark_deleted does.
    dead = np.zeros(n, dtype=bool)
    started = time.perf_counter()
    for lo in range(0, len(corpus.deleted), DELETE_BATCH):
        dead[corpus.deleted[lo : lo + DELETE_BATCH]] = True
    out["delete_per_s"] = len(corpus.deleted) / (time.perf_counter() - started)
    assert corpus.after_truth is not None
    latencies, hits = timed_each(lambda query: ask(query, dead), corpus.queries)
    out["del_p50_ms"], out["del_recall"] = percentile_ms(latencies, 50), recall_at_k(hits, corpus.after_truth, corpus, corpus.alive())
    return out
