"""Score candidates with a rank expression, given each Knn leaf's candidates (chroma's rules).

The engine probes the index once per :class:`~ragstore.search.leaves.KnnRun` and hands each
``Knn`` leaf its candidates, best first, with their scores (distances; for a sparse key the
negated similarity). :func:`score_candidates` then applies the rules chroma documents
("Ranking and Scoring"): a record is scored if it is a candidate of at least one leaf **and**
of every leaf whose ``default`` is ``None``; a leaf that lacks it contributes its ``default``;
a leaf with ``return_rank`` contributes the 0-based position instead of the score. The
arithmetic runs over all candidates at once in float64; a division by zero or a logarithm
of a non-positive number gives ``inf`` / ``nan`` as IEEE arithmetic does (chroma does not
document these cases), and NaN scores are ``nan`` for the caller to sort last.

Example:
    >>> from ragstore.search.ranks import Knn
    >>> rank = Knn(query=[1.0]) * 0.5 + Knn(query="q", key="bm25", default=10.0) * 0.5
    >>> ids, scores = score_candidates(rank, [[("a", 0.2), ("b", 0.4)], [("b", -3.0)]])
    >>> ids, scores.tolist()
    (['a', 'b'], [5.1, -1.3])

"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError
from ragstore.search.leaves import knn_leaves
from ragstore.search.ranks import Abs, Div, Exp, Knn, Log, Max, Min, Mul, Rank, Rrf, Sub, Sum, Val

__all__ = ["score_candidates"]

Scores = npt.NDArray[np.float64]


def score_candidates(rank: Rank, leaf_candidates: Sequence[Sequence[tuple[str, float]]]) -> tuple[list[str], Scores]:
    """The records ``rank`` scores and their scores (unsorted; lower is better).

    Args:
        rank: The rank expression.
        leaf_candidates: Per leaf of :func:`~ragstore.search.leaves.knn_leaves` (same order),
            its ``(id, score)`` candidates, best first, at most the leaf's ``limit``.

    Returns:
        The scored ids (in first-seen order over the leaves) and their scores.

    Raises:
        InvalidArgumentError: the rank has no Knn (chroma requires one), or the candidate
            lists do not match its leaves.

    Example:
        >>> from ragstore.search.ranks import Knn, Rrf
        >>> ids, s = score_candidates(Rrf([Knn(query=[1.0], return_rank=True)], k=1), [[("x", 0.3), ("y", 0.9)]])
        >>> ids, s.tolist()
        (['x', 'y'], [-1.0, -0.5])

    """
    leaves = knn_leaves(rank)
    if not leaves:
        raise InvalidArgumentError("Expected a rank expression with at least one Knn")
    if len(leaf_candidates) != len(leaves):
        raise InvalidArgumentError(f"Expected candidates for each of the {len(leaves)} Knn leaves, got {len(leaf_candidates)}")
    ids = list(dict.fromkeys(id_ for candidates in leaf_candidates for id_, _ in candidates))
    position = {id_: i for i, id_ in enumerate(ids)}
    keep = np.ones(len(ids), dtype=bool)
    values: dict[int, Scores] = {}
    for leaf, candidates in zip(leaves, leaf_candidates, strict=True):
        column = np.full(len(ids), np.nan if leaf.default is None else float(leaf.default))
        present = np.zeros(len(ids), dtype=bool)
        for order, (id_, score) in enumerate(candidates[: leaf.limit]):
            column[position[id_]] = float(order) if leaf.return_rank else float(score)
            present[position[id_]] = True
        if leaf.default is None:
            keep &= present
        values[id(leaf)] = column
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scores = _evaluate(rank, values, len(ids))
    kept = np.flatnonzero(keep)
    return [ids[i] for i in kept], scores[kept]


def _evaluate(node: Rank, leaf_values: dict[int, Scores], n: int) -> Scores:
    if isinstance(node, Rrf):
        return _evaluate(node.compile(), leaf_values, n)
    if isinstance(node, Knn):
        return leaf_values[id(node)]
    if isinstance(node, Val):
        return np.full(n, float(node.value))
    if isinstance(node, (Sum, Mul, Max, Min)):
        parts = [_evaluate(child, leaf_values, n) for child in node.ranks]
        reduce = {Sum: np.add, Mul: np.multiply, Max: np.maximum, Min: np.minimum}[type(node)]
        result = parts[0]
        for part in parts[1:]:
            result = reduce(result, part)
        return result
    if isinstance(node, (Sub, Div)):
        left, right = _evaluate(node.left, leaf_values, n), _evaluate(node.right, leaf_values, n)
        return left - right if isinstance(node, Sub) else left / right
    if isinstance(node, (Abs, Exp, Log)):
        child = _evaluate(node.rank, leaf_values, n)
        return np.abs(child) if isinstance(node, Abs) else np.exp(child) if isinstance(node, Exp) else np.log(child)
    raise TypeError(f"Unknown rank expression {type(node).__name__}")
