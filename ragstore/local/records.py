"""Reading and writing records of one collection inside a transaction.

Functions here take an open connection and do plain SQL; transactions,
validation and the vector index are the caller's business
(:mod:`ragstore.local.engine`).

Metadata is stored whole as JSON in ``records.metadata_json``; a
:class:`~ragstore.sparse_vectors.SparseVector` value in chromadb's transport form
(the one dict a metadata value can be). ``record_metadata`` holds one row per scalar
or list element for SQL filters; sparse vectors get none, so a filter sees their key
as absent.

Example:
    >>> encode_metadata_rows(7, 3, {"tags": ["a", "b"], "page": 2})
    [(7, 3, 'tags', 's', 1, 'a'), (7, 3, 'tags', 's', 1, 'b'), (7, 3, 'page', 'i', 0, 2)]

"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.local import text_index
from ragstore.metadata_validation import scalar_tag
from ragstore.sparse_vectors import TYPE_KEY, SparseVector, is_sparse_vector_dict
from ragstore.types import RecordSet

_CHUNK = 900  # stay far below SQLite's limit on bound parameters per statement


def encode_metadata_rows(collection_pk: int, rowid: int, metadata: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """The ``record_metadata`` rows that describe one record's metadata (validated: every scalar has a :func:`scalar_tag`)."""
    rows: list[tuple[Any, ...]] = []
    for key, value in (metadata or {}).items():
        if isinstance(value, SparseVector):
            continue  # not filterable (see the module docstring)
        if isinstance(value, list):
            rows.extend((collection_pk, rowid, key, scalar_tag(v), 1, int(v) if isinstance(v, bool) else v) for v in value)
        else:
            rows.append((collection_pk, rowid, key, scalar_tag(value), 0, int(value) if isinstance(value, bool) else value))
    return rows


def _transport_form(value: Any) -> Any:
    if isinstance(value, SparseVector):
        return value.to_dict()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


# orjson writes dataclasses itself (as their fields); a SparseVector must go through _transport_form.
_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS
# A sparse vector's stored form starts its object with this key: texts without it need no second look.
_SPARSE_MARK = f'"{TYPE_KEY}"'


def dump_metadata(metadata: dict[str, Any] | None) -> str | None:
    """Metadata as stored JSON (``None`` when absent or empty); values were validated (finite, 64-bit ints).

    orjson, not json: every query result decodes up to ``n_results`` of these, 4x faster.

    Example:
        >>> dump_metadata({"page": 2, "bm25": SparseVector([3], [0.5])})
        '{"page":2,"bm25":{"#type":"sparse_vector","indices":[3],"values":[0.5]}}'

    """
    return orjson.dumps(metadata, default=_transport_form, option=_DUMP_OPTIONS).decode() if metadata else None


def load_metadata(text: str | bytes | None) -> dict[str, Any] | None:
    """The inverse of :func:`dump_metadata` (also reads what ``json.dumps`` wrote); sparse vectors come back as :class:`SparseVector`.

    Example:
        >>> load_metadata(dump_metadata({"page": 2, "tags": ["é"]}))
        {'page': 2, 'tags': ['é']}
        >>> load_metadata(dump_metadata({"bm25": SparseVector([3], [0.5])}))
        {'bm25': SparseVector(indices=[3], values=[0.5], labels=None)}

    """
    if not text:
        return None
    metadata: dict[str, Any] = orjson.loads(text)
    if (_SPARSE_MARK in text) if isinstance(text, str) else (_SPARSE_MARK.encode() in text):
        for key, value in metadata.items():
            if is_sparse_vector_dict(value):  # validated when written: rebuilt without a second check
                metadata[key] = SparseVector.trusted(value["indices"], value["values"], value.get("tokens"))
    return metadata


def merge_metadata(old: Mapping[str, Any] | None, change: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Update semantics: keys merged one by one, a ``None`` value deletes its key.

    Example:
        >>> merge_metadata({"a": 1, "b": 2}, {"b": None, "c": 3})
        {'a': 1, 'c': 3}

    """
    merged = dict(old or {})
    for key, value in (change or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged or None


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ExistingRow(NamedTuple):
    """What a write needs to know about a record that already exists."""

    rowid: int
    label: int
    metadata_json: str | None
    embedding: bytes


def existing_rows(conn: sqlite3.Connection, collection_pk: int, ids: Sequence[str]) -> dict[str, ExistingRow]:
    """``id -> ExistingRow`` for the ids that exist."""
    found: dict[str, ExistingRow] = {}
    for part in chunks(ids):
        marks = ", ".join("?" for _ in part)
        for id_, rowid, label, meta, embedding in conn.execute(
            f"SELECT id, rowid, label, metadata_json, embedding FROM records WHERE collection_pk = ? AND id IN ({marks})",
            [collection_pk, *part],
        ):
            found[id_] = ExistingRow(rowid, label, meta, embedding)
    return found


def allocate_labels(conn: sqlite3.Connection, count: int) -> int:
    """Reserve ``count`` new index labels (never reused, store-wide); returns the first."""
    first = int(conn.execute("SELECT next FROM label_counter").fetchone()[0])
    conn.execute("UPDATE label_counter SET next = ?", (first + count,))
    return first


def next_rowid(conn: sqlite3.Connection) -> int:
    """The first rowid never used by ``records`` (AUTOINCREMENT never reuses one)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
    return (row[0] if row else 0) + 1


def insert_records(
    conn: sqlite3.Connection,
    collection_pk: int,
    seq: int,
    ids: Sequence[str],
    embeddings: npt.NDArray[np.float32],
    documents: Sequence[str | None],
    uris: Sequence[str | None],
    metadatas: Sequence[dict[str, Any] | None],
) -> int:
    """Insert new records (the caller has checked that none of the ids exist); returns the first one's rowid (the rest follow it)."""
    first = next_rowid(conn)
    first_label = allocate_labels(conn, len(ids))
    blobs = [row.astype("<f4", copy=False).tobytes() for row in embeddings]
    conn.executemany(
        "INSERT INTO records (rowid, collection_pk, id, seq, embedding, document, uri, metadata_json, label) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (first + i, collection_pk, ids[i], seq, blobs[i], documents[i], uris[i], dump_metadata(metadatas[i]), first_label + i)
            for i in range(len(ids))
        ],
    )
    text_index.index_rowids(conn, first, first + len(ids) - 1)
    meta_rows = [row for i in range(len(ids)) for row in encode_metadata_rows(collection_pk, first + i, metadatas[i])]
    if meta_rows:
        conn.executemany("INSERT INTO record_metadata VALUES (?, ?, ?, ?, ?, ?)", meta_rows)
    return first


def update_record(
    conn: sqlite3.Connection,
    collection_pk: int,
    existing: ExistingRow,
    seq: int,
    embedding: npt.NDArray[np.float32] | None,
    document: str | None,
    uri: str | None,
    metadata: dict[str, Any] | None,
    metadata_changed: bool,
) -> None:
    """Overwrite the given fields of one record (``None`` leaves a field as it is).

    A new vector gets a new label, and the old label a tombstone at ``seq``. A new
    vector or new metadata stamps the row with ``seq``, so the in-memory mirrors of the
    collection (index and filter columns) see the change when they catch up.
    """
    sets: list[str] = []
    params: list[Any] = []
    if embedding is not None or metadata_changed:
        sets.append("seq = ?")
        params.append(seq)
    if embedding is not None:
        sets += ["embedding = ?", "label = ?"]
        params += [embedding.astype("<f4", copy=False).tobytes(), allocate_labels(conn, 1)]
        conn.execute("INSERT INTO tombstones (collection_pk, label, seq) VALUES (?, ?, ?)", (collection_pk, existing.label, seq))
    if document is not None:
        sets.append("document = ?")
        params.append(document)
        text_index.unindex(conn, "rowid = ?", [existing.rowid])
    if uri is not None:
        sets.append("uri = ?")
        params.append(uri)
    if metadata_changed:
        sets.append("metadata_json = ?")
        params.append(dump_metadata(metadata))
        conn.execute("DELETE FROM record_metadata WHERE record_rowid = ?", (existing.rowid,))
        rows = encode_metadata_rows(collection_pk, existing.rowid, metadata)
        if rows:
            conn.executemany("INSERT INTO record_metadata VALUES (?, ?, ?, ?, ?, ?)", rows)
    if sets:
        conn.execute(f"UPDATE records SET {', '.join(sets)} WHERE rowid = ?", [*params, existing.rowid])
    if document is not None:
        text_index.index_rowids(conn, existing.rowid, existing.rowid)


class Written(NamedTuple):
    """What :func:`write_records` did.

    Attributes:
        mirrored: Whether the write changed what the in-memory mirrors hold (a new record, a
            different vector or different metadata): only then must the caller advance the
            collection's sequence, so they catch up.
        rowids: The rowid of each record the write inserted or updated, by id (what the
            sparse upkeep writes its rows under, without looking the ids up again).

    """

    mirrored: bool
    rowids: dict[str, int]


def write_records(
    conn: sqlite3.Connection, collection_pk: int, seq: int, op: str, rs: RecordSet, existing: Mapping[str, ExistingRow] | None = None
) -> Written:
    """Apply an ``add``, ``upsert`` or ``update`` of checked records as sequence ``seq``.

    ``add`` skips ids that exist (as chromadb does), ``update`` ignores ids that do not,
    ``upsert`` inserts the new ones and updates the rest. ``existing`` is
    :func:`existing_rows` of ``rs.ids`` when the caller has read it already (in this
    transaction); else it is read here.

    Example:
        >>> from ragstore.local.catalog import create_collection_row
        >>> from ragstore.local.database import Database
        >>> rs = RecordSet(["a"], np.zeros((1, 2), dtype=np.float32), None, None, None)
        >>> with Database(None).write() as conn:
        ...     pk = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database").pk
        ...     write_records(conn, pk, 1, "add", rs), write_records(conn, pk, 2, "upsert", rs)
        (Written(mirrored=True, rowids={'a': 1}), Written(mirrored=False, rowids={'a': 1}))

    """
    n = len(rs.ids)
    if existing is None:
        existing = existing_rows(conn, collection_pk, rs.ids)
    fresh = [i for i in range(n) if rs.ids[i] not in existing] if op != "update" else []
    changed = [i for i in range(n) if rs.ids[i] in existing] if op != "add" else []
    rowids: dict[str, int] = {}
    if fresh:
        assert rs.embeddings is not None
        first = insert_records(
            conn,
            collection_pk,
            seq,
            [rs.ids[i] for i in fresh],
            rs.embeddings[fresh],
            [rs.documents[i] for i in fresh] if rs.documents is not None else [None] * len(fresh),
            [rs.uris[i] for i in fresh] if rs.uris is not None else [None] * len(fresh),
            [merge_metadata(None, rs.metadatas[i]) for i in fresh] if rs.metadatas is not None else [None] * len(fresh),
        )
        rowids = {rs.ids[i]: rowid for i, rowid in zip(fresh, range(first, first + len(fresh)), strict=True)}
    mirrored = 0  # existing records whose vector or metadata really changes
    for i in changed:
        current = existing[rs.ids[i]]
        rowids[rs.ids[i]] = current.rowid
        change = rs.metadatas[i] if rs.metadatas is not None else None
        vector = rs.embeddings[i] if rs.embeddings is not None else None
        if vector is not None and vector.astype("<f4", copy=False).tobytes() == current.embedding:
            vector = None  # the same vector again (a re-run ingestion): no new index point
        metadata = merge_metadata(load_metadata(current.metadata_json), change) if change is not None else None
        metadata_changed = change is not None and dump_metadata(metadata) != current.metadata_json
        mirrored += vector is not None or metadata_changed
        update_record(
            conn,
            collection_pk,
            current,
            seq,
            vector,
            rs.documents[i] if rs.documents is not None else None,
            rs.uris[i] if rs.uris is not None else None,
            metadata,
            metadata_changed,
        )
    return Written(bool(fresh) or mirrored > 0, rowids)


def delete_rows(conn: sqlite3.Connection, collection_pk: int, rows: Sequence[tuple[int, int]], seq: int) -> None:
    """Delete records given as ``(rowid, label)`` and leave tombstones for the vector indexes."""
    for part in chunks(rows):
        marks = ", ".join("?" for _ in part)
        rowids = [rowid for rowid, _ in part]
        text_index.unindex(conn, f"rowid IN ({marks})", rowids)
        conn.execute(f"DELETE FROM records WHERE rowid IN ({marks})", rowids)
    tombstones = [(collection_pk, label, seq) for _, label in rows]
    conn.executemany("INSERT INTO tombstones (collection_pk, label, seq) VALUES (?, ?, ?)", tombstones)


def matching_rows(conn: sqlite3.Connection, condition: str, params: Sequence[Any], limit: int | None) -> list[tuple[int, int]]:
    """``(rowid, label)`` of the records matching ``condition`` (SQL on ``records r``), oldest first, at most ``limit``.

    What a delete removes: :func:`delete_rows` takes exactly these pairs (the label for its tombstone).

    Example:
        >>> from ragstore.local.catalog import create_collection_row
        >>> from ragstore.local.database import Database
        >>> rs = RecordSet(["a", "b"], np.zeros((2, 2), dtype=np.float32), None, None, None)
        >>> with Database(None).write() as conn:
        ...     pk = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database").pk
        ...     _ = write_records(conn, pk, 1, "add", rs)
        ...     matching_rows(conn, "r.collection_pk = ?", [pk], 1)
        [(1, 1)]

    """
    return conn.execute(
        f"SELECT r.rowid, r.label FROM records r WHERE {condition} ORDER BY r.rowid LIMIT ?", [*params, -1 if limit is None else limit]
    ).fetchall()


def count_records(conn: sqlite3.Connection, collection_pk: int | None = None) -> int:
    """How many records the collection holds (``None``: the whole store).

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).read() as conn:
        ...     count_records(conn, 1), count_records(conn)
        (0, 0)

    """
    if collection_pk is None:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM records WHERE collection_pk = ?", (collection_pk,)).fetchone()[0])


def prune_tombstones(conn: sqlite3.Connection, collection_pk: int, last_seq: int, tombstone_floor: int, most: int) -> int:
    """Drop the collection's tombstones once there are more than ``most``; returns the tombstone floor to record.

    Tombstones let an index that lags behind (another process's, or saved files) catch up
    with deletes; kept forever they would grow with every delete. Past ``most``, all of
    them up to ``last_seq`` (the sequence before the write under way) go, and that becomes
    the floor: indexes older than it rebuild from SQLite instead of catching up.

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).read() as conn:
        ...     prune_tombstones(conn, 1, last_seq=7, tombstone_floor=3, most=100)  # none to prune
        3

    """
    if conn.execute("SELECT count(*) FROM tombstones WHERE collection_pk = ?", (collection_pk,)).fetchone()[0] > most:
        tombstone_floor = last_seq
        conn.execute("DELETE FROM tombstones WHERE collection_pk = ? AND seq <= ?", (collection_pk, tombstone_floor))
    return tombstone_floor


def decode_embedding(blob: bytes) -> npt.NDArray[np.float32]:
    """A stored float32 BLOB as a vector."""
    return np.frombuffer(blob, dtype="<f4")


def ids_condition(ids: Sequence[str] | None, params: list[Any]) -> str:
    """SQL restricting ``records r`` to ``ids`` (any number of them, one parameter)."""
    if ids is None:
        return "1"
    params.append(json.dumps(list(ids)))
    return "r.id IN (SELECT value FROM json_each(?))"


def labels_condition(labels: Sequence[int], params: list[Any]) -> str:
    """SQL restricting ``records r`` to the index ``labels``.

    A query's few labels are bound one by one (cheapest for SQLite); many go as one
    JSON parameter, since a statement may bind only so many.

    Example:
        >>> params = []
        >>> labels_condition([3, 5], params), params
        ('r.label IN (?, ?)', [3, 5])

    """
    if len(labels) <= _CHUNK:
        params.extend(int(label) for label in labels)
        return f"r.label IN ({', '.join('?' * len(labels))})"
    params.append(json.dumps([int(label) for label in labels]))
    return "r.label IN (SELECT value FROM json_each(?))"
