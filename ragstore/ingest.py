"""Incremental ingestion: load files, split them, and keep a collection in step with them.

:func:`ingest` makes a collection mirror a folder (or file):

- a chunk's id comes from its root, source file and position, so running it
  again over unchanged files writes (and embeds) nothing;
- a changed file's chunks are replaced, chunks of a shrunk file that no
  longer exist are deleted, and so are the chunks of files that disappeared;
- every batch is one atomic upsert, so an interrupted run (Ctrl-C) leaves a
  consistent collection and the next run finishes the job;
- a file that fails to load is reported and skipped, and its chunks from an
  earlier run are kept.

Chunks carry ``source`` (the path relative to the root), ``root`` (the root's
absolute path), ``chunk_index``, ``start_index`` and the loader's metadata
(``page``, ``title``, ...).

Example:
    >>> import pathlib, tempfile, ragstore
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("Apples are red. " * 20)
    >>> col = ragstore.EphemeralClient().create_collection("notes", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> ingest(col, [root], chunk_size=100, chunk_overlap=0).written
    4
    >>> ingest(col, [root], chunk_size=100, chunk_overlap=0).written  # nothing changed
    0

"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragstore.documents import RecursiveCharacterSplitter, Splitter, load_directory, split_documents
from ragstore.documents.directory import FileError
from ragstore.errors import ResponseTooLargeError

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 150
DEFAULT_BATCH_SIZE = 128
_GET_PAGE = 5000


@dataclass
class IngestStats:
    """What a run did (also passed to the progress callback as it goes).

    Attributes:
        files: Files found; ``files_done`` of them handled so far.
        failed: Files that failed to load (skipped; their earlier chunks kept).
        chunks: Chunks the loaded files make.
        written: Chunks embedded and upserted (new or changed).
        unchanged: Chunks already stored exactly as they are.
        deleted: Stored chunks removed (shrunk, changed or deleted files).
        seconds: Wall time so far.

    """

    files: int = 0
    files_done: int = 0
    failed: list[FileError] = field(default_factory=list)
    chunks: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    seconds: float = 0.0


Progress = Callable[[IngestStats], None]


def _root_key(root: Path) -> str:
    return root.expanduser().resolve().as_posix()


def _prefix(root_key: str) -> str:
    # Chunk ids are relative to their root; a short hash of the root keeps two roots' "README.md" apart.
    return hashlib.sha1(root_key.encode()).hexdigest()[:8]


def _stored(collection: Any, root_key: str, source: str | None) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    """``{id: (document, metadata)}`` of the stored chunks of ``root_key`` (one ``source`` if given)."""
    where: dict[str, Any] = {"root": root_key} if source is None else {"$and": [{"root": root_key}, {"source": source}]}
    found: dict[str, tuple[str | None, dict[str, Any] | None]] = {}
    offset, size = 0, _GET_PAGE
    while True:
        try:
            page = collection.get(where=where, include=["documents", "metadatas"], limit=size, offset=offset)
        except ResponseTooLargeError:
            if size == 1:
                raise
            size = max(1, size // 4)  # large chunks against a server's answer budget: smaller pages
            continue
        for id_, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
            found[id_] = (doc, meta)
        if len(page["ids"]) < size:
            return found
        offset += size


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ingest(
    collection: Any,
    paths: Sequence[str | Path],
    *,
    glob: str | Sequence[str] = "**/*",
    exclude: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    splitter: Splitter | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> IngestStats:
    """Bring ``collection`` in step with the files under ``paths`` (see the module docstring).

    Args:
        collection: A ragstore (or chromadb) collection with an embedding function.
        paths: Folders or files to ingest; each is a root of its own.
        glob: Pattern(s) of the files to load under a folder.
        exclude: Patterns to leave out (default: hidden files and folders).
        chunk_size: Characters per chunk (ignored when ``splitter`` is given).
        chunk_overlap: Characters shared by neighbouring chunks.
        splitter: Any splitter of :mod:`ragstore.documents` instead of the recursive one.
        batch_size: Chunks per embed-and-upsert batch.
        progress: Called with the running :class:`IngestStats` after every file and batch.

    Returns:
        The final :class:`IngestStats`.

    """
    splitter = splitter or RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    stats = IngestStats()
    started = time.perf_counter()

    def report() -> None:
        stats.seconds = time.perf_counter() - started
        if progress is not None:
            progress(stats)

    def failed(failure: FileError) -> None:
        stats.failed.append(failure)
        stats.files_done += 1
        report()

    options: dict[str, Any] = {} if exclude is None else {"exclude": exclude}
    walks = [(Path(path), load_directory(path, glob, on_error=failed, **options)) for path in paths]
    stats.files = sum(len(walk.paths) for _, walk in walks)
    report()
    for root, walk in walks:
        root_key = _root_key(root)
        prefix = _prefix(root_key)
        for loaded in walk.files():
            chunks = list(split_documents(loaded.documents, splitter))
            stats.chunks += len(chunks)
            stored = _stored(collection, root_key, loaded.source)
            fresh: dict[str, tuple[str, dict[str, Any]]] = {}
            for chunk in chunks:
                fresh[f"{prefix}/{chunk.id}"] = (chunk.text, {**chunk.metadata, "root": root_key})
            stale = [id_ for id_ in stored if id_ not in fresh]
            if stale:
                stats.deleted += collection.delete(ids=stale)["deleted"]
            todo = [id_ for id_, (text, meta) in fresh.items() if stored.get(id_) != (text, meta)]
            stats.unchanged += len(fresh) - len(todo)
            for batch in _batches(todo, batch_size):
                collection.upsert(ids=batch, documents=[fresh[i][0] for i in batch], metadatas=[fresh[i][1] for i in batch])
                stats.written += len(batch)
                report()
            stats.files_done += 1
            report()
        # Files that are gone (or no longer match the glob): their chunks go too. Failed files keep theirs.
        kept = set(walk.loaded or []) | {failure.source for failure in walk.errors or []}
        gone = [id_ for id_, (_, meta) in _stored(collection, root_key, None).items() if (meta or {}).get("source") not in kept]
        for batch in _batches(gone, 10_000):
            stats.deleted += collection.delete(ids=batch)["deleted"]
        report()
    return stats
