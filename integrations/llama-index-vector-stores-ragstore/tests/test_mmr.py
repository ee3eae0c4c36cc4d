"""MMR mode: k results, diversity changes the selection, prefetch argument rules."""

from __future__ import annotations

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from llama_index.vector_stores.ragstore import RagstoreVectorStore, UnsupportedQueryError


def crafted(store: RagstoreVectorStore) -> None:
    """Three near-duplicates closest to the query and one different, less relevant node."""
    store.add(
        [
            TextNode(id_="dup1", text="d1", embedding=[1.0, 0.00, 0.0]),
            TextNode(id_="dup2", text="d2", embedding=[1.0, 0.01, 0.0]),
            TextNode(id_="dup3", text="d3", embedding=[1.0, 0.02, 0.0]),
            TextNode(id_="other", text="o", embedding=[0.6, 0.0, 0.8]),
        ]
    )


def mmr(k: int = 2) -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=[1.0, 0.0, 0.1], similarity_top_k=k, mode=VectorStoreQueryMode.MMR)


def test_mmr_returns_k(store: RagstoreVectorStore) -> None:
    crafted(store)
    for k in (1, 2, 3, 4):
        result = store.query(mmr(k))
        assert result.ids is not None and len(result.ids) == k and len(set(result.ids)) == k
        assert result.nodes is not None and [n.node_id for n in result.nodes] == result.ids
        assert result.similarities is not None and len(result.similarities) == k


def test_diversity_changes_the_result(store: RagstoreVectorStore) -> None:
    crafted(store)
    relevance_only = store.query(mmr(), mmr_threshold=1.0)
    assert relevance_only.ids is not None and set(relevance_only.ids) < {"dup1", "dup2", "dup3"}
    diverse = store.query(mmr(), mmr_threshold=0.2)
    assert diverse.ids is not None and "other" in diverse.ids
    query_threshold = VectorStoreQuery(
        query_embedding=[1.0, 0.0, 0.1], similarity_top_k=2, mode=VectorStoreQueryMode.MMR, mmr_threshold=0.2
    )
    assert store.query(query_threshold).ids == diverse.ids


def test_prefetch_limits_the_candidates(store: RagstoreVectorStore) -> None:
    crafted(store)
    assert "other" not in (store.query(mmr(), mmr_threshold=0.2, mmr_prefetch_k=2).ids or [])
    assert "other" in (store.query(mmr(), mmr_threshold=0.2, mmr_prefetch_factor=2.0).ids or [])


def test_conflicting_prefetch_params_raise(store: RagstoreVectorStore) -> None:
    crafted(store)
    with pytest.raises(ValueError, match="cannot coexist"):
        store.query(mmr(), mmr_prefetch_k=4, mmr_prefetch_factor=2.0)
    with pytest.raises(UnsupportedQueryError):
        store.query(mmr(), mmr_prefetch_k=0)


def test_mmr_asks_more_than_available(store: RagstoreVectorStore) -> None:
    crafted(store)
    assert len(store.query(mmr(6)).ids or []) == 4


async def test_async_mmr(store: RagstoreVectorStore) -> None:
    crafted(store)
    assert (await store.aquery(mmr(), mmr_threshold=0.2)).ids == store.query(mmr(), mmr_threshold=0.2).ids
