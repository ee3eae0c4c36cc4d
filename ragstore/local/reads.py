"""Answering ``get`` and ``query``: planning the search and shaping the results.

A query with a filter (``where``, ``where_document`` or ``ids``) first finds
the matching records: metadata filters in the collection's in-memory columns
(:mod:`ragstore.local.columns`), document conditions and ids in SQLite. When the
matches are few (at most ``EXACT_SEARCH_MAX`` records, or a quarter of the
collection) they are compared with the query exactly, so the answer is the true
nearest matches; otherwise the HNSW index searches with the matches as an
allow-list. An unfiltered query uses the index alone. A query for at least a
tenth of the candidates (``EXACT_SEARCH_K_FRACTION``) is answered exactly too:
the index would visit most of its graph anyway, and its recall is worst there
(the far end of a long result list). If hnswlib cannot return enough
neighbours (a graph thinned by deletes), the search is retried with a wider
beam and then answered exactly. Index searches on one collection run in
parallel; only the wider-beam retry runs alone (see :mod:`ragstore.local.index`).

No query waits for the background indexer: when the graph lags behind the
query's snapshot, the columns are caught up instead (a copy, no graph insertion)
and the graph's answer is merged with an exact search over the records it lacks
(:mod:`ragstore.local.fresh_tail`), so every committed record can be found.

Example:
    >>> EXACT_SEARCH_MAX >= 1000
    True

"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.errors import ResponseTooLargeError
from ragstore.filters import Node
from ragstore.local.catalog import CollectionRow
from ragstore.local.columns import RecordColumns, Slots
from ragstore.local.fresh_tail import Hits, search_lagging, unchecked_budget
from ragstore.local.index import VectorIndex
from ragstore.local.index_cache import IndexCache
from ragstore.local.records import decode_embedding, labels_condition, load_metadata
from ragstore.local.sql_filters import selection
from ragstore.types import GetResult, QueryResult

EXACT_SEARCH_MAX = 20_000
EXACT_SEARCH_FRACTION = 0.25
EXACT_SEARCH_K_FRACTION = 0.1
# The largest answer a server's get or query builds by default (``ragstore run
# --max-response-size``), in estimated JSON bytes (the fields asked for, plus
# ``_FLOAT_BYTES`` per embedding value and ``_ENTRY_BYTES`` per record): ~22,000
# records of 1,000-character chunks with metadata. Embedded engines have no budget:
# the answer lands in the caller's own memory, as chromadb's does. A server holds an answer about twice
# while it encodes it (rows as Python strings, then JSON), and glibc keeps much of what
# large answers freed: the reproductions, one after another, left a real server
# peaking 184 MB above idle at this value (86 MB at 16 MiB, which refused a 16 MB
# book's chunks in one get). Larger answers are paged (limit and offset) or split.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 2**20
_FLOAT_BYTES = 12
_ENTRY_BYTES = 32


def needs_no_catching_up(indexes: IndexCache, row: CollectionRow, k: int, node: Node | None, ids: list[str] | None) -> bool:
    """Whether :func:`search` will run without loading or catching up a cache (so without a snapshot).

    Example:
        >>> import uuid
        >>> from ragstore.configuration import build_configuration
        >>> from ragstore.local.database import Database
        >>> row = CollectionRow(1, uuid.uuid4(), "docs", 2, None, build_configuration({}, None), 0, 0, "t", "d")
        >>> needs_no_catching_up(IndexCache(Database(None), None), row, 10, None, None)
        False

    """
    index, columns = indexes.current(row)
    if index is None:
        return False
    if index.applied_seq < row.last_seq:  # a lagging graph is searched with the columns' exact tail
        return columns is not None
    uses_columns = node is not None or ids is not None or k >= EXACT_SEARCH_K_FRACTION * len(index.labels)
    return columns is not None or not uses_columns


def search(
    conn: sqlite3.Connection,
    indexes: IndexCache,
    row: CollectionRow,
    queries: npt.NDArray[np.float32],
    k: int,
    node: Node | None,
    ids: list[str] | None,
) -> Hits:
    """Nearest labels and distances for each query (see the module docstring).

    Args:
        conn: A connection inside the caller's read transaction.
        indexes: The store's index cache.
        row: The collection (``dimension`` set).
        queries: One query vector per row.
        k: How many neighbours per query.
        node: The parsed ``where`` and ``where_document`` filter, if any.
        ids: Only these record ids may be returned, if given.

    """
    index = indexes.graph(conn, row)
    complete = index.applied_seq >= row.last_seq  # it only grows: complete now means complete for this snapshot
    filtered = node is not None or ids is not None
    # len() of a set: a stale count only shifts the plan.
    if complete and not filtered and k < EXACT_SEARCH_K_FRACTION * len(index.labels):
        found = _index_search(index, row, queries, k, None)
        if found is not None:
            return found
    columns = indexes.columns(conn, row)
    with columns.lock.read():
        slots = _candidates(conn, columns, row, node, ids) if filtered else None
        candidates = len(slots) if slots is not None else columns.live_count
        if filtered:
            exact = candidates <= max(EXACT_SEARCH_MAX, EXACT_SEARCH_FRACTION * columns.live_count, k / EXACT_SEARCH_K_FRACTION)
        else:  # here with a complete graph only if it could not answer
            exact = complete or k >= EXACT_SEARCH_K_FRACTION * candidates
        if not exact:
            # Searching under the columns' read lock keeps slots valid for the exact fallback.
            if complete:
                assert slots is not None
                found = _index_search(index, row, queries, k, set(columns.labels[slots].tolist()))
            else:
                assert row.dimension is not None
                budget = unchecked_budget(row.dimension)
                found = search_lagging(index, columns, queries, k, row.hnsw.space, row.hnsw.num_threads, slots, budget)
            if found is not None:
                return found
        return _exact(columns, row, queries, slots if slots is not None else columns.live_slots(), k)


def matching_labels(
    conn: sqlite3.Connection, indexes: IndexCache, row: CollectionRow, node: Node | None, ids: Sequence[str] | None
) -> npt.NDArray[np.int64]:
    """The labels (ascending) of the live records matching ``node`` and ``ids``: a filter's allow-list for another index.

    Example:
        >>> import uuid
        >>> from ragstore.configuration import build_configuration
        >>> from ragstore.local.database import Database
        >>> row = CollectionRow(1, uuid.uuid4(), "docs", 2, None, build_configuration({}, None), 0, 0, "t", "d")
        >>> db = Database(None)
        >>> with db.read() as conn:
        ...     matching_labels(conn, IndexCache(db, None), row, None, ["a"]).tolist()
        []

    """
    columns = indexes.columns(conn, row)
    with columns.lock.read():
        return columns.labels[_candidates(conn, columns, row, node, list(ids) if ids is not None else None)].copy()


def _candidates(conn: sqlite3.Connection, columns: RecordColumns, row: CollectionRow, node: Node | None, ids: list[str] | None) -> Slots:
    """The slots of the live records matching ``node`` and ``ids`` (the caller holds the columns' read lock)."""
    mask = columns.matching(node)
    if mask is None:  # document conditions: SQLite's full-text index answers them
        mask = _mask_of(conn, columns, *selection(row.pk, None, node, row.text_indexed))
    if ids is not None:
        mask &= _mask_of(conn, columns, *selection(row.pk, ids, None))
    return np.flatnonzero(mask)


def _mask_of(conn: sqlite3.Connection, columns: RecordColumns, sql: str, params: list[Any]) -> npt.NDArray[np.bool_]:
    labels = np.fromiter((r[0] for r in conn.execute(f"SELECT r.label FROM records r WHERE {sql}", params)), dtype=np.int64)
    mask = np.zeros(columns.size, dtype=bool)
    mask[columns.slots_of(labels)] = True
    return mask


def _exact(columns: RecordColumns, row: CollectionRow, queries: npt.NDArray[np.float32], slots: Slots, k: int) -> Hits:
    labels, distances = columns.nearest(queries, slots, k, row.hnsw.space)
    return list(zip(labels, distances, strict=True))


def _index_search(
    index: VectorIndex, row: CollectionRow, queries: npt.NDArray[np.float32], k: int, allowed: set[int] | None
) -> Hits | None:
    """The index's answer, retried once with a wider beam; ``None`` if it cannot return ``k``."""
    hnsw = row.hnsw
    ef, threads = hnsw.ef_search, hnsw.num_threads
    # Each search locks the index for itself (shared, so queries run in parallel); the graph
    # may change between the two tries, and each try is consistent on its own.
    found = index.search(queries, k, ef, threads, allowed)
    if found is None:
        found = index.search(queries, k, max(ef, k) * 8, threads, allowed)
    if found is None:
        return None
    labels, distances = found
    return [(labels[i].astype(np.int64), distances[i]) for i in range(len(queries))]


def _columns(include: Sequence[str], key: str = "r.rowid") -> list[str]:
    return [key, "r.id", "r.document", "r.uri", "r.metadata_json"] + (["r.embedding"] if "embeddings" in include else [])


def _size_sql(include: Sequence[str]) -> str:
    """SQL for the UTF-8 bytes of a record's included text fields (its id always).

    As a blob, a text's length is its byte count, known without counting characters
    (12 µs instead of 20 µs for a query's ten records).
    """
    fields = ["r.id"] + [f"r.{name}" for name, key in _TEXT_FIELDS if key in include]
    return " + ".join(f"coalesce(length(CAST({field} AS BLOB)), 0)" for field in fields)


_TEXT_FIELDS = (("document", "documents"), ("uri", "uris"), ("metadata_json", "metadatas"))


def _entry_bytes(include: Sequence[str], dim: int | None) -> int:
    return _ENTRY_BYTES + (_FLOAT_BYTES * (dim or 0) if "embeddings" in include else 0)


def _too_large(size: int, budget: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"The answer would be about {size / 2**20:.0f} MiB, over the server's limit of {budget / 2**20:g} MiB "
        "(ragstore run --max-response-size): page it with limit and offset, ask for fewer query embeddings or "
        "n_results, or include fewer fields"
    )


def get_result(
    conn: sqlite3.Connection,
    sql: str,
    params: list[Any],
    include: Sequence[str],
    limit: int | None,
    offset: int | None,
    dim: int | None,
    budget: int | None = None,
) -> GetResult:
    """Run a ``get`` selection (insertion order, paged) and shape it like chromadb.

    Raises:
        ResponseTooLargeError: the answer would exceed ``budget`` bytes (counted
            while reading, so no more than that is ever held; summing first in SQL would
            run the selection twice, and a regex filter's cost with it).

    """
    sized = f", {_size_sql(include)}" if budget is not None else ""
    cursor = conn.execute(
        f"SELECT {', '.join(_columns(include))}{sized} FROM records r WHERE {sql} ORDER BY r.rowid LIMIT ? OFFSET ?",
        [*params, -1 if limit is None else limit, offset or 0],
    )
    if budget is None:
        rows: list[Any] = cursor.fetchall()
    else:
        rows = []
        size, entry = 0, _entry_bytes(include, dim)
        for row in cursor:
            size += entry + row[-1]
            if size > budget:
                cursor.close()
                raise _too_large(size, budget)
            rows.append(row)
    embeddings = None
    if "embeddings" in include:
        embeddings = np.array([decode_embedding(r[5]) for r in rows], dtype=np.float32).reshape(len(rows), dim or 0)
    return {
        "ids": [r[1] for r in rows],
        "embeddings": embeddings,
        "documents": [r[2] for r in rows] if "documents" in include else None,
        "uris": [r[3] for r in rows] if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": [_metadata(r[4]) for r in rows] if "metadatas" in include else None,
    }


def _metadata(text: str | None) -> dict[str, Any] | None:
    return load_metadata(text)


def _rows_by_label(conn: sqlite3.Connection, labels: list[int], include: Sequence[str]) -> dict[int, list[Any]]:
    """``label -> [label, id, document, uri, metadata_json, hex embedding?]`` for the rows holding ``labels``.

    Fields ``include`` leaves out come back as ``None`` (same positions): encoding a document or
    metadata nobody asked for cost more than the rest of the fetch (200 rows of 1,000-character
    chunks: 1,703 us with every field, 368 us with label and id alone).

    One statement returns them all as one JSON array. Fetching rows one by one costs a
    step each, and each step releases and retakes the GIL: with many threads querying at
    once, those hand-overs took longer than the SQL (8 threads: 3,700 fetches/s one by
    one, 7,700 as one JSON row).
    """
    params: list[Any] = []
    condition = labels_condition(labels, params)
    fields = ["r.label", "r.id"]
    fields += [column if name in include else "NULL" for name, column in _OPTIONAL_FIELDS]
    if "embeddings" in include:
        fields.append("hex(r.embedding)")
    sql = f"SELECT json_group_array(json_array({', '.join(fields)})) FROM records r WHERE {condition}"
    (text,) = conn.execute(sql, params).fetchone()
    return {row[0]: row for row in orjson.loads(text)}


_OPTIONAL_FIELDS = (("documents", "r.document"), ("uris", "r.uri"), ("metadatas", "r.metadata_json"))


def _check_answer_size(
    conn: sqlite3.Connection,
    per_query: list[tuple[list[int], list[float]]],
    wanted: list[int],
    include: Sequence[str],
    dim: int | None,
    budget: int,
) -> None:
    """Raise :class:`ResponseTooLargeError` before fetching rows whose answer would exceed ``budget`` bytes.

    A record returned by several queries counts once per query, as the answer repeats it.
    """
    params: list[Any] = []
    condition = labels_condition(wanted, params)
    sizes = dict(conn.execute(f"SELECT r.label, {_size_sql(include)} FROM records r WHERE {condition}", params).fetchall())
    entry = _entry_bytes(include, dim)
    size = sum(sum(sizes.get(label, 0) for label in labels) + entry * len(labels) for labels, _ in per_query)
    if size > budget:
        raise _too_large(size, budget)


def query_result(conn: sqlite3.Connection, hits: Hits, include: Sequence[str], dim: int | None, budget: int | None = None) -> QueryResult:
    """Fetch the rows behind ``hits`` and shape a chromadb ``QueryResult``.

    Labels whose rows vanished or moved on (deleted, or given a new vector, after the
    index was read) are dropped.

    Raises:
        ResponseTooLargeError: the answer would exceed ``budget`` bytes (checked
            before any row is read; ``None``: no budget).

    """
    # Plain lists (tolist() converts in C): this runs for every query, so it stays lean.
    per_query = [(labels.tolist(), distances.tolist()) for labels, distances in hits]
    wanted = sorted(set().union(*(labels for labels, _ in per_query)))
    if wanted and budget is not None:
        _check_answer_size(conn, per_query, wanted, include, dim, budget)
    by_label = _rows_by_label(conn, wanted, include) if wanted else {}
    result: QueryResult = {
        "ids": [],
        "embeddings": [] if "embeddings" in include else None,
        "documents": [] if "documents" in include else None,
        "uris": [] if "uris" in include else None,
        "included": list(include),
        "data": None,
        "metadatas": [] if "metadatas" in include else None,
        "distances": [] if "distances" in include else None,
    }
    for labels, distances in per_query:
        rows = [(by_label[label], d) for label, d in zip(labels, distances, strict=True) if label in by_label]
        result["ids"].append([r[1] for r, _ in rows])
        if result["documents"] is not None:
            result["documents"].append([r[2] for r, _ in rows])
        if result["uris"] is not None:
            result["uris"].append([r[3] for r, _ in rows])
        if result["metadatas"] is not None:
            result["metadatas"].append([load_metadata(r[4]) for r, _ in rows])
        if result["distances"] is not None:
            result["distances"].append([d for _, d in rows])
        if result["embeddings"] is not None:
            vectors = [decode_embedding(bytes.fromhex(r[5])) for r, _ in rows]
            result["embeddings"].append(np.array(vectors, dtype=np.float32))
    return result
