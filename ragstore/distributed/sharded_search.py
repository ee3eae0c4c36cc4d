"""The Search API on a sharded store: dense ``Knn`` searches, fanned out and merged; the rest refused clearly.

A search ranked by one dense ``Knn`` (on ``#embedding``, no ``default``, scored by distance) has one
collection-wide answer that shards can compute: the ``Knn``'s ``limit`` nearest records that pass the
filter are among the union of each shard's ``limit`` nearest, and a record's distance does not depend on
which shard holds it. Each shard answers the search for the first ``offset + limit`` records (and the
score, to merge by); the merge keeps the ``Knn``'s ``limit`` smallest scores, then the requested page.

Everything else raises :class:`~ragstore.errors.UnimplementedError`, never a per-shard answer: sparse
(BM25) ``Knn`` scores need collection-wide statistics, ``Rrf`` and rank arithmetic need every candidate
list whole, ``default`` scores and grouping need all records at once, and a search with no rank has no
order shards share.

Example:
    >>> from ragstore.search import Knn, Rrf, Search
    >>> unsupported(Search().rank(Knn(query=[0.1, 0.2])).limit(3)) is None
    True
    >>> unsupported(Search().rank(Rrf([Knn(query=[0.1, 0.2], return_rank=True)])))
    'a rank other than one dense Knn'

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragstore.search import Knn, Limit, Search, SearchResult, Select
from ragstore.search.keys import Key, key_name

SCORE = "#score"
RESULT_FIELDS = ("ids", "documents", "embeddings", "metadatas", "scores", "select")
"""A ``SearchResult``'s columns, one entry per search in each."""


def unsupported(search: Search) -> str | None:
    """Why ``search`` cannot run on a sharded store (``None``: it can)."""
    parts = search.parts()
    rank = parts.rank
    if rank is None:
        return "a search without a rank (its order is each store's own)"
    if not isinstance(rank, Knn):
        return "a rank other than one dense Knn"
    if key_name(rank.key) != key_name(Key.EMBEDDING):
        return "a sparse (BM25) Knn, whose scores need collection-wide statistics"
    if rank.default is not None or rank.return_rank:
        return "a Knn with default or return_rank"
    if parts.group_by.to_dict():
        return "group_by"
    return None


def per_shard(search: Search) -> Search:
    """What each shard answers: the first ``offset + limit`` records (at most the Knn's ``limit``), with their scores."""
    parts = search.parts()
    assert isinstance(parts.rank, Knn)
    wanted = parts.rank.limit if parts.limit.limit is None else min(parts.rank.limit, parts.limit.offset + parts.limit.limit)
    keys = [*parts.select.keys, SCORE]
    return Search(where=parts.where, rank=parts.rank, group_by=parts.group_by, limit=Limit(0, wanted), select=Select(keys=keys))


def merge_one(search: Search, answers: Sequence[SearchResult], index: int) -> dict[str, Any]:
    """One search's merged columns (``ids``, ``documents``, ``embeddings``, ``metadatas``, ``scores``, ``select``)."""
    parts = search.parts()
    assert isinstance(parts.rank, Knn)
    hits = sorted(
        (score, shard, position) for shard, answer in enumerate(answers) for position, score in enumerate(answer["scores"][index])
    )[: parts.rank.limit]
    end = None if parts.limit.limit is None else parts.limit.offset + parts.limit.limit
    chosen = hits[parts.limit.offset : end]
    selected = [key_name(k) for k in parts.select.keys]
    merged: dict[str, Any] = {"ids": [answers[s]["ids"][index][p] for _, s, p in chosen]}
    for column in ("documents", "embeddings", "metadatas"):
        values = answers[0][column][index] if answers[0].get(column) is not None else None
        merged[column] = None if values is None else [answers[s][column][index][p] for _, s, p in chosen]
    merged["scores"] = [score for score, _, _ in chosen] if SCORE in selected else None
    shown = answers[0]["select"][index]
    merged["select"] = shown if SCORE in selected else [key for key in shown if key != SCORE]
    return merged
