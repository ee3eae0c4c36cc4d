"""The prepared benchmark corpus: a data set plus its exact answers, filters and delete set, cached in one file.

The driver prepares a corpus once (``corpus_file``) and every worker process loads the same
file, so all systems of a run see exactly the same records, queries and ground truth.
Recall counts ties: a returned record is a hit when it is allowed (matches the filter, is
not deleted) and no farther than the true ``K``-th nearest, so a data set with equal
distances (SIFT's integer vectors) does not punish a system for picking the other twin.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from _datasets import CACHE_DIR, SEED, Source, load_source

K = 10
FORMAT = 2  # bump when the file layout or the derivation changes, so old caches are not reused
FILTER_CLUSTERS = 5  # the broad filter keeps clusters 0-4 of 50: about 10% of the records
SMALL_SHARE = 0.005  # the narrow filter keeps the first 0.5% of the records by "i"
DELETE_SHARE = 0.10
RERANK = 20  # extra float32 candidates re-ranked in float64, so rounding cannot drop a true neighbour


@dataclass
class Truth:
    """Exact top-``K`` row indices per query (nearest first) and the squared distance of each query's ``K``-th."""

    rows: np.ndarray
    kth: np.ndarray


@dataclass
class Corpus:
    """Everything a worker needs: records, queries, the two filters, the delete set and the exact answers."""

    dataset: str
    description: str
    vectors: np.ndarray
    queries: np.ndarray
    documents: list[str]
    cluster: np.ndarray
    small: int  # the narrow filter keeps rows with i < small
    truth: Truth
    f10_truth: Truth | None  # None in a core-only corpus (scaling.py needs no filters or deletes)
    f05_truth: Truth | None
    after_truth: Truth | None  # over the records left after the delete phase
    deleted: np.ndarray  # row indices the delete phase removes, in deletion order
    get_rows: np.ndarray  # one row per get-by-id call
    truth_note: str = ""  # how the unfiltered truth was obtained (SIFT: the shipped file, checked against brute force)

    # Cached: a worker builds these lists once, before it reads its baseline memory.
    @cached_property
    def ids(self) -> list[str]:
        return [str(i) for i in range(len(self.vectors))]

    @cached_property
    def metadatas(self) -> list[dict[str, Any]]:
        return [{"cluster": c, "i": i} for i, c in enumerate(self.cluster.tolist())]

    @property
    def where10(self) -> dict[str, Any]:
        return {"cluster": {"$lt": FILTER_CLUSTERS}}

    @property
    def where05(self) -> dict[str, Any]:
        return {"i": {"$lt": self.small}}

    def mask10(self) -> np.ndarray:
        return self.cluster < FILTER_CLUSTERS

    def mask05(self) -> np.ndarray:
        return np.arange(len(self.vectors)) < self.small

    def alive(self) -> np.ndarray:
        keep = np.ones(len(self.vectors), dtype=bool)
        keep[self.deleted] = False
        return keep


def squared_l2(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact squared distances in float64 (direct differences, no cancellation)."""
    diff = vectors.astype(np.float64) - query.astype(np.float64)
    return np.einsum("ij,ij->i", diff, diff)


def exact_topk(vectors: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None = None, k: int = K) -> Truth:
    """Exact top-``k`` among the ``allowed`` rows: float32 matrix products pick candidates, float64 ranks them."""
    rows = np.arange(len(vectors)) if allowed is None else np.flatnonzero(allowed)
    subset = vectors[rows]
    norms = np.einsum("ij,ij->i", subset, subset)
    take = min(k + RERANK, len(rows))
    out = np.empty((len(queries), k), dtype=np.int64)
    kth = np.empty(len(queries), dtype=np.float64)
    step = max(1, min(256, 2**26 // max(1, len(rows))))  # bounds the distance block to 256 MiB at 1M records
    for start in range(0, len(queries), step):
        block = queries[start : start + step]
        d = norms[None, :] - 2.0 * (block @ subset.T)
        cand = np.argpartition(d, take - 1, axis=1)[:, :take] if take < len(rows) else np.tile(np.arange(len(rows)), (len(block), 1))
        for j, query in enumerate(block):
            exact = squared_l2(subset[cand[j]], query)
            order = np.argsort(exact, kind="stable")[:k]
            out[start + j] = rows[cand[j][order]]
            kth[start + j] = exact[order[-1]]
    return Truth(out, kth)


def recall_at_k(hits: list[list[int]], truth: Truth, corpus: Corpus, allowed: np.ndarray | None = None) -> float:
    """Mean share of the ``K`` answers that are allowed and within the true ``K``-th distance (ties count as hits)."""
    scores = []
    for query, found, kth in zip(corpus.queries, hits, truth.kth, strict=True):
        rows = np.asarray(found, dtype=np.int64)
        if allowed is not None:
            rows = rows[allowed[rows]]
        good = int((squared_l2(corpus.vectors[rows], query) <= kth * (1 + 1e-6) + 1e-9).sum()) if len(rows) else 0
        scores.append(min(good, K) / K)
    return float(np.mean(scores))


def prepare(source: Source, core_only: bool = False) -> Corpus:
    """Derive the exact answers, the filters and the delete set from ``source``."""
    n = len(source.vectors)
    rng = np.random.default_rng(SEED + 2)
    corpus = Corpus(
        dataset=source.name,
        description=source.description,
        vectors=source.vectors,
        queries=source.queries,
        documents=source.documents,
        cluster=source.cluster,
        small=max(K, round(n * SMALL_SHARE)),
        truth=exact_topk(source.vectors, source.queries),
        f10_truth=None,
        f05_truth=None,
        after_truth=None,
        deleted=rng.choice(n, int(n * DELETE_SHARE), replace=False).astype(np.int64),
        get_rows=rng.integers(0, n, len(source.queries)).astype(np.int64),
        truth_note="exact brute force",
    )
    if source.truth is not None:
        # Use the shipped ground truth, but only after checking brute force finds the same neighbours.
        shipped = source.truth[:, :K]
        kth = np.array([squared_l2(source.vectors[row[-1:]], q)[0] for row, q in zip(shipped, source.queries, strict=True)])
        agreement = recall_at_k(shipped.tolist(), corpus.truth, corpus)
        if agreement < 0.999:
            raise RuntimeError(f"{source.name}: the shipped ground truth agrees with brute force on only {agreement:.4f} of the top-{K}")
        corpus.truth = Truth(shipped.astype(np.int64), np.maximum(kth, corpus.truth.kth))
        corpus.truth_note = f"the data set's ground truth (agrees with brute force: recall {agreement:.4f})"
    if not core_only:
        corpus.f10_truth = exact_topk(source.vectors, source.queries, corpus.mask10())
        corpus.f05_truth = exact_topk(source.vectors, source.queries, corpus.mask05())
        corpus.after_truth = exact_topk(source.vectors, source.queries, corpus.alive())
    return corpus


_TRUTHS = ("truth", "f10_truth", "f05_truth", "after_truth")


def save(corpus: Corpus, path: Path) -> None:
    """One uncompressed ``.npz`` (fast to load in every worker); documents as one UTF-8 blob plus offsets."""
    encoded = [doc.encode("utf-8") for doc in corpus.documents]
    arrays: dict[str, Any] = {
        "dataset": np.array(corpus.dataset),
        "description": np.array(corpus.description),
        "truth_note": np.array(corpus.truth_note),
        "vectors": corpus.vectors,
        "queries": corpus.queries,
        "cluster": corpus.cluster,
        "small": np.array(corpus.small),
        "sizes": np.array([len(corpus.vectors), len(corpus.queries), corpus.vectors.shape[1]]),
        "deleted": corpus.deleted,
        "get_rows": corpus.get_rows,
        "doc_blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "doc_offsets": np.cumsum([0] + [len(doc) for doc in encoded]),
    }
    for name in _TRUTHS:
        truth = getattr(corpus, name)
        if truth is not None:
            arrays[f"{name}_rows"], arrays[f"{name}_kth"] = truth.rows, truth.kth
    CACHE_DIR.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load(path: Path) -> Corpus:
    """The corpus a driver saved with :func:`save`."""
    with np.load(path) as data:
        blob = data["doc_blob"].tobytes()
        offsets = data["doc_offsets"].tolist()
        truths = {name: Truth(data[f"{name}_rows"], data[f"{name}_kth"]) if f"{name}_rows" in data.files else None for name in _TRUTHS}
        truth = truths.pop("truth")
        assert truth is not None
        return Corpus(
            dataset=str(data["dataset"]),
            description=str(data["description"]),
            truth_note=str(data["truth_note"]),
            vectors=data["vectors"],
            queries=data["queries"],
            documents=[blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)],
            cluster=data["cluster"],
            small=int(data["small"]),
            deleted=data["deleted"],
            get_rows=data["get_rows"],
            truth=truth,
            **truths,
        )


def summary(path: Path) -> dict[str, Any]:
    """The description of a saved corpus, without loading its arrays (an ``.npz`` member is read only when asked for)."""
    with np.load(path) as data:
        n, q, dim = (int(x) for x in data["sizes"])
        return {
            "dataset": str(data["dataset"]),
            "description": str(data["description"]),
            "truth_note": str(data["truth_note"]),
            "n": n,
            "queries": q,
            "dim": dim,
            "small": int(data["small"]),
            "deleted": len(data["deleted"]),
        }


def corpus_file(dataset: str, n: int | None, q: int | None, dim: int = 384, core_only: bool = False) -> Path:
    """The cached corpus file for these parameters, prepared (and cached) first if it does not exist yet."""
    key = f"{dataset}-n{n or 'all'}-q{q or 'all'}" + (f"-d{dim}" if dataset == "clustered" else "") + ("-core" if core_only else "")
    path = CACHE_DIR / f"corpus-{key}-v{FORMAT}.npz"
    if not path.exists():
        print(f"preparing {path.name} (exact answers by brute force)...", file=sys.stderr, flush=True)
        save(prepare(load_source(dataset, n, q, dim), core_only), path)
    return path
