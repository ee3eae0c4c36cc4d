"""SQLite connections and transactions for one store.

A file store gives each thread its own connection (WAL lets readers run
beside a writer, also across processes); writes take ``BEGIN IMMEDIATE``, so
writers from every process queue on SQLite's lock instead of failing. An
in-memory store has one connection, shared under a lock.

An in-memory (ephemeral) store is SQLite's *temporary* database (an empty file name),
not ``:memory:``: it is as private (no other connection can open it) and as short-lived
(SQLite unlinks the file as soon as it has opened it, so it is gone at close or at a
crash), but its pages past SQLite's small page cache live in the operating system's
page cache, which the kernel can write out under memory pressure, instead of in this
process's heap. At 100,000 x 384 with documents and metadata that is about 210 MiB
less resident memory at the peak (the vectors alone are 146 MiB; the graph and the
columns hold them already). In an interleaved A/B on the loaded 2-core machine (30,000 x
384, 4 rounds) add, query and filtered-query medians stayed within the noise, and a get
by id took about 1 us more (0.021 vs 0.019 ms: SQLite reads the page from the OS); see
``benchmarks/RESULTS.md``, "Memory (issue 19)". Nothing is synced: it needs no durability.

Durability: ``journal_mode=WAL`` with ``synchronous=FULL``, so a write is on
disk when its call returns, even across ``kill -9`` or power loss.

Read-only stores (a read-only mount, or files this user may not write) open
read-only: reads work, :meth:`Database.write` raises :class:`StorageError`.
A WAL database is read with ``mode=ro`` when its ``-wal`` and ``-shm`` files
exist (SQLite needs them, and cannot create them in a read-only folder);
a cleanly closed store has neither, and is read with ``immutable=1`` (no
locks, no WAL), which is safe because an empty or missing ``-wal`` means
every commit is in the main file; a process writing the same files through
another, writable path meanwhile is not seen (and not supported). A store with
a non-empty ``-wal`` but no ``-shm`` cannot be read correctly without write
access, so it is refused.

A disk that fills up during a write (``SQLITE_FULL``) rolls the transaction
back and raises :class:`StorageError`; the store stays usable and the same
write succeeds once space is freed.

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
import logging
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from ragstore.errors import ClosedError, StorageError
from ragstore.local.schema import MIGRATIONS, migrate
from ragstore.regex import RegexError, regex_search

DATABASE_FILENAME = "ragstore.sqlite3"
BUSY_TIMEOUT_MS = 120_000
_MIN_RECLAIM_PAGES = 256  # 1 MiB of 4 KiB pages: smaller free lists are left for reuse
# Page cache of a file store's connections (KiB): each thread has its own connection, and 32 querying
# threads grew RSS by 71 MiB at SQLite's default of 2 MiB each, 23 MiB at 512 KiB (20,000 records with
# documents). A write transaction gets the default back while it runs (_WRITE_CACHE_KIB).
_READ_CACHE_KIB = 512
_WRITE_CACHE_KIB = 2000
# SQLite's primary result codes (the low byte of an extended code) that mean "cannot store".
_SQLITE_READONLY = 8
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14

logger = logging.getLogger("ragstore.store")


def _regex_sql(pattern: str, text: str | None) -> int:
    try:
        return 1 if regex_search(pattern, text) else 0
    except RegexError:
        return 0  # patterns are checked before a query runs; never fail mid-scan


def _writable(file: Path) -> bool:
    """Whether this process may write ``file`` and create its ``-wal`` and ``-shm`` files beside it.

    ``os.access`` answers for the real user and for read-only mounts (``EROFS``), even for root.
    """
    return os.access(file.parent, os.W_OK) and (not file.exists() or os.access(file, os.W_OK))


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
        # What every connection opens: the file itself, a read-only URI, or "" (a private temporary
        # database: see the module docstring).
        self._target = ""
        self._read_only = False
        if self.file is None:
            self._shared = self._open()
        else:
            self._target = str(self.file)
            try:
                self.file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"Cannot create the store at {self.file.parent}: {exc.strerror}") from exc
            if not _writable(self.file):
                if not self.file.exists():
                    raise StorageError(f"Cannot create the store at {self.file.parent}: the folder is read-only")
                self._open_read_only()
        try:
            with self._translated():
                if self._read_only:
                    self._check_schema()
                else:
                    migrate(self.connection())
        except StorageError:
            self.close()
            raise

    def _check_schema(self) -> None:
        """Refuse a read-only store whose schema this version would have to migrate (a write)."""
        version = self.connection().execute("PRAGMA user_version").fetchone()[0]
        if version < len(MIGRATIONS):
            raise StorageError(
                f"The store at {self.path} was written by an older ragstore (schema {version}, this one reads "
                f"{len(MIGRATIONS)}) and is read-only: open it once with write access to upgrade it"
            )

    @property
    def read_only(self) -> bool:
        """Whether the store was opened read-only (writes raise :class:`StorageError`)."""
        return self._read_only

    def _open_read_only(self) -> None:
        """Switch to a read-only URI that SQLite can read here (see the module docstring)."""
        assert self.file is not None
        self._read_only = True
        logger.warning("The store at %s is read-only: serving reads only (writes are refused)", self.path)
        quoted = urllib.parse.quote(str(self.file))
        self._target = f"file:{quoted}?mode=ro"
        try:
            self.connection().execute("SELECT count(*) FROM sqlite_master").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != _SQLITE_CANTOPEN:
                raise
        self._forget_connection()
        wal = self.file.with_name(self.file.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:  # immutable=1 would ignore these commits
            raise StorageError(
                f"The store at {self.path} is read-only and holds unfinished writes (a non-empty "
                f"{wal.name} without its -shm file); open it once with write access"
            )
        self._target = f"file:{quoted}?immutable=1"

    def _open(self) -> sqlite3.Connection:
        target = self._target
        conn = sqlite3.connect(
            target, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000, uri=target.startswith("file:")
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not target:
            # Rollbacks still work (a failed write stores nothing), with the journal kept in memory: a
            # transaction's journal holds only the pages it changed, and nothing here needs syncing.
            conn.execute("PRAGMA journal_mode = MEMORY")
            conn.execute("PRAGMA synchronous = OFF")
        else:
            conn.execute(f"PRAGMA cache_size = -{_READ_CACHE_KIB}")
        if target and not self._read_only:
            # auto_vacuum only takes effect on a new, empty database file.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        conn.create_function("ragstore_regex", 2, _regex_sql, deterministic=True)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _forget_connection(self) -> None:
        """Close this thread's connection (the next :meth:`connection` opens ``_target`` anew)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            del self._local.conn
            with self._all_lock:
                self._all.remove(conn)
            conn.close()

    def _storage_error(self, code: int) -> StorageError | None:
        """The :class:`StorageError` a SQLite result code stands for, if it means "cannot store".

        The message names the store's folder, never its absolute path: it may travel to a
        remote client.
        """
        name = repr(self.path.name) if self.path is not None else "in memory"
        if code & 0xFF == _SQLITE_FULL:
            return StorageError(f"The disk holding the store {name} is full: the write was rolled back (free some space and retry)")
        if code & 0xFF == _SQLITE_READONLY:
            return StorageError(f"The store {name} is read-only: writes are refused")
        return None

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Raise SQLite's "disk full" and "read-only" failures as :class:`StorageError`."""
        try:
            yield
        except sqlite3.Error as exc:
            translated = self._storage_error(getattr(exc, "sqlite_errorcode", 0))
            if translated is None:
                raise
            raise translated from exc

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for an in-memory store)."""
        if self._closed:
            raise ClosedError("This client has been closed; create a new one")
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.file is not None
            conn = self._open()
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
        # No StorageError translation here: reads write nothing to the store (SQLite's temporary
        # files live in the system's temporary folder), and queries are the hot path.
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
        """A write transaction: committed when the block ends, rolled back on error.

        Raises:
            StorageError: The store is read-only, or the disk filled up (rolled back).

        """
        refused = self._storage_error(_SQLITE_READONLY) if self._read_only else None
        if refused is not None:
            raise refused
        with self._write_lock, self._translated():
            conn = self.connection()
            shared = self._shared is not None
            if not shared:
                conn.execute(f"PRAGMA cache_size = -{_WRITE_CACHE_KIB}")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    # A failed COMMIT (SQLITE_FULL) leaves the transaction open, and SQLite may
                    # already have rolled back after some errors: end it either way, so the
                    # connection is usable for the next write.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if not shared:
                    with contextlib.suppress(sqlite3.Error):  # never hide the write's own outcome
                        conn.execute(f"PRAGMA cache_size = -{_READ_CACHE_KIB}")

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
        if self.file is not None and not self._read_only:
            with self._write_lock, self._best_effort("vacuum"):
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
        if self.file is None or self._read_only:
            return
        with self._write_lock, self._best_effort("reclaim"):
            conn = self.connection()
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if free > max(_MIN_RECLAIM_PAGES, conn.execute("PRAGMA page_count").fetchone()[0] // 4):
                conn.executescript("PRAGMA incremental_vacuum;")

    @contextlib.contextmanager
    def _best_effort(self, what: str) -> Iterator[None]:
        """Log and skip a failed clean-up after a committed write (the write's answer must stay "done").

        A failed step changes nothing (SQLite rolls the statement back), and the free pages stay
        inside the file for later writes to reuse.
        """
        try:
            yield
        except sqlite3.Error as exc:
            if self._storage_error(getattr(exc, "sqlite_errorcode", 0)) is None:
                raise
            logger.warning("Skipped the %s of the store at %s: %s", what, self.path, exc)
            conn = self.connection()
            if conn.in_transaction:  # the error may have come from inside an implicit transaction
                conn.execute("ROLLBACK")

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
