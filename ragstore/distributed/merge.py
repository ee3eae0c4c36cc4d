"""Merging the shards' answers to ``get`` and ``query`` into the answer one store would give.

A dense query's nearest records are the nearest of each shard's nearest: each shard answers the
query with the full ``n_results`` and the merge keeps the ``n_results`` smallest distances (ties:
the lower shard first, then that shard's order). Distances do not depend on which other records a
shard holds, so an exact search over shards returns exactly what an exact search over one store does.

``get`` returns records in insertion order on one store (SQLite rowid order). Shards have no common
clock, so a sharded ``get`` cannot know which of two shards' records came first; it returns the
records interleaved by their position within their shard (every shard's first record, then every
shard's second, ...; shards in index order). That is one fixed total order that agrees with each
shard's insertion order, so paging is exact: the first ``offset + limit`` records of the merged order
are among the first ``offset + limit`` of each shard, which is what each shard is asked for. With
one shard it is exactly one store's order.

Example:
    >>> a = {"ids": ["a1", "a2"], "embeddings": None, "documents": None, "uris": None, "data": None, "metadatas": None,
    ...      "included": []}
    >>> b = dict(a, ids=["b1"])
    >>> merge_get([a, b], offset=1, limit=2)["ids"]
    ['b1', 'a2']

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.types import GetResult, QueryResult

_LIST_FIELDS = ("documents", "uris", "metadatas")


def merge_get(results: Sequence[GetResult], offset: int | None, limit: int | None) -> GetResult:
    """The shards' ``get`` answers (each the first ``offset + limit`` of its shard) as one page of the merged order.

    Example:
        >>> one = {"ids": ["x"], "embeddings": None, "documents": ["X"], "uris": None, "data": None, "metadatas": None,
        ...        "included": ["documents"]}
        >>> merge_get([one], None, None)["documents"]
        ['X']

    """
    order = sorted((position, shard) for shard, result in enumerate(results) for position in range(len(result["ids"])))
    start = offset or 0
    chosen = order[start : None if limit is None else start + limit]
    first = results[0]
    merged: GetResult = {
        "ids": [results[s]["ids"][p] for p, s in chosen],
        "embeddings": None,
        "documents": None,
        "uris": None,
        "data": None,
        "metadatas": None,
        "included": list(first["included"]),
    }
    for field in _LIST_FIELDS:
        if first[field] is not None:  # type: ignore[literal-required]
            merged[field] = [results[s][field][p] for p, s in chosen]  # type: ignore[literal-required]
    if first["embeddings"] is not None:
        dim = max(np.asarray(r["embeddings"]).shape[1] for r in results)  # a shard with no record yet has no dimension
        rows = [np.asarray(results[s]["embeddings"])[p] for p, s in chosen]
        merged["embeddings"] = np.array(rows, dtype=np.float32).reshape(len(rows), dim)
    return merged


def merge_query(results: Sequence[QueryResult], n_results: int, include: Sequence[str]) -> QueryResult:
    """The shards' ``query`` answers (each with distances) merged to each query's ``n_results`` nearest, with ``include``'s fields.

    Example:
        >>> a = {"ids": [["a1", "a2"]], "distances": [[0.1, 0.5]], "embeddings": None, "documents": None, "uris": None,
        ...      "data": None, "metadatas": None, "included": ["distances"]}
        >>> b = dict(a, ids=[["b1"]], distances=[[0.3]])
        >>> merge_query([a, b], 2, ["distances"])["ids"]
        [['a1', 'b1']]

    """
    merged: dict[str, Any] = {
        "ids": [],
        "included": list(include),
        "data": None,
        **{field: [] if field in include else None for field in ("embeddings", "documents", "uris", "metadatas", "distances")},
    }
    for q in range(len(results[0]["ids"])):
        hits = sorted(
            (distance, shard, position) for shard, result in enumerate(results) for position, distance in enumerate(_distances(result)[q])
        )[:n_results]
        merged["ids"].append([results[s]["ids"][q][p] for _, s, p in hits])
        for field in _LIST_FIELDS:
            if merged[field] is not None:
                merged[field].append([results[s][field][q][p] for _, s, p in hits])  # type: ignore[literal-required]
        if merged["distances"] is not None:
            merged["distances"].append([d for d, _, _ in hits])
        if merged["embeddings"] is not None:
            merged["embeddings"].append(np.array([_vector(results[s], q, p) for _, s, p in hits], dtype=np.float32))
    answer: QueryResult = merged  # type: ignore[assignment]
    return answer


def _distances(result: QueryResult) -> list[list[float]]:
    distances = result["distances"]
    if distances is None:
        raise ValueError("A shard's query answer lacks distances: the router must ask every shard for them")
    return distances


def _vector(result: QueryResult, query: int, position: int) -> npt.NDArray[np.float32]:
    embeddings = result["embeddings"]
    assert embeddings is not None  # asked for whenever the merged answer includes them
    return np.asarray(embeddings[query][position], dtype=np.float32)
