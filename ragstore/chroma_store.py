"""A chromadb 1.x persistent directory, read without chromadb: tenants, databases, collections and their records.

Where chromadb 1.5.9 keeps what (measured on stores it made):

- ``chroma.sqlite3``: ``tenants``, ``databases``, ``collections`` (name, dimension, ``schema_str``: the
  configuration as chromadb's Schema JSON, embedding-function name included), ``collection_metadata``,
  ``segments`` (one METADATA and one VECTOR segment per collection) and ``max_seq_id`` (how far each
  segment has applied the write-ahead log).
- Documents and metadata: the metadata segment's ``embeddings`` / ``embedding_metadata`` /
  ``embedding_metadata_array`` rows (the document is the ``chroma:document`` key); chromadb applies
  them as each write returns.
- Vectors: the HNSW segment folder (:mod:`ragstore.chroma_hnsw`) up to the vector segment's
  ``max_seq_id``, and the ``embeddings_queue`` rows after it. chromadb purges the queue only up to
  what every segment has persisted: 3,000 adds with ``sync_threshold`` 500 left 431 rows (seq 3000-3430)
  and the HNSW files at seq 3000; a store under its first sync has every vector in the queue only.

So each segment is read at its own sequence number and the queue after it is replayed with chromadb's
rules (add ignores an existing id, update ignores a missing one and merges metadata, ``None`` deletes a
key, upsert is either, delete removes). Replaying a row twice changes nothing, so HNSW files that a
crash left ahead of ``max_seq_id`` read the same.

Example:
    >>> import tempfile
    >>> ChromaStore(tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: ... is not a chromadb persistent directory: it has no chroma.sqlite3

"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.chroma_hnsw import read_segment_vectors
from ragstore.errors import InvalidArgumentError

CHROMA_DATABASE = "chroma.sqlite3"
DOCUMENT_KEY = "chroma:document"
URI_KEY = "chroma:uri"
_TABLES = {"tenants", "databases", "collections", "segments", "embeddings", "embedding_metadata", "embeddings_queue", "max_seq_id"}
_ADD, _UPDATE, _UPSERT, _DELETE = 0, 1, 2, 3
_ENCODINGS = {"FLOAT32": "<f4", "INT32": "<i4"}


@dataclass(frozen=True)
class ChromaRecord:
    """One record as chromadb would return it."""

    id: str
    document: str | None
    metadata: dict[str, Any] | None
    embedding: npt.NDArray[np.float32]
    uri: str | None = None


@dataclass(frozen=True)
class ChromaCollection:
    """One collection's catalog entry (its records come from :meth:`ChromaStore.records`)."""

    id: str
    name: str
    tenant: str
    database: str
    dimension: int | None
    metadata: dict[str, Any] | None
    schema: dict[str, Any] | None
    metadata_segment: str
    vector_segment: str


class ChromaStore:
    """A chromadb persistent directory opened read-only.

    Raises:
        InvalidArgumentError: ``path`` is not a folder holding a chromadb 1.x ``chroma.sqlite3``.

    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        database = self.path / CHROMA_DATABASE
        if not self.path.is_dir() or not database.is_file():
            raise InvalidArgumentError(f"{self.path} is not a chromadb persistent directory: it has no {CHROMA_DATABASE}")
        try:
            self._conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
            tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(collections)")}
        except sqlite3.DatabaseError as exc:
            raise InvalidArgumentError(f"{database} is not a chromadb database: {exc}") from None
        missing = _TABLES - tables
        if missing or "schema_str" not in columns:
            self._conn.close()
            what = f"no {', '.join(sorted(missing))} table" if missing else "collections has no schema_str"
            raise InvalidArgumentError(f"{database} is not a chromadb 1.x database ({what}); open and save it with chromadb 1.x first")

    def close(self) -> None:
        """Close the SQLite connection."""
        self._conn.close()

    def __enter__(self) -> ChromaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tenants(self) -> list[str]:
        """The tenants, in creation order."""
        return [row[0] for row in self._conn.execute("SELECT id FROM tenants ORDER BY rowid")]

    def databases(self) -> list[tuple[str, str]]:
        """``(tenant, database)`` pairs, in creation order."""
        return [(row[0], row[1]) for row in self._conn.execute("SELECT tenant_id, name FROM databases ORDER BY rowid")]

    def collections(self) -> list[ChromaCollection]:
        """Every collection of every tenant and database, in creation order."""
        rows = self._conn.execute(
            "SELECT c.id, c.name, c.dimension, c.schema_str, d.tenant_id, d.name FROM collections c "
            "JOIN databases d ON d.id = c.database_id ORDER BY c.rowid"
        ).fetchall()
        found = []
        for collection_id, name, dimension, schema_str, tenant, database in rows:
            segments = dict(self._conn.execute("SELECT scope, id FROM segments WHERE collection = ?", (collection_id,)).fetchall())
            if "METADATA" not in segments or "VECTOR" not in segments:
                raise InvalidArgumentError(f"chromadb collection {name!r} lacks a segment ({sorted(segments)}): the store is damaged")
            metadata = self._values(
                "SELECT key, str_value, int_value, float_value, bool_value FROM collection_metadata WHERE collection_id = ?", collection_id
            )
            schema = json.loads(schema_str) if schema_str else None
            found.append(
                ChromaCollection(
                    collection_id, name, tenant, database, dimension, metadata or None, schema, segments["METADATA"], segments["VECTOR"]
                )
            )
        return found

    def records(self, collection: ChromaCollection) -> Iterator[ChromaRecord]:
        """The collection's live records, in chromadb's order (first added first).

        Raises:
            InvalidArgumentError: a live record has no vector anywhere (the store is damaged).

        """
        metadata_seq, documents = self._metadata_segment(collection.metadata_segment)
        vector_seq = self._seq(collection.vector_segment)
        vectors = read_segment_vectors(self.path / collection.vector_segment)
        for seq, operation, record_id, vector, encoding, metadata_json in self._conn.execute(
            "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue "
            "WHERE topic LIKE ? AND seq_id > ? ORDER BY seq_id",
            (f"%/{collection.id}", min(metadata_seq, vector_seq)),
        ):
            if seq > metadata_seq:
                _replay_metadata(documents, operation, record_id, json.loads(metadata_json) if metadata_json else None)
            if seq > vector_seq:
                _replay_vector(vectors, operation, record_id, _decode(vector, encoding))
        for record_id, (document, metadata) in documents.items():
            if record_id not in vectors:
                raise InvalidArgumentError(
                    f"chromadb collection {collection.name!r}: record {record_id!r} has no vector: the store is damaged"
                )
            metadata = dict(metadata)
            uri = metadata.pop(URI_KEY, None)  # chromadb keeps a record's URI as a reserved metadata key, as its document
            yield ChromaRecord(record_id, document, metadata or None, vectors[record_id], uri)

    def _seq(self, segment: str) -> int:
        row = self._conn.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _metadata_segment(self, segment: str) -> tuple[int, dict[str, tuple[str | None, dict[str, Any]]]]:
        """The segment's sequence number and each record's document and metadata as it stores them."""
        records: dict[int, tuple[str, dict[str, Any]]] = {
            pk: (record_id, {})
            for pk, record_id in self._conn.execute("SELECT id, embedding_id FROM embeddings WHERE segment_id = ? ORDER BY id", (segment,))
        }
        scalars = "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value FROM embedding_metadata m "
        arrays = "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value FROM embedding_metadata_array m "
        join = "JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ? ORDER BY m.rowid"
        for pk, key, *typed in self._conn.execute(scalars + join, (segment,)):
            records[pk][1][key] = _typed(*typed)
        if self._has_table("embedding_metadata_array"):
            for pk, key, *typed in self._conn.execute(arrays + join, (segment,)):
                records[pk][1].setdefault(key, []).append(_typed(*typed))
        out = {}
        for record_id, metadata in records.values():
            document = metadata.pop(DOCUMENT_KEY, None)
            out[record_id] = (document, metadata)
        return self._seq(segment), out

    def _has_table(self, name: str) -> bool:
        return self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None

    def _values(self, sql: str, key: str) -> dict[str, Any]:
        return {name: _typed(*typed) for name, *typed in self._conn.execute(sql, (key,))}


def _typed(string: str | None, integer: int | None, real: float | None, boolean: int | None) -> Any:
    """A metadata value from chromadb's one-column-per-type row."""
    if boolean is not None:
        return bool(boolean)
    if integer is not None:
        return integer
    if real is not None:
        return real
    return string


def _decode(blob: bytes | None, encoding: str | None) -> npt.NDArray[np.float32] | None:
    if blob is None:
        return None
    dtype = _ENCODINGS.get(encoding or "")
    if dtype is None:
        raise InvalidArgumentError(f"chromadb queue row has an unknown vector encoding {encoding!r}")
    return np.frombuffer(blob, dtype=dtype).astype(np.float32)


def _ignored(operation: int, exists: bool) -> bool:
    """Whether chromadb ignores a queue row: an add of an existing id, an update of a missing one."""
    return (operation == _ADD and exists) or (operation == _UPDATE and not exists)


def _replay_metadata(
    records: dict[str, tuple[str | None, dict[str, Any]]], operation: int, record_id: str, change: dict[str, Any] | None
) -> None:
    """Apply one queue row to the documents and metadata as chromadb's metadata segment would."""
    exists = record_id in records
    if operation == _DELETE:
        records.pop(record_id, None)
        return
    if _ignored(operation, exists):
        return
    document, metadata = records[record_id] if exists else (None, {})
    metadata = dict(metadata)
    for key, value in (change or {}).items():
        if key == DOCUMENT_KEY:
            document = value
        elif value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    records[record_id] = (document, metadata)


def _replay_vector(
    vectors: dict[str, npt.NDArray[np.float32]], operation: int, record_id: str, vector: npt.NDArray[np.float32] | None
) -> None:
    """Apply one queue row to the vectors as chromadb's vector segment would."""
    exists = record_id in vectors
    if operation == _DELETE:
        vectors.pop(record_id, None)
    elif vector is not None and not _ignored(operation, exists):
        vectors[record_id] = vector
