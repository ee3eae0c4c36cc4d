"""Sparse indexes of a collection (BM25 term counts, sparse vectors): stored in SQLite, searched in memory.

SQLite is the truth. ``sparse_terms`` holds one row per record for the collection's
sparse key (one per collection, as chromadb allows one sparse index): the record's term
ids and weights as two BLOBs (``uint32`` ids when they fit, else ``int64``, told apart by
the BLOBs' lengths; ``float32`` weights) and its length (a BM25 document's token count).
The engine calls :func:`write_terms` inside the record write's transaction, after the
records are written; a deleted record's row goes with it (``ON DELETE CASCADE``), so
deletes need no call. One row per record, not one per posting: on 5,000 SciFact
abstracts (122 terms each), a row per record costs 12 µs a record to insert and 1.2 KB
of file, a row per posting (indexed by term, to be searchable in SQL, and by record, for
the cascade) 555 µs and 7.2 KB; and whoever reads a record's terms needs all of them anyway.

The searchable side is a :class:`ragstore.local.sparse_postings.SparseIndex` per
(collection, key), kept by :class:`SparseIndexes` like the other in-memory mirrors
(:class:`ragstore.local.columns.RecordColumns`): it remembers the collection sequence it
has applied and catches up with what is newer, so a search sees other processes'
writes. A catch-up re-reads the records whose ``seq`` moved past it (new ones, new
labels, new terms: :func:`write_terms` stamps ``records.seq`` when terms change) and
drops the labels ``tombstones`` name. An index missing from memory, or older than the
collection's tombstone floor (the deletes it lacks are forgotten), is built again from
SQLite; nothing derived is saved to disk, so nothing there can be stale or corrupt.
Building costs ~2 s of CPU for 100,000 abstracts (10M postings; measured on a shared
machine: 0.35 s reading and decoding, 1-1.3 s sorting by term), catching up after a
5,000-record batch 25-45 ms.

Example:
    >>> from ragstore.local.catalog import create_collection_row
    >>> from ragstore.local.database import Database
    >>> from ragstore.local.records import write_records
    >>> from ragstore.types import RecordSet
    >>> db = Database(None)
    >>> with db.write() as conn:
    ...     pk = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database").pk
    ...     _ = write_records(conn, pk, 1, "add", RecordSet(["a", "b"], np.zeros((2, 2), dtype=np.float32), None, None, None))
    ...     write_terms(conn, pk, "bm25", 1, ["a", "b"], encode([TermWeights([3, 7], [1, 2]), TermWeights([7], [1])]))
    2
    >>> with db.read() as conn:
    ...     index = SparseIndexes().caught_up(conn, pk, "bm25", last_seq=1, tombstone_floor=0)
    >>> labels, scores = index.search([3], [1.0], k=10)
    >>> labels.tolist(), round(float(scores[0]), 4)
    ([1], 0.4246)

"""

from __future__ import annotations

import array
import json
import sqlite3
import sys
import threading
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from ragstore.bm25_text import BatchTermCounts
from ragstore.local.sparse_postings import SparseIndex
from ragstore.local.sparse_segments import Floats, Int64s, Terms

__all__ = [
    "EncodedTerms",
    "SparseIndex",
    "SparseIndexes",
    "TermWeights",
    "catch_up",
    "decode_rows",
    "encode",
    "encode_counts",
    "load",
    "write_terms",
]

_LOAD_BATCH = 20_000
_UINT32_LIMIT = 1 << 32


class TermWeights(NamedTuple):
    """One record's value for a sparse key.

    Attributes:
        indices: Term ids (non-negative, distinct; sorted here if they are not).
        weights: One weight per term (BM25: the term's count in the document).
        length: The record's length for BM25 (its token count); ``None``: the sum of the weights.

    """

    indices: npt.ArrayLike
    weights: npt.ArrayLike
    length: float | None = None


class EncodedTerms(NamedTuple):
    """One record's ``sparse_terms`` columns: term ids and weights as BLOBs, and its length."""

    terms: bytes
    weights: bytes
    length: float


def encode(vectors: Sequence[TermWeights | None]) -> list[EncodedTerms | None]:
    """The ``terms``, ``weights`` and ``length`` columns of each record (``None`` stays ``None``), checked as one batch.

    Each record's BLOBs come from :mod:`array` (4 µs a record of 100 terms, against
    13 µs through numpy arrays); the checks then run once over the whole batch.

    Raises:
        ValueError: lengths differ, an index is negative or repeated, or a weight is not finite.

    Example:
        >>> [(terms, weights, length), nothing] = encode([TermWeights([9, 4], [1.0, 2.0]), None])
        >>> np.frombuffer(terms, "<u4").tolist(), np.frombuffer(weights, "<f4").tolist(), length, nothing
        ([4, 9], [2.0, 1.0], 3.0, None)

    """
    given = [i for i, vector in enumerate(vectors) if vector is not None]
    encoded: list[EncodedTerms | None] = [None] * len(vectors)
    for i, columns in zip(given, _encode_present([cast(TermWeights, vectors[i]) for i in given]), strict=True):
        encoded[i] = columns
    return encoded


def encode_counts(batch: BatchTermCounts) -> list[EncodedTerms | None]:
    """BM25 term counts of a batch of texts as columns (``None`` for a text without terms); they need no checks.

    Example:
        >>> from ragstore.bm25_text import Bm25Tokenizer
        >>> [row, nothing] = encode_counts(Bm25Tokenizer().term_counts_batch(["cats chase cats", "the"]))
        >>> sorted(np.frombuffer(row.weights, "<f4").tolist()), row.length, nothing
        ([1.0, 2.0], 3.0, None)

    """
    terms = batch.hashes.astype("<u4", copy=False).tobytes()
    weights = batch.counts.astype("<f4").tobytes()
    bounds = (4 * batch.offsets).tolist()
    return [
        EncodedTerms(terms[start:end], weights[start:end], float(length)) if length else None
        for start, end, length in zip(bounds[:-1], bounds[1:], batch.lengths.tolist(), strict=True)
    ]


def _encode_present(vectors: Sequence[TermWeights]) -> list[EncodedTerms]:
    columns = [_row(vector) for vector in vectors]
    narrow = [i for i, (terms, weights) in enumerate(columns) if len(terms) == len(weights)]
    joined = np.frombuffer(b"".join(columns[i][0] for i in narrow), dtype="<u4")
    weights = np.frombuffer(b"".join(weights for _, weights in columns), dtype="<f4")
    if not np.isfinite(weights).all():
        raise ValueError("A sparse vector's values must be finite")
    counts = np.fromiter((len(columns[i][0]) // 4 for i in narrow), dtype=np.int64, count=len(narrow))
    row = np.repeat(np.arange(len(narrow)), counts)
    unordered = np.unique(row[1:][(joined[1:] <= joined[:-1]) & (row[1:] == row[:-1])]).tolist() if len(joined) > 1 else []
    for i in [narrow[r] for r in unordered] + [i for i in range(len(columns)) if len(columns[i][0]) != len(columns[i][1])]:
        columns[i] = _sorted_row(columns[i])
    sizes = np.fromiter((len(w) // 4 for _, w in columns), dtype=np.int64, count=len(columns))
    ends = np.cumsum(sizes)
    sums = np.concatenate(([0.0], np.cumsum(weights, dtype=np.float64)))
    return [
        EncodedTerms(terms, blob, float(vector.length) if vector.length is not None else float(sums[end] - sums[end - size]))
        for (terms, blob), vector, end, size in zip(columns, vectors, ends.tolist(), sizes.tolist(), strict=True)
    ]


def _row(vector: TermWeights) -> tuple[bytes, bytes]:
    """One record's BLOBs as given: ``uint32`` ids when they fit, else ``int64`` (checked later)."""
    indices, weights = vector.indices, vector.weights
    if isinstance(indices, np.ndarray) or isinstance(weights, np.ndarray) or sys.byteorder != "little":
        ids = np.asarray(indices, dtype=np.int64).reshape(-1)
        values = np.asarray(weights, dtype="<f4").reshape(-1)
        wide = len(ids) and (ids.min() < 0 or ids.max() >= _UINT32_LIMIT)
        terms = ids.astype("<i8" if wide else "<u4").tobytes()
        blob = values.tobytes()
    else:
        try:
            terms = array.array("I", cast(Sequence[int], indices)).tobytes()
        except OverflowError:  # negative or 32 bits too wide: _sorted_row takes it
            terms = np.asarray(indices, dtype=np.int64).astype("<i8").tobytes()
        blob = array.array("f", cast(Sequence[float], weights)).tobytes()
    if len(terms) not in (len(blob), 2 * len(blob)):
        raise ValueError("A sparse vector needs one weight per index")
    return terms, blob


def _sorted_row(columns: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """A row whose ids are unordered or wide: sorted and checked on its own (rare)."""
    terms, blob = columns
    ids = np.frombuffer(terms, dtype="<u4" if len(terms) == len(blob) else "<i8").astype(np.int64)
    values = np.frombuffer(blob, dtype="<f4")
    order = np.argsort(ids, kind="stable")
    ids, values = ids[order], values[order]
    if len(ids) and ids[0] < 0:
        raise ValueError(f"A sparse vector's indices must be non-negative, got {int(ids[0])}")
    if (np.diff(ids) == 0).any():
        raise ValueError("A sparse vector's indices must be distinct")
    wide = len(ids) and ids[-1] >= _UINT32_LIMIT
    return ids.astype("<i8" if wide else "<u4").tobytes(), values.tobytes()


def decode_rows(rows: Sequence[Sequence[Any]]) -> tuple[Int64s, Floats, Int64s, Terms, Floats]:
    """``(rowid, terms, weights, length)`` rows as arrays: rowids, lengths, postings per row, terms, weights.

    Example:
        >>> [row] = encode([TermWeights([1, 2**40], [1.0, 1.0])])
        >>> rowids, lengths, counts, terms, weights = decode_rows([(5, *row)])
        >>> counts.tolist(), terms.tolist()
        ([2], [1, 1099511627776])

    """
    n = len(rows)
    rowids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=n)
    lengths = np.fromiter((row[3] for row in rows), dtype=np.float32, count=n)
    counts = np.fromiter((len(row[2]) for row in rows), dtype=np.int64, count=n) // 4
    weights = np.frombuffer(b"".join(row[2] for row in rows), dtype="<f4")
    joined = b"".join(row[1] for row in rows)
    terms: Terms
    if len(joined) == 4 * len(weights):  # every row's ids fit in 32 bits (a wider row would make it longer)
        terms = np.frombuffer(joined, dtype="<u4")
    else:
        terms = np.concatenate(
            [np.frombuffer(row[1], dtype="<u4" if len(row[1]) == len(row[2]) else "<i8").astype(np.int64) for row in rows]
        )
    return rowids, lengths, counts, terms, weights


def write_terms(
    conn: sqlite3.Connection,
    collection_pk: int,
    key: str,
    seq: int,
    ids: Sequence[str],
    vectors: Sequence[EncodedTerms | None],
    new: AbstractSet[str] = frozenset(),
    rowids: Mapping[str, int] | None = None,
) -> int:
    """Store the ``key`` value of the records ``ids`` (written before, in this transaction) as sequence ``seq``.

    Values come encoded (:func:`encode`, :func:`encode_counts`). ``None`` removes a
    record's value (its metadata lost the key). Values equal to the stored ones are
    skipped. A record whose value changes gets ``records.seq = seq``, so the in-memory
    index re-reads it when it catches up: the caller must then advance the collection's
    ``last_seq`` to ``seq``, as for any write the mirrors must see.

    ``new`` names records this write inserted: they hold no value yet and carry ``seq``
    already, so they are neither looked up nor stamped (an add's whole batch), and their
    rows are plain inserts (a ``REPLACE`` costs ~3 µs a row more: it looks for a row to
    delete). ``rowids`` maps the ids to their records' rowids when the caller knows them
    (:class:`ragstore.local.records.Written`); else they are read.

    Returns:
        How many records' values changed.

    Raises:
        ValueError: an id is not a record of the collection, or a
            record holds a value for another key (a collection has one sparse key, as in chromadb).

    """
    ids = list(ids)
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids but {len(vectors)} sparse vectors")
    if not ids:
        return 0
    rowid_of = rowids if rowids is not None else _rowids(conn, collection_pk, ids)
    missing = [id_ for id_ in ids if id_ not in rowid_of]
    if missing:
        raise ValueError(f"Not records of the collection: {missing[:5]}")
    older = [rowid_of[id_] for id_ in ids if id_ not in new]
    stored = _stored_values(conn, older)
    other = next((stored_key for stored_key, *_ in stored.values() if stored_key != key), None)
    if other is not None:  # one row per record: a second key would overwrite the first's values
        raise ValueError(f"The collection's records hold values for the sparse key {other!r}: one sparse key per collection")
    inserted: list[tuple[Any, ...]] = []
    replaced: list[tuple[Any, ...]] = []
    gone: list[int] = []
    for id_, vector in zip(ids, vectors, strict=True):
        rowid = rowid_of[id_]
        if vector is None:
            if rowid in stored:
                gone.append(rowid)
        elif id_ in new:
            inserted.append((rowid, collection_pk, key, *vector))
        elif stored.get(rowid) != (key, *vector):
            replaced.append((rowid, collection_pk, key, *vector))
    columns = "(record_rowid, collection_pk, key, terms, weights, length) VALUES (?, ?, ?, ?, ?, ?)"
    if inserted:
        conn.executemany(f"INSERT INTO sparse_terms {columns}", inserted)
    if replaced:
        conn.executemany(f"INSERT OR REPLACE INTO sparse_terms {columns}", replaced)
    if gone:
        conn.execute("DELETE FROM sparse_terms WHERE record_rowid IN (SELECT value FROM json_each(?))", (json.dumps(gone),))
    stamped = [row[0] for row in replaced] + gone  # inserted records carry seq already
    if stamped:
        conn.execute(
            "UPDATE records SET seq = ? WHERE rowid IN (SELECT value FROM json_each(?)) AND seq < ?", (seq, json.dumps(stamped), seq)
        )
    return len(inserted) + len(stamped)


def _rowids(conn: sqlite3.Connection, collection_pk: int, ids: Sequence[str]) -> dict[str, int]:
    """``id -> rowid`` of the collection's records among ``ids``."""
    return dict(
        conn.execute(
            "SELECT id, rowid FROM records WHERE collection_pk = ? AND id IN (SELECT value FROM json_each(?))",
            (collection_pk, json.dumps(list(ids))),
        )
    )


def _stored_values(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """``rowid -> (key, terms, weights, length)`` of the records among ``rowids`` that hold a sparse value."""
    if not rowids:
        return {}
    return {
        row[0]: tuple(row[1:])
        for row in conn.execute(
            "SELECT record_rowid, key, terms, weights, length FROM sparse_terms WHERE record_rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(list(rowids)),),
        )
    }


def load(conn: sqlite3.Connection, collection_pk: int, key: str, last_seq: int) -> SparseIndex:
    """Build the index of ``key`` from SQLite, as of ``last_seq`` (the caller's read transaction)."""
    index = SparseIndex()
    cursor = conn.execute(
        "SELECT record_rowid, terms, weights, length FROM sparse_terms WHERE collection_pk = ? AND key = ?", (collection_pk, key)
    )
    parts = []
    while batch := cursor.fetchmany(_LOAD_BATCH):
        parts.append(decode_rows(batch))
    if parts:
        rowids, lengths, counts, terms, weights = (np.concatenate(column) for column in zip(*parts, strict=True))
        # The labels come from the (collection_pk, label) index alone: no record row is read.
        held = np.array(
            conn.execute(
                "SELECT rowid, label FROM records INDEXED BY records_by_collection_label WHERE collection_pk = ?", (collection_pk,)
            ).fetchall(),
            dtype=np.int64,
        ).reshape(-1, 2)
        held = held[np.argsort(held[:, 0])]
        labels = held[np.searchsorted(held[:, 0], rowids), 1]
        index.append(labels, rowids, lengths, counts, terms, weights)
    index.applied_seq = last_seq
    return index


def catch_up(index: SparseIndex, conn: sqlite3.Connection, collection_pk: int, key: str, last_seq: int) -> None:
    """Apply every change with a sequence in ``(index.applied_seq, last_seq]`` (takes the index's lock exclusively).

    The caller has checked that the tombstones of that range are kept (``applied_seq >= tombstone_floor``).
    """
    with index.lock.write():
        if index.applied_seq >= last_seq:
            return
        rows = conn.execute(
            "SELECT r.label, r.rowid, s.terms, s.weights, s.length FROM records r "
            "LEFT JOIN sparse_terms s ON s.record_rowid = r.rowid AND s.key = ? "
            "WHERE r.collection_pk = ? AND r.seq > ? AND r.seq <= ?",
            (key, collection_pk, index.applied_seq, last_seq),
        ).fetchall()
        gone = conn.execute(
            "SELECT label FROM tombstones WHERE collection_pk = ? AND seq > ? AND seq <= ?", (collection_pk, index.applied_seq, last_seq)
        ).fetchall()
        # Every changed record is dropped and read again: its terms, its label or both may be new.
        index.remove([label for (label,) in gone] + [row[0] for row in rows])
        present = [row for row in rows if row[2] is not None]
        if present:
            rowids, lengths, counts, terms, weights = decode_rows([row[1:] for row in present])
            labels = np.fromiter((row[0] for row in present), dtype=np.int64, count=len(present))
            index.append(labels, rowids, lengths, counts, terms, weights)
        index.applied_seq = last_seq


class SparseIndexes:
    """The sparse indexes of one store, by (collection ``pk``, key): built on first use, caught up before each.

    Thread-safe: an index is built once however many threads ask (one mutex per key),
    and searches run beside each other (:meth:`SparseIndex.search` holds the index's
    lock shared; a catch-up holds it exclusively).

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).read() as conn:
        ...     SparseIndexes().caught_up(conn, collection_pk=1, key="bm25", last_seq=0, tombstone_floor=0).live_count
        0

    """

    def __init__(self) -> None:
        self._indexes: dict[tuple[int, str], SparseIndex] = {}
        self._building: dict[tuple[int, str], threading.Lock] = {}
        self._lock = threading.Lock()  # guards the two dictionaries only, never held during SQL

    def caught_up(self, conn: sqlite3.Connection, collection_pk: int, key: str, last_seq: int, tombstone_floor: int) -> SparseIndex:
        """The index of ``key`` caught up to ``last_seq``; built from SQLite if missing or too old to catch up.

        Args:
            conn: A connection inside the caller's read (or write) transaction.
            collection_pk: The collection.
            key: The sparse key (the key the collection's sparse index is declared on).
            last_seq: The collection's ``last_seq`` as that transaction sees it.
            tombstone_floor: The collection's ``tombstone_floor`` as that transaction sees it.

        """
        name = (collection_pk, key)
        with self._lock:
            index = self._indexes.get(name)
            building = self._building.setdefault(name, threading.Lock())
        if index is None or index.applied_seq < tombstone_floor:
            with building:  # one thread builds; the others wait for it and take its index
                with self._lock:
                    index = self._indexes.get(name)
                if index is None or index.applied_seq < tombstone_floor:
                    index = load(conn, collection_pk, key, last_seq)
                    with self._lock:
                        self._indexes[name] = index
        # applied_seq only grows, so a newer index serves an older snapshot as well.
        if index.applied_seq < last_seq:
            catch_up(index, conn, collection_pk, key, last_seq)
        return index

    def forget(self, collection_pk: int) -> None:
        """Drop the indexes of a deleted collection.

        Example:
            >>> SparseIndexes().forget(1)

        """
        with self._lock:
            for name in [name for name in self._indexes if name[0] == collection_pk]:
                del self._indexes[name]

    def clear(self) -> None:
        """Drop every index (a reset).

        Example:
            >>> SparseIndexes().clear()

        """
        with self._lock:
            self._indexes.clear()
