"""Online backup and restore of a local store: a consistent snapshot while writers keep writing.

A store is its SQLite file (the truth) and, under ``indexes/``, each collection's saved HNSW
index (a cache of SQLite, see :mod:`ragstore.local.index_files`). A backup is itself a store
folder, so it can be opened as it is; :func:`restore` puts it in place of another.

How :func:`backup` stays consistent while other processes write:

1. The index files are copied first. Each collection's ``meta.json`` is read, the files it
   names are copied, and their sizes and XXH3 checksums are checked against it; a save that
   replaced them meanwhile (saves never overwrite: each has a new token) is caught by the
   check, and the copy is tried again, then left out. ``meta.json`` is written last. So a
   backup holds, for each collection, one whole saved index or none, never a torn mix.
2. SQLite is copied with its online backup API in one step (``pages=-1``): one read
   transaction, so the copy is the database as of one commit, and in WAL mode writers are not
   held up. (A step-by-step copy restarts whenever another connection writes, so under a
   steady writer it might never end.)

The SQLite snapshot is taken after the index files, so an index copy never claims a write the
snapshot lacks: on open, the copied index catches up from SQLite (or, if SQLite forgot the
deletes it would need, is rebuilt from it). Every write acknowledged before :func:`backup` was
called is in the snapshot. Index folders of collections the snapshot does not hold are dropped.

Both calls build into a temporary folder beside the target and rename it into place at the end,
so a failure (a full disk, an unreadable file) leaves no half-made backup or store behind.

Restoring replaces a store's files, so it refuses a store that a process has open (a server
still holding the old files would not see the restored ones): stop it first. (Linux tells;
elsewhere that check is skipped.)

Example:
    >>> import tempfile
    >>> import ragstore
    >>> tmp = Path(tempfile.mkdtemp())
    >>> with ragstore.PersistentClient(path=tmp / "store") as client:
    ...     client.create_collection("docs").add(ids=["a"], embeddings=[[1.0, 2.0]])
    >>> backup(tmp / "store", tmp / "backup").collections
    1
    >>> _ = restore(tmp / "backup", tmp / "restored")
    >>> with ragstore.PersistentClient(path=tmp / "restored") as client:
    ...     client.get_collection("docs").get()["ids"]
    ['a']

"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import shutil
import sqlite3
import struct
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from ragstore._version import __version__
from ragstore.errors import InvalidArgumentError, StorageError
from ragstore.local.database import DATABASE_FILENAME
from ragstore.local.index_cache import INDEX_DIRECTORY
from ragstore.local.index_files import digest

MANIFEST_FILENAME = "ragstore-backup.json"
_SQLITE_FULL = 13  # SQLite's primary result codes: a full disk, a file it cannot open
_SQLITE_CANTOPEN = 14
_INDEX_COPY_ATTEMPTS = 3  # a save lands between reading meta.json and copying its files: rarely twice in a row


@dataclasses.dataclass(frozen=True)
class BackupReport:
    """What :func:`backup` or :func:`restore` wrote.

    Attributes:
        path: The folder written (the backup, or the restored store).
        collections: Collections in the snapshot.
        records: Records in the snapshot.
        indexes: Collections whose saved index was copied (the others are built from SQLite on first use).
        seconds: How long it took.

    Example:
        >>> BackupReport(Path("b"), collections=2, records=10, indexes=1, seconds=0.5).indexes
        1

    """

    path: Path
    collections: int
    records: int
    indexes: int
    seconds: float


def backup(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> BackupReport:
    """Copy the store at ``path`` into the new folder ``dest``, consistently, while it stays in use.

    Args:
        path: The store's folder (it holds ``ragstore.sqlite3``).
        dest: Where the backup goes: a folder that does not exist yet, or an empty one.

    Raises:
        InvalidArgumentError: ``path`` holds no store, or ``dest`` is not empty.
        StorageError: The backup could not be written (a full disk), or the store fails SQLite's integrity
            check; nothing is left at ``dest``.

    Example:
        >>> import tempfile
        >>> backup(tempfile.mkdtemp(), tempfile.mkdtemp() + "/b")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: No ragstore store at ... (it has no ragstore.sqlite3)

    """
    started = time.monotonic()
    source, target = Path(path), Path(dest)
    _require_store(source)
    _require_empty(target, "Backup destination", hint="choose a new folder")
    work = _work_folder(target, "backup")
    try:
        with _as_storage_error(f"Could not write the backup at {target}"):
            indexes = _copy_indexes(source / INDEX_DIRECTORY, work / INDEX_DIRECTORY)
            _copy_database(source / DATABASE_FILENAME, work / DATABASE_FILENAME)
            try:
                collections, records = _verify(work / DATABASE_FILENAME)
            except sqlite3.DatabaseError as exc:  # the store itself is damaged: a backup of it would be too
                raise StorageError(f"The store at {source} is damaged ({exc}): no backup was made") from exc
            indexes = _drop_unknown_indexes(work, indexes)
            manifest = {"format": 1, "ragstore": __version__, "created": time.time(), "collections": collections, "records": records}
            (work / MANIFEST_FILENAME).write_text(json.dumps(manifest))
            _publish(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(target, collections, records, len(indexes), time.monotonic() - started)


def restore(source: str | os.PathLike[str], path: str | os.PathLike[str], force: bool = False) -> BackupReport:
    """Put the backup at ``source`` in place as the store at ``path``.

    Stop every process using ``path`` first. The backup is checked before anything at ``path`` is
    touched; the new store is built beside ``path`` and renamed into place.

    Args:
        source: A folder :func:`backup` wrote (any store folder will do).
        path: Where the store goes.
        force: Replace the store at ``path``; without it a non-empty ``path`` is refused. A folder
            that holds other files but no store is refused even so.

    Raises:
        InvalidArgumentError: ``source`` holds no store or a damaged one, or ``path`` is not empty and ``force`` is false.
        StorageError: The store could not be written (a full disk); ``path`` is left as it was.

    Example:
        >>> import tempfile
        >>> restore(tempfile.mkdtemp(), tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: No ragstore store at ... (it has no ragstore.sqlite3)

    """
    started = time.monotonic()
    backup_dir, target = Path(source), Path(path)
    _require_store(backup_dir)
    if target.resolve() == backup_dir.resolve():
        raise InvalidArgumentError(f"Cannot restore {backup_dir} onto itself")
    if not force:
        _require_empty(target, "Restore target", hint="pass --force (force=True) to replace it")
    elif target.exists() and not target.is_dir():
        raise InvalidArgumentError(f"Restore target {target} is a file, not a store folder")
    elif target.is_dir() and any(target.iterdir()) and not (target / DATABASE_FILENAME).is_file():
        # --force replaces a store, never a folder of other files (a mistyped PATH such as a home folder).
        raise InvalidArgumentError(f"Restore target {target} holds files but no ragstore store: not replacing it, even with --force")
    if _open_elsewhere(target / DATABASE_FILENAME):
        raise InvalidArgumentError(f"The store at {target} is open in a running process (a server or a client): stop it before restoring")
    work = _work_folder(target, "restore")
    try:
        with _as_storage_error(f"Could not restore into {target}"):
            _copy_database(backup_dir / DATABASE_FILENAME, work / DATABASE_FILENAME)
            try:
                collections, records = _verify(work / DATABASE_FILENAME)
            except sqlite3.DatabaseError as exc:
                raise InvalidArgumentError(f"The backup at {backup_dir} is damaged ({exc}); {target} was not touched") from exc
            if (backup_dir / INDEX_DIRECTORY).is_dir():
                shutil.copytree(backup_dir / INDEX_DIRECTORY, work / INDEX_DIRECTORY)
            indexes = _drop_unknown_indexes(work, _index_folders(work / INDEX_DIRECTORY))
            _publish(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(target, collections, records, len(indexes), time.monotonic() - started)


# ----------------------------------------------------------------------------- checks


def _require_store(folder: Path) -> None:
    if not (folder / DATABASE_FILENAME).is_file():
        raise InvalidArgumentError(f"No ragstore store at {folder} (it has no {DATABASE_FILENAME})")


def _require_empty(folder: Path, what: str, hint: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidArgumentError(f"{what} {folder} is not empty: {hint}")


@contextlib.contextmanager
def _as_storage_error(what: str) -> Iterator[None]:
    """Report a failed write (``ENOSPC``, ``SQLITE_FULL``, a read-only folder) as one :class:`StorageError`."""
    try:
        yield
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StorageError(f"{what}: {reason}; nothing was left behind") from exc
    except sqlite3.OperationalError as exc:
        reason = "the disk is full" if getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL else str(exc)
        raise StorageError(f"{what}: {reason}; nothing was left behind") from exc


def _open_elsewhere(database: Path) -> bool:
    """Whether a connection (of any process, this one included) has the WAL database open.

    Every SQLite connection to a WAL database holds a shared lock on the "DMS" byte of its ``-shm``
    file (offset 128) while it is open. An open-file-description lock query (``F_OFD_GETLK``, Linux)
    asks whether an exclusive lock there would conflict, without taking one: a POSIX lock taken and
    released here would drop this process's own SQLite locks on the file. Elsewhere: ``False``.
    """
    query = getattr(fcntl, "F_OFD_GETLK", None) if fcntl is not None else None
    shm = database.with_name(database.name + "-shm")
    if query is None or not shm.is_file():
        return False
    layout = "hhxxxxqqixxxx"  # struct flock: l_type, l_whence, l_start, l_len, l_pid (Linux, 64-bit off_t)
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return False
    try:
        answer = fcntl.fcntl(fd, query, struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0))
    except OSError:
        return False
    finally:
        os.close(fd)
    return bool(struct.unpack(layout, answer)[0] != fcntl.F_UNLCK)


# ----------------------------------------------------------------------------- copying


def _work_folder(target: Path, what: str) -> Path:
    """A new, hidden folder beside ``target`` (same file system, so the final rename is atomic)."""
    parent = target.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        work = parent / f".{target.name}.{what}-{uuid.uuid4().hex[:8]}"
        work.mkdir()
    except OSError as exc:
        raise StorageError(f"Cannot write beside {target}: {exc.strerror or exc}") from exc
    return work


def _copy_database(source: Path, dest: Path) -> None:
    """Copy a live SQLite database as of one commit (see the module docstring)."""
    with contextlib.closing(_open_source(source)) as src, contextlib.closing(sqlite3.connect(dest)) as dst:
        src.backup(dst, pages=-1)
        # A backup is read as it is, possibly from a read-only medium: keep no -wal beside it.
        dst.execute("PRAGMA journal_mode = DELETE")
    with dest.open("rb") as handle:
        os.fsync(handle.fileno())


def _open_source(database: Path) -> sqlite3.Connection:
    """A read-only connection to ``database`` (a backup never writes to the store it copies).

    As :class:`ragstore.local.database.Database` does for a read-only store: ``mode=ro`` needs the
    ``-shm`` file or a folder to create it in; without either, a store whose ``-wal`` is missing or
    empty holds every commit in its main file and is read with ``immutable=1``.
    """
    quoted = urllib.parse.quote(str(database))
    try:
        conn = sqlite3.connect(f"file:{quoted}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout = 120000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        wal = database.with_name(database.name + "-wal")
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF != _SQLITE_CANTOPEN or (wal.exists() and wal.stat().st_size > 0):
            raise StorageError(f"Cannot read the store at {database.parent}: {exc}") from exc
    return sqlite3.connect(f"file:{quoted}?immutable=1", uri=True)


def _verify(database: Path) -> tuple[int, int]:
    """Check the copy's integrity; its collection and record counts."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(problems[:3]))
        collections = conn.execute("SELECT count(*) FROM collections").fetchone()[0]
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    return collections, records


def _copy_indexes(source: Path, dest: Path) -> list[str]:
    """Copy each collection's saved index whole, or not at all; the collection ids copied."""
    copied = []
    for folder in _index_folders(source):
        for _ in range(_INDEX_COPY_ATTEMPTS):
            if _copy_index(source / folder, dest / folder):
                copied.append(folder)
                break
    return copied


def _copy_index(source: Path, dest: Path) -> bool:
    """Copy the files ``meta.json`` names and check them against it; ``False`` if they changed meanwhile."""
    try:
        meta_text = (source / "meta.json").read_text()
        meta = json.loads(meta_text)
        files = meta["files"]
        dest.mkdir(parents=True, exist_ok=True)
        for name, expected in files.items():
            shutil.copyfile(source / name, dest / name)
            if (dest / name).stat().st_size != expected["size"] or digest(dest / name) != expected["xxh3"]:
                raise ValueError(f"{name} changed while it was copied")
        # The note that the graph was checked (orphans.write_record): optional, and checked on load.
        for note in source.glob(f"*{meta['token']}.json"):
            shutil.copyfile(note, dest / note.name)
    except (ValueError, KeyError, TypeError, FileNotFoundError):  # a save replaced the files, or none is whole
        shutil.rmtree(dest, ignore_errors=True)
        return False
    (dest / "meta.json").write_text(meta_text)  # last, as index_files.write publishes
    return True


def _index_folders(folder: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    except FileNotFoundError:
        return []


def _drop_unknown_indexes(store: Path, indexes: list[str]) -> list[str]:
    """Remove index folders of collections the database does not hold (deleted before the snapshot)."""
    with contextlib.closing(sqlite3.connect(store / DATABASE_FILENAME)) as conn:
        known = {row[0] for row in conn.execute("SELECT id FROM collections")}
    kept = []
    for folder in indexes:
        if folder in known:
            kept.append(folder)
        else:
            shutil.rmtree(store / INDEX_DIRECTORY / folder, ignore_errors=True)
    return kept


def _publish(work: Path, target: Path) -> None:
    """Rename ``work`` into place at ``target``; what ``target`` held goes only once the new folder is there."""
    replaced = None
    if target.exists():
        replaced = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
        os.replace(target, replaced)
    try:
        os.replace(work, target)
    except BaseException:
        if replaced is not None:
            os.replace(replaced, target)
        raise
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)
