"""The engine's per-collection HNSW indexes: loaded once, caught up in the background, saved now and then.

SQLite is the truth; an index (:mod:`ragstore.local.index`) is a cache of it that
would be slow to rebuild for every query. :class:`IndexCache` keeps one per
collection in memory. Writes do not insert into it: they notify the store's
background indexer (:mod:`ragstore.local.indexer`), which catches the graph up a
chunk at a time (:meth:`IndexCache.step`), and queries never wait for it: they
search what the graph holds plus the records it lacks, exactly
(:mod:`ragstore.local.fresh_tail`). A query that finds the graph behind (another
process wrote, or the files were old) notifies the indexer too.

Back-pressure: a writer whose write leaves more than ``max_unindexed`` records
unindexed waits for the indexer (:meth:`IndexCache.written`), so the exact part of a
query stays bounded during a long ingest. The default bound is by cost, not count:
``UNINDEXED_FLOATS`` floats (records times dimension; 64 MiB of float32), 43,690 records
at 384 dimensions, whose exact scan (``columns.nearest``, in place) took ~3.4 ms of CPU a
query on the machine the benchmarks ran on: about what embedding the query with the
default model costs (2.6 ms), so during an ingest a query costs at most about twice
what it does after. Below the bound a write runs at SQLite's speed; a longer ingest
then runs at the indexer's.

Loading (once, however many threads ask) is :mod:`ragstore.local.index_loading`; one step
of the indexer's catch-up, and when it saves, :mod:`ragstore.local.index_steps`; an entry
and its save that never fails the caller, :mod:`ragstore.local.cached_index`. At close,
the cache lets the indexer finish (for up to ``close_wait`` seconds; ``None``: all of it)
and saves. A read-only store never saves.

The same entry holds the collection's :class:`RecordColumns` (vectors and metadata
in numpy arrays, for filtered and exact searches) once a search has needed them;
they are caught up on use (a copy, no graph insertion), and never saved.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import uuid
from pathlib import Path

from ragstore.local import catalog, index_steps
from ragstore.local.catalog import CollectionRow
from ragstore.local.columns import RecordColumns
from ragstore.local.database import Database
from ragstore.local.heap import release_free_memory
from ragstore.local.index import VectorIndex
from ragstore.local.index_loading import INDEX_DIRECTORY as INDEX_DIRECTORY  # re-exported: backups, checks and metrics import it here
from ragstore.local.index_loading import LoadedIndexes
from ragstore.local.indexer import Indexer
from ragstore.types import IndexingStatus

# The default bound on a collection's unindexed records, in floats (records x dimension): see the module docstring.
UNINDEXED_FLOATS = 16 * 2**20

logger = logging.getLogger(__name__)


class IndexCache:
    """The indexes of one store's collections, by collection ``pk``.

    Thread-safe. It holds no reference to the engine that owns it, so the engine's
    finalizer can hold the cache (to save it at exit) without keeping the engine alive.

    Args:
        db: The store's database.
        path: The store's directory, or ``None`` for memory (nothing is ever saved).
        max_unindexed: Unindexed records per collection past which writers wait
            (``None``: ``UNINDEXED_FLOATS`` divided by the dimension).
        close_wait: Seconds :meth:`close` lets the indexer work before it saves (``None``: until done).

    Example:
        >>> from ragstore.configuration import build_configuration
        >>> db = Database(None)
        >>> with db.write() as conn:
        ...     row = catalog.create_collection_row(conn, "docs", None, build_configuration({}, None), "default_tenant", "default_database")
        ...     _ = conn.execute("UPDATE collections SET dimension = 2 WHERE pk = ?", (row.pk,))
        ...     row = catalog.get_by_id(conn, row.id)
        >>> cache = IndexCache(db, path=None)
        >>> with db.read() as conn:
        ...     cache.graph(conn, row).applied_seq
        0
        >>> cache.close()

    """

    def __init__(self, db: Database, path: Path | None, max_unindexed: int | None = None, close_wait: float | None = None) -> None:
        self._db = db
        self._path = path
        self._max_unindexed = max_unindexed
        self._close_wait = close_wait
        self._indexer: Indexer[uuid.UUID] = Indexer(self.step, idle=release_free_memory)
        self._loaded = LoadedIndexes(db, path, self._indexer.notify)
        self._cached = self._loaded.by_pk  # the same dictionary, by collection pk (tests look inside)

    # ------------------------------------------------------------------ use

    def graph(self, conn: sqlite3.Connection, row: CollectionRow) -> VectorIndex:
        """The collection's graph, loaded if needed, at whatever it has applied; never waits for the indexer.

        A graph behind ``row.last_seq`` (another process wrote, or the files were old) is
        handed to the indexer. Search it with :func:`ragstore.local.fresh_tail.search_lagging`
        unless it is complete (``applied_seq >= row.last_seq``). For an example, see
        :class:`IndexCache`.

        Args:
            conn: A connection inside the caller's read or write transaction.
            row: The collection as that transaction sees it (``dimension`` set).

        """
        entry = self._loaded.cached(row) or self._loaded.load(conn, row)
        entry.index.set_ef_search(row.hnsw.ef_search)
        # applied_seq only grows, so reading it without the lock can only notify once too often.
        if entry.index.applied_seq < row.last_seq:
            self._indexer.notify(row.id)
        return entry.index

    def current(self, row: CollectionRow) -> tuple[VectorIndex | None, RecordColumns | None]:
        """The loaded graph of ``row`` (``None`` if it needs loading), and its columns if they need no catching up.

        A stale answer is harmless: caches only move forward, so what is current stays current.

        Example:
            >>> from ragstore.configuration import build_configuration
            >>> row = CollectionRow(1, uuid.uuid4(), "docs", 2, None, build_configuration({}, None), 0, 0, "t", "d")
            >>> IndexCache(Database(None), path=None).current(row)
            (None, None)

        """
        entry = self._loaded.cached(row)
        if entry is None:
            return None, None
        if entry.index.applied_seq < row.last_seq:
            self._indexer.notify(row.id)
        columns = entry.columns
        if columns is None or columns.applied_seq < max(row.last_seq, row.tombstone_floor):
            return entry.index, None
        return entry.index, columns

    def columns(self, conn: sqlite3.Connection, row: CollectionRow) -> RecordColumns:
        """The collection's :class:`RecordColumns`, built on first use and caught up to ``row.last_seq``.

        Use the columns under their read lock: another thread may catch them up further meanwhile.

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
        entry = self._loaded.cached(row) or self._loaded.load(conn, row)
        assert row.dimension is not None
        with entry.columns_lock:
            columns = entry.columns
            if columns is None or columns.applied_seq < row.tombstone_floor:  # never built, or too old to catch up
                columns = entry.columns = RecordColumns.load(conn, row.pk, row.dimension, row.last_seq)
        with columns.lock.read():
            if columns.applied_seq >= row.last_seq:
                return columns
        with columns.lock.write():  # never upgrade in place: see RWLock
            if columns.applied_seq < row.last_seq:
                columns.catch_up(conn, row.pk, row.last_seq)
        return columns

    # ------------------------------------------------------------------ writes and the indexer

    def written(self, row: CollectionRow, last_label: int | None = None, dim: int | None = None) -> None:
        """After a committed write: hand the graph's catch-up to the indexer, and wait while too much is unindexed.

        The write is acknowledged whatever happens here (SQLite has it). The writer waits
        until at most ``max_unindexed`` of the collection's records are unindexed (estimated
        from labels: ``last_label`` minus the graph's mark, an upper bound), or until the
        indexer has nothing left to do for the collection (it caught up, failed, or the
        collection is gone), is held, or stops.

        Args:
            row: The collection as the write saw it.
            last_label: The store's highest label once the write committed (``None``: a write that
                added no vectors, such as a delete, never waits).
            dim: The collection's dimension, if the write just set it (``row.dimension`` otherwise).

        Example:
            >>> from ragstore.configuration import build_configuration
            >>> row = CollectionRow(1, uuid.uuid4(), "docs", 2, None, build_configuration({}, None), 1, 0, "t", "d")
            >>> cache = IndexCache(Database(None), path=None)
            >>> cache.written(row, last_label=100)  # the collection is not in this store: nothing to wait for
            >>> cache.close()

        """
        self._indexer.notify(row.id)
        dim = dim or row.dimension
        if last_label is None or dim is None:
            return
        bound = self.max_unindexed(dim)

        def room() -> bool:
            entry = self._loaded.get(row.pk)  # a plain read: the indexer publishes the entry before it steps
            return entry is not None and last_label - entry.index.mark <= bound

        if not room():
            self._indexer.wait(row.id, room)

    def max_unindexed(self, dim: int) -> int:
        """How many unindexed records a collection of dimension ``dim`` may have before writers wait.

        Example:
            >>> IndexCache(Database(None), path=None).max_unindexed(384)
            43690

        """
        return self._max_unindexed if self._max_unindexed is not None else max(1, UNINDEXED_FLOATS // dim)

    def step(self, collection_id: uuid.UUID) -> bool:
        """One step of a collection's background catch-up (the indexer's work); returns whether more is left.

        Reads up to a chunk of what the graph lacks in one snapshot, inserts it in batches
        that each hold the graph's lock a few milliseconds, and once nothing is missing,
        applies the deletions; then saves if enough is unsaved. Only the indexer's thread
        calls it.

        Example:
            >>> IndexCache(Database(None), path=None).step(uuid.uuid4())  # no such collection: nothing to do
            False

        """
        return index_steps.step(self._db, self._loaded, collection_id)

    def indexing_status(self, conn: sqlite3.Connection, row: CollectionRow) -> IndexingStatus:
        """How much of the collection this process's graph has applied, as chromadb's ``IndexingStatus``.

        An *op* is a change the graph must apply: a record's current vector (inserted), or a
        removed one (a deleted record, or the old vector of a record given a new one). The
        total is the collection's records plus the removals not applied yet; unindexed are
        the records above the graph's mark plus those removals. So a fully indexed
        collection reports ``num_indexed_ops == total_ops == count()`` and progress 1.0
        (also when empty). It loads the graph if needed (and so starts indexing).

        Example:
            >>> from ragstore.configuration import build_configuration
            >>> db = Database(None)
            >>> config = build_configuration({}, None)
            >>> with db.write() as conn:
            ...     row = catalog.create_collection_row(conn, "docs", None, config, "default_tenant", "default_database")
            >>> with db.read() as conn:
            ...     IndexCache(db, path=None).indexing_status(conn, row)
            IndexingStatus(num_indexed_ops=0, num_unindexed_ops=0, total_ops=0, op_indexing_progress=1.0)

        """
        records = conn.execute("SELECT count(*) FROM records WHERE collection_pk = ?", (row.pk,)).fetchone()[0]
        unindexed = removals = 0
        if row.dimension is not None:
            index = self.graph(conn, row)
            # Read without the graph's lock: a status poll must not count as a search waiting for the
            # indexer (which then inserts in small batches, see VectorIndex.add). A pair torn by a step
            # in between only overstates what is left: the mark and the applied sequence only grow.
            mark, applied_seq = index.mark, index.applied_seq
            unindexed = conn.execute("SELECT count(*) FROM records WHERE collection_pk = ? AND label > ?", (row.pk, mark)).fetchone()[0]
            removals = conn.execute(
                "SELECT count(*) FROM tombstones WHERE collection_pk = ? AND seq > ? AND seq <= ?", (row.pk, applied_seq, row.last_seq)
            ).fetchone()[0]
        total = records + removals
        pending = unindexed + removals
        return IndexingStatus(total - pending, pending, total, (total - pending) / total if total else 1.0)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the indexer has caught up every graph it was asked to; ``False`` if ``timeout`` passed first.

        Example:
            >>> IndexCache(Database(None), path=None).flush(timeout=1)
            True

        """
        return self._indexer.flush(timeout)

    def hold(self) -> contextlib.AbstractContextManager[None]:
        """Pause background indexing for the ``with`` block (a test hook; writers do not wait meanwhile).

        Example:
            >>> cache = IndexCache(Database(None), path=None)
            >>> with cache.hold():
            ...     pass

        """
        return self._indexer.held()

    # ------------------------------------------------------------------ deleting and closing

    def forget(self, pk: int, collection_id: str) -> None:
        """Drop a deleted collection's index from memory and remove its files.

        Example:
            >>> IndexCache(Database(None), path=None).forget(1, str(uuid.uuid4()))

        """
        entry = self._loaded.pop(pk)
        if entry is not None:
            entry.retire()
        self.remove_files(collection_id)

    def remove_files(self, collection_id: str) -> None:
        """Remove a collection's saved index files, if there are any.

        Example:
            >>> IndexCache(Database(None), path=None).remove_files(str(uuid.uuid4()))  # in memory: no files

        """
        directory = self._loaded.directory(collection_id)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def clear(self) -> None:
        """Drop every index from memory and remove all saved index files (a reset).

        Example:
            >>> IndexCache(Database(None), path=None).clear()

        """
        for entry in self._loaded.pop_all():
            entry.retire()
        if self._path is not None:
            shutil.rmtree(self._path / INDEX_DIRECTORY, ignore_errors=True)

    def close(self) -> None:
        """Let the indexer finish (for up to ``close_wait`` seconds; ``None``: all of it), stop it, save (idempotent).

        An in-memory store does not wait: its graphs die with it. Work left over is not lost:
        SQLite holds it, and the next open catches the saved graphs up.

        Example:
            >>> IndexCache(Database(None), path=None).close()

        """
        wait = 0 if self._path is None or (self._db.read_only and self._close_wait is None) else self._close_wait
        if not self._indexer.stop(wait):
            logger.info("Closing with indexing unfinished; the next open catches up from SQLite")
        # The columns only serve queries, and the save below checks the graph first (a survey of its
        # links: ~30 MiB at 100k points): freed now, the close does not add that on top of them.
        for entry in list(self._loaded.by_pk.values()):
            entry.columns = None  # a query still running keeps its own reference
        release_free_memory()
        self.save_unsaved()

    def save_unsaved(self) -> None:
        """Save every index with unsaved changes (at close, and at interpreter exit).

        Does nothing once the database is closed. A failed save is logged and skipped: the
        next open loads the older files and catches up from SQLite (or rebuilds).

        Example:
            >>> IndexCache(Database(None), path=None).save_unsaved()

        """
        if self._db.closed:
            return
        for entry in list(self._loaded.by_pk.values()):
            if entry.index.unsaved_changes:
                with contextlib.suppress(Exception):  # a cache that fails to save is rebuilt later
                    with self._db.read() as conn:
                        # NotFoundError (skip the save) if any client deleted the collection meanwhile:
                        # saving would bring back the index folder delete_collection removed.
                        catalog.get_by_id(conn, uuid.UUID(entry.collection_id))
                    entry.save()  # whatever the back-off: closing is the last chance
