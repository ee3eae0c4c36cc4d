"""Scoring a Search API rank expression over the candidates its ``Knn`` leaves found.

A rank expression (chroma's wire form, as :meth:`ragstore.search.Rank.to_dict` writes it
and the server receives it) is a tree of arithmetic over ``$knn`` leaves and ``$val``
constants. The engine runs each ``$knn`` leaf once (dense through the HNSW index, sparse
through the sparse index: each returns its best ``limit`` records, best first) and this
module combines them, following chroma's rules (docs.trychroma.com, "Ranking and Scoring"):

- a record is a candidate if some leaf returned it;
- a leaf without a ``default`` is required: records it did not return are dropped;
- a record a leaf with a ``default`` did not return gets that default as the leaf's value;
- a leaf's value is its score (a distance: lower is better), or, with ``return_rank``,
  the record's 0-based position in the leaf's list;
- the expression is evaluated over all candidates at once (numpy arrays), and the
  candidates are ordered by ascending score, ties broken by label (insertion order), so
  the same data and query always give the same order; a NaN score (the log of a negative
  number, 0/0) sorts after every number.

The tree is walked twice with the same numbering: :func:`knn_leaves` lists the leaves in
order of appearance, and :func:`score` evaluates the tree with ``values[i]`` for leaf ``i``.

Example:
    >>> import numpy as np
    >>> rank = {"$sum": [{"$knn": {"query": [0.0], "key": "#embedding", "limit": 3}},
    ...                  {"$mul": [{"$knn": {"query": [0.0], "key": "bm25", "limit": 3, "default": 5.0}}, {"$val": 0.5}]}]}
    >>> [leaf["key"] for leaf in knn_leaves(rank)]
    ['#embedding', 'bm25']
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

Scores = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True)
class LeafHits:
    """What one ``$knn`` leaf found: record labels best first, and their scores (distances, ascending)."""

    labels: npt.NDArray[np.int64]
    scores: npt.NDArray[np.floating[Any]]


def knn_leaves(rank: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``$knn`` leaves of a rank expression in order of appearance (their bodies: query, key, limit, ...)."""
    leaves: list[dict[str, Any]] = []
    _walk(rank, leaves.append)
    return leaves


def rank_candidates(rank: dict[str, Any], hits: Sequence[LeafHits]) -> tuple[npt.NDArray[np.int64], Scores]:
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
        if leaf.get("default") is None:
            keep &= present
        values.append(value)
    candidates = candidates[keep]
    scores = score(rank, [v[keep] for v in values], len(candidates))
    order = np.lexsort((candidates, scores))  # by score, then by label: deterministic ties
    return candidates[order], scores[order]


def score(rank: dict[str, Any], values: Sequence[Scores], count: int) -> Scores:
    """Evaluate ``rank`` over ``count`` candidates, leaf ``i`` taking ``values[i]`` (numbered as :func:`knn_leaves` does)."""
    leaf_index = iter(range(len(values)))

    def evaluate(node: dict[str, Any]) -> Scores:
        ((operator, body),) = node.items()
        if operator == "$knn":
            return values[next(leaf_index)]
        if operator == "$val":
            return np.full(count, float(body))
        if operator in _UNARY:
            return _UNARY[operator](evaluate(body))
        if operator in ("$sub", "$div"):
            left, right = evaluate(body["left"]), evaluate(body["right"])
            if operator == "$sub":
                return left - right
            with np.errstate(divide="ignore", invalid="ignore"):
                return left / right
        operands = [evaluate(child) for child in body]
        return _NARY[operator](operands)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return evaluate(rank).astype(np.float64, copy=False)


def _leaf_values(leaf: dict[str, Any], hits: LeafHits, candidates: npt.NDArray[np.int64]) -> tuple[Scores, npt.NDArray[np.bool_]]:
    """Each candidate's value for this leaf (its score, its rank, or the default) and whether the leaf found it."""
    default = leaf.get("default")
    value = np.full(len(candidates), np.nan if default is None else float(default))
    if not len(hits.labels):
        return value, np.zeros(len(candidates), dtype=bool)
    positions = np.searchsorted(candidates, hits.labels)  # every hit is a candidate: candidates is their union
    value[positions] = np.arange(len(hits.labels), dtype=np.float64) if leaf.get("return_rank") else hits.scores
    present = np.zeros(len(candidates), dtype=bool)
    present[positions] = True
    return value, present


def _walk(node: dict[str, Any], visit: Callable[[dict[str, Any]], None]) -> None:
    ((operator, body),) = node.items()
    if operator == "$knn":
        visit(body)
    elif operator in _UNARY:
        _walk(body, visit)
    elif operator in ("$sub", "$div"):
        _walk(body["left"], visit)
        _walk(body["right"], visit)
    elif operator != "$val":
        for child in body:
            _walk(child, visit)


_UNARY: dict[str, Callable[[Scores], Scores]] = {"$abs": np.abs, "$exp": np.exp, "$log": np.log}
_NARY: dict[str, Callable[[list[Scores]], Scores]] = {
    "$sum": lambda operands: np.sum(operands, axis=0),
    "$mul": lambda operands: np.prod(operands, axis=0),
    # NaN-ignoring, as Rust's f32::max/min are (chroma's engine): max(x, NaN) = x.
    "$max": lambda operands: np.fmax.reduce(operands, axis=0),
    "$min": lambda operands: np.fmin.reduce(operands, axis=0),
}
