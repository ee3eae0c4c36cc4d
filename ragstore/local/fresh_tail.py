"""Searching a graph that lags behind SQLite: the graph's answer merged with an exact search of the fresh tail.

The background indexer (:mod:`ragstore.local.indexer`) inserts committed records into
the HNSW graph after their write is acknowledged, so a query may meet a graph that
lacks the newest records and still holds some that are gone. The collection's columns
(:mod:`ragstore.local.columns`) are cheap to catch up, so the query catches them up
and splits the records at the graph's *mark* (:mod:`ragstore.local.graph_feed`):

- records labelled at most the mark are in the graph: it searches them, asked for
  enough extra neighbours to cover the labels it holds that the columns know are
  dead (deleted, or given a new vector), which are then dropped;
- records labelled above the mark (the fresh tail) are searched exactly. So are the
  ones the graph took in since it last made sure every point is reachable
  (``VectorIndex.checked_mark``; hnswlib leaves a few points with no way in, and a
  catch-up checks only once it is complete), while they are at most ``exact_budget``.

The two answers are merged by distance. Every committed record is found (read-your-
writes holds), and the tail's part of the answer is exact, so recall can only go up.
The tail's size is bounded by the writers' back-pressure (``max_unindexed_records``).

Example:
    >>> from ragstore.configuration import HnswSettings
    >>> columns = RecordColumns(dim=2)
    >>> vectors = np.array([[0, 0], [1, 1], [2, 2]], dtype=np.float32)
    >>> columns.append(np.array([1, 2, 3]), vectors, [None] * 3)
    >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
    >>> index.apply(np.array([1, 2]), vectors[:2], [])  # the graph lacks label 3
    >>> labels, distances = search_lagging(index, columns, np.array([[1.9, 1.9]], dtype=np.float32), 2, "l2", 1)[0]
    >>> labels.tolist()
    [3, 2]

"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ragstore.local.columns import RecordColumns, Slots
from ragstore.local.index import VectorIndex

Hits = list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]

# A graph holding more dead labels than this many times the beam (or k) is not asked for that
# many more neighbours: past it, the search costs more than searching every candidate exactly.
_MAX_DEAD_SHARE = 4
# Points a graph took in since its last reachability check are searched exactly too while they
# are at most this many floats (points x dimension, ~0.5 ms of scan): a safety net for the few
# hnswlib leaves unreachable, kept small so it does not double the tail's scan during an ingest.
UNCHECKED_EXACT_FLOATS = 2_500_000


def unchecked_budget(dim: int) -> int:
    """How many unchecked points of a graph of dimension ``dim`` a search also scans exactly (see ``search_lagging``).

    Example:
        >>> unchecked_budget(384)
        6510

    """
    return max(1, UNCHECKED_EXACT_FLOATS // dim)


def search_lagging(
    index: VectorIndex,
    columns: RecordColumns,
    queries: npt.NDArray[np.float32],
    k: int,
    space: str,
    num_threads: int,
    slots: Slots | None = None,
    exact_budget: int = 0,
) -> Hits | None:
    """The ``k`` nearest live records for each query, from the graph and the fresh tail (see the module docstring).

    ``None`` when the graph's part comes back short (too few points reachable, or more
    dead ones than counted): the caller then searches every candidate exactly.

    Args:
        index: The collection's graph, at any stage of its catch-up.
        columns: The collection's columns, caught up with the caller's snapshot; the caller
            holds their read lock.
        queries: One query vector per row.
        k: How many neighbours per query.
        space: The collection's distance.
        num_threads: hnswlib threads for the graph's search.
        slots: The candidate slots (ascending) of a filtered search; ``None``: every live record.
        exact_budget: How many records the graph took in since its last reachability check may
            be searched exactly instead (see the module docstring).

    """
    size = columns.size
    labels = columns.labels[:size]
    with index.lock.read():  # the mark and the graph it describes, read together
        split = int(np.searchsorted(labels, index.mark, side="right"))  # slots below it hold labels the graph has
        checked = int(np.searchsorted(labels, index.checked_mark, side="right"))
        # Points the graph took in since its last check go to the exact side too, while few: the two
        # answers then overlap, and the merge keeps each label once.
        exact_from = checked if np.count_nonzero(columns.live[checked:split]) <= exact_budget else split
        if slots is None:
            # Labels the graph holds beyond the live ones up to its mark are dead (or newer than the columns).
            dead = max(0, len(index.labels) - int(np.count_nonzero(columns.live[:split])))
            if dead > _MAX_DEAD_SHARE * max(k, index.ef_search):
                return None  # a wide search would cost more than the exact one; the indexer drops them soon
            graph_k = min(k + dead, len(index.labels))
            allowed = None
            tail = exact_from + np.flatnonzero(columns.live[exact_from:size])
            wanted = columns.live_count
        else:
            cut = int(np.searchsorted(slots, split))
            graph_k = min(k, cut)
            allowed = set(labels[slots[:cut]].tolist())
            tail = slots[int(np.searchsorted(slots, exact_from)) :]
            wanted = len(slots)
        found = index.search_held(queries, graph_k, num_threads, allowed) if graph_k else None
    if graph_k and found is None:
        return None
    tail_labels, tail_distances = columns.nearest(queries, tail, k, space)
    hits: Hits = []
    for i in range(len(queries)):
        if found is not None:
            graph_labels = found[0][i].astype(np.int64)
            keep = _live(columns, graph_labels)
            merged_labels = np.concatenate([graph_labels[keep], tail_labels[i]])
            merged_distances = np.concatenate([found[1][i][keep].astype(np.float32), tail_distances[i]])
        else:
            merged_labels, merged_distances = tail_labels[i], tail_distances[i]
        order = np.argsort(merged_distances, kind="stable")
        _, first = np.unique(merged_labels[order], return_index=True)  # a label both sides found, once
        order = order[np.sort(first)][:k]
        if len(order) < min(k, wanted):
            return None
        hits.append((merged_labels[order], merged_distances[order]))
    return hits


def _live(columns: RecordColumns, labels: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which of ``labels`` are live records in ``columns`` (a graph may hold dead ones, or ones newer than the columns)."""
    size = columns.size
    if not size:
        return np.zeros(len(labels), dtype=bool)
    slots = np.searchsorted(columns.labels[:size], labels)
    held = slots < size
    slots[~held] = 0
    live: npt.NDArray[np.bool_] = held & (columns.labels[slots] == labels) & columns.live[slots]
    return live
