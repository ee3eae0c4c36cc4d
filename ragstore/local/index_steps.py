"""The background indexer's work on one collection: one bounded step of catching its graph up with SQLite.

The store's indexer thread (:mod:`ragstore.local.indexer`) calls :func:`step` for a
collection until it returns ``False``. A step reads up to ``_STEP_ROWS`` rows the graph
lacks in one snapshot (:mod:`ragstore.local.graph_feed`), inserts them in batches that
each hold the graph's lock a few milliseconds (queries run between them), and once
nothing is missing applies the deletions; a graph then mostly made of deleted points is
rebuilt aside, while queries search the old one, and swapped in. Then it saves if enough
changes are unsaved: at least the collection's ``sync_threshold`` and a quarter of the
index, so saving stays amortised O(1) a change.

Example:
    >>> from ragstore.local.database import Database
    >>> db = Database(None)
    >>> loaded = LoadedIndexes(db, path=None, lagging=lambda collection_id: None)
    >>> step(db, loaded, uuid.uuid4())  # no such collection: nothing to do
    False

"""

from __future__ import annotations

import sqlite3
import uuid

from ragstore.errors import ClosedError, NotFoundError
from ragstore.local import catalog
from ragstore.local.cached_index import CachedIndex
from ragstore.local.catalog import CollectionRow
from ragstore.local.database import Database
from ragstore.local.index import VectorIndex
from ragstore.local.index_loading import LoadedIndexes

# Rows one background step reads from SQLite (then inserts in batches of a few ms each: VectorIndex.add).
_STEP_ROWS = 2048
# Rows a background rebuild reads at a time (the new graph is private: inserted in one call each).
_REBUILD_ROWS = 10_000
# How long the indexer holds a graph's lock for one batch: a query arriving meanwhile waits at most this.
_MAX_HOLD = 0.005


def step(db: Database, loaded: LoadedIndexes, collection_id: uuid.UUID) -> bool:
    """One step of a collection's catch-up (see the module docstring); returns whether more is left.

    Only the indexer's thread calls it.

    Args:
        db: The store's database.
        loaded: The store's in-memory indexes (the collection's is loaded if it is not).
        collection_id: The collection.

    """
    with db.read() as conn:
        row = collection_row(conn, collection_id)
        if row is None or row.dimension is None:
            return False
        entry = loaded.cached(row) or loaded.load(conn, row)
    index = entry.index
    if index.applied_seq >= row.last_seq:
        return False
    threads = row.hnsw.num_threads
    with index.step_lock:
        with db.read() as conn:
            row = collection_row(conn, collection_id)
            if row is None:
                return False
            feed = index.feed(conn, row.pk, row.last_seq, _STEP_ROWS)
        index.add(feed.labels, feed.vectors, threads, max_hold=_MAX_HOLD)
        if feed.complete and index.complete(feed, threads):
            _rebuild(db, index, collection_id, threads)
    _maybe_save(entry, row)
    return not feed.complete


def collection_row(conn: sqlite3.Connection, collection_id: uuid.UUID) -> CollectionRow | None:
    """The collection's catalog row, or ``None`` if it is gone (or the store closed).

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).read() as conn:
        ...     collection_row(conn, uuid.uuid4()) is None
        True

    """
    try:
        return catalog.get_by_id(conn, collection_id)
    except (NotFoundError, ClosedError):
        return None


def _rebuild(db: Database, index: VectorIndex, collection_id: uuid.UUID, threads: int) -> None:
    """Replace a graph mostly made of deleted points by a new one, built aside while queries search the old one."""
    fresh = index.emptied()
    while True:
        with db.read() as conn:
            row = collection_row(conn, collection_id)
            if row is None:
                return
            feed = fresh.feed(conn, row.pk, row.last_seq, _REBUILD_ROWS)
        fresh.add(feed.labels, feed.vectors, threads)
        if feed.complete:
            fresh.complete(feed, threads)
            index.adopt(fresh)
            return


def _maybe_save(entry: CachedIndex, row: CollectionRow) -> None:
    """Save after a step if enough changes are unsaved (at least a quarter of the index: amortised O(1) a change)."""
    index = entry.index
    threshold = max(row.hnsw.sync_threshold, len(index.labels) // 4)
    if entry.directory is not None and index.unsaved_changes >= max(threshold, entry.retry_at):
        entry.save(min_changes=threshold)  # re-checked under the save lock: one thread writes
