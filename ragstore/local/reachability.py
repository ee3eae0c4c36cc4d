"""Finding the points of an HNSW graph that no search can reach.

hnswlib links a new point to its nearest neighbours and each neighbour back to it,
but a neighbour whose link list is full keeps only the links its pruning heuristic
prefers, and may drop the new point; later insertions prune older points' incoming
links the same way. A search descends the upper layers to a start near the query,
then walks bottom-layer links (through deleted points too) from there. A point no
bottom-layer path leads to is never visited, so no query returns it, however wide its
beam (an incoming link on an upper layer only does not help: the descent passes the
point only if it happens to be the nearest on the way). It happens at low dimensions,
under churn and in dense clusters: 92 of 100,000 clustered 384-dimension vectors, and
1 to 4 of 20,000 32-dimension ones after each rebuild (``benchmarks/reachability.py``).

:func:`survey` finds them with a breadth-first walk from the entry point over the
bottom layer's links, read from hnswlib's own serialised state, and also names the
points with few incoming links, which searches tend to miss. What to do with them is
:mod:`ragstore.local.index`'s business (it re-links them, or searches them exactly).

Example:
    >>> import hnswlib
    >>> graph = hnswlib.Index(space="l2", dim=2)
    >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
    >>> graph.add_items(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [7, 9])
    >>> unreachable(graph).tolist()
    []

"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt

_HEADER = 4  # bytes before a link list: its length (uint16), then hnswlib's deleted flag (byte 2)
_DELETED = 1
# Few enough incoming links that a search may well miss the point. On 100k x 384 clustered
# vectors the reachable points not even in their own vector's top 1,000 had 3 or 4 (3.5% of
# the points have at most 4); see benchmarks/RESULTS.md.
FEW_LINKS_IN = 4


@dataclasses.dataclass(frozen=True)
class Survey:
    """What a walk over the graph found out about its live points.

    Attributes:
        unreachable: Labels no path from the entry point leads to: no search finds them.
        suspects: Labels with at most ``few`` incoming links: searches may miss them.

    Example:
        >>> Survey(np.array([3]), np.array([3, 8])).suspects.tolist()
        [3, 8]

    """

    unreachable: npt.NDArray[np.int64]
    suspects: npt.NDArray[np.int64]


def survey(graph: Any, few: int = FEW_LINKS_IN) -> Survey:
    """Walk ``graph`` from its entry point: which live points cannot be reached, and which barely can.

    The caller keeps ``graph`` from changing meanwhile (hnswlib copies its state under its
    own mutex, but that does not stop a concurrent ``add_items``). The copy includes every
    stored vector, so this costs about one pass over the index's memory, and as much memory
    again for a moment (see ``benchmarks/RESULTS.md`` for measured times).

    Args:
        graph: An ``hnswlib.Index``.
        few: Live points with at most this many incoming links (on the bottom layer) are suspects.

    Returns:
        Both sets of labels, ascending (suspects include the unreachable).

    Example:
        >>> import hnswlib
        >>> survey(hnswlib.Index(space="l2", dim=2)).unreachable.tolist()  # not even initialised
        []

    """
    (state,) = graph.__getstate__()  # what pickle saves: hnswlib's whole state as numpy arrays
    count = int(state.get("cur_element_count", 0))
    if count == 0:
        empty = np.empty(0, dtype=np.int64)
        return Survey(empty, empty)
    level0 = state["data_level0"].view(np.uint8).reshape(count, state["size_data_per_element"])
    lengths, links = _link_lists(level0, state["max_M0"])
    offset = state["label_offset"]
    labels = level0[:, offset : offset + 8].copy().view(np.uint64).ravel().astype(np.int64)
    live = ~(level0[:, 2] & _DELETED).astype(bool)
    del level0  # a view: the vectors' copy goes with the state
    entry = int(state["enterpoint_node"])
    del state
    reached = _walk(entry, lengths, links)
    linked = np.arange(links.shape[1])[None, :] < lengths[:, None]
    links_in = np.bincount(links[linked], minlength=count)[:count]
    return Survey(np.sort(labels[~reached & live]), np.sort(labels[(~reached | (links_in <= few)) & live]))


def unreachable(graph: Any) -> npt.NDArray[np.int64]:
    """Labels of the live points of ``graph`` that no path from its entry point leads to.

    Example:
        >>> import hnswlib
        >>> graph = hnswlib.Index(space="l2", dim=2)
        >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
        >>> graph.add_items(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [7, 9])
        >>> unreachable(graph).tolist()
        []

    """
    return survey(graph).unreachable


def unfound(
    graph: Any, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], space: str, num_threads: int
) -> npt.NDArray[np.bool_]:
    """Which of ``labels`` a query with the label's own vector (``k=1``, the graph's ``ef``) misses.

    A hit on another point at least as near counts as found: a duplicate vector, or, in
    ``ip`` space, a longer vector, is a right answer too.

    Args:
        graph: An ``hnswlib.Index`` holding ``labels``.
        labels: Live labels.
        vectors: Their vectors, one row each.
        space: The graph's distance (``l2``, ``cosine`` or ``ip``).
        num_threads: hnswlib threads.

    Example:
        >>> import hnswlib
        >>> graph = hnswlib.Index(space="l2", dim=2)
        >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
        >>> vectors = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
        >>> graph.add_items(vectors, [7, 9])
        >>> unfound(graph, np.array([7, 9]), vectors, "l2", num_threads=1).tolist()
        [False, False]

    """
    if not len(labels):
        return np.zeros(0, dtype=bool)
    try:
        top, distances = graph.knn_query(vectors, k=1, num_threads=num_threads)
    except RuntimeError:  # not even one point found: every live point is lost
        return np.ones(len(labels), dtype=bool)
    norms = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
    own = 1.0 - norms if space == "ip" else np.zeros(len(labels))
    # Float error only: hnswlib computes a vector's distance to itself as exactly 0 in l2,
    # and within a few ulps of the norm in the other spaces.
    tolerance = 1e-6 * (1.0 + norms)
    missed: npt.NDArray[np.bool_] = (top[:, 0].astype(np.int64) != labels) & (distances[:, 0] > own + tolerance)
    return missed


def missed(
    graph: Any, also: Collection[int], space: str, num_threads: int, settled: Collection[int] = ()
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], list[int]]:
    """Survey ``graph``, then search for each suspect (and each of ``also``) with its own vector.

    ``settled`` suspects (found a moment ago) are searched for again only if now unreachable:
    a second survey after re-linking a few points then costs a few searches, not thousands.

    Returns:
        The labels missed, their vectors (as the graph stores them), and the labels found.

    Example:
        >>> import hnswlib
        >>> graph = hnswlib.Index(space="l2", dim=2)
        >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
        >>> graph.add_items(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [7, 9])
        >>> labels, vectors, found = missed(graph, [9], "l2", num_threads=1)
        >>> labels.tolist(), found
        ([], [7, 9])

    """
    found = survey(graph)
    suspects = found.suspects[~np.isin(found.suspects, np.fromiter(settled, dtype=np.int64, count=len(settled)))]
    candidates = np.union1d(np.union1d(suspects, found.unreachable), np.fromiter(also, dtype=np.int64, count=len(also)))
    vectors = np.asarray(graph.get_items(candidates), dtype=np.float32).reshape(len(candidates), graph.dim)
    lost = unfound(graph, candidates, vectors, space, num_threads)
    return candidates[lost], vectors[lost], candidates[~lost].tolist()


def _link_lists(rows: npt.NDArray[np.uint8], width: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """The lengths and the (padded) targets of link lists stored one per row of ``rows``.

    Targets stay 32-bit, as hnswlib stores them: at 100k points and 64 links each, 25 MB, not 51.
    """
    lengths = rows[:, :2].copy().view(np.uint16).ravel().astype(np.int64)
    links = rows[:, _HEADER : _HEADER + 4 * width].copy().view(np.uint32)
    return lengths, links


def _walk(start: int, lengths: npt.NDArray[np.int64], links: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Which points a breadth-first walk over bottom-layer links from ``start`` reaches, one frontier at a time."""
    count = len(lengths)
    reached = np.zeros(count, dtype=bool)
    reached[start] = True
    frontier = np.array([start], dtype=np.int64)
    slots = np.arange(links.shape[1])[None, :]
    while frontier.size:
        found = links[frontier][slots < lengths[frontier][:, None]]
        found = found[found < count]  # hnswlib never writes one, but a bad index must not crash the walk
        found = np.unique(found[~reached[found]])
        reached[found] = True
        frontier = found.astype(np.int64)
    return reached
