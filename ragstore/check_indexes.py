"""Checking a collection's saved HNSW index files against its records, and rebuilding them.

The files (:mod:`ragstore.local.index_files`) are a cache: a bad one is never fatal, the
next open rebuilds the index from SQLite. A check says so before that costs a slow first
search, and says *why* (:func:`diagnose`): ``meta.json`` unreadable or foreign, its
sequence outside what SQLite can catch up from, a file missing, shorter or longer than
noted, or its XXH3 checksum wrong, the build parameters changed. Files that pass are
loaded and their coverage compared with the records: every record the saved sequence
covers must have its label in the saved labels (and in the graph), and every saved label
must belong to a record, or to one deleted after that sequence (a catch-up drops it).

A check changes nothing, so it loads the files itself: :func:`index_files.read` would also
tidy the folder. A repair builds the index from SQLite (one read transaction) and saves
it as a running store does (new token, ``meta.json`` renamed over: readers see the old
files or the new ones), then removes the files found bad.

Example:
    >>> diagnose(Path("/nonexistent"), "some-id", 2, {}, 0, 0) is None  # nothing saved: nothing wrong
    True

"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from ragstore.check import CheckReport, Finding, describe_collection, find_collection, snapshot
from ragstore.local import index_files
from ragstore.local.catalog import CollectionRow
from ragstore.local.index import VectorIndex
from ragstore.local.index_cache import INDEX_DIRECTORY
from ragstore.local.index_files import BUILD_KEYS, data_paths, digest  # the format's own helpers

__all__ = ["check", "check_leftovers", "diagnose"]

_REBUILD = "rebuild the index from SQLite and save it"
_ATTEMPTS = 2


def diagnose(directory: Path, collection_id: str, dim: int, hnsw: Mapping[str, Any], max_seq: int, min_seq: int) -> str | None:
    """Why the index saved in ``directory`` cannot be loaded; ``None`` if it can, or if nothing is saved.

    The same tests :func:`ragstore.local.index_files.read` makes, each with its reason.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "meta.json").write_text("{")
        ...     diagnose(Path(tmp), "some-id", 2, {}, 0, 0)
        'meta.json is not valid JSON'

    """
    try:
        text = (directory / "meta.json").read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"meta.json cannot be read ({exc.strerror})"
    try:
        meta = json.loads(text)
    except ValueError:
        return "meta.json is not valid JSON"
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict) or not isinstance(meta.get("token"), str):
        return "meta.json is not an index description"
    if meta.get("format") != index_files.INDEX_FORMAT:
        return f"the files have format {meta.get('format')!r}, this ragstore writes {index_files.INDEX_FORMAT}"
    if meta.get("collection_id") != collection_id:
        return f"the files belong to collection {meta.get('collection_id')!r}"
    seq = meta.get("seq")
    if not isinstance(seq, int) or not min_seq <= seq <= max_seq:
        return f"the files' sequence {seq!r} is outside what SQLite can catch up from ({min_seq}..{max_seq})"
    for path in data_paths(directory, meta["token"]):
        expected = meta["files"].get(path.name)
        if not isinstance(expected, dict):
            return f"meta.json does not describe {path.name}"
        if not path.is_file():
            return f"{path.name} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{path.name} has {size} bytes, {expected.get('size')} were saved"
        if digest(path) != expected.get("xxh3"):
            return f"{path.name} fails its XXH3 checksum"
    saved = (meta.get("dim"), *(meta.get(key) for key in BUILD_KEYS))
    wanted = (dim, *(hnsw.get(key) for key in BUILD_KEYS))
    if saved != wanted:
        return f"the files were built with (dimension, space, max_neighbors, ef_construction) {saved}, the collection has {wanted}"
    return None


def check(conn: sqlite3.Connection, store: Path, collection_id: uuid.UUID, report: CheckReport) -> None:
    """Check the saved index of a collection; a problem found gets a rebuild as its fix."""
    directory = store / INDEX_DIRECTORY / str(collection_id)
    # A process may save new files while they are read (and remove its old ones at once):
    # a problem counts only if it is there again a moment later.
    for _ in range(_ATTEMPTS):
        with snapshot(conn):  # the records as of one moment (files saved after it began may be newer: the second look)
            row = find_collection(conn, collection_id)
            if row is None or row.dimension is None:
                return  # gone, or no vector yet: nothing to index
            where = f"{describe_collection(row)}: vector index"
            reason = diagnose(directory, str(row.id), row.dimension, row.hnsw.as_dict(), row.last_seq, row.tombstone_floor)
            saved = (directory / "meta.json").exists()
            if reason is None and saved:
                try:
                    reason = _coverage(conn, directory, row)
                except (OSError, ValueError, KeyError, RuntimeError) as exc:  # replaced by a save since diagnose() read them
                    reason = f"the files cannot be loaded ({exc})"
        if reason is None:
            break
    if reason is None:
        report.note(f"{where}: ok (checksums, and coverage of the records at its sequence)" if saved else f"{where}: not saved yet")
        return
    report.add(Finding(where, reason, _REBUILD, fix=lambda: _rebuild(conn, directory, collection_id)))


def _coverage(conn: sqlite3.Connection, directory: Path, row: CollectionRow) -> str | None:
    """Whether the intact files hold exactly the records their sequence covers (``None``), or what differs."""
    meta = json.loads((directory / "meta.json").read_text())
    seq = meta["seq"]
    graph_path, labels_path = data_paths(directory, meta["token"])
    saved = set(np.load(labels_path, allow_pickle=False).tolist())
    graph = hnswlib.Index(space=meta["space"], dim=row.dimension)
    graph.load_index(str(graph_path), max_elements=0, allow_replace_deleted=True)
    in_graph = set(graph.get_ids_list())
    covered = {label for (label,) in conn.execute("SELECT label FROM records WHERE collection_pk = ? AND seq <= ?", (row.pk, seq))}
    current = {label for (label,) in conn.execute("SELECT label FROM records WHERE collection_pk = ?", (row.pk,))}
    deleted_since = {label for (label,) in conn.execute("SELECT label FROM tombstones WHERE collection_pk = ? AND seq > ?", (row.pk, seq))}
    missing = covered - saved
    foreign = saved - current - deleted_since
    absent = saved - in_graph
    if missing or foreign or absent:
        return (
            f"the files (sequence {seq}) lack {len(missing)} records they should hold, hold {len(foreign)} labels of no record, "
            f"and {len(absent)} of their labels are not in the graph"
        )
    return None


def _rebuild(conn: sqlite3.Connection, directory: Path, collection_id: uuid.UUID) -> bool:
    """Build the index from SQLite as one read transaction sees it, save it, and remove the files found bad."""
    before = _token(directory)
    with snapshot(conn):
        row = find_collection(conn, collection_id)  # a writer may have moved on since the check
        if row is None or row.dimension is None:
            return True  # deleted meanwhile: nothing left to repair
        index = VectorIndex.empty(row.dimension, row.hnsw)
        index.catch_up(conn, row.pk, row.last_seq, num_threads=row.hnsw.num_threads)
    index.save(directory, str(collection_id))
    if before is not None and before != _token(directory):
        for path in directory.iterdir():
            if before in path.name:
                with contextlib.suppress(OSError):
                    path.unlink()
    return True


def _token(directory: Path) -> str | None:
    """The token ``meta.json`` names, if it can be read."""
    try:
        token = json.loads((directory / "meta.json").read_text()).get("token")
    except (OSError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None


def check_leftovers(conn: sqlite3.Connection, store: Path, report: CheckReport) -> None:
    """Index folders of collections that are gone (a delete that could not remove them), and files old saves left.

    Files of superseded or crashed saves go by themselves at the next save or load, so they
    are counted, not reported as problems.
    """
    root = store / INDEX_DIRECTORY
    if not root.is_dir():
        return
    # Listed before the collections are read: a folder is made after its collection's row is
    # committed, so one listed here belongs to a row read below, unless that collection is gone.
    folders = sorted(path for path in root.iterdir() if path.is_dir())
    known = _collection_ids(conn)
    leftovers = 0
    for folder in folders:
        if folder.name not in known:
            fix = functools.partial(_remove, conn, folder)
            report.add(Finding(f"index folder {folder.name}", "belongs to no collection", "remove it", fix=fix))
            continue
        token = _token(folder)
        if token is not None:
            leftovers += sum(token not in path.name and path.name != "meta.json" for path in folder.iterdir())
    if leftovers:
        report.note(f"index files: {leftovers} left by superseded or interrupted saves (removed by the next save or load)")


def _collection_ids(conn: sqlite3.Connection) -> set[str]:
    return {id_ for (id_,) in conn.execute("SELECT id FROM collections")}


def _remove(conn: sqlite3.Connection, folder: Path) -> bool:
    """Remove the index folder of a deleted collection (unless a collection with its id exists by now)."""
    if folder.name in _collection_ids(conn):
        return True
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()
