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
bottom layer's links, and also names the points with few incoming links, which searches
tend to miss. What to do with them is :mod:`ragstore.local.index`'s business (it
re-links them, or searches them exactly).

hnswlib's binding offers the links only with everything else: in its serialised state
(``__getstate__``, a copy of the whole index, every vector included) or in a saved file.
:func:`survey` saves the graph into the system's temporary folder and reads only the link
lists back, a window at a time, so it holds the links (4 bytes a slot: 26 MB at 100k
points and 64 slots), not a second index: at 100k x 384 its peak went from 180-200 MiB
above the process to 30-34, and ``bench.py``'s persistent store from 446 to 429 MiB. The
file goes at once; meanwhile it sits in the page cache, which the process does not hold
(on a ``tmpfs`` temporary folder it is memory for that moment; ``TMPDIR`` moves it).
Writing it usually takes 0.04 s at 100k x 384 (a survey 0.1-0.2 s, 0.17-0.27 with the
copy), but up to 0.5 s after a pause. If the folder cannot take it, the survey copies the
state instead.

Example:
    >>> import hnswlib
    >>> graph = hnswlib.Index(space="l2", dim=2)
    >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
    >>> graph.add_items(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [7, 9])
    >>> found = survey(graph)
    >>> found.unreachable.tolist(), found.suspects.tolist()  # both reached, each by one link only
    ([], [7, 9])

"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# What hnswlib's saveIndex (hnswalg.h) writes before the bottom layer: offsetLevel0_,
# max_elements_, cur_element_count, size_data_per_element_, label_offset_, offsetData_
# (size_t), maxlevel_ (int), enterpoint_node_ (uint32), maxM_, maxM0_, M_ (size_t), mult_
# (double), ef_construction_ (size_t): 96 bytes. Then one row per point (see _row_type).
_FILE_HEADER = struct.Struct("=6QiI3QdQ")
_WINDOW = 4 * 1024 * 1024  # bytes of the file read at a time (a larger window is no faster)
_WALK_CHUNK = 4096  # frontier points whose links the walk gathers at a time (1 MiB at 64 links)
_DELETED = 1  # hnswlib's deleted mark, in the byte after a link list's length
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

    The caller keeps ``graph`` from changing meanwhile (hnswlib saves it without a lock).
    It costs writing the index into a temporary file and reading it back, and holds about
    the link lists meanwhile (see the module docstring; ``benchmarks/RESULTS.md`` for times).

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
    if not graph.element_count:  # 0 too when not initialised, where save_index would crash
        empty = np.empty(0, dtype=np.int64)
        return Survey(empty, empty)
    try:
        layer = _read_saved(graph)
    except OSError:  # no room (or no folder) for the file: copy the whole state, for a moment twice the index
        layer = _read_state(graph)
    reached = _walk(layer.entry, layer.lengths, layer.links)
    labels, live = layer.labels, layer.live
    return Survey(np.sort(labels[~reached & live]), np.sort(labels[(~reached | (layer.links_in <= few)) & live]))


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


@dataclasses.dataclass(frozen=True)
class _BottomLayer:
    """The bottom layer's link lists and what a survey needs per point (by hnswlib's internal id)."""

    entry: int
    lengths: npt.NDArray[np.int64]
    links: npt.NDArray[np.uint32]  # padded to maxM0 per point; 32-bit as hnswlib stores them (25 MB, not 51)
    labels: npt.NDArray[np.int64]
    live: npt.NDArray[np.bool_]
    links_in: npt.NDArray[np.int64]


def _row_type(row: int, level0: int, width: int, label_offset: int) -> np.dtype[np.void]:
    """One point's bytes on the bottom layer: link count, deleted mark, ``width`` link slots, (vector), label."""
    return np.dtype(
        {
            "names": ["length", "mark", "links", "label"],
            "formats": [np.uint16, np.uint8, (np.uint32, width), np.int64],
            "offsets": [level0, level0 + 2, level0 + 4, label_offset],
            "itemsize": row,
        }
    )


def _read_saved(graph: Any) -> _BottomLayer:
    """The bottom layer, from ``graph`` saved into a temporary file read a window at a time."""
    with tempfile.TemporaryDirectory(prefix="ragstore-survey-") as folder:
        path = Path(folder) / "graph.bin"
        graph.save_index(str(path))
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size != graph.index_file_size():  # hnswlib ignores write errors
                raise OSError(f"hnswlib could not save the graph into {folder}")
            level0, _, count, row, label_offset, _, _, entry, _, width, *_ = _FILE_HEADER.unpack(handle.read(_FILE_HEADER.size))
            rows = _row_type(row, level0, width, label_offset)
            return _scan(_windows(handle, rows, count), count, width, entry)


def _windows(handle: io.BufferedReader, rows: np.dtype[np.void], count: int) -> Iterator[npt.NDArray[np.void]]:
    """The next ``count`` rows of ``handle``, a window at a time, each read into the same buffer."""
    per_window = max(1, _WINDOW // rows.itemsize)
    buffer = np.empty(per_window * rows.itemsize, dtype=np.uint8)
    for start in range(0, count, per_window):
        window = buffer[: min(per_window, count - start) * rows.itemsize]
        if handle.readinto(window.data) != window.size:
            raise OSError("the saved graph is shorter than its header says")
        yield window.view(rows)


def _read_state(graph: Any) -> _BottomLayer:
    """The bottom layer, from a copy of hnswlib's whole state (what pickle saves)."""
    (state,) = graph.__getstate__()
    count, width = int(state["cur_element_count"]), int(state["max_M0"])
    rows = _row_type(state["size_data_per_element"], state["offset_level0"], width, state["label_offset"])
    return _scan(iter([state["data_level0"].view(rows)]), count, width, int(state["enterpoint_node"]))


def _scan(windows: Iterator[npt.NDArray[np.void]], count: int, width: int, entry: int) -> _BottomLayer:
    """Gather the link lists, labels and live marks of ``count`` points, and count incoming links, window by window."""
    lengths, labels = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    links = np.empty((count, width), dtype=np.uint32)
    live = np.empty(count, dtype=bool)
    links_in = np.zeros(count, dtype=np.int64)
    slots = np.arange(width)[None, :]
    start = 0
    for window in windows:
        part = slice(start, start + len(window))
        lengths[part], links[part], labels[part] = window["length"], window["links"], window["label"]
        live[part] = (window["mark"] & _DELETED) == 0
        targets = window["links"][slots < window["length"][:, None]]
        links_in += np.bincount(targets[targets < count], minlength=count)
        start = part.stop
    return _BottomLayer(entry, lengths, links, labels, live, links_in)


def _walk(start: int, lengths: npt.NDArray[np.int64], links: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Which points a breadth-first walk over bottom-layer links from ``start`` reaches, one frontier at a time.

    A frontier's links are gathered a few thousand points at a time: the widest frontier
    of a 100k x 384 graph has 54,000 points, and all their links at once cost 20 MB more.
    """
    count = len(lengths)
    reached = np.zeros(count, dtype=bool)
    reached[start] = True
    frontier = np.array([start], dtype=np.int64)
    slots = np.arange(links.shape[1])[None, :]
    while frontier.size:
        found = []
        for points in np.split(frontier, range(_WALK_CHUNK, frontier.size, _WALK_CHUNK)):
            targets = links[points][slots < lengths[points][:, None]]
            targets = targets[targets < count]  # hnswlib never writes one, but a bad index must not crash the walk
            targets = np.unique(targets[~reached[targets]])
            reached[targets] = True
            found.append(targets)
        frontier = np.concatenate(found).astype(np.int64)
    return reached
