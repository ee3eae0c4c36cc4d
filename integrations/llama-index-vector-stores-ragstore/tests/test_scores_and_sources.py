"""Node scores are ragstore's one relevance in every space and mode; every record gets the ``source`` the CLI shows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery, VectorStoreQueryMode
from ragstore.relevance import relevances

from llama_index.vector_stores.ragstore import RagstoreVectorStore

StoreFactory = Callable[..., RagstoreVectorStore]  # conftest's store_factory

RNG = np.random.default_rng(17)
VECTORS = RNG.normal(size=(12, 8))
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)  # unit vectors, as ragstore's embedders return
QUERY = VECTORS[0] + 0.6 * VECTORS[1]
QUERY /= np.linalg.norm(QUERY)


def unit_nodes() -> list[TextNode]:
    return [TextNode(id_=f"v{i}", text=f"text {i}", embedding=vector.tolist()) for i, vector in enumerate(VECTORS)]


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_dense_scores_are_the_clipped_cosine_in_every_space(store_factory: StoreFactory, space: str) -> None:
    store = store_factory(collection_kwargs={"configuration": {"hnsw": {"space": space}}})
    store.add(unit_nodes())
    result = store.query(VectorStoreQuery(query_embedding=QUERY.tolist(), similarity_top_k=12))
    assert result.ids is not None and result.similarities is not None
    cosines = {f"v{i}": float(np.clip(VECTORS[i] @ QUERY, 0.0, 1.0)) for i in range(len(VECTORS))}
    assert result.similarities == pytest.approx([cosines[i] for i in result.ids], abs=1e-5)
    assert 0.0 in result.similarities  # some random vectors point away: clipped to 0, never negative
    native = store.client.query(query_embeddings=[QUERY.tolist()], n_results=12, include=["distances"])
    assert result.similarities == pytest.approx(relevances(native["distances"][0], space).tolist(), abs=1e-9)


def test_mmr_scores_its_picks_by_relevance(store: RagstoreVectorStore) -> None:
    store.add(unit_nodes())
    query = VectorStoreQuery(query_embedding=QUERY.tolist(), similarity_top_k=4, mode=VectorStoreQueryMode.MMR, mmr_threshold=0.3)
    picked = store.query(query)
    dense = store.query(VectorStoreQuery(query_embedding=QUERY.tolist(), similarity_top_k=12))
    assert picked.ids is not None and picked.similarities is not None and dense.ids is not None and dense.similarities is not None
    assert picked.ids != dense.ids[:4]  # diversity changed the selection...
    by_id = dict(zip(dense.ids, dense.similarities, strict=True))
    assert picked.similarities == [by_id[i] for i in picked.ids]  # ...and each pick keeps its relevance


def test_hybrid_keeps_its_fused_score(store: RagstoreVectorStore) -> None:
    store.add(unit_nodes())
    query = VectorStoreQuery(query_embedding=QUERY.tolist(), query_str="text 1", similarity_top_k=3, mode=VectorStoreQueryMode.HYBRID)
    result = store.query(query)
    native = store.client.query(query_texts=["text 1"], query_embeddings=[QUERY.tolist()], n_results=3, mode="hybrid")
    assert result.ids == native["ids"][0]
    assert result.similarities == pytest.approx([-d / 2 for d in native["distances"][0]])


def test_records_get_a_source(store: RagstoreVectorStore) -> None:
    nodes = [
        TextNode(id_="reader", text="a", embedding=[1.0, 0.0], metadata={"file_path": "/docs/a.md", "file_name": "a.md"}),
        TextNode(id_="named", text="b", embedding=[0.0, 1.0], metadata={"file_name": "b.txt"}),
        TextNode(id_="web", text="c", embedding=[1.0, 1.0], metadata={"url": "https://example.com/c"}),
        TextNode(id_="own", text="d", embedding=[1.0, 0.5], metadata={"source": "guide.pdf", "file_path": "/tmp/x.pdf"}),
        TextNode(id_="numbered", text="e", embedding=[0.5, 1.0], metadata={"source": 7, "file_name": "e.md"}),
        TextNode(id_="none", text="f", embedding=[0.2, 1.0], metadata={"topic": "x"}),
    ]
    store.add(nodes)
    stored = store.client.get(ids=[n.node_id for n in nodes], include=["metadatas"])
    sources = {i: (m or {}).get("source") for i, m in zip(stored["ids"], stored["metadatas"] or [], strict=True)}
    assert sources == {
        "reader": "/docs/a.md",
        "named": "b.txt",
        "web": "https://example.com/c",
        "own": "guide.pdf",
        "numbered": 7,
        "none": None,
    }
    # The column is the store's, not the node's: nodes come back as they were added.
    assert [n.metadata for n in store.get_nodes([n.node_id for n in nodes])] == [n.metadata for n in nodes]
    by_source = MetadataFilters(filters=[MetadataFilter(key="source", value="b.txt", operator=FilterOperator.EQ)])
    assert [n.node_id for n in store.get_nodes(filters=by_source)] == ["named"]
    # Re-adding a node without an origin drops its old source with its other metadata.
    store.add([TextNode(id_="reader", text="a2", embedding=[1.0, 0.0])])
    assert "source" not in (store.client.get(ids=["reader"], include=["metadatas"])["metadatas"] or [{}])[0]
