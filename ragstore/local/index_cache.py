"""The engine's per-collection HNSW indexes: loaded once, caught up before use, saved now and then.

SQLite is the truth; an index (:mod:`ragstore.local.index`) is a cache of it that
would be slow to rebuild for every query. :class:`IndexCache` keeps one per
collection in memory and hands it out caught up with the collection's sequence,
so a search also sees what other processes wrote.

Loading: the first use of a collection loads its saved files (or builds the
index from SQLite) once, however many threads ask at the same time, and without
holding up other collections: loaders of one collection queue on its own
mutex, never on a store-wide lock.

The same entry holds the collection's :class:`RecordColumns` (vectors and metadata
in numpy arrays, for filtered and exact searches) once a search has needed them;
they are caught up on use, like the index, but never saved.

Saving (persistent stores, under ``<store>/indexes/<collection id>/``): after a
catch-up that leaves at least ``sync_threshold`` changes unsaved (or a quarter
of the index, whichever is more, so saving stays amortised O(1) a change), and
at close. The files are only a head start: a lost or bad one is rebuilt from
SQLite (see :mod:`ragstore.local.index_files`).

A save that fails (disk full, read-only index folder) never fails the write or the
query that triggered it: the data is committed in SQLite already, and the index stays
in memory. The failure is logged once per collection until a save succeeds again, and
the next attempt waits for another ``sync_threshold`` changes (or the close), so a full
disk is not rewritten on every call. A read-only store never saves.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path

from ragstore.errors import NotFoundError
from ragstore.local import catalog
from ragstore.local.catalog import CollectionRow
from ragstore.local.columns import RecordColumns
from ragstore.local.database import Database
from ragstore.local.index import VectorIndex

INDEX_DIRECTORY = "indexes"

logger = logging.getLogger(__name__)


class _Cached:
    """An index held in memory, with where it is saved, and the collection's columns once built."""

    def __init__(self, index: VectorIndex, directory: Path | None, collection_id: str) -> None:
        self.index = index
        self.directory = directory
        self.collection_id = collection_id
        self.columns: RecordColumns | None = None
        self.columns_lock = threading.Lock()  # builds the columns once, however many threads ask
        # After a failed save: no new attempt before this many unsaved changes (close always tries).
        self.retry_at = 0
        self.failing = False  # the last save failed and was logged; the next success is logged too
        self.failures_lock = threading.Lock()

    def save(self, min_changes: int = 0) -> None:
        """Save the index if at least ``min_changes`` changes are unsaved; never raises.

        The caller's write is committed and its query answerable without the files, so a
        failure is logged (once per streak of failures) and retried later instead.
        """
        if self.directory is None:
            return
        try:
            self.index.save(self.directory, self.collection_id, min_changes)
        except Exception as exc:  # a cache that fails to save must not fail the caller
            with self.failures_lock:  # two threads failing at once still log once
                self.retry_at = self.index.unsaved_changes + max(min_changes, 1)
                first, self.failing = not self.failing, True
            if first:
                # Paths belong in the server's log (not on the wire), so the operator can act.
                logger.warning(
                    "Could not save the index of collection %s in %s (%s); it stays in memory and the save is retried later",
                    self.collection_id,
                    self.directory,
                    exc,
                    exc_info=not isinstance(exc, OSError),  # an unexpected failure gets its traceback
                )
            return
        with self.failures_lock:
            recovered, self.failing, self.retry_at = self.failing, False, 0
        if recovered:
            logger.info("Saved the index of collection %s again", self.collection_id)


class _Loading:
    """One collection's index being loaded: the mutex its loaders queue on, and how many do."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class IndexCache:
    """The indexes of one store's collections, by collection ``pk``.

    Thread-safe. It holds no reference to the engine that owns it, so the engine's
    finalizer can hold the cache (to save it at exit) without keeping the engine alive.

    Args:
        db: The store's database.
        path: The store's directory, or ``None`` for memory (nothing is ever saved).

    Example:
        >>> from ragstore.configuration import build_configuration
        >>> db = Database(None)
        >>> with db.write() as conn:
        ...     row = catalog.create_collection_row(conn, "docs", None, build_configuration({}, None), "default_tenant", "default_database")
        ...     _ = conn.execute("UPDATE collections SET dimension = 2 WHERE pk = ?", (row.pk,))
        ...     row = catalog.get_by_id(conn, row.id)
        >>> cache = IndexCache(db, path=None)
        >>> with db.read() as conn:
        ...     cache.caught_up(conn, row).applied_seq
        0

    """

    def __init__(self, db: Database, path: Path | None) -> None:
        self._db = db
        self._path = path
        # _lock guards these two dictionaries only and is never held during I/O or a search;
        # loading a collection's index holds that collection's _Loading.lock instead.
        self._cached: dict[int, _Cached] = {}
        self._loading: dict[int, _Loading] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ use

    def caught_up(self, conn: sqlite3.Connection, row: CollectionRow) -> VectorIndex:
        """The collection's index, loaded or built if needed, caught up to ``row.last_seq``.

        Safe to call from many threads: the index is loaded (or built) once, by one thread,
        without blocking other collections; when it is already caught up, nothing here
        waits for running searches (see :meth:`VectorIndex.catch_up`). For an example, see
        :class:`IndexCache`.

        Args:
            conn: A connection inside the caller's read or write transaction.
            row: The collection as that transaction sees it (``dimension`` set).

        """
        entry = self._cached_entry(row) or self._load_entry(conn, row)
        entry.index.set_ef_search(row.hnsw.ef_search)
        # applied_seq only grows, so reading it without the lock can only send us the long way.
        if entry.index.applied_seq < row.last_seq:
            self._catch_up(conn, row, entry)
        return entry.index

    def current(self, row: CollectionRow) -> tuple[VectorIndex | None, RecordColumns | None]:
        """The index and the columns of ``row``, each only if it needs no SQL to load or catch up.

        A stale answer is harmless: caches only move forward, so what is current stays current.

        Example:
            >>> from ragstore.configuration import build_configuration
            >>> row = CollectionRow(1, uuid.uuid4(), "docs", 2, None, build_configuration({}, None), 0, 0, "t", "d")
            >>> IndexCache(Database(None), path=None).current(row)
            (None, None)

        """
        entry = self._cached_entry(row)
        if entry is None or entry.index.applied_seq < row.last_seq:
            return None, None
        columns = entry.columns
        if columns is None or columns.applied_seq < max(row.last_seq, row.tombstone_floor):
            return entry.index, None
        return entry.index, columns

    def columns(self, conn: sqlite3.Connection, row: CollectionRow) -> RecordColumns:
        """The collection's :class:`RecordColumns`, built on first use and caught up to ``row.last_seq``.

        Call it after :meth:`caught_up` (it shares that entry). Use the columns under their
        read lock: another thread may catch them up further meanwhile.

        Example:
            >>> from ragstore.configuration import build_configuration
            >>> db = Database(None)
            >>> with db.write() as conn:
            ...     config = build_configuration({}, None)
            ...     row = catalog.create_collection_row(conn, "docs", None, config, "default_tenant", "default_database")
            ...     _ = conn.execute("UPDATE collections SET dimension = 2 WHERE pk = ?", (row.pk,))
            ...     row = catalog.get_by_id(conn, row.id)
            >>> with db.read() as conn:
            ...     IndexCache(db, path=None).columns(conn, row).live_count
            0

        """
        entry = self._cached_entry(row) or self._load_entry(conn, row)
        assert row.dimension is not None
        with entry.columns_lock:
            columns = entry.columns
            if columns is None or columns.applied_seq < row.tombstone_floor:  # never built, or too old to catch up
                columns = entry.columns = RecordColumns.load(conn, row.pk, row.dimension, row.last_seq)
        with columns.lock.read():
            if columns.applied_seq >= row.last_seq:
                return columns
        with columns.lock.write():  # never upgrade in place: see VectorIndex.catch_up
            if columns.applied_seq < row.last_seq:
                columns.catch_up(conn, row.pk, row.last_seq)
        return columns

    def refresh(self, collection_id: uuid.UUID) -> None:
        """Bring the index up to date right after a write (so queries stay fast).

        Example:
            >>> IndexCache(Database(None), path=None).refresh(uuid.uuid4())  # deleted meanwhile: nothing to do

        """
        with self._db.read() as conn:
            try:
                row = catalog.get_by_id(conn, collection_id)
            except NotFoundError:
                return
            if row.dimension is not None:
                self.caught_up(conn, row)

    # ------------------------------------------------------------------ deleting and closing

    def forget(self, pk: int, collection_id: str) -> None:
        """Drop a deleted collection's index from memory and remove its files.

        Example:
            >>> IndexCache(Database(None), path=None).forget(1, str(uuid.uuid4()))

        """
        with self._lock:
            self._cached.pop(pk, None)
        self.remove_files(collection_id)

    def remove_files(self, collection_id: str) -> None:
        """Remove a collection's saved index files, if there are any.

        Example:
            >>> IndexCache(Database(None), path=None).remove_files(str(uuid.uuid4()))  # in memory: no files

        """
        directory = self._index_dir(collection_id)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def clear(self) -> None:
        """Drop every index from memory and remove all saved index files (a reset).

        Example:
            >>> IndexCache(Database(None), path=None).clear()

        """
        with self._lock:
            self._cached.clear()
        if self._path is not None:
            shutil.rmtree(self._path / INDEX_DIRECTORY, ignore_errors=True)

    def save_unsaved(self) -> None:
        """Save every index with unsaved changes (at close, and at interpreter exit).

        Does nothing once the database is closed. A failed save is logged and skipped: the
        next open loads the older files and catches up from SQLite (or rebuilds).

        Example:
            >>> IndexCache(Database(None), path=None).save_unsaved()

        """
        if self._db.closed:
            return
        for entry in list(self._cached.values()):
            if entry.index.unsaved_changes:
                with contextlib.suppress(Exception):  # a cache that fails to save is rebuilt later
                    with self._db.read() as conn:
                        # NotFoundError (skip the save) if any client deleted the collection meanwhile:
                        # saving would bring back the index folder delete_collection removed.
                        catalog.get_by_id(conn, uuid.UUID(entry.collection_id))
                    entry.save()  # whatever the back-off: closing is the last chance

    # ------------------------------------------------------------------ loading

    def _index_dir(self, collection_id: str) -> Path | None:
        return self._path / INDEX_DIRECTORY / collection_id if self._path is not None else None

    @staticmethod
    def _catch_up(conn: sqlite3.Connection, row: CollectionRow, entry: _Cached) -> None:
        hnsw = row.hnsw
        index = entry.index
        index.catch_up(conn, row.pk, row.last_seq, num_threads=hnsw.num_threads)
        # At least a quarter of the index: a save writes all of it, so saves stay amortised O(1) a change.
        threshold = max(hnsw.sync_threshold, len(index.labels) // 4)
        if entry.directory is not None and index.unsaved_changes >= max(threshold, entry.retry_at):
            entry.save(min_changes=threshold)  # re-checked under the save lock: one thread writes

    def _cached_entry(self, row: CollectionRow) -> _Cached | None:
        """The cached entry if it can serve ``row`` (right build parameters, not too old)."""
        assert row.dimension is not None
        with self._lock:
            entry = self._cached.get(row.pk)
        if entry is None or not entry.index.matches(row.dimension, row.hnsw):
            return None
        # Older than the tombstone floor: the deletes it lacks are forgotten, so it cannot catch up.
        return entry if entry.index.applied_seq >= row.tombstone_floor else None

    def _load_entry(self, conn: sqlite3.Connection, row: CollectionRow) -> _Cached:
        """Load or build the collection's index once, however many threads ask at the same time."""
        with self._lock:
            slot = self._loading.setdefault(row.pk, _Loading())
            slot.users += 1
        try:
            with slot.lock:
                entry = self._cached_entry(row)
                if entry is not None:  # another thread loaded it while this one queued
                    return entry
                saved_in = None if self._db.read_only else self._index_dir(str(row.id))  # loaded, never saved
                entry = _Cached(self._load_index(row), saved_in, str(row.id))
                # Caught up before it is published, so a fresh build happens here, once.
                self._catch_up(conn, row, entry)
                with self._lock:
                    self._cached[row.pk] = entry
                return entry
        finally:
            with self._lock:
                slot.users -= 1
                if not slot.users:  # forget it (the dictionary stays small), unless others queue
                    del self._loading[row.pk]

    def _load_index(self, row: CollectionRow) -> VectorIndex:
        """The saved index if it is intact and fits, else an empty one (slow: reads files)."""
        assert row.dimension is not None
        hnsw = row.hnsw
        directory = self._index_dir(str(row.id))
        loaded = None
        if directory is not None:
            loaded = VectorIndex.load(directory, str(row.id), row.dimension, hnsw, row.last_seq, row.tombstone_floor)
        return loaded or VectorIndex.empty(row.dimension, hnsw)
