"""Running one Search API search against a collection: filter, Knn probes, fusion, grouping, paging, fields.

A :class:`ragstore.search.Search` arrives parsed and checked. The executor:

1. compiles its ``where`` (:func:`ragstore.search.compile_where`) into ragstore's filter
   tree plus an id restriction, applied before ranking (exactly, as filtered queries are);
2. without a rank, takes the matching records in insertion order;
3. with a rank, probes each distinct (key, query) once (:func:`ragstore.search.plan_knn_runs`):
   ``#embedding`` through the HNSW index (:func:`ragstore.local.reads.search`), a sparse key
   through the sparse index (:mod:`ragstore.local.sparse_index`: BM25 with the collection's
   statistics, or with those a ``Knn`` carries (a sharded store's, :func:`bm25_statistics`),
   or a dot product), and scores the candidates
   (:func:`ragstore.local.rank_evaluation.rank_candidates`);
4. groups (``GroupBy`` with ``MinK``/``MaxK``), pages (``Limit``), and reads the selected
   fields of what is left (``Select``), in chroma's column-major ``SearchResult`` form.

A text query on a BM25 key is embedded here by the index's own function (chroma's
``ChromaBm25EmbeddingFunction`` with the schema's configuration), so a caller that sends text
gets the scores of a client that embedded it first (weighting by raw term counts instead made
a one-word query's similarities 1.69x smaller, and another order once a query repeats a word); a
text query on ``#embedding`` must have been embedded by the client.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.collection_schema import SparseIndexSpec
from ragstore.errors import InvalidArgumentError, InvalidDimensionException
from ragstore.local import reads
from ragstore.local.bm25_statistics import Bm25Statistics
from ragstore.local.catalog import CollectionRow
from ragstore.local.index_cache import IndexCache
from ragstore.local.rank_evaluation import LeafHits, rank_candidates
from ragstore.local.records import labels_condition, load_metadata
from ragstore.local.sparse_index import SparseIndexes
from ragstore.local.sparse_upkeep import bm25_query
from ragstore.local.sql_filters import selection
from ragstore.search import KnnRun, Search, compile_where, knn_leaves, plan_knn_runs
from ragstore.search.filtering import SearchFilter
from ragstore.search.group_selection import select_groups
from ragstore.search.grouping import GroupBy
from ragstore.search.keys import key_name
from ragstore.sparse_vectors import SparseVector

Labels = npt.NDArray[np.int64]
EMBEDDING_KEY, DOCUMENT_KEY, METADATA_KEY, SCORE_KEY = "#embedding", "#document", "#metadata", "#score"
SEARCH_RESULT_FIELDS = ("ids", "documents", "embeddings", "metadatas", "scores", "select")


@dataclasses.dataclass(frozen=True)
class SearchContext:
    """What one search reads: a connection in the caller's read transaction and the engine's caches."""

    conn: sqlite3.Connection
    indexes: IndexCache
    sparse: SparseIndexes
    row: CollectionRow
    sparse_specs: Mapping[str, SparseIndexSpec]  # by key
    budget: int | None = None


def run_search(ctx: SearchContext, search: Search) -> dict[str, Any]:
    """One search's answer: ``ids``, ``documents``, ``embeddings``, ``metadatas``, ``scores`` (a column each, or None), ``select``."""
    parts = search.parts()
    where = compile_where(parts.where)
    excluded = _labels_of(ctx, where.excluded_ids)
    if parts.rank is None:
        labels, scores = _in_insertion_order(ctx, where, parts.limit.offset, parts.limit.limit), None
    else:
        labels, fused = _ranked(ctx, parts.rank, where, excluded)
        if parts.group_by is not None and parts.group_by.aggregate is not None:
            labels, fused = _grouped(ctx, parts.group_by, labels, fused)
        stop = None if parts.limit.limit is None else parts.limit.offset + parts.limit.limit
        labels, scores = labels[parts.limit.offset : stop], fused[parts.limit.offset : stop]
    return _fields(ctx, [key_name(k) for k in parts.select.keys], labels, scores)


# ---------------------------------------------------------------------- candidates


def _in_insertion_order(ctx: SearchContext, where: SearchFilter, offset: int, limit: int | None) -> Labels:
    sql, params = selection(ctx.row.pk, list(where.ids) if where.ids is not None else None, where.where, ctx.row.text_indexed)
    if where.excluded_ids:
        sql += " AND r.id NOT IN (SELECT value FROM json_each(?))"
        params.append(_json_list(where.excluded_ids))
    rows = ctx.conn.execute(
        f"SELECT r.label FROM records r WHERE {sql} ORDER BY r.rowid LIMIT ? OFFSET ?", [*params, -1 if limit is None else limit, offset]
    )
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


def _ranked(ctx: SearchContext, rank: Any, where: SearchFilter, excluded: Labels) -> tuple[Labels, npt.NDArray[np.float64]]:
    runs, leaf_runs = plan_knn_runs(rank)
    if ctx.row.dimension is None:  # no record was ever written, and the filter columns cannot be built without a dimension
        return np.empty(0, np.int64), np.empty(0, np.float64)
    filtered = where.where is not None or where.ids is not None
    allowed = reads.matching_labels(ctx.conn, ctx.indexes, ctx.row, where.where, where.ids) if filtered else None
    probed = [_probe(ctx, run, where, allowed, excluded) for run in runs]
    hits = []
    for leaf, run in zip(knn_leaves(rank), leaf_runs, strict=True):
        found = probed[run]  # a shared probe ran with the largest limit; exact top-k lists nest
        hits.append(LeafHits(found.labels[: leaf.limit], found.scores[: leaf.limit]))
    return rank_candidates(rank, hits)


def _probe(ctx: SearchContext, run: KnnRun, where: SearchFilter, allowed: Labels | None, excluded: Labels) -> LeafHits:
    """The ``limit`` best records for one Knn probe, filtered, excluded ids removed (exactly: asking for that many more)."""
    limit = run.limit
    wanted = limit + len(excluded)
    if run.key == EMBEDDING_KEY:
        labels, scores = _dense(ctx, run.query, wanted, where)
    else:
        labels, scores = _sparse(ctx, run.key, run.query, wanted, allowed, run.statistics)
    if len(excluded):
        keep = ~np.isin(labels, excluded)
        labels, scores = labels[keep], scores[keep]
    return LeafHits(labels[:limit], scores[:limit])


def _dense(ctx: SearchContext, query: Any, k: int, where: SearchFilter) -> tuple[Labels, npt.NDArray[np.float32]]:
    if isinstance(query, (str, SparseVector)):
        kind = "text" if isinstance(query, str) else "a sparse vector"
        raise InvalidArgumentError(f"Expected a dense vector for a Knn on #embedding, got {kind} (clients embed text queries first)")
    row = ctx.row
    vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
    if row.dimension is None:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if vector.shape[1] != row.dimension:
        raise InvalidDimensionException(f"Collection expecting embedding with dimension of {row.dimension}, got {vector.shape[1]}")
    ids = list(where.ids) if where.ids is not None else None
    [(labels, distances)] = reads.search(ctx.conn, ctx.indexes, row, vector, k, where.where, ids)
    return labels, distances


def _sparse(
    ctx: SearchContext, key: str, query: Any, k: int, allowed: Labels | None, statistics: Bm25Statistics | None
) -> tuple[Labels, npt.NDArray[np.float32]]:
    spec, terms, weights = _sparse_query(ctx, key, query)
    index = ctx.sparse.caught_up(ctx.conn, ctx.row.pk, key, ctx.row.last_seq, ctx.row.tombstone_floor)
    if spec.bm25:
        k1, b = spec.k or 1.2, spec.b if spec.b is not None else 0.75
        return index.search(terms, weights, k, mode="bm25", k1=k1, b=b, allowed=allowed, statistics=statistics)
    return index.search(terms, weights, k, mode="dot", allowed=allowed)


def _sparse_query(ctx: SearchContext, key: str, query: Any) -> tuple[SparseIndexSpec, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The sparse index of ``key`` and the query's terms and weights (text embedded as the index's function embeds a query)."""
    spec = ctx.sparse_specs.get(key)
    if spec is None:
        raise InvalidArgumentError(f"Knn key {key!r} has no sparse vector index in this collection (declare one in its schema)")
    if isinstance(query, str):
        if not spec.bm25:
            raise InvalidArgumentError(f"Expected a sparse vector for a Knn on {key!r} (clients embed text queries first)")
        terms, weights = bm25_query(spec, query)
    elif isinstance(query, SparseVector):
        terms, weights = np.asarray(query.indices, dtype=np.int64), np.asarray(query.values, dtype=np.float64)
    else:
        raise InvalidArgumentError(f"Expected a sparse vector or text for a Knn on the sparse key {key!r}, got a dense vector")
    return spec, terms, weights


def bm25_statistics(ctx: SearchContext, key: str, query: Any) -> Bm25Statistics | None:
    """This store's BM25 statistics for a ``Knn`` on ``key`` with ``query`` (``None``: the key's index is not BM25).

    What a sharded store's router sums over its shards and hands back to each (``Knn.statistics``),
    computed by the code a search here scores with (:meth:`ragstore.local.sparse_postings.SparseIndex.statistics`).
    """
    spec, terms, _ = _sparse_query(ctx, key, query)
    if not spec.bm25:
        return None
    return ctx.sparse.caught_up(ctx.conn, ctx.row.pk, key, ctx.row.last_seq, ctx.row.tombstone_floor).statistics(terms)


def _labels_of(ctx: SearchContext, ids: Sequence[str]) -> Labels:
    if not ids:
        return np.empty(0, np.int64)
    sql = "SELECT r.label FROM records r WHERE r.collection_pk = ? AND r.id IN (SELECT value FROM json_each(?))"
    rows = ctx.conn.execute(sql, [ctx.row.pk, _json_list(ids)])
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


def _json_list(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode()


# ---------------------------------------------------------------------- grouping


def _grouped(
    ctx: SearchContext, group_by: GroupBy, labels: Labels, scores: npt.NDArray[np.float64]
) -> tuple[Labels, npt.NDArray[np.float64]]:
    """Per group of equal values of ``group_by.keys``, the ``k`` records with the smallest (MinK) or largest (MaxK) aggregate keys."""
    return select_groups(group_by, labels, scores, _metadatas(ctx, labels.tolist()))


def _metadatas(ctx: SearchContext, labels: list[int]) -> dict[int, dict[str, Any] | None]:
    if not labels:
        return {}
    params: list[Any] = []
    condition = labels_condition(labels, params)
    rows = ctx.conn.execute(f"SELECT r.label, r.metadata_json FROM records r WHERE {condition}", params)
    return {label: load_metadata(text) for label, text in rows}


# ---------------------------------------------------------------------- fields


def _fields(ctx: SearchContext, keys: list[str], labels: Labels, scores: npt.NDArray[np.float64] | None) -> dict[str, Any]:
    """The selected fields of ``labels`` (in that order) as one payload of chroma's ``SearchResult``."""
    metadata_keys = [k for k in keys if not k.startswith("#")]
    include = ["distances"]
    if DOCUMENT_KEY in keys:
        include.append("documents")
    if EMBEDDING_KEY in keys:
        include.append("embeddings")
    if METADATA_KEY in keys or metadata_keys:
        include.append("metadatas")
    # Scores travel as float32, as distances do (chroma's scores are 32-bit floats too).
    distances = (scores if scores is not None else np.zeros(len(labels))).astype(np.float32)
    found = reads.query_result(ctx.conn, [(labels, distances)], include, ctx.row.dimension, ctx.budget)
    metadatas = found["metadatas"][0] if found["metadatas"] is not None else None
    if metadatas is not None and METADATA_KEY not in keys:
        metadatas = [None if m is None else {k: m[k] for k in metadata_keys if k in m} or None for m in metadatas]
    embeddings = found["embeddings"][0] if found["embeddings"] is not None else None
    return {
        "ids": found["ids"][0],
        "documents": found["documents"][0] if found["documents"] is not None else None,
        "embeddings": [v.tolist() for v in embeddings] if embeddings is not None else None,
        "metadatas": metadatas,
        "scores": list((found["distances"] or [[]])[0]) if SCORE_KEY in keys and scores is not None else None,
        "select": keys,
    }
