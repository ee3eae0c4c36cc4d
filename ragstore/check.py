"""Checking a store, and repairing what is derived from its records (``ragstore check PATH [--repair]``).

SQLite's tables ``collections``, ``records`` and ``tombstones`` are the truth; everything else
is derived from them and can be rebuilt: the saved HNSW index files
(:mod:`ragstore.check_indexes`), the full-text index ``documents_fts`` and the sparse
values ``sparse_terms`` (:mod:`ragstore.check_derived`). :func:`check_store` verifies

* SQLite itself (``PRAGMA integrity_check`` and ``foreign_key_check``): damage there is
  in the truth, so ``--repair`` cannot mend it (restore a backup);
* each collection's bookkeeping (no record newer than the collection's ``last_seq``, every
  vector as long as the collection's dimension), with its counts;
* each derived structure against the records it comes from,

and lists every problem with what ``--repair`` does about it. A repair rebuilds the derived
state in place, as a running writer would (short write transactions, index files replaced
atomically), so a server may keep running meanwhile; it never changes a record.

Example:
    >>> import tempfile, ragstore
    >>> path = tempfile.mkdtemp()
    >>> client = ragstore.PersistentClient(path)
    >>> _ = client.create_collection("docs").add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["apples"])
    >>> client.close()
    >>> report = check_store(path)
    >>> report.exit_status, report.problems
    (0, [])

"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from ragstore.errors import NotFoundError, StorageError
from ragstore.local import catalog
from ragstore.local.catalog import CollectionRow
from ragstore.local.database import BUSY_TIMEOUT_MS, DATABASE_FILENAME
from ragstore.local.schema import MIGRATIONS

__all__ = ["CheckReport", "Finding", "check_store", "describe_collection", "find_collection", "snapshot"]

_INTEGRITY_LINES = 20  # integrity_check stops after this many errors: enough to tell damage from a mishap


@dataclasses.dataclass
class Finding:
    """One thing a check found wrong.

    Attributes:
        where: What it concerns (``sqlite``, or ``collection NAME: index``...).
        problem: What is wrong.
        repair: What ``--repair`` does about it; ``None`` when it cannot (damage to the records themselves).
        repaired: Whether this run repaired it.
        fix: What repairs it (answers whether it worked), run by :func:`check_store` after every check.

    Example:
        >>> Finding("sqlite", "page 3 is never used", None).line()
        'sqlite: page 3 is never used (not repairable by check: restore a backup)'

    """

    where: str
    problem: str
    repair: str | None
    repaired: bool = False
    fix: Callable[[], bool] | None = dataclasses.field(default=None, repr=False, compare=False)

    def line(self) -> str:
        """The finding as one line of the report."""
        if self.repair is None:
            return f"{self.where}: {self.problem} (not repairable by check: restore a backup)"
        return f"{self.where}: {self.problem} ({'repaired: ' if self.repaired else '--repair: '}{self.repair})"


@dataclasses.dataclass
class CheckReport:
    """What :func:`check_store` found: problems, and what was checked (with counts).

    Attributes:
        path: The store checked.
        checked: One line per thing checked and found sound, or counted.
        problems: Everything found wrong.
        repair: Whether this run repaired what it could.

    Example:
        >>> report = CheckReport("./data")
        >>> report.note("sqlite: ok")
        >>> report.add(Finding("x", "bad", "rebuilt"))
        >>> report.exit_status, report.lines()[-1]
        (1, '1 problem found, 1 repairable: run again with --repair')

    """

    path: str
    checked: list[str] = dataclasses.field(default_factory=list)
    problems: list[Finding] = dataclasses.field(default_factory=list)
    repair: bool = False
    _order: list[str | Finding] = dataclasses.field(default_factory=list, repr=False)

    def note(self, line: str) -> None:
        """Record something checked and found sound (or counted)."""
        self.checked.append(line)
        self._order.append(line)

    def add(self, finding: Finding) -> None:
        """Record a problem (the caller may mark it repaired later)."""
        self.problems.append(finding)
        self._order.append(finding)

    @property
    def exit_status(self) -> int:
        """0 if the store is sound, 1 if problems were found (repaired or not)."""
        return 1 if self.problems else 0

    def lines(self) -> list[str]:
        """The report as the command prints it: what is sound, each problem, and a summary."""
        lines = [entry if isinstance(entry, str) else entry.line() for entry in self._order]
        if not self.problems:
            return [*lines, "No problems found."]
        count = len(self.problems)
        found = f"{count} problem{'s' if count != 1 else ''} found"
        repaired = sum(finding.repaired for finding in self.problems)
        repairable = sum(finding.repair is not None for finding in self.problems)
        unfixable = count - repairable
        if self.repair:
            summary = f"{found}, {repaired} repaired"
        else:
            summary = f"{found}, {repairable} repairable" + (": run again with --repair" if repairable else "")
        return [*lines, summary + (f"; {unfixable} not repairable (restore a backup)" if unfixable else "")]


def check_store(path: str | Path, repair: bool = False) -> CheckReport:
    """Check the store at ``path``; with ``repair``, also rebuild what is derived and found wrong.

    Args:
        path: The store's directory (the one holding ``ragstore.sqlite3``).
        repair: Rebuild the derived state found wrong (index files, text index, sparse values).

    Returns:
        The report; its :attr:`~CheckReport.exit_status` is 0 for a sound store, 1 otherwise.

    Raises:
        StorageError: The store cannot be checked: no store at ``path``, a file that is not
            SQLite, or a schema this version does not know.

    Example:
        >>> check_store("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ragstore.errors.StorageError: Cannot check /nonexistent: no ragstore store there (no ragstore.sqlite3)

    """
    from ragstore import check_derived, check_indexes  # they import this module's Finding

    store = Path(path)
    conn = _connect(store, repair)
    report = CheckReport(str(path), repair=repair)
    try:
        _check_sqlite(conn, report)
        with snapshot(conn):
            ids = [row.id for row in _collections(conn)]
        for collection_id in ids:
            with snapshot(conn):  # one collection's tables as of one moment, whatever writers do meanwhile
                row = find_collection(conn, collection_id)
                if row is None:
                    continue  # deleted since
                report.note(f"{describe_collection(row)}: {_counts(conn, row)}")
                _check_bookkeeping(conn, row, report)
                check_derived.check_sparse(conn, row, report)
            check_indexes.check(conn, store, collection_id, report)
        check_derived.check_text(conn, report)
        check_indexes.check_leftovers(conn, store, report)
        if repair:  # after every check: a repair writes, and needs no read transaction open
            for finding in report.problems:
                if finding.fix is not None:
                    finding.repaired = finding.fix()
    finally:
        conn.close()
    return report


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: every statement inside sees the same committed state (WAL), whatever writers do meanwhile.

    Example:
        >>> conn = sqlite3.connect(":memory:", isolation_level=None)
        >>> with snapshot(conn):
        ...     conn.in_transaction
        True

    """
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _connect(store: Path, repair: bool) -> sqlite3.Connection:
    """A connection to the store's database: read-only for a check, writable for a repair; never creates one."""
    file = store / DATABASE_FILENAME
    if not file.is_file():
        raise StorageError(f"Cannot check {store}: no ragstore store there (no {DATABASE_FILENAME})")
    # Writable when it may be: FTS5's integrity-check is an INSERT (rolled back), refused on a read-only connection.
    mode = "rw" if repair or (os.access(file, os.W_OK) and os.access(store, os.W_OK)) else "ro"
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"Cannot check {store}: {file.name} is not a readable SQLite database ({exc})") from None
    if version != len(MIGRATIONS):
        conn.close()
        newer = version > len(MIGRATIONS)
        hint = "a newer ragstore made it" if newer else "open it once with this ragstore (any command) to migrate it"
        raise StorageError(f"Cannot check {store}: its schema is version {version}, this ragstore knows {len(MIGRATIONS)} ({hint})")
    return conn


def _check_sqlite(conn: sqlite3.Connection, report: CheckReport) -> None:
    """SQLite's own checks: every page, index and constraint, and every reference between tables."""
    lines = [row[0] for row in conn.execute(f"PRAGMA integrity_check({_INTEGRITY_LINES})")]
    if lines != ["ok"]:
        report.add(Finding("sqlite", "integrity_check: " + "; ".join(lines), None))
    dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
    if dangling:
        tables = sorted({row[0] for row in dangling})
        report.add(Finding("sqlite", f"{len(dangling)} rows refer to rows that are gone (in {', '.join(tables)})", None))
    if lines == ["ok"] and not dangling:
        report.note("sqlite: ok (integrity_check, foreign_key_check)")


def _collections(conn: sqlite3.Connection) -> list[CollectionRow]:
    ids = [uuid.UUID(id_) for (id_,) in conn.execute("SELECT id FROM collections ORDER BY pk")]
    return [catalog.get_by_id(conn, id_) for id_ in ids]


def find_collection(conn: sqlite3.Connection, collection_id: uuid.UUID) -> CollectionRow | None:
    """The collection as ``conn`` sees it now; ``None`` if it is gone (another process deleted it meanwhile).

    Example:
        >>> from ragstore.local.database import Database
        >>> find_collection(Database(None).connection(), uuid.uuid4()) is None
        True

    """
    try:
        return catalog.get_by_id(conn, collection_id)
    except NotFoundError:
        return None


def describe_collection(row: CollectionRow) -> str:
    """How the report names a collection: its name, and its tenant and database unless the defaults.

    Example:
        >>> import types
        >>> describe_collection(types.SimpleNamespace(name="docs", tenant="acme", database="prod"))
        'collection acme/prod/docs'

    """
    if (row.tenant, row.database) == ("default_tenant", "default_database"):
        return f"collection {row.name}"
    return f"collection {row.tenant}/{row.database}/{row.name}"


def _counts(conn: sqlite3.Connection, row: CollectionRow) -> str:
    records, documents = conn.execute("SELECT count(*), count(document) FROM records WHERE collection_pk = ?", (row.pk,)).fetchone()
    tombstones = conn.execute("SELECT count(*) FROM tombstones WHERE collection_pk = ?", (row.pk,)).fetchone()[0]
    dimension = row.dimension if row.dimension is not None else "none yet"
    return f"{records} records, {documents} documents, {tombstones} tombstones, dimension {dimension}, sequence {row.last_seq}"


def _check_bookkeeping(conn: sqlite3.Connection, row: CollectionRow, report: CheckReport) -> None:
    """What the mirrors rely on: no record newer than ``last_seq`` (it would never be indexed), vectors of the right length."""
    where = describe_collection(row)
    newer = conn.execute("SELECT count(*) FROM records WHERE collection_pk = ? AND seq > ?", (row.pk, row.last_seq)).fetchone()[0]
    if newer:
        report.add(Finding(where, f"{newer} records are newer than the collection's sequence {row.last_seq}", None))
    if row.dimension is not None:
        wrong = conn.execute(
            "SELECT count(*) FROM records WHERE collection_pk = ? AND length(embedding) != ?", (row.pk, 4 * row.dimension)
        ).fetchone()[0]
        if wrong:
            report.add(Finding(where, f"{wrong} records' vectors are not {row.dimension} float32 long", None))
