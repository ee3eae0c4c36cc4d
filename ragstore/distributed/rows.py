"""The rows a distributed ingest passes from its file tasks, through the embedders, to the writer.

A Ray Data job moves tables, so the three things the single-process ingest passes
between its stages (:mod:`ragstore.ingest`: an upsert, a delete, a file done) are
rows of one flat schema, every column a string:

=========  ====================  =================  ===========================
kind       id                    document           metadata
=========  ====================  =================  ===========================
upsert     the chunk's id        the chunk's text   its metadata as JSON
delete     a stale chunk's id    ``""``             ``""``
file       the file's source     ``""``             its :class:`FileOutcome` as JSON
=========  ====================  =================  ===========================

The embedders add an ``embedding`` column (a float32 vector's bytes; empty on the
rows they do not embed). JSON keeps metadata exact: ``1``, ``1.0`` and ``true``
stay an int, a float and a bool, and a float comes back bit for bit.

Example:
    >>> row = upsert_row("3f2a/guide.md#chunk=0", "Install it.", {"source": "guide.md", "chunk_index": 0})
    >>> row["kind"], metadata_of(row["metadata"])
    ('upsert', {'source': 'guide.md', 'chunk_index': 0})
    >>> FileOutcome.from_json(file_row(FileOutcome("guide.md", "/docs/guide.md", chunks=3))["metadata"]).chunks
    3

"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

UPSERT, DELETE, FILE = "upsert", "delete", "file"
EMBEDDING = "embedding"


def upsert_row(id_: str, document: str, metadata: dict[str, Any]) -> dict[str, str]:
    """A chunk to embed and upsert."""
    return {"kind": UPSERT, "id": id_, "document": document, "metadata": orjson.dumps(metadata).decode()}


def delete_row(id_: str) -> dict[str, str]:
    """A stored chunk to delete (its file shrank or changed).

    Example:
        >>> delete_row("3f2a/a.md#chunk=7")["kind"]
        'delete'

    """
    return {"kind": DELETE, "id": id_, "document": "", "metadata": ""}


def metadata_of(text: str) -> dict[str, Any]:
    """A chunk's metadata back from its row.

    Example:
        >>> metadata_of('{"page": 2, "score": 0.5, "draft": false}')
        {'page': 2, 'score': 0.5, 'draft': False}

    """
    value: dict[str, Any] = orjson.loads(text)
    return value


@dataclass
class FileOutcome:
    """What a file task did with one file (the planner's counts of :class:`ragstore.ingest.IngestStats`).

    Attributes:
        source: The file's ``source`` (its path relative to its root).
        path: The file's path as the driver listed it.
        chunks: Chunks the file makes.
        unchanged: Of those, chunks already stored exactly as they are (not sent on).
        error: Why the file failed to load (``None`` if it loaded); its chunks from an earlier run are kept.
        error_type: The name of the error's class.

    """

    source: str
    path: str
    chunks: int = 0
    unchanged: int = 0
    error: str | None = None
    error_type: str | None = None

    @property
    def empty(self) -> bool:
        """The file loaded but holds no text to store.

        Example:
            >>> FileOutcome("scan.pdf", "scan.pdf").empty, FileOutcome("bad.pdf", "bad.pdf", error="not a PDF").empty
            (True, False)

        """
        return self.error is None and self.chunks == 0

    @classmethod
    def from_json(cls, text: str) -> FileOutcome:
        """Read one back from a file row's ``metadata``."""
        return cls(**orjson.loads(text))


def file_row(outcome: FileOutcome) -> dict[str, str]:
    """The row that says a file is done, and how."""
    return {"kind": FILE, "id": outcome.source, "document": "", "metadata": orjson.dumps(asdict(outcome)).decode()}


class RemoteLoadError(Exception):
    """A file's load error as the task that met it reported it: the original's message, its class named in :attr:`kind`.

    Example:
        >>> error = RemoteLoadError("not a PDF", "DocumentLoadError")
        >>> str(error), error.kind
        ('not a PDF', 'DocumentLoadError')

    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
