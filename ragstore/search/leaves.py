"""The ``Knn`` leaves of a rank expression, and the index probes they need.

A rank expression names each ``Knn`` where it uses it; RRF over dense and BM25 with two
weightings, or ``Knn(q) * 0.5 + Knn(q).exp()``, names the same probe twice. The engine
should probe each (key, query) once, with the largest limit asked of it, and give each
leaf the first ``limit`` candidates of that probe (exact top-k lists nest, so this is the
leaf's own top-k). :func:`plan_knn_runs` computes that plan.

Example:
    >>> from ragstore.search.ranks import Knn, Rrf
    >>> rank = Rrf([Knn(query=[1.0], limit=50, return_rank=True), Knn(query="hi", key="bm25", return_rank=True)])
    >>> rank = rank.compile() + Knn(query=[1.0], limit=80) * 0.1
    >>> runs, leaf_runs = plan_knn_runs(rank)
    >>> [(r.key, r.query, r.limit) for r in runs], leaf_runs
    ([('#embedding', [1.0], 80), ('bm25', 'hi', 16)], [0, 1, 0])

"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ragstore.search.keys import key_name
from ragstore.search.ranks import Abs, Div, Exp, Knn, KnnQuery, Log, Max, Min, Mul, Rank, Rrf, Sub, Sum, Val
from ragstore.sparse_vectors import SparseVector

if TYPE_CHECKING:
    from ragstore.local.bm25_statistics import Bm25Statistics

__all__ = ["KnnRun", "iter_ranks", "knn_leaves", "map_knn", "plan_knn_runs", "query_fingerprint"]


@dataclass(frozen=True)
class KnnRun:
    """One index probe: the ``limit`` nearest records to ``query`` on ``key`` (BM25 with ``statistics`` if given)."""

    key: str
    query: KnnQuery
    limit: int
    statistics: Bm25Statistics | None = field(default=None, compare=False, repr=False)


def iter_ranks(rank: Rank) -> Iterator[Rank]:
    """Every node of ``rank``, parents first, children in ``to_dict`` order (``Rrf`` as it compiles).

    Example:
        >>> [type(r).__name__ for r in iter_ranks(abs(Val(1.0) - Val(2.0)))]
        ['Abs', 'Sub', 'Val', 'Val']

    """
    stack: list[Rank] = [rank]
    while stack:
        node = stack.pop()
        if isinstance(node, Rrf):
            node = node.compile()
        yield node
        stack.extend(reversed(_children(node)))


def _children(node: Rank) -> list[Rank]:
    if isinstance(node, (Sum, Mul, Max, Min)):
        return list(node.ranks)
    if isinstance(node, (Sub, Div)):
        return [node.left, node.right]
    if isinstance(node, (Abs, Exp, Log)):
        return [node.rank]
    if isinstance(node, (Knn, Val)):
        return []
    raise TypeError(f"Unknown rank expression {type(node).__name__}")


def knn_leaves(rank: Rank | None) -> list[Knn]:
    """Every ``Knn`` of ``rank``, in ``to_dict`` order (a Knn used twice appears twice).

    Example:
        >>> [k.limit for k in knn_leaves(Knn(query=[1.0], limit=3) - Knn(query=[2.0], limit=4))]
        [3, 4]

    """
    if rank is None:
        return []
    return [node for node in iter_ranks(rank) if isinstance(node, Knn)]


def query_fingerprint(query: KnnQuery) -> Hashable:
    """A hashable identity of a Knn query: equal for the same text, dense values or sparse entries.

    Example:
        >>> query_fingerprint([1, 2.0]) == query_fingerprint(np.array([1.0, 2.0]))
        True

    """
    if isinstance(query, str):
        return ("text", query)
    if isinstance(query, SparseVector):
        return ("sparse", tuple(query.indices), tuple(query.values))
    return ("dense", np.asarray(query, dtype=np.float64).ravel().tobytes())  # bytes hash in C; a tuple of floats cost 40 us


def plan_knn_runs(rank: Rank | None) -> tuple[list[KnnRun], list[int]]:
    """The distinct probes of ``rank`` and, per leaf of :func:`knn_leaves`, the index of its probe.

    Leaves with the same key and query share one probe whose limit is the largest of theirs.

    Example:
        >>> plan_knn_runs(Knn(query=[1.0], limit=5) + Knn(query=[1.0], limit=9))[0]
        [KnnRun(key='#embedding', query=[1.0], limit=9)]

    """
    runs: list[KnnRun] = []
    index: dict[tuple[str, Hashable], int] = {}
    leaf_runs: list[int] = []
    for leaf in knn_leaves(rank):
        identity = (key_name(leaf.key), query_fingerprint(leaf.query))
        position = index.get(identity)
        if position is None:
            position = index[identity] = len(runs)
            runs.append(KnnRun(identity[0], leaf.query, leaf.limit, leaf.statistics))
        elif leaf.limit > runs[position].limit:
            runs[position] = replace(runs[position], limit=leaf.limit)
        leaf_runs.append(position)
    return runs, leaf_runs


def map_knn(rank: Rank, change: Callable[[Knn], Knn]) -> Rank:
    """``rank`` rebuilt with every ``Knn`` leaf replaced by ``change(leaf)`` (the rest shared, ``rank`` unchanged).

    How a client swaps text queries for their embeddings before sending a search.

    Example:
        >>> rank = Rrf([Knn(query="red", return_rank=True), Knn(query="red", key="bm25", return_rank=True)])
        >>> embedded = map_knn(rank, lambda k: replace(k, query=[0.5]) if k.key == "#embedding" else k)
        >>> [leaf.query for leaf in knn_leaves(embedded)], [leaf.query for leaf in knn_leaves(rank)]
        ([[0.5], 'red'], ['red', 'red'])

    """
    if isinstance(rank, Knn):
        return change(rank)
    if isinstance(rank, (Sum, Mul, Max, Min, Rrf)):
        return replace(rank, ranks=[map_knn(child, change) for child in rank.ranks])
    if isinstance(rank, (Sub, Div)):
        return replace(rank, left=map_knn(rank.left, change), right=map_knn(rank.right, change))
    if isinstance(rank, (Abs, Exp, Log)):
        return replace(rank, rank=map_knn(rank.rank, change))
    if isinstance(rank, Val):
        return rank
    raise TypeError(f"Unknown rank expression {type(rank).__name__}")
