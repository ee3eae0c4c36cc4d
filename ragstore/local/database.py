"""SQLite connections and transactions for one store.

A file store gives each thread its own connection (WAL lets readers run
beside a writer, also across processes); writes take ``BEGIN IMMEDIATE``, so
writers from every process queue on SQLite's lock instead of failing. An
in-memory store has one connection, shared under a lock.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``, so a write is on
disk when its call returns, even across ``kill -9`` or power loss.

Example:
    >>> db = Database(None)
    >>> with db.write() as conn:
    ...     _ = conn.execute("INSERT INTO tenants (name) VALUES ('acme')")
    >>> with db.read() as conn:
    ...     conn.execute("SELECT count(*) FROM tenants").fetchone()[0]
    2
    >>> db.close()

"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from ragstore.errors import ClosedError
from ragstore.local.schema import migrate
from ragstore.regex import RegexError, regex_search

DATABASE_FILENAME = "ragstore.sqlite3"
BUSY_TIMEOUT_MS = 120_000
_MIN_RECLAIM_PAGES = 256  # 1 MiB of 4 KiB pages: smaller free lists are left for reuse


def _regex_sql(pattern: str, text: str | None) -> int:
    try:
        return 1 if regex_search(pattern, text) else 0
    except RegexError:
        return 0  # patterns are checked before a query runs; never fail mid-scan


class Database:
    """Connections to one store: a file under ``path``, or memory when ``path`` is ``None``.

    Args:
        path: The store's directory, or ``None`` for an in-memory store.

    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.file = path / DATABASE_FILENAME if path is not None else None
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._shared: sqlite3.Connection | None = None
        if self.file is None:
            self._shared = self._open(":memory:")
        else:
            self.file.parent.mkdir(parents=True, exist_ok=True)
        migrate(self.connection())

    def _open(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if target != ":memory:":
            # auto_vacuum only takes effect on a new, empty database file.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        conn.create_function("ragstore_regex", 2, _regex_sql, deterministic=True)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for an in-memory store)."""
        if self._closed:
            raise ClosedError("This client has been closed; create a new one")
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.file is not None
            conn = self._open(str(self.file))
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def read(self, snapshot: bool = True) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for everything inside.

        With ``snapshot=False`` each statement reads the latest committed state on its own
        (no ``BEGIN``/``COMMIT``: two statements fewer, which matters to many threads
        querying at once). The in-memory store needs no snapshot either way: its one
        connection is held for the whole block, so no write can come in between.
        """
        with self._maybe_locked():
            conn = self.connection()
            if conn.in_transaction or not snapshot or self._shared is not None:
                yield conn  # nested inside a write or read (reuse it), or no snapshot needed
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        with self._write_lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def _maybe_locked(self) -> Iterator[None]:
        # The shared in-memory connection cannot run two transactions at once.
        if self._shared is not None:
            with self._write_lock:
                yield
        else:
            yield

    def vacuum(self, merge_text_index: bool = True) -> None:
        """Return free pages to the file system (file stores only).

        FTS5 keeps the entries of deleted documents until its segments are merged.
        With ``merge_text_index`` the full-text index is optimized (merged) first,
        which rewrites all of it; without, its space comes back as later writes merge.
        """
        if self.file is not None:
            with self._write_lock:
                conn = self.connection()
                if merge_text_index:
                    conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
                # execute() would run the pragma one step, freeing a single page; a script runs it to the end.
                conn.executescript("PRAGMA incremental_vacuum;")

    def reclaim(self) -> None:
        """Return free pages to the file system once they are a quarter of the file (file stores only).

        Deleted records free their pages inside the file, where later writes reuse them;
        after a large delete, handing them back is worth moving the pages behind them.
        """
        if self.file is None:
            return
        with self._write_lock:
            conn = self.connection()
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free > max(_MIN_RECLAIM_PAGES, conn.execute("PRAGMA page_count").fetchone()[0] // 4):
                conn.executescript("PRAGMA incremental_vacuum;")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Close every connection this store opened."""
        self._closed = True
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
