"""The driver's part before the job: one task per file, each with what is stored of its file, and the chunks of files gone.

:func:`ragstore.ingest.ingest` reads a file's stored chunks just before it writes the
file, in its one process. A Ray job reads and splits files on other processes (and
other nodes), which should not each open the target, so the driver reads each root's
stored chunks once, as the single-process ingest does for its "gone files" pass,
and hands every file task a *digest* of each of its file's stored chunks (text and
metadata): enough to leave unchanged chunks out, and to know the stale ones to delete,
without shipping the stored texts. What the job reads is then bounded by one root's
stored chunks on the driver, as in the single-process ingest.

A root given twice is planned once: its second pass would find every chunk just
written and change nothing (the single-process ingest waits for its first pass to land,
then re-reads it).

Example:
    >>> import pathlib, tempfile, ragstore
    >>> from ragstore.ingest_parts import find_files
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("Apples.")
    >>> col = ragstore.EphemeralClient().create_collection("notes", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> plan = plan_files(col, find_files([root, root]))
    >>> [(task["source"], task["stored"]) for task in plan.tasks], plan.gone
    ([('a.txt', '{}')], [])

"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ragstore.documents.directory import Loader
from ragstore.ingest_parts import FileSet, root_key_of, stored_chunks


def content_digest(document: str | None, metadata: Mapping[str, Any] | None) -> str:
    """A short digest of a chunk's text and metadata (key order aside): equal digests, equal chunks.

    Example:
        >>> content_digest("x", {"a": 1, "b": 2}) == content_digest("x", {"b": 2, "a": 1}) != content_digest("x", {"a": 1.0, "b": 2})
        True

    """
    encoded = orjson.dumps([document, dict(metadata) if metadata is not None else None], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


@dataclass
class FilePlan:
    """The job's input.

    Attributes:
        tasks: One row per file: ``root_index``, ``root``, ``root_key``, ``path``, ``source`` and
            ``stored`` (JSON ``{id: digest}`` of the file's stored chunks).
        loaders: Each root's loaders by extension, indexed by ``root_index``.
        gone: Ids of stored chunks whose file is no longer found under its root (deleted after the job).

    """

    tasks: list[dict[str, Any]] = field(default_factory=list)
    loaders: list[Mapping[str, Loader]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def plan_files(collection: Any, found: FileSet) -> FilePlan:
    """Read what ``collection`` holds of each root in ``found`` and make one task per file to load."""
    plan = FilePlan()
    planned: set[str] = set()
    for root, walk in found.walks:
        root_key = root_key_of(root)
        if root_key in planned:
            continue
        planned.add(root_key)
        by_source: dict[Any, dict[str, str]] = defaultdict(dict)
        for id_, (document, metadata) in stored_chunks(collection, root_key, None).items():
            by_source[(metadata or {}).get("source")][id_] = content_digest(document, metadata)
        root_index = len(plan.loaders)
        plan.loaders.append(walk.loaders)
        for path in walk.paths:
            source = walk.source(path)
            stored = by_source.pop(source, {})
            plan.tasks.append(
                {
                    "root_index": root_index,
                    "root": str(root),
                    "root_key": root_key,
                    "path": str(path),
                    "source": source,
                    "stored": orjson.dumps(stored).decode(),
                }
            )
        # Every file found either loads or fails (and keeps its chunks): the sources left are files that are gone.
        plan.gone.extend(id_ for ids in by_source.values() for id_ in ids)
    return plan
