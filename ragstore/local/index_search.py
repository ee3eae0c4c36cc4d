"""Searching a collection's HNSW graph: the beam width, the shared lock, and the orphans merged in.

:class:`IndexSearch` is the search half of :class:`ragstore.local.index.VectorIndex` (a
mixin: the graph's state lives there). Searches hold the index's lock shared, so they
run in parallel (``knn_query`` releases the GIL). hnswlib's beam width (``set_ef``) is
global to the index, so it stays at the collection's ``ef_search``; a search that wants
a wider beam takes the lock exclusively, sets it, and puts it back.

Points no path in the graph reaches (``VectorIndex.orphans``, see
:mod:`ragstore.local.index_checks`) cannot come back from ``knn_query``: they are searched
exactly and merged in, on hnswlib's distance scale.

Example:
    >>> import numpy as np
    >>> from ragstore.configuration import HnswSettings
    >>> from ragstore.local.index import VectorIndex
    >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
    >>> index.apply(np.array([1, 2]), np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [])
    >>> labels, distances = index.search(np.array([[0.1, 0.1]], dtype=np.float32), k=1, ef=10, num_threads=1)
    >>> int(labels[0][0])
    1

"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.local.orphans import Orphans
from ragstore.local.rwlock import RWLock

Labels = npt.NDArray[np.uint64]
Distances = npt.NDArray[np.float32]


class IndexSearch:
    """Nearest-neighbour searches over an hnswlib graph (the search half of ``VectorIndex``)."""

    # Set by VectorIndex.__init__ (see there).
    _index: Any
    _ef: int
    labels: set[int]
    orphans: Orphans
    space: str
    lock: RWLock

    @property
    def ef_search(self) -> int:
        """The beam width ordinary searches use (hnswlib's ``ef``)."""
        return self._ef

    def set_ef_search(self, ef: int) -> None:
        """Make ``ef`` the beam width of ordinary searches (the collection's ``ef_search``).

        A change waits for running searches; setting the current value costs nothing.
        """
        if ef == self._ef:  # the usual case; a stale read only means taking the lock below
            return
        with self.lock.write():
            self._ef = ef
            self._index.set_ef(ef)

    def search(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        ef: int,
        num_threads: int,
        allowed: set[int] | None = None,
    ) -> tuple[Labels, Distances] | None:
        """Approximate nearest labels per query; ``None`` if hnswlib cannot return them.

        A search whose beam :attr:`ef_search` already covers shares the lock with other
        searches; a wider one (a retry) needs ``set_ef``, which is global to the index,
        and so runs alone.

        Args:
            queries: One query vector per row.
            k: How many neighbours to return; capped at the number of (allowed) live labels.
            ef: The beam width wanted; the search uses at least ``max(ef, k)``.
            num_threads: hnswlib threads (they split the query rows).
            allowed: If given, only these labels may be returned.

        """
        with self.lock.read():
            k = self._reachable(k, allowed)
            # hnswlib searches with max(ef, k) by itself, so k alone never needs set_ef.
            if max(ef, k) <= max(self._ef, k):
                return self._knn(queries, k, num_threads, allowed)
        with self.lock.write():
            k = self._reachable(k, allowed)
            self._index.set_ef(ef)
            try:
                return self._knn(queries, k, num_threads, allowed)
            finally:
                self._index.set_ef(self._ef)

    def search_held(
        self, queries: npt.NDArray[np.float32], k: int, num_threads: int, allowed: set[int] | None = None
    ) -> tuple[Labels, Distances] | None:
        """:meth:`search` at the collection's own beam, for a caller that holds :attr:`lock` shared already.

        The caller reads the index's mark and searches under one hold of the lock, so the answer
        is the graph that mark describes (:mod:`ragstore.local.fresh_tail`).
        """
        return self._knn(queries, self._reachable(k, allowed), num_threads, allowed)

    def _reachable(self, k: int, allowed: set[int] | None) -> int:
        return min(k, len(self.labels) if allowed is None else len(allowed & self.labels))

    def _knn(self, queries: npt.NDArray[np.float32], k: int, num_threads: int, allowed: set[int] | None) -> tuple[Labels, Distances] | None:
        """One ``knn_query``, merged with the orphans' exact answer if there are any (the caller holds the lock, shared at least)."""
        # The graph can return only what it reaches: the orphans come from the exact side.
        graph_k = min(k, self._reachable(len(self.labels), allowed) - self.orphans.count_allowed(allowed)) if self.orphans else k
        if graph_k == 0:
            empty = np.empty((len(queries), 0))
            found: tuple[Labels, Distances] = (empty.astype(np.uint64), empty.astype(np.float32))
        else:
            check = allowed.__contains__ if allowed is not None else None
            try:
                found = self._index.knn_query(queries, k=graph_k, num_threads=num_threads, filter=check)
            except RuntimeError:  # "Cannot return the results in a contiguous 2D array": fewer than k reachable
                return None
        if not self.orphans or k == 0:
            return found
        labels, distances = self.orphans.merge(queries, found, k, self.space, allowed)
        # Fewer than k distinct answers (an orphan the graph also returned): let the caller search exactly.
        return (labels, distances) if np.isfinite(distances).all() else None
