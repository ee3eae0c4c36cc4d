"""Candidate lists and the three fusions the hybrid benchmark uses as references for ragstore's hybrid search.

A :class:`Ranked` list holds, for one query and one retriever, document indices best first and
their scores (higher is better: cosine similarity for dense, BM25 for the lexical side). The
fusions follow the published definitions exactly so that ragstore's engine can be checked
against them:

- :func:`rrf`: chromadb's ``Rrf``, ``sum(w_i / (k + rank_i))`` with **0-based** ranks (chroma's
  ``Knn(return_rank=True)`` counts from 0; Cormack et al. count from 1, i.e. chroma's ``k=60``
  is the paper's ``k=59``). A document missing from one list adds nothing there: the textbook
  rule, which chroma expresses as a ``Knn`` ``default`` rank far past every list (with
  ``default=None`` chroma *drops* a document missing from any list, an intersection).
- :func:`dbsf`: Qdrant's distribution-based score fusion: each list's scores mapped from
  ``[mean - 3 sd, mean + 3 sd]`` (sample sd) onto ``[0, 1]`` (not clamped), weighted, summed;
  missing adds 0 (``lib/segment/src/common/score_fusion.rs``).
- :func:`minmax`: the convex combination of min-max normalised scores (Qdrant's ``MinMax``
  normalisation; weights ``alpha : 1 - alpha`` as LlamaIndex's ``alpha``), missing adds 0.

Ties break by document index, so every fusion is deterministic. A :class:`Setting` names one
fusion with its parameters (weights, RRF k, candidates per side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """One retriever's answer to one query: document indices best first and their scores (higher is better).

    Example:
        >>> Ranked.of([3, 1], [0.9, 0.5]).top(1).indices.tolist()
        [3]
    """

    indices: np.ndarray  # (m,) int64
    scores: np.ndarray  # (m,) float64, non-increasing

    @classmethod
    def of(cls, indices: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> Ranked:
        """A ranked list from plain sequences."""
        return cls(np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float64))

    def top(self, limit: int) -> Ranked:
        """The first ``limit`` candidates (the per-side candidate limit of a fusion)."""
        return Ranked(self.indices[:limit], self.scores[:limit])


def _ordered(fused: dict[int, float], limit: int) -> list[int]:
    """The ``limit`` best document indices by fused score (higher first), ties by index."""
    return sorted(fused, key=lambda doc: (-fused[doc], doc))[:limit]


def rrf(lists: Sequence[Ranked], weights: Sequence[float], k: float, limit: int) -> list[int]:
    """Weighted reciprocal rank fusion with 0-based ranks (chromadb's ``Rrf``); missing from a list adds 0.

    Example:
        >>> rrf([Ranked.of([1, 2], [0.9, 0.8]), Ranked.of([2, 3], [7.0, 6.0])], [1.0, 1.0], 60, 3)
        [2, 1, 3]
    """
    fused: dict[int, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, doc in enumerate(ranked.indices.tolist()):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank)
    return _ordered(fused, limit)


def _scaled(scores: np.ndarray, low: float, high: float) -> np.ndarray:
    # no spread (one point, or all equal): every point 0.5, as Qdrant does (its min-max keeps a lone point's raw score)
    return np.full_like(scores, 0.5) if high == low else (scores - low) / (high - low)


def _fuse_scores(lists: Sequence[Ranked], normalised: Sequence[np.ndarray], weights: Sequence[float], limit: int) -> list[int]:
    fused: dict[int, float] = {}
    for ranked, scores, weight in zip(lists, normalised, weights, strict=True):
        for doc, score in zip(ranked.indices.tolist(), scores.tolist(), strict=True):
            fused[doc] = fused.get(doc, 0.0) + weight * score
    return _ordered(fused, limit)


def dbsf(lists: Sequence[Ranked], weights: Sequence[float], limit: int) -> list[int]:
    """Distribution-based score fusion (Qdrant): mean +- 3 sample sd mapped to [0, 1], weighted sum; missing adds 0.

    Example:
        >>> dbsf([Ranked.of([1, 2, 3], [0.9, 0.5, 0.1]), Ranked.of([3, 2], [9.0, 1.0])], [1.0, 1.0], 3)
        [3, 2, 1]
    """
    normalised = []
    for ranked in lists:
        scores = ranked.scores
        if len(scores) < 2:
            normalised.append(np.full_like(scores, 0.5))
            continue
        mean, sd = float(scores.mean()), float(scores.std(ddof=1))
        normalised.append(_scaled(scores, mean - 3 * sd, mean + 3 * sd))
    return _fuse_scores(lists, normalised, weights, limit)


def minmax(lists: Sequence[Ranked], weights: Sequence[float], limit: int) -> list[int]:
    """Convex combination of min-max normalised scores (each list onto [0, 1]); missing adds 0.

    Example:
        >>> minmax([Ranked.of([1, 2, 3], [0.9, 0.8, 0.5]), Ranked.of([2, 3], [4.0, 2.0])], [0.5, 0.5], 3)
        [2, 1, 3]
    """
    normalised = [_scaled(r.scores, float(r.scores.min()), float(r.scores.max())) if len(r.scores) else r.scores for r in lists]
    return _fuse_scores(lists, normalised, weights, limit)


CANDIDATES = 200  # per side, as Qdrant's article fuses (and the RRF reference of issue 16)
OUTPUT = 100  # ranked documents kept per query: recall@100 needs 100
RRF_K = 60


@dataclass(frozen=True)
class Setting:
    """One fusion's parameters: method, dense weight (bm25 gets ``1 - dense``), RRF k, candidates per side.

    Example:
        >>> Setting("rrf", 0.5).label
        'RRF k=60 w=0.5:0.5 200+200'
        >>> Setting("dbsf", 0.5, candidates=2).fuse(Ranked.of([1, 2], [0.9, 0.1]), Ranked.of([2], [5.0]))  # 2: found by both
        [2, 1]
    """

    method: str  # "rrf", "dbsf" or "minmax"
    dense_weight: float = 0.5
    k: int = RRF_K
    candidates: int = CANDIDATES

    @property
    def label(self) -> str:
        """E.g. ``RRF k=60 w=0.5:0.5 200+200``."""
        k = f" k={self.k}" if self.method == "rrf" else ""
        name = {"rrf": "RRF", "dbsf": "DBSF", "minmax": "min-max"}[self.method]
        return f"{name}{k} w={self.dense_weight:g}:{1 - self.dense_weight:g} {self.candidates}+{self.candidates}"

    def fuse(self, dense: Ranked, bm25: Ranked) -> list[int]:
        """The fused top :data:`OUTPUT` document indices of one query."""
        lists = [dense.top(self.candidates), bm25.top(self.candidates)]
        weights = [self.dense_weight, 1 - self.dense_weight]
        if self.method == "rrf":
            return rrf(lists, weights, self.k, OUTPUT)
        if self.method == "dbsf":
            return dbsf(lists, weights, OUTPUT)
        return minmax(lists, weights, OUTPUT)


DEFAULT_SETTINGS = (Setting("rrf", 0.5), Setting("dbsf", 0.5), Setting("minmax", 0.5))


DEFAULT_SETTINGS = (Setting("rrf", 0.5), Setting("dbsf", 0.5), Setting("minmax", 0.5))
