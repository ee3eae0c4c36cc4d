"""Making sure searches reach every point of a graph: re-link the points they miss, search the rest exactly.

hnswlib leaves a few points with no way in (no path from the entry point reaches them, or
their few incoming links all go through deleted points). :class:`ReachabilityChecks`, a part
of :class:`ragstore.local.index.VectorIndex`, looks for them after every build and
compaction, before every save, and once enough points were added since the last look (a
quarter of the index, at least ``_CHECK_MIN``). Candidates come from
:mod:`ragstore.local.reachability`; a missed point is re-linked (``add_items`` on its label:
hnswlib's update), and what is still missed after that becomes an *orphan*
(:mod:`ragstore.local.orphans`), searched exactly with every query. Until the next look,
points added since the last one may be missed by searches: a query meeting a lagging graph
searches the points above ``checked_mark`` exactly (:mod:`ragstore.local.fresh_tail`).

Example:
    >>> import numpy as np
    >>> from ragstore.configuration import HnswSettings
    >>> from ragstore.local.index import VectorIndex
    >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
    >>> index.apply(np.array([1, 2, 3]), np.array([[0, 0], [1, 1], [2, 2]], dtype=np.float32), [])
    >>> index.checked_mark, index.due_for_check()
    (0, True)
    >>> index.check(num_threads=1, held=False)
    >>> index.checked_mark, index.due_for_check(), len(index.orphans)
    (3, False, 0)

"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ragstore.local import reachability
from ragstore.local.orphans import Orphans
from ragstore.local.rwlock import RWLock

# Points added since the last reachability check before the next one: at least this many, and
# at least a quarter of the index (a check walks all of it, so checks stay amortised O(1) a point).
_CHECK_MIN = 256
_CHECK_SHARE = 4


class ReachabilityChecks:
    """The reachability check of a graph (a mixin of ``VectorIndex``, whose state it reads and updates)."""

    # Set by VectorIndex.__init__ (see there).
    _index: Any
    _unchecked: int
    checks_reachability: bool
    labels: set[int]
    orphans: Orphans
    space: str
    mark: int
    checked_mark: int
    unsaved_changes: int
    lock: RWLock

    def due_for_check(self) -> bool:
        """Whether enough points were added since the last check to check again (a build: always).

        The caller holds :attr:`lock` (or is the one thread changing the graph).
        """
        return bool(self._unchecked) and self._unchecked >= min(len(self.labels), max(_CHECK_MIN, len(self.labels) // _CHECK_SHARE))

    def check(self, num_threads: int, held: bool = True) -> None:
        """Make sure searches can find every live point: re-link the ones they miss, search the rest exactly.

        Candidates (:mod:`ragstore.local.reachability`): points no path reaches, points with
        few incoming links, and the current orphans; each is searched for with its own vector.
        A missed point is re-linked. That rewires neighbours too, so the graph is surveyed
        again; what is missed then becomes an orphan (:mod:`ragstore.local.orphans`).

        With ``held`` the caller holds the lock exclusively. Without, the survey and the searches
        (which only read the graph: 0.1-0.3 s at 100k points) hold it shared, so queries go on, and
        only the re-linking and the orphans' update hold it exclusively; the caller must be the one
        thread that changes the graph (the indexer, under ``step_lock``), so the graph surveyed is
        the graph re-linked.
        """
        reading = contextlib.nullcontext if held else self.lock.read
        writing = contextlib.nullcontext if held else self.lock.write
        with writing():
            self._unchecked = 0
            checked = self.mark
        try:
            if self.checks_reachability:
                self._relink_or_orphan(num_threads, reading, writing)
        finally:
            with writing():  # only now: until the missed points are re-linked, queries search them exactly
                self.checked_mark = max(self.checked_mark, checked)

    def _relink_or_orphan(self, num_threads: int, reading: Callable[[], Any], writing: Callable[[], Any]) -> None:
        settled: list[int] = []
        for relink in (True, False):
            with reading():
                labels, vectors, found = reachability.missed(self._index, self.orphans.labels, self.space, num_threads, settled)
            with writing():
                self.orphans.discard(found)  # orphans the graph finds again
                settled = found
                if not len(labels):
                    return
                if relink:
                    self._index.add_items(vectors, labels, num_threads=num_threads, replace_deleted=False)
                    self.unsaved_changes += len(labels)
                else:
                    self.orphans.add(labels, vectors)
