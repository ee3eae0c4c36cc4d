"""Which index each collection has in memory, and loading it once, however many threads ask.

:class:`LoadedIndexes` maps a collection's ``pk`` to its :class:`CachedIndex`. The first use
of a collection loads its saved files (``<store>/indexes/<collection id>/``, see
:mod:`ragstore.local.index_files`) or starts an empty graph, once, and without holding up
other collections: loaders of one collection queue on its own mutex, never on a store-wide
lock. The graph is published at once, at whatever it has applied; the background indexer
fills it (the ``lagging`` callback tells it to).

A cached index serves a collection only while it was built with the collection's
dimension and build parameters and is not older than the tombstone floor (the deletions
it lacks would be forgotten); otherwise it is loaded again.

Example:
    >>> import uuid
    >>> from ragstore.configuration import build_configuration
    >>> from ragstore.local import catalog
    >>> db = Database(None)
    >>> with db.write() as conn:
    ...     row = catalog.create_collection_row(conn, "docs", None, build_configuration({}, None), "default_tenant", "default_database")
    ...     _ = conn.execute("UPDATE collections SET dimension = 2 WHERE pk = ?", (row.pk,))
    ...     row = catalog.get_by_id(conn, row.id)
    >>> loaded = LoadedIndexes(db, path=None, lagging=lambda collection_id: None)
    >>> loaded.cached(row) is None
    True
    >>> with db.read() as conn:
    ...     loaded.load(conn, row).index.applied_seq
    0
    >>> loaded.cached(row) is not None
    True

"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from ragstore.local.cached_index import CachedIndex
from ragstore.local.catalog import CollectionRow
from ragstore.local.database import Database
from ragstore.local.index import VectorIndex

INDEX_DIRECTORY = "indexes"


class _Loading:
    """One collection's index being loaded: the mutex its loaders queue on, and how many do."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class LoadedIndexes:
    """The store's in-memory indexes by collection ``pk`` (see the module docstring). Thread-safe.

    Args:
        db: The store's database.
        path: The store's directory, or ``None`` for memory (nothing is ever saved).
        lagging: Called with a collection's id when a loaded index lacks some of its records.

    """

    def __init__(self, db: Database, path: Path | None, lagging: Callable[[uuid.UUID], None]) -> None:
        self._db = db
        self._path = path
        self._lagging = lagging
        # _lock guards these two dictionaries only and is never held during I/O or a search;
        # loading a collection's index holds that collection's _Loading.lock instead.
        self.by_pk: dict[int, CachedIndex] = {}
        self._loading: dict[int, _Loading] = {}
        self._lock = threading.Lock()

    def directory(self, collection_id: str) -> Path | None:
        """The collection's index folder, or ``None`` for an in-memory store."""
        return self._path / INDEX_DIRECTORY / collection_id if self._path is not None else None

    def get(self, pk: int) -> CachedIndex | None:
        """The entry cached for ``pk`` whatever it was built for (a plain read, no lock)."""
        return self.by_pk.get(pk)

    def pop(self, pk: int) -> CachedIndex | None:
        """Forget the entry of ``pk`` and return it."""
        with self._lock:
            return self.by_pk.pop(pk, None)

    def pop_all(self) -> list[CachedIndex]:
        """Forget every entry and return them."""
        with self._lock:
            entries = list(self.by_pk.values())
            self.by_pk.clear()
        return entries

    def cached(self, row: CollectionRow) -> CachedIndex | None:
        """The cached entry if it can serve ``row`` (right build parameters, not too old)."""
        assert row.dimension is not None
        with self._lock:
            entry = self.by_pk.get(row.pk)
        if entry is None or not entry.index.matches(row.dimension, row.hnsw):
            return None
        # Older than the tombstone floor: the deletes it lacks are forgotten, so it cannot catch up.
        return entry if entry.index.applied_seq >= row.tombstone_floor else None

    def load(self, conn: sqlite3.Connection, row: CollectionRow) -> CachedIndex:
        """Load or build the collection's index once, however many threads ask at the same time."""
        with self._lock:
            slot = self._loading.setdefault(row.pk, _Loading())
            slot.users += 1
        try:
            with slot.lock:
                entry = self.cached(row)
                if entry is not None:  # another thread loaded it while this one queued
                    return entry
                saved_in = None if self._db.read_only else self.directory(str(row.id))  # loaded, never saved
                entry = CachedIndex(self._load_index(conn, row), saved_in, str(row.id))
                # Published as it is: the indexer catches it up, and queries meanwhile search what it lacks exactly.
                if entry.index.applied_seq < row.last_seq:
                    self._lagging(row.id)
                with self._lock:
                    self.by_pk[row.pk] = entry
                return entry
        finally:
            with self._lock:
                slot.users -= 1
                if not slot.users:  # forget it (the dictionary stays small), unless others queue
                    del self._loading[row.pk]

    def _load_index(self, conn: sqlite3.Connection, row: CollectionRow) -> VectorIndex:
        """The saved index if it is intact and fits, else an empty one (slow: reads files)."""
        assert row.dimension is not None
        hnsw = row.hnsw
        directory = self.directory(str(row.id))
        loaded = None
        if directory is not None:
            loaded = VectorIndex.load(directory, str(row.id), row.dimension, hnsw, row.last_seq, row.tombstone_floor)
        if loaded is not None:
            return loaded
        empty = VectorIndex.empty(row.dimension, hnsw)
        # It lacks every record, and nothing below the collection's first label: starting the mark
        # there keeps the writers' estimate of what is unindexed (labels above the mark) close.
        (first,) = conn.execute("SELECT min(label) FROM records WHERE collection_pk = ?", (row.pk,)).fetchone()
        if first is None:  # no records: none below the next label
            (first,) = conn.execute("SELECT next FROM label_counter").fetchone()
        empty.mark = int(first) - 1
        return empty
