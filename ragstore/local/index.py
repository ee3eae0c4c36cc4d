"""The in-memory HNSW index of one collection: a cache of SQLite, never the truth.

Every write that changes vectors (or metadata) bumps ``collections.last_seq`` and stamps the
changed rows (``records.seq``) or leaves tombstones. An index remembers the
sequence it has applied and *catches up* by reading only what is newer, so a
process sees every other process's writes before it searches.

Points that searches cannot reach (hnswlib leaves a few with no way in) are looked for
after every build and compaction, before every save, and once enough points were added
since the last look; they are re-linked, or else searched exactly with every query
(:mod:`ragstore.local.index_checks`). A save notes the orphans beside its files, so a
load restores them; files without a note are checked.

Persistent stores also save the index (:meth:`VectorIndex.save`, :meth:`VectorIndex.load`);
the files, and why a bad one is never fatal, are :mod:`ragstore.local.index_files`.

Threads: every method locks for itself. Searches (:mod:`ragstore.local.index_search`)
and saves, which only read the graph, hold :attr:`VectorIndex.lock` shared, so they run
in parallel; changes to the graph hold it exclusively.

Example:
    >>> import numpy as np
    >>> from ragstore.configuration import HnswSettings
    >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(max_neighbors=16, num_threads=1))
    >>> index.apply(np.array([1, 2]), np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [])
    >>> labels, distances = index.search(np.array([[0.9, 0.9]], dtype=np.float32), k=1, ef=10, num_threads=1)
    >>> int(labels[0][0])
    2

"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt

from ragstore.configuration import HnswSettings, hnsw_settings
from ragstore.local import index_files
from ragstore.local.exact import exact_search as exact_search  # re-exported: columns and tests import it from here
from ragstore.local.graph_feed import Feed, read_feed
from ragstore.local.index_checks import ReachabilityChecks
from ragstore.local.index_search import Distances as Distances  # re-exported: the names callers know
from ragstore.local.index_search import IndexSearch
from ragstore.local.index_search import Labels as Labels
from ragstore.local.orphans import Orphans, read_record, write_record
from ragstore.local.rwlock import RWLock

_INITIAL_CAPACITY = 1024
_CATCH_UP_BATCH = 10_000
# A background catch-up inserts a few rows at a time under the exclusive lock, as many as
# take about its ``max_hold``: between 8 (hnswlib starts its threads for every call: ~10%
# of a batch this small) and 4,096 (a fast machine or a small dimension).
_MIN_BATCH = 8
_MAX_BATCH = 4096
# How much longer a batch may hold the lock once no search has waited for one for a while.
_QUIET_HOLDS = 10
_QUIET_SECONDS = 1.0


def _settings(hnsw: HnswSettings | Mapping[str, Any]) -> HnswSettings:
    """Typed settings; the stored dict form is read as a collection's is, so a key it lacks takes the creation default."""
    return hnsw if isinstance(hnsw, HnswSettings) else hnsw_settings({"hnsw": hnsw})


class VectorIndex(IndexSearch, ReachabilityChecks):
    """An hnswlib index plus the set of live labels and the sequence applied.

    Use :meth:`empty` or :meth:`load` to make one. Methods are thread-safe (they
    take :attr:`lock` themselves); read attributes such as :attr:`labels` without
    the lock only where a value that is out of date a moment later does no harm.
    """

    # Off only in benchmarks/reachability.py, to measure hnswlib's graph as it comes ("before").
    checks_reachability = True

    def __init__(self, index: Any, dim: int, hnsw: HnswSettings | Mapping[str, Any], labels: set[int], applied_seq: int) -> None:
        settings = _settings(hnsw)
        self._index = index
        self.dim = dim
        # The build parameters, fixed for the graph's life; the beam width (_ef) may change (set_ef_search).
        self.space = settings.space
        self.max_neighbors = settings.max_neighbors
        self.ef_construction = settings.ef_construction
        self.labels = labels
        self.applied_seq = applied_seq
        self.unsaved_changes = 0
        # Live points searches miss even after re-linking, searched exactly (see ragstore.local.index_checks).
        self.orphans = Orphans(dim)
        self._unchecked = len(labels)  # points added since the last check
        self._threads = settings.num_threads  # hnswlib threads for checks outside a catch-up (then the last catch-up's)
        # Shared by searches and saves, exclusive for changes to the graph or its beam width.
        self.lock = RWLock()
        # Saves run beside searches (shared lock), so they need their own mutex: two at once
        # would race over the file names and the unsaved-changes count.
        self._save_lock = threading.Lock()
        self._saved_token: str | None = None
        # Every live record labelled at most this is in the graph (see ragstore.local.graph_feed).
        self.mark = max(labels, default=0)
        # The mark when searches were last made sure to reach every point (check): points above it
        # may be unreachable, so a query meeting a lagging graph searches them exactly when few.
        self.checked_mark = 0
        # Held by whoever reads what the graph lacks and applies it, so the mark cannot move in between.
        self.step_lock = threading.Lock()
        self._batch = _MIN_BATCH  # rows per locked batch of a background catch-up (see add)
        self._contended_at = 0.0  # when a search last waited for one of those batches
        self._ef = settings.ef_search
        index.set_ef(self._ef)

    @classmethod
    def empty(cls, dim: int, hnsw: HnswSettings | Mapping[str, Any]) -> VectorIndex:
        """A new index with nothing in it (applied sequence 0).

        ``hnsw`` is the collection's settings; the stored dict form is accepted too, a key it
        lacks taking the creation default (:func:`~ragstore.configuration.hnsw_settings`).
        """
        settings = _settings(hnsw)
        index = hnswlib.Index(space=settings.space, dim=dim)
        index.init_index(
            max_elements=_INITIAL_CAPACITY,
            ef_construction=settings.ef_construction,
            M=settings.max_neighbors,
            allow_replace_deleted=True,
        )
        return cls(index, dim, settings, set(), 0)

    # ------------------------------------------------------------------ changes

    def apply(self, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], deleted: Iterable[int], num_threads: int = 1) -> None:
        """Add ``vectors`` under ``labels``, then drop ``deleted`` labels.

        Labels are fresh for every new vector (see ``records.label``), so hnswlib never
        overwrites a point in place. This does not move :attr:`applied_seq` (see :meth:`catch_up`).
        """
        with self.lock.write():
            self._apply(labels, vectors, deleted, num_threads)

    def _apply(self, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], deleted: Iterable[int], num_threads: int) -> None:
        if len(labels):
            self._reserve(len(labels))
            # Never reuse deleted slots (replace_deleted): hnswlib then links new points poorly and
            # nearest neighbours go missing. Deleted slots stay in the graph as waypoints until
            # catch_up() rebuilds the index (see _needs_compaction).
            self._index.add_items(vectors, labels, num_threads=num_threads, replace_deleted=False)
            self.labels.update(labels.tolist())
            self.mark = max(self.mark, int(labels.max()))
            self._unchecked += len(labels)
        dropped = [label for label in deleted if label in self.labels]
        for label in dropped:
            self._index.mark_deleted(label)
        self.labels.difference_update(dropped)
        self.orphans.discard(dropped)
        self.unsaved_changes += len(labels) + len(dropped)

    def _reserve(self, new_items: int) -> None:
        capacity = self._index.get_max_elements()
        needed = self._index.get_current_count() + new_items
        if needed > capacity:
            self._index.resize_index(max(needed, int(capacity * 1.5)))

    def feed(self, conn: sqlite3.Connection, collection_pk: int, last_seq: int, limit: int) -> Feed:
        """The next chunk of rows this graph lacks, read through ``conn`` (see :mod:`ragstore.local.graph_feed`).

        Call it and apply what it returns (:meth:`add`, then :meth:`complete`) while holding
        :attr:`step_lock`, so that no other thread moves the mark in between.
        """
        return read_feed(conn, collection_pk, self.dim, self.mark, self.applied_seq, last_seq, limit)

    def add(self, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], num_threads: int, max_hold: float | None = None) -> None:
        """Insert rows read by :meth:`feed` (ascending labels, all above the mark), moving the mark with them.

        With ``max_hold`` (seconds) the rows go in as several batches, each sized from the
        last one's speed to hold the lock about that long, and searches waiting for the lock
        go first between batches: a background indexer never holds queries up for longer.
        When no search has had to wait for a batch for ``_QUIET_SECONDS``, batches may hold the
        lock ``_QUIET_HOLDS`` times longer: fewer, larger ``add_items`` calls build faster, and
        the first search to come then waits that much at most.
        """
        start = 0
        while start < len(labels):
            size = len(labels) - start if max_hold is None else self._batch
            waits = self.lock.reader_waits
            with self.lock.write(yield_to_readers=max_hold is not None):
                began = time.perf_counter()
                self._apply(labels[start : start + size], vectors[start : start + size], (), num_threads)  # moves the mark
                elapsed = time.perf_counter() - began
            if max_hold is not None:
                if self.lock.reader_waits != waits:
                    self._contended_at = time.monotonic()
                quiet = time.monotonic() - self._contended_at > _QUIET_SECONDS
                hold = max_hold * _QUIET_HOLDS if quiet else max_hold
                per_row = elapsed / min(size, len(labels) - start)
                self._batch = int(min(_MAX_BATCH, max(_MIN_BATCH, hold / max(per_row, 1e-9))))
            start += size

    def complete(self, feed: Feed, num_threads: int) -> bool:
        """Finish a catch-up with the last chunk :meth:`feed` read (after :meth:`add` took its rows).

        Drops the deleted labels, moves the mark to the label counter and the applied sequence
        to the chunk's. Returns whether the graph should now be rebuilt (:meth:`_needs_compaction`);
        the caller does that (:meth:`rebuilt`, then :meth:`adopt`), since a rebuild reads all the
        records.
        """
        with self.lock.write():
            self._apply(np.empty(0, dtype=np.int64), np.empty((0, self.dim), dtype=np.float32), feed.deleted, num_threads)
            self.mark = max(self.mark, feed.next_label - 1)
            self.applied_seq = max(self.applied_seq, feed.last_seq)
            if self._needs_compaction():
                return True
            # A build (nothing checked yet) always; otherwise amortised, like saves.
            due = self.due_for_check()
        if due:
            self.check(num_threads, held=False)  # the caller holds step_lock: no other change comes in between
        return False

    def catch_up(self, conn: sqlite3.Connection, collection_pk: int, last_seq: int, num_threads: int) -> bool:
        """Apply everything SQLite holds up to ``last_seq`` (the caller's snapshot), at once.

        Returns whether there was anything to apply. The background indexer catches up in
        chunks instead (:mod:`ragstore.local.indexer`); this is for builds and direct use.

        Example:
            >>> import sqlite3
            >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
            >>> index.catch_up(sqlite3.connect(":memory:"), collection_pk=1, last_seq=0, num_threads=1)
            False

        """
        if last_seq <= self.applied_seq:  # it only grows: a stale read only sends us the long way
            return False
        with self.step_lock:
            if last_seq <= self.applied_seq:
                return False
            self._threads = num_threads
            while True:
                feed = self.feed(conn, collection_pk, last_seq, _CATCH_UP_BATCH)
                self.add(feed.labels, feed.vectors, num_threads)
                if feed.complete:
                    break
            if self.complete(feed, num_threads):
                self.adopt(self.rebuilt(conn, collection_pk, last_seq, num_threads))
            return True

    def _needs_compaction(self) -> bool:
        """Whether deleted slots (deleted records and replaced vectors) outnumber live labels.

        hnswlib links a new point only to live ones, so once most of the graph is deleted
        (in particular its entry point and everything near it) new points become
        unreachable. Rebuilding costs O(live) after more than ``live`` deletions:
        amortised O(1) each.
        """
        return bool(self._index.get_current_count() - len(self.labels) > len(self.labels))

    def rebuilt(self, conn: sqlite3.Connection, collection_pk: int, last_seq: int, num_threads: int) -> VectorIndex:
        """A new graph of the live records only, complete at ``last_seq`` (``conn``'s snapshot); this one is not touched."""
        fresh = self.emptied()
        fresh.catch_up(conn, collection_pk, last_seq, num_threads)
        return fresh

    def emptied(self) -> VectorIndex:
        """A new, empty graph with this one's settings (to rebuild into, then :meth:`adopt`)."""
        return VectorIndex.empty(self.dim, self._hnsw())

    def adopt(self, fresh: VectorIndex) -> None:
        """Take over a graph :meth:`rebuilt` (or caught up further since): its points, mark and sequence."""
        with self.lock.write():
            self._index, self.labels, self.orphans = fresh._index, fresh.labels, fresh.orphans
            self._index.set_ef(self._ef)
            self.mark = max(self.mark, fresh.mark)
            self.applied_seq = max(self.applied_seq, fresh.applied_seq)
            self._unchecked = fresh._unchecked
            self.checked_mark = fresh.checked_mark
            self.unsaved_changes += len(self.labels) + 1

    # ------------------------------------------------------------------ files

    def _hnsw(self) -> HnswSettings:
        """The HNSW settings this index was built with, its beam width, and the threads of its last catch-up."""
        return HnswSettings(
            space=self.space,
            ef_construction=self.ef_construction,
            ef_search=self._ef,
            max_neighbors=self.max_neighbors,
            num_threads=self._threads,
        )

    def matches(self, dim: int, hnsw: HnswSettings) -> bool:
        """Whether this index was built for the given dimension and build parameters."""
        return (dim, hnsw.space, hnsw.max_neighbors, hnsw.ef_construction) == (
            self.dim,
            self.space,
            self.max_neighbors,
            self.ef_construction,
        )

    def save(self, directory: Path, collection_id: str, min_changes: int = 0) -> bool:
        """Write the index atomically into ``directory`` (see :mod:`ragstore.local.index_files`).

        Skipped (returns ``False``) when fewer than ``min_changes`` changes are unsaved, checked
        under the save lock, so threads that decide to save at once write the file only once.
        Searches go on meanwhile: writing only reads the graph.

        Example:
            >>> import tempfile
            >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     index.save(Path(tmp), "some-collection", min_changes=1)  # nothing unsaved yet
            False

        """
        if self._unchecked and self.checks_reachability and self.unsaved_changes >= min_changes:
            # Checked first, so the files can say so (orphans.write_record) and a load need not check.
            # Saves come from the indexer's thread, or at close once it has stopped: no change comes in between.
            self.check(self._threads, held=False)
        # Order: shared lock, then the save mutex. A writer never waits for the save mutex
        # (save() takes the shared lock first, re-entrantly for a writer), so this cannot deadlock.
        with self.lock.read(), self._save_lock:
            if self.unsaved_changes < min_changes:
                return False
            self._save(directory, collection_id)
            return True

    def _save(self, directory: Path, collection_id: str) -> None:
        token = index_files.write(directory, collection_id, self._index, self.labels, self.dim, self._hnsw().as_dict(), self.applied_seq)
        if not self._unchecked and self.checks_reachability:
            write_record(directory, token, self.orphans.labels)
        previous, self._saved_token = self._saved_token, token
        self.unsaved_changes = 0
        # Only after the bookkeeping: the files are published, whatever the clean-up meets.
        index_files.remove_stale(directory, keep=token, mine=previous)

    @classmethod
    def load(
        cls, directory: Path, collection_id: str, dim: int, hnsw: HnswSettings | Mapping[str, Any], max_seq: int, min_seq: int
    ) -> VectorIndex | None:
        """The saved index in ``directory`` if it is intact and fits; ``None`` otherwise.

        Args:
            directory: The collection's index folder.
            collection_id: The collection the file must belong to.
            dim: The collection's dimension.
            hnsw: The collection's HNSW settings (or their stored dict form, as in :meth:`empty`);
                ``num_threads`` is what checking the loaded graph uses.
            max_seq: The newest sequence in SQLite (a file claiming more is foreign).
            min_seq: The tombstone floor (a file older than it cannot catch up).

        Example:
            >>> from pathlib import Path
            >>> VectorIndex.load(Path("/nonexistent"), "some-collection", 2, HnswSettings(), max_seq=0, min_seq=0) is None
            True

        """
        settings = _settings(hnsw)
        saved = index_files.read(directory, collection_id, dim, settings.as_dict(), max_seq, min_seq)
        if saved is None:
            return None
        # read() checked that the files' build parameters are these settings', so they describe the graph.
        loaded = cls(saved.graph, dim, settings, saved.labels, saved.seq)
        loaded._saved_token = saved.token
        noted = read_record(directory, saved.token)
        if noted is None:  # no note that the graph was checked before it was saved: check it now
            loaded.check(loaded._threads)
        else:
            loaded.orphans.restore(noted, saved.graph, loaded.labels)
            loaded._unchecked = 0
            loaded.checked_mark = loaded.mark
        return loaded
