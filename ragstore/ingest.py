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

The work runs as a :class:`~ragstore.pipeline.Pipeline` of three threads joined
by queues of two batches: *plan* (walk, load, split, read back the stored
chunks and decide what to write and delete), *embed* (the collection's own
embedding function, checked as the collection checks it) and *write* (each
batch one ``upsert`` with its vectors; deletes too, in the order they were
planned, so they never pass an upsert). The model and SQLite release the GIL,
so loading and writing hide behind embedding: the wall time approaches the
embedder's time instead of the sum. Measured on 2 busy cores, all of
``shared/data/docs`` (194 HTML, PDF, Office and Markdown files, 7,248 chunks)
with the ONNX int8 MiniLM encoder: 183 s, 22 s of it outside the embedder,
became 164 s, 4 s outside; loading and splitting alone take 14 s. A collection that is not ragstore's own
(chromadb's) or has no embedding function is given the documents and embeds
as it writes, as before. Ctrl-C stops the stages after the step in hand and
raises ``KeyboardInterrupt`` once every thread has ended.

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

import functools
import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.documents import RecursiveCharacterSplitter, Splitter, split_documents
from ragstore.documents.directory import DirectoryLoad, FileError
from ragstore.embeddings.base import embed
from ragstore.ingest_parts import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    FileSet,
    IngestStats,
    Progress,
    chunk_records,
    find_files,
    model_loader,
    own_embedding_function,
    progress_reporter,
    root_key_of,
    stored_chunks,
)
from ragstore.pipeline import Pipeline

__all__ = [  # ingest, and what callers of it use from ingest_parts (importable from here, as before)
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_SIZE",
    "FileSet",
    "IngestStats",
    "Progress",
    "find_files",
    "ingest",
]


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ------------------------------------------------------------------ what flows between the stages


@dataclass
class _Upsert:
    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: npt.NDArray[np.float32] | None = None  # set by the embed stage


@dataclass
class _Delete:
    ids: list[str]


@dataclass
class _FileDone:
    failure: FileError | None = None  # a file that failed to load is done too (and counted as failed)


@dataclass
class _Barrier:
    """The planner waits until the writer has reached this point (a root planned twice must see its first writes)."""

    reached: threading.Event = field(default_factory=threading.Event)


@dataclass
class _LoadModel:
    """Sent first: the embed stage loads its model while the planner loads the first files."""


_Item = _Upsert | _Delete | _FileDone | _Barrier | _LoadModel


# ------------------------------------------------------------------ the stages


def _plan(
    collection: Any,
    walks: list[tuple[Path, DirectoryLoad]],
    failures: list[FileError],
    splitter: Splitter,
    batch_size: int,
    stats: IngestStats,
    pipeline: Pipeline,
) -> Iterator[_Item]:
    """Stage 1 (walk, load, split, diff against the stored chunks): what to write and delete, in order."""
    planned: set[str] = set()
    for root, walk in walks:
        root_key = root_key_of(root)
        if root_key in planned:  # the same root again: its first pass must be stored before it is read back
            barrier = _Barrier()
            yield barrier
            pipeline.wait(barrier.reached)
        planned.add(root_key)
        for loaded in walk.files():
            yield from _failed(failures)
            chunks = list(split_documents(loaded.documents, splitter))
            stats.chunks += len(chunks)
            if not chunks:
                stats.empty.append(loaded.path)
            stored = stored_chunks(collection, root_key, loaded.source)
            fresh = chunk_records(chunks, root_key)
            stale = [id_ for id_ in stored if id_ not in fresh]
            if stale:
                yield _Delete(stale)
            todo = [id_ for id_, (text, meta) in fresh.items() if stored.get(id_) != (text, meta)]
            stats.unchanged += len(fresh) - len(todo)
            pipeline.tick()
            for batch in _batches(todo, batch_size):
                yield _Upsert(batch, [fresh[i][0] for i in batch], [fresh[i][1] for i in batch])
            yield _FileDone()
        yield from _failed(failures)
        # Files that are gone (or no longer match the glob): their chunks go too. Failed files keep theirs.
        # Writes still queued are all of kept files, so reading before they land finds the same gone chunks.
        kept = set(walk.loaded or []) | {failure.source for failure in walk.errors or []}
        gone = [id_ for id_, (_, meta) in stored_chunks(collection, root_key, None).items() if (meta or {}).get("source") not in kept]
        for batch in _batches(gone, 10_000):
            yield _Delete(batch)


def _failed(failures: list[FileError]) -> Iterator[_FileDone]:
    # The walk reports a failed file through its on_error callback; it is passed on in walk order.
    while failures:
        yield _FileDone(failures.pop(0))


def _embed(embedding_function: Any, stats: IngestStats, pipeline: Pipeline, item: _Item) -> _Item:
    """Stage 2: vectors for a batch to upsert, made and checked as the collection's ``upsert`` would."""
    if isinstance(item, _LoadModel):
        load = model_loader(embedding_function)
        if load is not None:
            stats.loading_model = True
            pipeline.tick()
            started = time.perf_counter()
            try:
                load()
            finally:
                stats.loading_model = False
            stats.model_seconds = time.perf_counter() - started
            pipeline.tick()
    elif isinstance(item, _Upsert):
        item.embeddings = embed(embedding_function, item.documents, query=False, op="upsert")
        stats.embedded += len(item.ids)
        pipeline.tick()
    return item


def _write(collection: Any, stats: IngestStats, pipeline: Pipeline, item: _Item) -> None:
    """Stage 3: each upsert (one atomic batch) and delete, in the planner's order."""
    if isinstance(item, _Upsert):
        vectors = {} if item.embeddings is None else {"embeddings": item.embeddings}
        collection.upsert(ids=item.ids, documents=item.documents, metadatas=item.metadatas, **vectors)
        if item.embeddings is None:  # the collection embedded as it wrote
            stats.embedded += len(item.ids)
        stats.written += len(item.ids)
    elif isinstance(item, _Delete):
        stats.deleted += collection.delete(ids=item.ids)["deleted"]
    elif isinstance(item, _FileDone):
        if item.failure is not None:
            stats.failed.append(item.failure)
        stats.files_done += 1
    elif isinstance(item, _Barrier):
        item.reached.set()
    pipeline.tick()


# ------------------------------------------------------------------ the entry point


def ingest(
    collection: Any,
    paths: Sequence[str | Path] | FileSet,
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
        paths: Folders or files to ingest, each a root of its own; or a :class:`FileSet` from
            :func:`find_files` (then ``glob`` and ``exclude`` are not used).
        glob: Pattern(s) of the files to load under a folder.
        exclude: Patterns to leave out (default: hidden files and folders; a Sphinx build's
            ``_sources/`` copies of its pages and ``_static/`` assets are always left out).
        chunk_size: Characters per chunk (ignored when ``splitter`` is given).
        chunk_overlap: Characters shared by neighbouring chunks.
        splitter: Any splitter of :mod:`ragstore.documents` instead of the recursive one.
        batch_size: Chunks per embed-and-upsert batch.
        progress: Called in the caller's thread with the running :class:`IngestStats` as files
            are planned and batches embedded and written (ticks that pile up make one call).

    Returns:
        The final :class:`IngestStats`.

    Raises:
        KeyboardInterrupt: Ctrl-C; every batch written so far is whole, and no stage runs any more.
        Exception: The first error of any stage (loading aside: a file that fails to load is only
            reported), as itself, after every stage has stopped.

    """
    splitter = splitter or RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    stats = IngestStats()
    report = progress_reporter(stats, progress)
    failures: list[FileError] = []
    found = paths if isinstance(paths, FileSet) else find_files(paths, glob=glob, exclude=exclude)
    walks = found.walks
    for _, walk in walks:
        walk.on_error = failures.append
    stats.files = found.files
    report()
    pipeline = Pipeline(name="ragstore-ingest", on_tick=report)
    plan = _plan(collection, walks, failures, splitter, batch_size, stats, pipeline)
    write = functools.partial(_write, collection, stats, pipeline)
    embedding_function = own_embedding_function(collection)
    if embedding_function is None:
        pipeline.run(plan, write)
    else:
        pipeline.run(itertools.chain([_LoadModel()], plan), functools.partial(_embed, embedding_function, stats, pipeline), write)
    report()
    return stats
