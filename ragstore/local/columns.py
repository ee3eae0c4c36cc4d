"""An in-memory, column-wise copy of a collection's live records: vectors and metadata.

Filtered queries must return the true nearest matches, and ask two things of
the store: which records match the filter, and how far each of them is from the
query. SQLite answers both, but slowly (it reads every matching row's 1.5 KB
vector from disk pages); :class:`RecordColumns` keeps both in numpy arrays, so
a filter is a vectorised comparison (:mod:`ragstore.local.metadata_columns`)
and the exact search a matrix product over the matching rows.

Like the HNSW index it is a cache of SQLite, kept the same way: it remembers
the sequence it has applied and catches up with what is newer (changed rows by
``records.seq``, removed vectors from ``tombstones``). It is built on first
use, so a store that is never filtered never pays for it.

Records sit in *slots*, in ascending label order: labels are handed out in
increasing order and every new vector gets a new label, so appending keeps the
order and a label's slot is a binary search away. A record whose metadata
changes keeps its slot; one whose vector changes gets a new label, hence a new
slot, and its old slot dies. Dead slots are dropped once they outnumber live ones.

Threads: searches hold :attr:`RecordColumns.lock` shared; catching up holds it
exclusively (see :class:`ragstore.local.rwlock.RWLock`).

Example:
    >>> import numpy as np
    >>> columns = RecordColumns(dim=2)
    >>> columns.append(np.array([10, 11]), np.array([[0, 0], [3, 4]], dtype=np.float32), [{"n": 1}, {"n": 2}])
    >>> labels, distances = columns.nearest(np.array([[3.0, 3.0]], dtype=np.float32), columns.live_slots(), k=1, space="l2")
    >>> int(labels[0][0]), float(distances[0][0])
    (11, 1.0)

"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.filters import Node
from ragstore.local.heap import release_free_memory
from ragstore.local.index import exact_search
from ragstore.local.metadata_columns import KeyColumn, Mask, evaluate
from ragstore.local.records import load_metadata
from ragstore.local.rwlock import RWLock
from ragstore.local.slot_table import MIN_CAPACITY, SlotTable
from ragstore.sparse_vectors import SparseVector

Slots = npt.NDArray[np.int64]

# Rows a build reads at a time: their bytes and decoded metadata are the build's peak beyond the
# columns themselves (at 384 dimensions ~6 MiB a batch; 10,000 rows made ~30 MiB of it).
_LOAD_BATCH = 2_000

# Exact search first ranks with float32 products, then re-ranks this many extra
# candidates in float64, so float32 rounding can never push a true neighbour out.
_RERANK_EXTRA = 32
# Slots filling more than this share of the range they span are multiplied in place, not gathered (see _products).
_FULL_PRODUCT_SHARE = 0.5
# Rows per block of an exact search's products (see _products).
_BLOCK = 1024


class RecordColumns(SlotTable):
    """Vectors and metadata of a collection's records, one slot each (see the module docstring).

    Args:
        dim: The collection's dimension.

    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.labels: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.vectors: npt.NDArray[np.float32] = np.zeros((0, dim), dtype=np.float32)
        self.norms: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)  # squared lengths, for l2 and cosine
        self.keys: dict[str, KeyColumn] = {}
        self.applied_seq = 0
        self.lock = RWLock()

    # ------------------------------------------------------------------ changes

    def append(self, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32], metadatas: Sequence[dict[str, Any] | None]) -> None:
        """Add records with new labels, all larger than any held (the caller sorts them)."""
        n = len(labels)
        if not n:
            return
        if self.size and labels[0] <= self.labels[self.size - 1]:
            raise ValueError("labels must be appended in ascending order")
        self._reserve(self.size + n)
        start, end = self.size, self.size + n
        self.labels[start:end] = labels
        self.vectors[start:end] = vectors
        self.norms[start:end] = np.einsum("ij,ij->i", self.vectors[start:end], self.vectors[start:end])
        self.live[start:end] = True
        for offset, metadata in enumerate(metadatas):
            self._set_metadata(start + offset, metadata)
        self.size, self.live_count = end, self.live_count + n

    def set_metadata(self, slot: int, metadata: dict[str, Any] | None) -> None:
        """Replace one live slot's metadata (its record kept its vector)."""
        for column in self.keys.values():
            column.clear(slot)
        self._set_metadata(slot, metadata)

    def _set_metadata(self, slot: int, metadata: dict[str, Any] | None) -> None:
        for key, value in (metadata or {}).items():
            if isinstance(value, SparseVector):
                continue  # filters see a sparse vector's key as absent, as SQLite's record_metadata does
            column = self.keys.get(key)
            if column is None:
                column = self.keys[key] = KeyColumn(len(self.live))
            column.set(slot, value)

    def remove(self, labels: Sequence[int]) -> None:
        """Drop the slots of ``labels`` (deleted records, replaced vectors); unknown labels are ignored."""
        slots = self.slots_of(np.asarray(labels, dtype=np.int64))
        slots = slots[self.live[slots]]
        for slot in slots.tolist():
            for column in self.keys.values():
                column.clear(slot)
        self._retire(slots)

    def _slot_arrays(self) -> tuple[np.ndarray, ...]:
        return (self.labels, self.live, self.norms, self.vectors)

    def _reserve(self, needed: int) -> None:
        capacity = self._grow(needed)
        if capacity is not None:
            for column in self.keys.values():
                column.grow(capacity)

    def _compact(self) -> None:
        """Drop dead slots (amortised O(1) per removal: only once they outnumber live ones)."""
        keep = np.flatnonzero(self.live[: self.size])
        n = len(keep)
        capacity = max(n, MIN_CAPACITY)
        # Moving rows to lower positions in place (keep is ascending) needs no second copy.
        for array in (self.labels, self.norms, self.vectors):
            array[:n] = array[keep]
            array.resize((capacity, *array.shape[1:]), refcheck=False)
        self.live = np.zeros(capacity, dtype=bool)
        self.live[:n] = True
        for column in self.keys.values():
            column.compact(keep, capacity)
        self.keys = {key: column for key, column in self.keys.items() if (column.kind[:n] != 0).any()}
        self.size = n

    # ------------------------------------------------------------------ lookups

    def slots_of(self, labels: npt.NDArray[np.int64]) -> Slots:
        """The slots holding ``labels`` (labels not held are left out)."""
        if not len(labels) or not self.size:
            return np.zeros(0, dtype=np.int64)
        found = np.searchsorted(self.labels[: self.size], labels)
        found = found[found < self.size]
        return np.unique(found[np.isin(self.labels[found], labels)])

    def live_slots(self) -> Slots:
        """Every live slot, ascending."""
        return np.flatnonzero(self.live[: self.size])

    def matching(self, node: Node | None) -> Mask | None:
        """A mask over the slots of the live records matching ``node`` (``None``: the filter needs SQLite)."""
        if node is None:
            return self.live[: self.size].copy()
        mask = evaluate(node, self.keys, self.size)
        return None if mask is None else mask & self.live[: self.size]

    def nearest(
        self, queries: npt.NDArray[np.float32], slots: Slots, k: int, space: str
    ) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.float32]]]:
        """The exact ``k`` nearest of ``slots`` for each query: labels and distances (as hnswlib defines them)."""
        k = min(k, len(slots))
        if k == 0:
            return [np.zeros(0, np.int64)] * len(queries), [np.zeros(0, np.float32)] * len(queries)
        with np.errstate(over="ignore", invalid="ignore"):  # vectors near float32's limits: see below
            scores = self._scores(queries, slots, space)  # smaller is nearer, ranks like the distance
        # A product past float32's range ranks nothing: then every slot is re-ranked in float64.
        keep = min(len(slots), k + _RERANK_EXTRA) if np.isfinite(scores).all() else len(slots)
        if keep < len(slots):
            candidates = np.argpartition(scores, keep - 1, axis=1)[:, :keep]
        else:
            candidates = np.broadcast_to(np.arange(len(slots)), (len(queries), len(slots)))
        labels, distances = [], []
        for i in range(len(queries)):
            chosen = slots[candidates[i]]
            top, dist = exact_search(queries[i : i + 1], self.labels[chosen], self.vectors[chosen], k, space)
            labels.append(top[0])
            distances.append(dist[0])
        return labels, distances

    def _products(self, q: npt.NDArray[np.float32], slots: Slots) -> npt.NDArray[np.float32]:
        """Each query's dot products with the vectors of ``slots`` (ascending, not empty), a block of rows at a time.

        Slots that mostly fill the range they span (a fresh tail, most of a collection) are
        multiplied where they lie, blocks of rows sliced from the matrix, and the few gaps
        dropped after: slicing reads each row once, gathering copies it first (a 50,000-slot
        tail at 384 dimensions: 7 ms sliced, 23 ms gathered, under load). Scattered slots (a
        narrow filter) are gathered a block at a time and used while still in cache. Blocks of
        ``_BLOCK`` rows also keep each product small enough that BLAS runs it on the calling
        thread instead of waking threads that would wait for cores the indexer is using (the
        same tail in 8,192-row blocks: 76 ms).
        """
        first, end = int(slots[0]), int(slots[-1]) + 1
        if len(slots) > _FULL_PRODUCT_SHARE * (end - first):
            span = np.empty((len(q), end - first), dtype=np.float32)
            for start in range(first, end, _BLOCK):
                stop = min(end, start + _BLOCK)
                span[:, start - first : stop - first] = q @ self.vectors[start:stop].T
            return span if len(slots) == end - first else span[:, slots - first]
        products = np.empty((len(q), len(slots)), dtype=np.float32)
        for start in range(0, len(slots), _BLOCK):
            block = slots[start : start + _BLOCK]
            products[:, start : start + len(block)] = q @ self.vectors[block].T
        return products

    def _scores(self, queries: npt.NDArray[np.float32], slots: Slots, space: str) -> npt.NDArray[np.float32]:
        """float32 scores of ``slots`` per query that rank like the exact distances (smaller is nearer)."""
        products = self._products(np.ascontiguousarray(queries, dtype=np.float32), slots)
        if space == "ip":
            scores: npt.NDArray[np.float32] = -products
        elif space == "l2":
            scores = self.norms[slots][None, :] - np.float32(2.0) * products  # |q|^2 is the same for every candidate
        else:  # cosine: so is |q|
            lengths = np.sqrt(np.maximum(self.norms[slots], np.float32(1e-30)))
            scores = (-products / lengths[None, :]).astype(np.float32, copy=False)
        return scores

    # ------------------------------------------------------------------ SQLite

    @classmethod
    def load(cls, conn: sqlite3.Connection, collection_pk: int, dim: int, last_seq: int) -> RecordColumns:
        """Build the columns from every record of the collection, as of ``last_seq`` (the caller's snapshot)."""
        columns = cls(dim)
        count = conn.execute("SELECT count(*) FROM records WHERE collection_pk = ?", (collection_pk,)).fetchone()[0]
        columns._reserve(count)
        # In label order, batch by batch, so no second copy of the vectors is ever needed.
        cursor = conn.execute(
            "SELECT label, embedding, metadata_json FROM records INDEXED BY records_by_label WHERE collection_pk = ? ORDER BY label",
            (collection_pk,),
        )
        while batch := cursor.fetchmany(_LOAD_BATCH):
            columns.append(*_decode(batch, dim))
        columns.applied_seq = last_seq
        release_free_memory()  # what the batches left in the C heap (see ragstore.local.heap)
        return columns

    def catch_up(self, conn: sqlite3.Connection, collection_pk: int, last_seq: int) -> None:
        """Apply every change with a sequence in ``(applied_seq, last_seq]`` from SQLite.

        The caller holds :attr:`lock` for writing, and has checked that the tombstones of
        that range are still kept (``applied_seq >= tombstone_floor``).
        """
        rows = conn.execute(
            "SELECT label, embedding, metadata_json FROM records WHERE collection_pk = ? AND seq > ? AND seq <= ?",
            (collection_pk, self.applied_seq, last_seq),
        ).fetchall()
        removed = [
            r[0]
            for r in conn.execute(
                "SELECT label FROM tombstones WHERE collection_pk = ? AND seq > ? AND seq <= ?", (collection_pk, self.applied_seq, last_seq)
            )
        ]
        if rows:
            labels, vectors, metadatas = _decode(rows, self.dim)
            held = self.slots_of(labels)  # labels held already: only their metadata changed
            if len(held):
                for slot, metadata in zip(held.tolist(), _metadata_of(self.labels[held], labels, metadatas), strict=True):
                    self.set_metadata(slot, metadata)
            new = ~np.isin(labels, self.labels[held])
            order = np.flatnonzero(new)[np.argsort(labels[new], kind="stable")]
            self.append(labels[order], vectors[order], [metadatas[i] for i in order.tolist()])
        self.remove(removed)
        self.applied_seq = last_seq


def _decode(rows: Sequence[Any], dim: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], list[Any]]:
    labels = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
    metadatas = [load_metadata(r[2]) for r in rows]
    return labels, vectors, metadatas


def _metadata_of(wanted: npt.NDArray[np.int64], labels: npt.NDArray[np.int64], metadatas: list[Any]) -> list[Any]:
    """The metadata of each label in ``wanted``, from rows given as parallel ``labels`` / ``metadatas``."""
    by_label = dict(zip(labels.tolist(), metadatas, strict=True))
    return [by_label[label] for label in wanted.tolist()]
