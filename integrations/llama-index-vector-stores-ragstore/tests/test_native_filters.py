"""Filters reach ragstore natively: each operation is one call carrying the translated ``where``, with no read of candidates.

A recording wrapper around the store's real collection lists the calls an operation makes. The
records that match each filter are few and the farthest from the query, so a top-k search that
filtered after the search (or over too few candidates) would come back short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from llama_index.vector_stores.ragstore import RagstoreVectorStore, operations
from llama_index.vector_stores.ragstore.driving import run_sync
from llama_index.vector_stores.ragstore.translation import plan_filters

StoreFactory = Callable[..., RagstoreVectorStore]  # conftest's store_factory
SIZE, K, DIM = 600, 5, 8


class Recording:
    """A collection that notes each call (method name and arguments) before making it."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.collection, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


def leaf(key: str, op: str, value: Any = None) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=FilterOperator(op))


# Each case: a filter, the metadata of its K matching records and of every other record (for its own key).
CASES: dict[str, tuple[MetadataFilters, list[dict[str, Any]], dict[str, Any]]] = {
    "text_match": (
        MetadataFilters(filters=[leaf("title", "text_match", "needle")]),
        [{"title": f"a needle {i}"} for i in range(K)],
        {"title": "hay"},
    ),
    "text_match_insensitive": (
        MetadataFilters(filters=[leaf("name", "text_match_insensitive", "needle")]),
        [{"name": f"NeEdLe no. {i}"} for i in range(K)],
        {"name": "pin"},
    ),
    "is_empty": (MetadataFilters(filters=[leaf("note", "is_empty")]), [{"note": ""}, {}, {"note": None}, {"note": []}, {}], {"note": "x"}),
    "string range": (
        MetadataFilters(filters=[leaf("date", ">=", "2025")]),
        [{"date": f"2025-0{i + 1}"} for i in range(K)],
        {"date": "2024-12"},
    ),
    "NOT": (
        MetadataFilters(filters=[leaf("flag", "==", "on")], condition=FilterCondition.NOT),
        [{"flag": "off"}, {}, {"flag": 1}, {"flag": "On"}, {"flag": ["on"]}],
        {"flag": "on"},
    ),
    "nested": (
        MetadataFilters(
            filters=[
                leaf("kind", "<", "b"),
                MetadataFilters(filters=[leaf("kind", "text_match", "z"), leaf("kind", "is_empty")], condition=FilterCondition.NOT),
            ]
        ),
        [{"kind": "a"}, {"kind": "ab"}, {"kind": "a\n"}, {"kind": "Z"}, {"kind": "!"}],
        {"kind": "b"},
    ),
}


def build(store: RagstoreVectorStore) -> dict[str, list[str]]:
    """Add SIZE nodes: each case's K matches lie opposite the query [1, 0, ...], the rest next to it. Returns each case's ids."""
    rng = np.random.default_rng(0)
    base = {key: value for _, _, other in CASES.values() for key, value in other.items()}
    matches, nodes, position = {}, [], 0
    for name, (_, matching, other) in CASES.items():
        matches[name] = [f"{name}-{i}" for i in range(K)]
        for i, metadata in enumerate(matching):
            vector = -np.eye(DIM)[0] + rng.normal(scale=0.2, size=DIM)
            own = {key: value for key, value in base.items() if key not in other} | metadata  # this case's key as given, or absent
            nodes.append(TextNode(id_=matches[name][i], text=name, embedding=vector.tolist(), metadata=own))
            position += 1
    while position < SIZE:
        vector = np.eye(DIM)[0] + rng.normal(scale=0.2, size=DIM)
        nodes.append(TextNode(id_=f"other-{position}", text="other", embedding=vector.tolist(), metadata=dict(base)))
        position += 1
    store.add(nodes)
    return matches


@pytest.fixture
def filled(store_factory: StoreFactory) -> tuple[RagstoreVectorStore, dict[str, list[str]]]:
    store = store_factory()
    return store, build(store)


@pytest.mark.parametrize("case", list(CASES))
def test_query_get_and_delete_are_one_native_call(filled: tuple[RagstoreVectorStore, dict[str, list[str]]], case: str) -> None:
    store, matches = filled
    flt = CASES[case][0]
    where = plan_filters(flt).where
    recording = Recording(store.client)
    query = VectorStoreQuery(query_embedding=np.eye(DIM)[0].tolist(), similarity_top_k=K, filters=flt)
    result = run_sync(recording, operations.query_nodes(query, space="cosine", kwargs={}))
    assert sorted(result.ids or []) == sorted(matches[case])
    nodes = run_sync(recording, operations.get_nodes(None, flt))
    assert sorted(n.node_id for n in nodes) == sorted(matches[case])
    run_sync(recording, operations.delete_nodes(None, flt, batch_size=100))
    assert [(name, kwargs.get("where"), kwargs.get("ids")) for name, kwargs in recording.calls] == [
        ("query", where, None),
        ("get", where, None),
        ("delete", where, None),
    ]
    assert store.client.count() == SIZE - K
    assert store.query(query).ids == []


def test_the_store_returns_k_far_matches_among_many(filled: tuple[RagstoreVectorStore, dict[str, list[str]]]) -> None:
    store, matches = filled
    for case, (flt, _, _) in CASES.items():
        for k in (1, K, 3 * K):
            result = store.query(VectorStoreQuery(query_embedding=np.eye(DIM)[0].tolist(), similarity_top_k=k, filters=flt))
            assert len(result.ids or []) == min(k, K), case
            assert set(result.ids or []) <= set(matches[case]), case


def test_a_filter_that_matches_nothing_makes_no_call(filled: tuple[RagstoreVectorStore, dict[str, list[str]]]) -> None:
    store, _ = filled
    # No string sorts below "", and an empty OR holds for nothing: the tree folds to false before any call.
    nothing = MetadataFilters(
        filters=[leaf("date", "<", ""), MetadataFilters(filters=[], condition=FilterCondition.OR)], condition=FilterCondition.OR
    )
    recording = Recording(store.client)
    query = VectorStoreQuery(query_embedding=np.eye(DIM)[0].tolist(), similarity_top_k=K, filters=nothing)
    assert run_sync(recording, operations.query_nodes(query, space="cosine", kwargs={})).ids == []
    assert run_sync(recording, operations.get_nodes(None, nothing)) == []
    run_sync(recording, operations.delete_nodes(None, nothing, batch_size=100))
    assert recording.calls == []
    assert store.client.count() == SIZE
