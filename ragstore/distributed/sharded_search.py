"""The Search API on a sharded store: each ``Knn``'s candidates merged over the shards, the rank evaluated once.

A ranked search has one collection-wide answer that shards can compute together:

1. **BM25 statistics** (only when a ``Knn`` is on a sparse key): the router asks every shard for
   its statistics of each sparse probe's query terms (:mod:`ragstore.local.search_statistics`)
   and sums them (:meth:`~ragstore.local.bm25_statistics.Bm25Statistics.combined`), so BM25
   scores are the collection's, whatever shard holds a record. A sparse key scored by a dot
   product needs none.
2. **Candidates**: the rank's distinct probes (:func:`ragstore.search.plan_knn_runs`, as the
   engine plans them) go to every shard as plain ``Knn`` searches with the search's filter
   and the summed statistics; each shard answers its ``limit`` best, with scores and the
   selected fields. A probe's ``limit`` best over the collection are among the union of each
   shard's ``limit`` best, and a score does not depend on the shard: the merge by score keeps
   them.
3. **The rank**: the router evaluates the rank expression over the merged lists with the
   engine's own evaluator (:func:`ragstore.local.rank_evaluation.rank_candidates`: ``Rrf``,
   arithmetic, ``default``, ``return_rank``), groups (:func:`ragstore.search.group_selection.select_groups`,
   the engine's rule), pages, and answers with the fields the shards sent.

A search ranked by one ``Knn`` asks each shard for its first ``offset + limit`` only (at most
the ``Knn``'s ``limit``), unless it groups. All of it is one round trip to the shards (two with
BM25), however many searches and probes a request holds.

What differs from one store: records whose final scores are exactly equal come in the order of
the merge (by shard, then each shard's order), where one store orders them by insertion, which
shards do not share; and statistics are read a moment before the search, so a write landing in
between moves scores as it would a moment later on one store. A search **without a rank** raises
:class:`~ragstore.errors.UnimplementedError`: its order is each store's insertion order, which
shards do not share either.

Example:
    >>> from ragstore.search import Knn, Rrf, Search
    >>> unsupported(Search().rank(Rrf([Knn(query=[0.1, 0.2], return_rank=True), Knn(query="red", key="bm25", return_rank=True)])))
    >>> unsupported(Search().limit(3))
    'a search without a rank (its order is each store insertion order)'

"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ragstore.api import API
from ragstore.errors import UnimplementedError
from ragstore.local import LocalAPI
from ragstore.local.bm25_statistics import Bm25Statistics
from ragstore.local.rank_evaluation import LeafHits, rank_candidates
from ragstore.local.search_statistics import bm25_statistics
from ragstore.record_requests import SearchRequest
from ragstore.search import Knn, KnnRun, Limit, Search, SearchResult, Select, knn_leaves, plan_knn_runs
from ragstore.search.group_selection import metadata_keys, select_groups
from ragstore.search.keys import Key, key_name
from ragstore.search.leaves import query_fingerprint
from ragstore.search.ranks import KnnQuery

SCORE, METADATA, DOCUMENT = "#score", "#metadata", "#document"
RESULT_FIELDS = ("ids", "documents", "embeddings", "metadatas", "scores", "select")
"""A ``SearchResult``'s columns, one entry per search in each."""
EMBEDDING = key_name(Key.EMBEDDING)

Probe = tuple[str, KnnQuery]
"""A sparse probe whose BM25 statistics the router asks for: ``(key, query)``."""


def unsupported(search: Search) -> str | None:
    """Why ``search`` cannot run on a sharded store (``None``: it can)."""
    if search.parts().rank is None:
        return "a search without a rank (its order is each store insertion order)"
    return None


def sparse_probes(searches: Sequence[Search]) -> list[Probe]:
    """The distinct ``(key, query)`` of every ``Knn`` on a sparse key (BM25 statistics are asked for these)."""
    seen: dict[tuple[str, Hashable], Probe] = {}
    for search in searches:
        for run in plan_knn_runs(search.parts().rank)[0]:
            if run.key != EMBEDDING:
                seen.setdefault((run.key, query_fingerprint(run.query)), (run.key, run.query))
    return list(seen.values())


def shard_statistics(api: API, collection_id: uuid.UUID, probes: Sequence[Probe]) -> list[Bm25Statistics | None]:
    """One shard replica's BM25 statistics for ``probes``: an in-process store's, or a backend's that reports them.

    A backend that cannot (a remote ``ragstore run`` over HTTP) makes a BM25 search fail clearly here,
    never score with its own statistics.
    """
    if isinstance(api, LocalAPI):
        return bm25_statistics(api, collection_id, probes)
    ask = getattr(api, "bm25_statistics", None)
    if ask is None:
        raise UnimplementedError(f"A shard backend of type {type(api).__name__} does not report BM25 statistics, which BM25 needs")
    answer: list[Bm25Statistics | None] = ask(collection_id, probes)
    return answer


def statistics_by_probe(
    probes: Sequence[Probe], per_shard: Sequence[Sequence[Bm25Statistics | None]]
) -> dict[tuple[str, Hashable], Bm25Statistics]:
    """The collection's statistics of each BM25 probe: the shards' answers summed (probes scored by a dot product have none)."""
    summed: dict[tuple[str, Hashable], Bm25Statistics] = {}
    for i, (key, query) in enumerate(probes):
        parts = [answer[i] for answer in per_shard]
        given = [p for p in parts if p is not None]
        if given:  # every shard has the same schema: all or none answer
            summed[(key, query_fingerprint(query))] = Bm25Statistics.combined(given)
    return summed


@dataclasses.dataclass(frozen=True)
class Planned:
    """One search as the router runs it: its probes, which probe each leaf takes, and what each shard is asked."""

    search: Search
    runs: list[KnnRun]
    leaf_runs: list[int]
    asked: list[Search]  # one per probe, in the order of runs


def plan(search: Search, statistics: Mapping[tuple[str, Hashable], Bm25Statistics]) -> Planned:
    """What each shard is asked for ``search``: per probe, a plain ``Knn`` search with the search's filter."""
    parts = search.parts()
    runs, leaf_runs = plan_knn_runs(parts.rank)
    keys = [*parts.select.keys, SCORE]
    if _groups(search):
        keys += metadata_keys(parts.group_by)  # the router groups: it needs their values
    single = isinstance(parts.rank, Knn) and not _groups(search)
    asked = []
    for run in runs:
        wanted = run.limit
        if single and parts.limit.limit is not None:
            wanted = min(run.limit, parts.limit.offset + parts.limit.limit)
        knn = Knn(query=run.query, key=run.key, limit=run.limit, statistics=statistics.get((run.key, query_fingerprint(run.query))))
        asked.append(Search(where=parts.where, rank=knn, limit=Limit(0, wanted), select=Select(keys=keys)))
    return Planned(search, runs, leaf_runs, asked)


def shard_request(request: SearchRequest, planned: Sequence[Planned]) -> SearchRequest:
    """The request every shard answers: each search's probes, in order.

    Not a new ``SearchRequest``: that would parse every search again from its wire form, which
    drops the statistics on the ``Knn`` leaves (and the searches were checked when ``request`` was
    built). Over Ray the request is pickled, statistics included.
    """
    asked = copy.copy(request)
    object.__setattr__(asked, "searches", tuple(search for one in planned for search in one.asked))
    return asked


def _groups(search: Search) -> bool:
    group_by = search.parts().group_by
    return bool(group_by.to_dict()) and group_by.aggregate is not None


def merge_one(planned: Planned, answers: Sequence[SearchResult], first: int) -> dict[str, Any]:
    """One search's merged columns; ``answers[shard]`` holds its probes' answers from index ``first`` on."""
    parts = planned.search.parts()
    labels: dict[str, int] = {}  # record id -> its label here: the order in which the merge met it
    where: list[tuple[int, int, int]] = []  # label -> (shard, answer index, position): where its fields are
    hits = []
    for j, run in enumerate(planned.runs):
        column = first + j
        merged = sorted(
            (score, shard, position) for shard, answer in enumerate(answers) for position, score in enumerate(answer["scores"][column])
        )[: run.limit]
        run_labels = []
        for _, shard, position in merged:
            record = answers[shard]["ids"][column][position]
            if record not in labels:
                labels[record] = len(where)
                where.append((shard, column, position))
            run_labels.append(labels[record])
        hits.append((np.array(run_labels, dtype=np.int64), np.array([s for s, _, _ in merged], dtype=np.float32)))
    leaves = knn_leaves(parts.rank)
    found = [LeafHits(hits[run][0][: leaf.limit], hits[run][1][: leaf.limit]) for leaf, run in zip(leaves, planned.leaf_runs, strict=True)]
    assert parts.rank is not None
    ranked, scores = rank_candidates(parts.rank, found)
    if _groups(planned.search):
        metadatas = {label: _value(answers, where[label], "metadatas") for label in ranked.tolist()}
        ranked, scores = select_groups(parts.group_by, ranked, scores, metadatas)
    end = None if parts.limit.limit is None else parts.limit.offset + parts.limit.limit
    chosen, chosen_scores = ranked[parts.limit.offset : end].tolist(), scores[parts.limit.offset : end]
    selected = [key_name(k) for k in parts.select.keys]
    result: dict[str, Any] = {"ids": [_value(answers, where[label], "ids") for label in chosen]}
    for name, key in (("documents", DOCUMENT), ("embeddings", EMBEDDING), ("metadatas", METADATA)):
        # A column is there when the selection asks for it (metadata: whole or some keys), as one store answers.
        wanted = key in selected or (name == "metadatas" and any(not k.startswith("#") for k in selected))
        result[name] = [_value(answers, where[label], name) for label in chosen] if wanted else None
    if result["metadatas"] is not None and _groups(planned.search):  # the shards sent the grouping keys too
        result["metadatas"] = _selected_metadata(result["metadatas"], selected)
    result["scores"] = np.asarray(chosen_scores, dtype=np.float32).tolist() if SCORE in selected else None  # float32, as one store's
    result["select"] = selected
    return result


def _value(answers: Sequence[SearchResult], at: tuple[int, int, int], name: str) -> Any:
    shard, column, position = at
    return answers[shard][name][column][position]


def _selected_metadata(metadatas: list[Any], selected: list[str]) -> list[Any] | None:
    """The metadata the user selected, of records whose metadata came with the grouping keys too (as one store filters it)."""
    if METADATA in selected:
        return metadatas
    keys = [k for k in selected if not k.startswith("#")]
    if not keys:
        return None
    return [None if m is None else {k: m[k] for k in keys if k in m} or None for m in metadatas]
