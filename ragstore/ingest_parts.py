"""What every ingest shares, whichever runs it: its settings, its report, the files it finds, the chunks' ids.

:func:`ragstore.ingest.ingest` runs an ingest in threads, :func:`ragstore.distributed.ray_ingest` on Ray;
both find files with :func:`find_files`, give a file's chunks their ids and metadata with
:func:`chunk_records`, read back what a root holds with :func:`stored_chunks` and report
:class:`IngestStats`, so a collection ingested either way is the same.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.txt").write_text("hello")
    >>> find_files([root]).files
    1

"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragstore.collection import CollectionBase
from ragstore.documents import Document, load_directory
from ragstore.documents.directory import DirectoryLoad, FileError
from ragstore.errors import ResponseTooLargeError

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 150
DEFAULT_BATCH_SIZE = 128
_GET_PAGE = 5000


@dataclass
class IngestStats:
    """What a run did (also passed to the progress callback as it goes).

    Each count is kept by one stage: ``files``, ``chunks`` and ``unchanged`` by the planner,
    ``embedded`` by the embedder, the rest by the writer (a file is done once its last write landed).

    Attributes:
        files: Files found; ``files_done`` of them handled so far.
        failed: Files that failed to load (skipped; their earlier chunks kept).
        empty: Files that loaded but hold no text to store (a scanned PDF, an empty sheet).
        chunks: Chunks the loaded files make.
        embedded: Chunks embedded so far (runs up to two batches ahead of ``written``).
        written: Chunks embedded and upserted (new or changed).
        unchanged: Chunks already stored exactly as they are.
        deleted: Stored chunks removed (shrunk, changed or deleted files).
        seconds: Wall time so far.
        loading_model: The embed stage is loading the embedding model (before its first batch).
        model_seconds: How long loading the model took (``None`` if the run loaded none: a remote
            or user-written function, or no embed stage).

    """

    files: int = 0
    files_done: int = 0
    failed: list[FileError] = field(default_factory=list)
    empty: list[Path] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    seconds: float = 0.0
    loading_model: bool = False
    model_seconds: float | None = None

    @property
    def rate(self) -> float:
        """Chunks written per second so far (0.0 before the first report).

        Example:
            >>> IngestStats(written=300, seconds=2.0).rate
            150.0

        """
        return self.written / self.seconds if self.seconds else 0.0


Progress = Callable[[IngestStats], None]


@dataclass
class FileSet:
    """The files under some roots that :func:`ingest` would load, and those it leaves out (made by :func:`find_files`).

    Attributes:
        walks: Each root (a folder or a file) with its walk.

    Example:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "a.md").write_text("# A")
        >>> _ = (root / "b.doc").write_bytes(b"")
        >>> found = find_files([root])
        >>> found.files, [path.name for path in found.unsupported]
        (1, ['b.doc'])

    """

    walks: list[tuple[Path, DirectoryLoad]]

    @property
    def files(self) -> int:
        """How many files have a loader (the files an ingest loads)."""
        return sum(len(walk.paths) for _, walk in self.walks)

    @property
    def unsupported(self) -> list[Path]:
        """Files left out because no loader handles their extension."""
        return [self._path(walk, relative) for _, walk in self.walks for relative in walk.skipped]

    @property
    def sphinx_copies(self) -> list[Path]:
        """Files left out as a Sphinx build's ``_sources/`` copies of pages loaded, or its ``_static/`` assets."""
        return [self._path(walk, relative) for _, walk in self.walks for relative in walk.sphinx_copies]

    @staticmethod
    def _path(walk: DirectoryLoad, relative: str) -> Path:
        return walk.root / relative if walk.root.is_dir() else Path(relative)


def find_files(paths: Sequence[str | Path], *, glob: str | Sequence[str] = "**/*", exclude: Sequence[str] | None = None) -> FileSet:
    """The files :func:`ingest` would load under ``paths`` (nothing is loaded yet), and those it would leave out.

    Args:
        paths: Folders or files; each is a root of its own.
        glob: Pattern(s) of the files to load under a folder.
        exclude: Patterns to leave out (default: hidden files and folders).

    Raises:
        FileNotFoundError: A path does not exist.

    Example:
        >>> find_files(["no/such/folder"])
        Traceback (most recent call last):
        ...
        FileNotFoundError: No such file or directory: 'no/such/folder'

    """
    options: dict[str, Any] = {} if exclude is None else {"exclude": exclude}
    return FileSet([(Path(path), load_directory(path, glob, **options)) for path in paths])


def progress_reporter(stats: IngestStats, progress: Progress | None) -> Callable[[], None]:
    """What an ingest calls as it goes: it sets ``stats.seconds`` (since this call) and hands ``stats`` to ``progress``.

    Example:
        >>> seen = []
        >>> report = progress_reporter(IngestStats(files=2), lambda stats: seen.append(stats.files))
        >>> report()
        >>> seen
        [2]

    """
    started = time.perf_counter()

    def report() -> None:
        stats.seconds = time.perf_counter() - started
        if progress is not None:
            progress(stats)

    return report


def root_key_of(root: Path) -> str:
    """The key a root's chunks carry in their ``root`` metadata: its absolute path, as POSIX.

    Example:
        >>> root_key_of(Path("/data/../docs"))
        '/docs'

    """
    return root.expanduser().resolve().as_posix()


def chunk_records(chunks: Sequence[Document], root_key: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{id: (document, metadata)}`` for a file's chunks: the one rule for ids and metadata of every ingest.

    Chunk ids are relative to their root; a short hash of the root keeps two roots' "README.md" apart, and
    the metadata names the root so a re-ingest finds what it stored before.

    Example:
        >>> from ragstore.documents import Document
        >>> chunk_records([Document("a.md#0", "Hello.", {"source": "a.md"})], "/docs")
        {'1baff95c/a.md#0': ('Hello.', {'source': 'a.md', 'root': '/docs'})}

    """
    prefix = hashlib.sha1(root_key.encode()).hexdigest()[:8]
    return {f"{prefix}/{chunk.id}": (chunk.text, {**chunk.metadata, "root": root_key}) for chunk in chunks}


def stored_chunks(collection: Any, root_key: str, source: str | None) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    """``{id: (document, metadata)}`` of the stored chunks of ``root_key`` (one ``source`` if given), read page by page.

    Example:
        >>> import ragstore
        >>> stored_chunks(ragstore.Client().create_collection("stored-example"), "/docs", None)
        {}

    """
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


def own_embedding_function(collection: Any) -> Any | None:
    """The embedding function the embed stage may call, or ``None`` to let ``upsert`` embed (chromadb's collections, none set).

    Example:
        >>> import ragstore
        >>> own_embedding_function(ragstore.Client().create_collection("own-example", embedding_function=None)) is None
        True

    """
    return collection.embedding_function if isinstance(collection, CollectionBase) else None


def model_loader(embedding_function: Any) -> Callable[[], Any] | None:
    """What loads the model of one of ragstore's local embedding functions (they load on first use), else ``None``.

    Example:
        >>> model_loader(None) is None
        True

    """
    from ragstore.embeddings.onnx.function import OnnxEmbeddingFunction
    from ragstore.embeddings.sentence_transformer import SentenceTransformerEmbeddingFunction

    if isinstance(embedding_function, OnnxEmbeddingFunction):
        return embedding_function.encoder
    if isinstance(embedding_function, SentenceTransformerEmbeddingFunction):
        return embedding_function.model
    return None  # a remote or user-written function: its first batch does whatever loading it needs
