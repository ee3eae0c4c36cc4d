"""A file task: load one file, split it, and say what to upsert and delete (runs in Ray tasks, anywhere in the cluster).

It runs the single-process ingest's own pieces (:class:`~ragstore.documents.DirectoryLoad`
for loading, with its error handling and its re-raise of a missing extra;
:func:`~ragstore.documents.split_documents`; ids and metadata by
:func:`ragstore.ingest.chunk_records`), so a chunk gets the same id, text and metadata as there. A
chunk whose digest equals its stored one is left out (``unchanged``), a stored chunk
the file no longer makes is deleted, and a file that fails to load sends only its
:class:`~ragstore.distributed.rows.FileOutcome`: its earlier chunks are kept.

Example:
    >>> import pathlib, tempfile
    >>> from ragstore.documents import LOADERS, RecursiveCharacterSplitter
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("One. " * 30)
    >>> task = {"root_index": 0, "root": str(root), "root_key": "/r", "path": str(root / "a.txt"),
    ...         "source": "a.txt", "stored": '{"ccd2a96e/a.txt#chunk=9": "0"}'}
    >>> rows = file_rows(task, splitter=RecursiveCharacterSplitter(chunk_size=100, chunk_overlap=0), loaders=[LOADERS])
    >>> [(row["kind"], row["id"]) for row in rows]
    [('delete', 'ccd2a96e/a.txt#chunk=9'), ('upsert', 'ccd2a96e/a.txt#chunk=0'), ('upsert', 'ccd2a96e/a.txt#chunk=1'), ('file', 'a.txt')]

"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ragstore.distributed.file_plan import content_digest
from ragstore.distributed.rows import FileOutcome, delete_row, file_row, upsert_row
from ragstore.documents import DirectoryLoad, Splitter, split_documents
from ragstore.documents.directory import Loader
from ragstore.ingest_parts import chunk_records


class PathNotSharedError(FileNotFoundError):
    """A root the driver listed does not exist where a task runs: PATHS must be on storage every Ray node mounts."""


def file_rows(task: Mapping[str, Any], *, splitter: Splitter, loaders: Sequence[Mapping[str, Loader]]) -> list[dict[str, str]]:
    """The rows for one file of a :class:`~ragstore.distributed.file_plan.FilePlan` (``flat_map``'s function).

    Raises:
        PathNotSharedError: The file's root is missing on this node (a file missing alone is a failed file, as
            it is for the single-process ingest: it may have been deleted since it was listed).
        MissingDependencyError: A loader's extra is not installed where this task runs.

    """
    root, path = Path(task["root"]), Path(task["path"])
    if not root.exists():
        raise PathNotSharedError(
            f"{root} was listed by the driver but does not exist on Ray node {socket.gethostname()}: the files to ingest must be "
            "on storage every node mounts at the same path (NFS, a volume mounted into every KubeRay pod)"
        )
    walk = DirectoryLoad(root, [path], [], loaders[task["root_index"]])
    outcome = FileOutcome(task["source"], task["path"])
    rows: list[dict[str, str]] = []
    for loaded in walk.files():
        chunks = list(split_documents(loaded.documents, splitter))
        fresh = chunk_records(chunks, task["root_key"])
        stored: dict[str, str] = orjson.loads(task["stored"])
        rows.extend(delete_row(id_) for id_ in stored if id_ not in fresh)
        todo = [(id_, text, meta) for id_, (text, meta) in fresh.items() if stored.get(id_) != content_digest(text, meta)]
        outcome.chunks, outcome.unchanged = len(chunks), len(fresh) - len(todo)
        rows.extend(upsert_row(id_, text, meta) for id_, text, meta in todo)
    for failure in walk.errors:
        outcome.error, outcome.error_type = str(failure.error), type(failure.error).__name__
    rows.append(file_row(outcome))
    return rows
