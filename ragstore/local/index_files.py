"""A collection's saved HNSW index: the three files, written atomically and loaded only when intact.

The index is a cache of SQLite (see :mod:`ragstore.local.index`), so its files
only save rebuilding it. In the collection's folder they are:

* ``index-<token>.bin``: the hnswlib graph;
* ``labels-<token>.npy``: the live labels (the graph also holds deleted ones);
* ``meta.json``: the format, the collection, the build parameters, the sequence
  the graph has applied, the token, and each file's size and XXH3 checksum (64 bits;
  read through a memory map it costs 17 ms for a 180 MB graph, where CRC32 cost 100,
  and opening a store is what users wait for).

The token is new for every save, so a save never overwrites the files a reader
may be loading. :func:`write` writes the two data files and a temporary
``meta.json``, then publishes them by renaming it over ``meta.json`` (atomic),
so a crashed process leaves either the old index or the new one. :func:`read`
checks every field, size and checksum, and answers ``None`` for anything
missing, stale, torn or foreign: the caller then rebuilds from SQLite, so a bad
file never makes a collection unreadable.

A save that fails (disk full, read-only folder) raises ``OSError`` and removes
what it had written, so a full disk is not left fuller: ``meta.json`` still
names the previous, intact files. hnswlib reports no write errors (a full disk
leaves a short graph file, a read-only folder none at all), so :func:`write`
compares the file with the size hnswlib says it must have. Files that a crashed
or failed save of any process left behind go at the next successful save or load
(:func:`remove_stale`).

Nothing here is fsynced. SQLite holds every vector durably, and the checksums catch
whatever a power cut leaves half-written (the rename may reach the disk before the
data), so the worst a lost cache costs is a rebuild. Syncing ~200 MB at every save
cost ingestion more than the rebuild it might spare.

Example:
    >>> INDEX_FORMAT
    2

"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import mmap
import os
import time
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import xxhash

INDEX_FORMAT = 2  # 2: XXH3 checksums (1 had CRC32; its files are rebuilt once)
# Another process may still be loading files it found a moment ago; its files go only once
# they are this old (our own superseded files go at once: no reader of ours still wants them).
_STALE_FILE_SECONDS = 60.0
BUILD_KEYS = ("space", "max_neighbors", "ef_construction")
_DIGEST_WINDOW = 16 * 1024 * 1024  # a multiple of the page size, as mmap offsets must be


@dataclasses.dataclass(frozen=True)
class SavedIndex:
    """An index read back by :func:`read`.

    Attributes:
        graph: The ``hnswlib.Index``, deleted points still marked deleted.
        labels: The live labels.
        seq: The collection sequence the graph has applied.
        token: The token of the files it came from (see :func:`remove_stale`).

    Example:
        >>> SavedIndex(graph=None, labels={1}, seq=3, token="3-1-ab").seq
        3

    """

    graph: Any
    labels: set[int]
    seq: int
    token: str


def write(directory: Path, collection_id: str, graph: Any, labels: Collection[int], dim: int, hnsw: Mapping[str, Any], seq: int) -> str:
    """Save ``graph`` and ``labels`` into ``directory`` atomically; returns the new files' token.

    The caller keeps the graph from changing meanwhile and, afterwards, removes the files
    this save superseded (:func:`remove_stale`).

    Args:
        directory: The collection's index folder (created if missing).
        collection_id: The collection the files belong to.
        graph: The ``hnswlib.Index``.
        labels: The live labels.
        dim: The vectors' dimension.
        hnsw: The build parameters (``space``, ``max_neighbors``, ``ef_construction``).
        seq: The collection sequence the graph has applied.

    Example:
        >>> import tempfile
        >>> graph = hnswlib.Index(space="l2", dim=2)
        >>> graph.init_index(max_elements=8, ef_construction=100, M=16)
        >>> graph.add_items(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [1, 2])
        >>> hnsw = {"space": "l2", "max_neighbors": 16, "ef_construction": 100}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     token = write(Path(tmp), "some-collection", graph, {1, 2}, 2, hnsw, seq=5)
        ...     saved = read(Path(tmp), "some-collection", 2, hnsw, max_seq=5, min_seq=0)
        >>> (saved.labels, saved.seq, saved.token == token)
        ({1, 2}, 5, True)

    """
    directory.mkdir(parents=True, exist_ok=True)
    token = f"{seq}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    index_path, labels_path = data_paths(directory, token)
    tmp = directory / f"meta.json.{token}.tmp"
    try:
        graph.save_index(str(index_path))
        expected = graph.index_file_size()
        written = index_path.stat().st_size if index_path.exists() else 0
        if written != expected:  # hnswlib's ofstream swallows ENOSPC and EROFS
            raise OSError(errno.EIO, f"the graph file is incomplete ({written} of {expected} bytes written)")
        np.save(labels_path, np.fromiter(labels, dtype=np.int64, count=len(labels)))
        meta = {
            "format": INDEX_FORMAT,
            "collection_id": collection_id,
            "dim": dim,
            **{key: hnsw[key] for key in BUILD_KEYS},
            "seq": seq,
            "token": token,
            "files": {p.name: {"size": p.stat().st_size, "xxh3": digest(p)} for p in (index_path, labels_path)},
        }
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, directory / "meta.json")  # the commit point: from here on readers see the new files
    except BaseException:
        for path in (index_path, labels_path, tmp):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise
    return token


def read(directory: Path, collection_id: str, dim: int, hnsw: Mapping[str, Any], max_seq: int, min_seq: int) -> SavedIndex | None:
    """The index saved in ``directory`` if it is intact and fits; ``None`` otherwise.

    A successful read also removes old files no save names any more (:func:`remove_stale`).

    Args:
        directory: The collection's index folder.
        collection_id: The collection the files must belong to.
        dim: The collection's dimension.
        hnsw: The collection's HNSW configuration (the build parameters must match).
        max_seq: The newest sequence in SQLite (files claiming more are foreign).
        min_seq: The tombstone floor (files older than it cannot catch up).

    Example:
        >>> read(Path("/nonexistent"), "some-collection", 2, {"space": "l2"}, max_seq=0, min_seq=0) is None
        True

    """
    try:
        meta = json.loads((directory / "meta.json").read_text())
        if (
            not isinstance(meta, dict)  # valid JSON, but not what write() writes
            or meta.get("format") != INDEX_FORMAT
            or meta.get("collection_id") != collection_id
            or not isinstance(meta.get("seq"), int)
            or not min_seq <= meta["seq"] <= max_seq
        ):
            return None
        token = meta["token"]
        index_path, labels_path = data_paths(directory, token)
        for path in (index_path, labels_path):
            expected = meta["files"][path.name]
            if path.stat().st_size != expected["size"] or digest(path) != expected["xxh3"]:
                return None
        if (meta["dim"], *(meta[key] for key in BUILD_KEYS)) != (dim, *(hnsw[key] for key in BUILD_KEYS)):
            return None
        graph = hnswlib.Index(space=meta["space"], dim=dim)
        graph.load_index(str(index_path), max_elements=0, allow_replace_deleted=True)
        labels = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None
    remove_stale(directory, keep=token, mine=None)  # what failed or crashed saves left behind
    return SavedIndex(graph, set(labels.tolist()), meta["seq"], token)


def remove_stale(directory: Path, keep: str, mine: str | None) -> None:
    """Remove superseded index files: ours at once, other processes' once they are old.

    "Other processes' files" include what a crashed or failed save left behind (a
    partial graph, a ``meta.json.*.tmp``). Failures are ignored: a file that stays is
    tried again at the next save or load.

    Args:
        directory: The collection's index folder.
        keep: The token of the files ``meta.json`` names now.
        mine: The token of this process's previous save, if any.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     for name in ("index-1-a.bin", "index-2-b.bin", "meta.json"):
        ...         _ = (Path(tmp) / name).write_text("")
        ...     remove_stale(Path(tmp), keep="2-b", mine="1-a")
        ...     sorted(p.name for p in Path(tmp).iterdir())
        ['index-2-b.bin', 'meta.json']

    """
    now = time.time()
    try:
        paths = list(directory.iterdir())
    except OSError:
        return
    for path in paths:
        name = path.name
        if keep in name or name == "meta.json":
            continue
        ours = mine is not None and mine in name
        with contextlib.suppress(OSError):
            if ours or now - path.stat().st_mtime > _STALE_FILE_SECONDS:
                path.unlink()


def data_paths(directory: Path, token: str) -> tuple[Path, Path]:
    """The graph file and the labels file of the save named ``token``."""
    return directory / f"index-{token}.bin", directory / f"labels-{token}.npy"


def digest(path: Path) -> str:
    """The file's XXH3 (64-bit) checksum, hex.

    Read through a memory map, one window at a time: mapping the whole file would make
    all of it count as this process's memory until the map is closed.
    """
    hasher = xxhash.xxh3_64()
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        for offset in range(0, size, _DIGEST_WINDOW):
            length = min(_DIGEST_WINDOW, size - offset)
            with mmap.mmap(handle.fileno(), length, offset=offset, access=mmap.ACCESS_READ) as window:
                hasher.update(window)
    return hasher.hexdigest()
