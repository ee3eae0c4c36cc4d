"""Node round-trips, upserts, deletes, reads and queries, in every client mode (sync and async)."""

from __future__ import annotations

import pytest
from llama_index.core.schema import Document, ImageNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from llama_index.vector_stores.ragstore import InvalidNodeError, RagstoreVectorStore, UnsupportedQueryError


def node(node_id: str, text: str, embedding: list[float], doc: str | None = None, **metadata: object) -> TextNode:
    n = TextNode(id_=node_id, text=text, embedding=embedding, metadata=dict(metadata))
    if doc is not None:
        n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return n


def three_docs() -> list[TextNode]:
    return [
        node("a1", "alpha one", [1.0, 0.0, 0.0], doc="A", kind="x", n=1),
        node("a2", "alpha two", [0.9, 0.1, 0.0], doc="A", kind="y", n=2),
        node("b1", "beta one", [0.0, 1.0, 0.0], doc="B", kind="x", n=3),
        node("c1", "gamma one", [0.0, 0.0, 1.0], doc="C", kind="z", n=4),
    ]


def test_round_trip_text_metadata_relationships(store: RagstoreVectorStore) -> None:
    original = TextNode(
        id_="n1",
        text="The quick brown fox",
        embedding=[0.1, 0.2, 0.3],
        metadata={"author": "Ann", "year": 2021, "score": 0.5, "tags": ["a", "b"], "draft": False, "note": None, "empty": []},
        excluded_embed_metadata_keys=["author"],
        start_char_idx=3,
        end_char_idx=22,
    )
    original.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="doc-1", metadata={"k": "v"})
    original.relationships[NodeRelationship.NEXT] = RelatedNodeInfo(node_id="n2")
    assert store.add([original]) == ["n1"]
    (got,) = store.get_nodes(node_ids=["n1"])
    assert isinstance(got, TextNode)
    assert got.node_id == "n1"
    assert got.text == "The quick brown fox"
    assert got.metadata == original.metadata
    assert got.ref_doc_id == "doc-1"
    source, following = got.relationships[NodeRelationship.SOURCE], got.relationships[NodeRelationship.NEXT]
    assert isinstance(source, RelatedNodeInfo) and source.metadata == {"k": "v"}
    assert isinstance(following, RelatedNodeInfo) and following.node_id == "n2"
    assert got.excluded_embed_metadata_keys == ["author"]
    assert (got.start_char_idx, got.end_char_idx) == (3, 22)
    result = store.query(VectorStoreQuery(query_embedding=[0.1, 0.2, 0.3], similarity_top_k=1))
    assert result.ids == ["n1"]
    assert result.nodes is not None and result.nodes[0].metadata == original.metadata
    assert result.similarities is not None and result.similarities[0] == pytest.approx(1.0, abs=1e-5)


def test_none_and_empty_values_are_not_stored_as_columns(store: RagstoreVectorStore) -> None:
    store.add([node("n", "t", [1.0, 0.0], note=None, tags=[], title="")])
    stored = store.client.get(ids=["n"], include=["metadatas"])["metadatas"][0]
    assert "note" not in stored and "tags" not in stored and stored["title"] == ""
    assert stored["ref_doc_id"] == "None"


def test_image_node_round_trip(store: RagstoreVectorStore) -> None:
    image = ImageNode(id_="img", image="aGVsbG8=", text="a caption", embedding=[1.0, 0.0], metadata={"w": 3})
    store.add([image])
    (got,) = store.get_nodes(["img"])
    assert isinstance(got, ImageNode)
    assert got.image == "aGVsbG8=" and got.text == "a caption" and got.metadata == {"w": 3}


def test_add_upserts_and_replaces_all_metadata(store: RagstoreVectorStore) -> None:
    store.add([node("n", "old text", [1.0, 0.0], doc="D", keep=1, stale="x")])
    store.add([node("n", "new text", [0.0, 1.0], doc="D", keep=2)])
    assert store.client.count() == 1
    (got,) = store.get_nodes(["n"])
    assert got.get_content() == "new text"
    assert got.metadata == {"keep": 2}
    stored = store.client.get(ids=["n"], include=["metadatas", "embeddings"])
    assert "stale" not in stored["metadatas"][0]
    assert list(stored["embeddings"][0]) == [0.0, 1.0]
    stale = MetadataFilters(filters=[MetadataFilter(key="stale", value="x")])
    assert store.query(VectorStoreQuery(query_embedding=[0.0, 1.0], similarity_top_k=5, filters=stale)).ids == []


def test_duplicate_ids_in_one_call_last_wins(store: RagstoreVectorStore) -> None:
    assert store.add([node("n", "first", [1.0, 0.0]), node("n", "second", [0.0, 1.0])]) == ["n", "n"]
    assert [n.get_content() for n in store.get_nodes(["n"])] == ["second"]


def test_add_in_batches(mode: str, store: RagstoreVectorStore) -> None:
    assert store._batch_size(store.client) == store._owned_client.get_max_batch_size()
    small = RagstoreVectorStore(collection=store.client, max_batch_size=3)
    nodes = [node(f"n{i}", f"text {i}", [float(i), 1.0]) for i in range(10)]
    assert small.add(nodes) == [f"n{i}" for i in range(10)]
    assert store.client.count() == 10
    small.clear()
    assert store.client.count() == 0


def test_node_without_embedding_is_rejected(store: RagstoreVectorStore) -> None:
    with pytest.raises(InvalidNodeError, match="no embedding"):
        store.add([TextNode(id_="x", text="no vector")])


def test_nested_metadata_rejected_unless_not_flat(store: RagstoreVectorStore) -> None:
    nested = node("x", "t", [1.0, 0.0], info={"a": 1}, mixed=[1, "a"])
    with pytest.raises(InvalidNodeError, match="info"):
        store.add([nested])
    loose = RagstoreVectorStore(collection=store.client, flat_metadata=False)
    loose.add([nested])
    (got,) = loose.get_nodes(["x"])
    assert got.metadata == {"info": {"a": 1}, "mixed": [1, "a"]}
    assert "info" not in store.client.get(ids=["x"], include=["metadatas"])["metadatas"][0]


def test_delete_ref_doc_removes_all_its_nodes(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    store.delete("A")
    assert sorted(n.node_id for n in store.get_nodes()) == ["b1", "c1"]
    store.delete("missing-doc")
    assert store.client.count() == 2


def test_delete_nodes_by_ids_filters_and_both(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    store.delete_nodes(node_ids=["a1", "nope"])
    assert sorted(n.node_id for n in store.get_nodes()) == ["a2", "b1", "c1"]
    store.delete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="kind", value="x")]))
    assert sorted(n.node_id for n in store.get_nodes()) == ["a2", "c1"]
    text = MetadataFilters(filters=[MetadataFilter(key="kind", value="Z", operator=FilterOperator("text_match_insensitive"))])
    store.delete_nodes(node_ids=["a2"], filters=text)  # a2 is kind y: nothing matches both
    assert sorted(n.node_id for n in store.get_nodes()) == ["a2", "c1"]
    store.delete_nodes(node_ids=["a2", "c1"], filters=text)
    assert [n.node_id for n in store.get_nodes()] == ["a2"]
    with pytest.raises(ValueError, match="clear"):
        store.delete_nodes()


def test_get_nodes_order_filters_and_missing(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    assert [n.node_id for n in store.get_nodes(["c1", "zz", "a1"])] == ["c1", "a1"]
    assert store.get_nodes([]) == []
    flt = MetadataFilters(filters=[MetadataFilter(key="n", value=2, operator=FilterOperator(">"))])
    assert [n.node_id for n in store.get_nodes(filters=flt)] == ["b1", "c1"]
    assert [n.node_id for n in store.get_nodes(["c1", "a1"], filters=flt)] == ["c1"]
    assert [n.node_id for n in store.get_nodes()] == ["a1", "a2", "b1", "c1"]


def test_clear(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    store.clear()
    assert store.client.count() == 0
    assert store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=3)).ids == []


def test_query_ranks_and_scores(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    result = store.query(VectorStoreQuery(query_embedding=[1.0, 0.05, 0.0], similarity_top_k=3))
    assert result.ids == ["a1", "a2", "b1"]
    assert result.similarities is not None
    assert result.similarities == sorted(result.similarities, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in result.similarities)
    far = store.query(VectorStoreQuery(query_embedding=[-1.0, 0.0, 0.0], similarity_top_k=4))
    assert far.ids is not None and far.ids[-1] == "a1"
    # ragstore's relevance: the cosine clipped to [0, 1], so an opposite node scores 0 (not -1, and no exp() underflow).
    assert far.similarities is not None and far.similarities[-1] == 0.0


def test_query_doc_ids_node_ids_and_native_kwargs(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    q = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=4, doc_ids=["B", "C"])
    assert store.query(q).ids == ["b1", "c1"]
    q = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=4, node_ids=["c1", "a2"])
    assert store.query(q).ids == ["a2", "c1"]
    q = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, node_ids=[], doc_ids=[])  # what the retriever sends
    assert store.query(q).ids == ["a1", "a2"]
    q = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=4)
    assert store.query(q, where_document={"$contains": "beta"}).ids == ["b1"]
    assert store.query(q, where={"n": {"$gte": 3}}).ids == ["b1", "c1"]


def test_query_without_embedding_returns_matches(store: RagstoreVectorStore) -> None:
    store.add(three_docs())
    flt = MetadataFilters(filters=[MetadataFilter(key="kind", value="X", operator=FilterOperator("text_match_insensitive"))])
    result = store.query(VectorStoreQuery(query_embedding=None, similarity_top_k=5, filters=flt))
    assert result.ids == ["a1", "b1"] and result.similarities is None
    assert store.query(VectorStoreQuery(query_embedding=None, similarity_top_k=1)).ids == ["a1"]


def test_query_errors(store: RagstoreVectorStore) -> None:
    q = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.SVM)
    with pytest.raises(UnsupportedQueryError, match="'svm' is not supported; use one of 'default', 'mmr', 'hybrid', 'sparse'"):
        store.query(q)
    with pytest.raises(UnsupportedQueryError, match="Unknown query arguments"):
        store.query(VectorStoreQuery(query_embedding=[1.0, 0.0]), bogus=1)
    with pytest.raises(ValueError, match="non-empty list"):
        store.query(
            VectorStoreQuery(
                query_embedding=[1.0, 0.0],
                filters=MetadataFilters(filters=[MetadataFilter(key="k", value="v", operator=FilterOperator("in"))]),
            )
        )
    with pytest.raises(TypeError, match="unexpected"):
        store.add([], bogus=True)


def test_reads_records_written_by_other_tools(store: RagstoreVectorStore) -> None:
    store.client.add(ids=["raw"], embeddings=[[1.0, 0.0]], documents=["plain record"], metadatas=[{"source": "a.md"}])
    result = store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=1))
    assert result.nodes is not None
    assert (result.nodes[0].node_id, result.nodes[0].get_content(), result.nodes[0].metadata) == ("raw", "plain record", {"source": "a.md"})


async def test_async_methods(store: RagstoreVectorStore) -> None:
    assert await store.async_add(three_docs()) == ["a1", "a2", "b1", "c1"]
    result = await store.aquery(VectorStoreQuery(query_embedding=[0.0, 1.0, 0.0], similarity_top_k=2))
    assert result.ids == ["b1", "a2"]
    flt = MetadataFilters(
        filters=[MetadataFilter(key="kind", value="", operator=FilterOperator("is_empty"))], condition=FilterCondition("not")
    )
    assert [n.node_id for n in await store.aget_nodes(filters=flt)] == ["a1", "a2", "b1", "c1"]
    await store.adelete("A")
    assert [n.node_id for n in await store.aget_nodes()] == ["b1", "c1"]
    await store.adelete_nodes(["b1"])
    assert [n.node_id for n in await store.aget_nodes()] == ["c1"]
    await store.async_add([node("c1", "gamma replaced", [0.0, 0.0, 1.0], doc="C")])
    assert [n.get_content() for n in await store.aget_nodes(["c1"])] == ["gamma replaced"]
    await store.aclear()
    assert await store.aget_nodes() == []
    await store.aclose()


def test_documents_keep_ref_doc_id(store: RagstoreVectorStore) -> None:
    doc = Document(text="whole document", id_="doc-9", metadata={"src": "x"})
    child = TextNode(id_="chunk", text="whole", embedding=[1.0, 0.0], metadata={"src": "x"})
    child.relationships[NodeRelationship.SOURCE] = doc.as_related_node_info()
    store.add([child])
    (got,) = store.get_nodes(["chunk"])
    assert got.ref_doc_id == "doc-9"
    store.delete("doc-9")
    assert store.get_nodes() == []
