"""Scoring a Search API rank expression over the candidates its ``Knn`` leaves found.

A rank expression (:mod:`ragstore.search.ranks`, parsed strictly from chroma's wire form)
is a tree of arithmetic over ``Knn`` leaves and ``Val`` constants. The engine runs each
``Knn`` leaf (dense through the HNSW index, sparse through the sparse index: each returns
its best ``limit`` records, best first) and this module combines them, following chroma's
rules (docs.trychroma.com, "Ranking and Scoring"):

- a record is a candidate if some leaf returned it;
- a leaf without a ``default`` is required: records it did not return are dropped;
- a record a leaf with a ``default`` did not return gets that default as the leaf's value;
- a leaf's value is its score (a distance: lower is better), or, with ``return_rank``,
  the record's 0-based position in the leaf's list;
- the expression is evaluated over all candidates at once (numpy arrays, float64), and the
  candidates are ordered by ascending score, ties broken by label (insertion order), so
  the same data and query always give the same order; a NaN score (the log of a negative
  number, 0/0) sorts after every number.

Leaves are numbered as :func:`ragstore.search.leaves.knn_leaves` lists them; ``hits[i]`` is
what leaf ``i`` found.

Example:
    >>> import numpy as np
    >>> from ragstore.search import Knn
    >>> rank = Knn(query=[0.0], limit=3) + Knn(query=[0.0], key="bm25", limit=3, default=5.0) * 0.5
    >>> dense = LeafHits(np.array([7, 8]), np.array([0.1, 0.2], dtype=np.float32))
    >>> sparse = LeafHits(np.array([9, 8]), np.array([-3.0, -2.0], dtype=np.float32))
    >>> labels, scores = rank_candidates(rank, [dense, sparse])
    >>> labels.tolist(), [round(float(s), 3) for s in scores]
    ([8, 7], [-0.8, 2.6])

"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.search.leaves import knn_leaves
from ragstore.search.ranks import Abs, Div, Exp, Knn, Log, Max, Min, Mul, Rank, Rrf, Sub, Sum, Val

Scores = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class LeafHits:
    """What one ``Knn`` leaf found: record labels best first, and their scores (distances, ascending)."""

    labels: npt.NDArray[np.int64]
    scores: npt.NDArray[np.floating[Any]]


def rank_candidates(rank: Rank, hits: Sequence[LeafHits]) -> tuple[npt.NDArray[np.int64], Scores]:
    """The candidates' labels and scores, best (lowest) first; ``hits[i]`` is what leaf ``i`` found.

    Records a required leaf (no ``default``) did not return are left out; ties keep label order.
    """
    leaves = knn_leaves(rank)
    if len(leaves) != len(hits):
        raise ValueError(f"{len(leaves)} knn leaves but {len(hits)} hit lists")
    found = [h.labels for h in hits if len(h.labels)]
    candidates = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    keep = np.ones(len(candidates), dtype=bool)
    values: list[Scores] = []
    for leaf, leaf_hits in zip(leaves, hits, strict=True):
        value, present = _leaf_values(leaf, leaf_hits, candidates)
        if leaf.default is None:
            keep &= present
        values.append(value)
    candidates = candidates[keep]
    scores = score(rank, [v[keep] for v in values], len(candidates))
    order = np.lexsort((candidates, scores))  # by score, then by label: deterministic ties
    return candidates[order], scores[order]


def score(rank: Rank, values: Sequence[Scores], count: int) -> Scores:
    """Evaluate ``rank`` over ``count`` candidates, leaf ``i`` taking ``values[i]`` (numbered as ``knn_leaves`` does)."""
    leaf_values = iter(values)

    def evaluate(node: Rank) -> Scores:
        if isinstance(node, Rrf):
            return evaluate(node.compile())
        if isinstance(node, Knn):
            return next(leaf_values)
        if isinstance(node, Val):
            return np.full(count, float(node.value))
        if isinstance(node, (Abs, Exp, Log)):
            return _UNARY[type(node)](evaluate(node.rank))
        if isinstance(node, (Sub, Div)):
            left, right = evaluate(node.left), evaluate(node.right)
            return left - right if isinstance(node, Sub) else left / right
        if isinstance(node, (Sum, Mul, Max, Min)):
            combined: Scores = _NARY[type(node)].reduce([evaluate(child) for child in node.ranks], axis=0)
            return combined
        raise TypeError(f"Unknown rank expression {type(node).__name__}")

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(evaluate(rank), dtype=np.float64)


def _leaf_values(leaf: Knn, hits: LeafHits, candidates: npt.NDArray[np.int64]) -> tuple[Scores, npt.NDArray[np.bool_]]:
    """Each candidate's value for this leaf (its score, its rank, or the default) and whether the leaf found it."""
    value = np.full(len(candidates), np.nan if leaf.default is None else float(leaf.default))
    present = np.zeros(len(candidates), dtype=bool)
    if len(hits.labels):
        positions = np.searchsorted(candidates, hits.labels)  # every hit is a candidate: candidates is their union
        value[positions] = np.arange(len(hits.labels), dtype=np.float64) if leaf.return_rank else hits.scores
        present[positions] = True
    return value, present


_UNARY: dict[type[Rank], Callable[[Scores], Scores]] = {Abs: np.abs, Exp: np.exp, Log: np.log}
# fmax/fmin ignore NaN, as Rust's f32::max/min do (chroma's engine): max(x, NaN) = x.
_NARY: dict[type[Rank], np.ufunc] = {Sum: np.add, Mul: np.multiply, Max: np.fmax, Min: np.fmin}
