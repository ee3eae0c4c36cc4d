"""Weighted fusion of a dense and a BM25 result list (``VectorStoreQueryMode.HYBRID`` with ``alpha``).

ragstore's ``query(mode="hybrid")`` fuses the best 200 dense and 200 BM25 results by
distribution-based score fusion (DBSF, as Qdrant defines it) with equal weights: each list's
scores are mapped to [0, 1] between its mean minus and plus three standard deviations and the
mapped scores are summed, a record missing from a list adding nothing for it. LlamaIndex's
``alpha`` weighs the two sides (1 = vector only, 0 = BM25 only), which that call cannot take, so
for any other weight the store fetches both lists (two ``query`` calls, distances only) and fuses
them here with weights ``alpha`` and ``1 - alpha``. At ``alpha=0.5`` that ranking is the engine's
exactly (halving both weights changes no comparison): on SciFact test, 300 of 300 queries return
the engine's 100 ids in its order (``benchmarks/alpha_scifact.py``), so the store leaves equal
weights to the engine's one call.

chroma's ``Rrf(weights=...)`` through ``collection.search`` would take a weight in one call, but
reciprocal-rank fusion is not the DBSF the engine tuned, and it ranks worse: SciFact test nDCG@10
0.718 at weights 0.5/0.5 against 0.735 for DBSF (0.713 against 0.723 at 0.25/0.75, 0.691 against
0.707 at 0.75/0.25), so it is not used.

Example:
    >>> [(i, round(s, 3)) for i, s in fuse(["a", "b", "c"], [0.9, 0.5, 0.1], ["c", "d"], [9.0, 1.0], alpha=0.5, limit=3)]
    [('c', 0.476), ('a', 0.333), ('b', 0.25)]

"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_ALPHA = 0.5  # what Qdrant's, Weaviate's and Milvus's LlamaIndex stores use when alpha is None


def spread_scaled(scores: Sequence[float]) -> list[float]:
    """Scores mapped so that mean - 3 sd is 0 and mean + 3 sd is 1 (0.5 each without a spread, as Qdrant does).

    Example:
        >>> spread_scaled([1.0]), spread_scaled([2.0, 2.0])
        ([0.5], [0.5, 0.5])

    """
    values = np.asarray(scores, dtype=np.float64)
    if len(values) < 2:
        return [0.5] * len(values)
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    if sd == 0:
        return [0.5] * len(values)
    return [float(v) for v in (values - (mean - 3 * sd)) / (6 * sd)]


def fuse(
    dense_ids: Sequence[str],
    dense_scores: Sequence[float],
    bm25_ids: Sequence[str],
    bm25_scores: Sequence[float],
    *,
    alpha: float,
    limit: int,
) -> list[tuple[str, float]]:
    """The ``limit`` best ids by DBSF with weights ``alpha`` (dense) and ``1 - alpha`` (BM25), with their fused scores.

    Scores are higher-is-better on both sides. Ties keep the first-seen order, dense list first
    (the engine breaks them by internal label, which this side cannot see; exact ties in fused
    floating-point scores need equal scores on both sides).

    Example:
        >>> [(i, round(s, 3)) for i, s in fuse(["a", "b"], [1.0, 0.0], ["b"], [3.0], alpha=1.0, limit=2)]
        [('a', 0.618), ('b', 0.382)]
        >>> fuse(["a", "b"], [1.0, 0.0], ["b"], [3.0], alpha=0.0, limit=2)  # BM25 alone; "a" is not in its list
        [('b', 0.5), ('a', 0.0)]

    """
    fused: dict[str, float] = {}
    for ids, scores, weight in ((dense_ids, dense_scores, alpha), (bm25_ids, bm25_scores, 1.0 - alpha)):
        for record_id, scaled in zip(ids, spread_scaled(scores), strict=True):
            fused[record_id] = fused.get(record_id, 0.0) + weight * scaled
    ranked = sorted(fused.items(), key=lambda item: -item[1])  # stable: ties stay in first-seen order
    return ranked[:limit]
