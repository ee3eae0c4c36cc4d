"""Hybrid and BM25 search through the LangChain store, in memory, on disk and over a real ``ragstore run``.

The corpus is built so that dense and BM25 rankings disagree: ``dense`` is the query's nearest
vector without its words, ``lexical`` repeats the words on an orthogonal vector, ``both`` is
close on both sides. Hybrid must put ``both`` first and keep each side's best in its top four.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import ragstore
from langchain_core.documents import Document
from ragstore import K, Knn, Rrf, Search
from ragstore.search import knn_leaves
from ragstore.store_address import StoreAddress

from langchain_ragstore import ConflictingSourcesError, MissingBm25IndexError, RagstoreRetriever, RagstoreVectorStore
from tests.fakes import TableEmbeddings
from tests.server import RagstoreServer
from tests.stores import StoreFactory

QUERY = "zebra protocol"
TEXTS = {
    "dense": ("a passage about striped horses and network handshakes", [1.0, 0.05, 0.0]),
    "both": ("zebra protocol overview", [0.8, 0.6, 0.0]),
    "lexical": ("the zebra protocol spec, zebra protocol errata", [0.0, 1.0, 0.0]),
    "pasta": ("cooking pasta at home", [0.0, 0.0, 1.0]),
    "garden": ("gardening in spring", [0.3, 0.0, 1.0]),
    "french": ("le protocole zebra en bref", [0.6, 0.0, 0.8]),
}
VECTORS = {QUERY: [1.0, 0.0, 0.0], **dict(TEXTS.values())}
DOCS = [Document(id=key, page_content=text, metadata={"lang": "fr" if key == "french" else "en"}) for key, (text, _) in TEXTS.items()]
COSINE = {"hnsw": {"space": "cosine"}}


def ids(docs: list[Document]) -> list[str | None]:
    return [doc.id for doc in docs]


@pytest.fixture
def open_store(open_store_in_mode: StoreFactory) -> StoreFactory:
    """Stores on one collection in each mode, embedding with :data:`VECTORS`."""
    return functools.partial(open_store_in_mode, TableEmbeddings(VECTORS))


@pytest.fixture
def store(open_store: Any) -> RagstoreVectorStore:
    created: RagstoreVectorStore = open_store(collection_configuration=COSINE, bm25_index=True)
    created.add_documents(DOCS)
    return created


def test_modes_rank_differently_and_hybrid_fuses_both(store: RagstoreVectorStore) -> None:
    dense = ids(store.similarity_search(QUERY, k=6))
    bm25 = ids(store.similarity_search(QUERY, k=6, mode="bm25"))
    hybrid = ids(store.similarity_search(QUERY, k=6, mode="hybrid"))
    assert dense[0] == "dense" and set(dense[-2:]) == {"lexical", "pasta"}  # both orthogonal to the query
    assert bm25[0] == "lexical" and set(bm25) == {"lexical", "both", "french"}  # only records with the words
    assert hybrid[0] == "both" and {"dense", "lexical"} <= set(hybrid[:4]) and set(hybrid) == set(TEXTS)
    assert ids(store.similarity_search(QUERY, k=2, mode="dense")) == dense[:2]


def test_hybrid_is_the_collections_hybrid_query(store: RagstoreVectorStore) -> None:
    """The store passes LangChain's query vector with the text: the same ids and distances as ragstore's own query."""
    scored = store.similarity_search_with_score(QUERY, k=5, mode="hybrid")
    raw = store.collection.query(query_texts=[QUERY], query_embeddings=[VECTORS[QUERY]], n_results=5, mode="hybrid")
    assert ids([doc for doc, _ in scored]) == raw["ids"][0] and raw["distances"] is not None
    assert [score for _, score in scored] == pytest.approx(raw["distances"][0])
    assert all(-2.5 < score < 0 for _, score in scored)  # negated fused scores, best (lowest) first
    assert [score for _, score in scored] == sorted(score for _, score in scored)
    bm25 = store.similarity_search_with_score(QUERY, k=3, mode="bm25")
    assert [score for _, score in bm25] == sorted(score for _, score in bm25) and bm25[0][0].metadata == {"lang": "en"}


def test_filters_apply_to_both_sides(store: RagstoreVectorStore) -> None:
    assert "french" not in ids(store.similarity_search(QUERY, k=6, mode="hybrid", filter={"lang": "en"}))
    assert ids(store.similarity_search(QUERY, k=6, mode="bm25", filter={"lang": "fr"})) == ["french"]
    assert set(ids(store.similarity_search(QUERY, k=6, mode="hybrid", where_document={"$contains": "zebra"}))) == {
        "both",
        "lexical",
        "french",
    }
    assert set(ids(store.similarity_search(QUERY, k=6, mode="hybrid", ids=["dense", "pasta"]))) == {"dense", "pasta"}


async def test_retriever_hybrid_and_bm25(store: RagstoreVectorStore) -> None:
    hybrid = store.as_retriever(search_type="hybrid", search_kwargs={"k": 2})
    assert isinstance(hybrid, RagstoreRetriever)
    expected = ids(store.similarity_search(QUERY, k=2, mode="hybrid"))
    assert ids(hybrid.invoke(QUERY)) == expected == ids(await hybrid.ainvoke(QUERY))
    assert ids(hybrid.invoke(QUERY, k=1)) == expected[:1]
    filtered = store.as_retriever(search_type="hybrid", search_kwargs={"k": 6, "filter": {"lang": "fr"}})
    assert ids(filtered.invoke(QUERY)) == ["french"]
    assert ids(store.as_retriever(search_type="bm25", search_kwargs={"k": 1}).invoke(QUERY)) == ["lexical"]
    assert ids(store.as_retriever(search_kwargs={"k": 1}).invoke(QUERY)) == ["dense"]  # the standard types are unchanged
    assert ids(store.search(QUERY, "hybrid", k=2)) == expected == ids(await store.asearch(QUERY, "hybrid", k=2))


async def test_hybrid_search_runs_a_search_api_request(store: RagstoreVectorStore) -> None:
    rank = Rrf([Knn(query=QUERY, return_rank=True), Knn(query=QUERY, key="bm25", return_rank=True)])
    search = Search().where(K("lang") == "en").rank(rank).limit(3).select(K.DOCUMENT, K.METADATA, K.SCORE)
    found = store.hybrid_search(search)
    # The dense text query was embedded with LangChain's embeddings: the same as sending the vector.
    by_vector = (
        Search()
        .where(K("lang") == "en")
        .rank(Rrf([Knn(query=VECTORS[QUERY], return_rank=True), Knn(query=QUERY, key="bm25", return_rank=True)]))
    )
    raw = store.collection.search(by_vector.limit(3).select(K.DOCUMENT, K.METADATA))
    # Knn's default=None leaves out records one side did not find: English records with the words, best first.
    assert ids(found) == raw["ids"][0] == ["both", "lexical"]
    assert found[0] == Document(id=found[0].id, page_content=TEXTS[str(found[0].id)][0], metadata={"lang": "en"})
    assert ids(await store.ahybrid_search(search)) == ids(found)
    assert [leaf.query for leaf in knn_leaves(search.parts().rank)] == [QUERY, QUERY]  # the caller's Search is unchanged


def test_hybrid_search_selects_what_a_document_needs(store: RagstoreVectorStore) -> None:
    nearest = Search().rank(Knn(query=QUERY)).limit(1)
    assert store.hybrid_search(nearest) == [Document(id="dense", page_content=TEXTS["dense"][0], metadata={"lang": "en"})]
    only_score = store.hybrid_search(nearest.select(K.SCORE))
    assert only_score == [Document(id="dense", page_content=TEXTS["dense"][0])]  # the document is added, metadata not selected
    with pytest.raises(TypeError, match=r"ragstore\.Search"):
        store.hybrid_search({"rank": {"$knn": {"query": QUERY}}})  # type: ignore[arg-type]


def test_collection_without_bm25_index_is_a_clear_error(open_store: Any) -> None:
    plain: RagstoreVectorStore = open_store()
    plain.add_documents(DOCS)
    # The check comes first: "unknown" is not in the embeddings' table, so embedding it would raise KeyError.
    for mode in ("hybrid", "bm25"):
        with pytest.raises(MissingBm25IndexError, match="bm25_index=True"):
            plain.similarity_search("unknown", mode=mode)
    with pytest.raises(MissingBm25IndexError, match="has no BM25 index"):
        plain.as_retriever(search_type="hybrid").invoke("unknown")
    # bm25_index applies to a new collection only: reopening this one with it changes nothing.
    with pytest.raises(MissingBm25IndexError):
        open_store(bm25_index=True).similarity_search("unknown", mode="hybrid")
    assert ids(plain.similarity_search(QUERY, k=1)) == ["dense"]


def test_a_reopened_collection_keeps_its_bm25_index(store: RagstoreVectorStore, open_store: Any) -> None:
    again: RagstoreVectorStore = open_store()  # no bm25_index: the collection has one already
    assert ids(again.similarity_search(QUERY, k=6, mode="hybrid")) == ids(store.similarity_search(QUERY, k=6, mode="hybrid"))
    again.add_documents([Document(id="new", page_content=QUERY, metadata={"lang": "en"})])
    assert set(ids(store.similarity_search(QUERY, k=6, mode="bm25"))) == {"lexical", "both", "french", "new"}  # writes keep it in step
    store.reset_collection()  # created again with the store's settings, BM25 index included
    store.add_documents(DOCS[:3])
    assert ids(store.similarity_search(QUERY, k=6, mode="bm25")) == ["lexical", "both"]


def test_argument_errors(store: RagstoreVectorStore) -> None:
    with pytest.raises(ValueError, match="mode='sparse'"):
        store.similarity_search(QUERY, mode="sparse")
    with pytest.raises(TypeError, match="needs a query text"):
        store.similarity_search_by_vector(VECTORS[QUERY], mode="hybrid")
    with pytest.raises(ValueError, match="Relevance scores need mode='dense'"):
        store.similarity_search_with_relevance_scores(QUERY, mode="hybrid")
    with pytest.raises(ValueError, match="search_type of hybridd not allowed"):
        store.as_retriever(search_type="hybridd")
    with pytest.raises(TypeError, match="unexpected keyword arguments: mode"):
        store.max_marginal_relevance_search(QUERY, mode="hybrid")
    with pytest.raises(ValueError, match="positive int"):
        store.similarity_search(QUERY, k=0, mode="bm25")


def test_bm25_index_with_a_given_collection_conflicts() -> None:
    collection = ragstore.EphemeralClient().create_collection("given-bm25", embedding_function=None)
    with pytest.raises(ConflictingSourcesError, match="bm25_index="):
        RagstoreVectorStore(embedding_function=TableEmbeddings(VECTORS), collection=collection, bm25_index=True)


def test_bm25_index_keeps_the_configured_space() -> None:
    store = RagstoreVectorStore(
        "space-and-bm25", TableEmbeddings(VECTORS), collection_configuration={"hnsw": {"space": "ip"}}, bm25_index=True
    )
    assert store.collection.configuration["hnsw"]["space"] == "ip"
    assert store._connection.bm25_key() == "bm25"


@pytest.fixture
def no_sync_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a sync client fails the test (the async path must use ``AsyncHttpClient`` only)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a sync client was opened on the async path")

    monkeypatch.setattr(StoreAddress, "client", forbidden)


async def test_async_hybrid_over_http(
    ragstore_server: RagstoreServer, server_client: ragstore.ClientAPI, collection_name: str, no_sync_http: None
) -> None:
    address: dict[str, Any] = {"host": ragstore_server.host, "port": ragstore_server.port}
    store = RagstoreVectorStore(collection_name, TableEmbeddings(VECTORS), **address, collection_configuration=COSINE, bm25_index=True)
    try:
        await store.aadd_documents(DOCS)
        hybrid = ids(await store.asimilarity_search(QUERY, k=6, mode="hybrid"))
        assert hybrid[0] == "both" and {"dense", "lexical"} <= set(hybrid[:4])
        assert ids(await store.as_retriever(search_type="bm25", search_kwargs={"k": 1}).ainvoke(QUERY)) == ["lexical"]
        by_text = Rrf([Knn(query=QUERY, return_rank=True), Knn(query=QUERY, key="bm25", return_rank=True)])
        by_vector = Rrf([Knn(query=VECTORS[QUERY], return_rank=True), Knn(query=QUERY, key="bm25", return_rank=True)])
        found = await store.ahybrid_search(Search().rank(by_text).limit(3))
        assert ids(found) == ids(await store.ahybrid_search(Search().rank(by_vector).limit(3))) == ["both", "lexical", "french"]
        with pytest.raises(ValueError, match="Relevance scores need mode='dense'"):
            await store.asimilarity_search_with_relevance_scores(QUERY, mode="hybrid")
    finally:
        await store.aclose()
        server_client.delete_collection(collection_name)


async def test_async_missing_bm25_index_over_http(
    ragstore_server: RagstoreServer, server_client: ragstore.ClientAPI, collection_name: str, no_sync_http: None
) -> None:
    store = RagstoreVectorStore(collection_name, TableEmbeddings(VECTORS), host=ragstore_server.host, port=ragstore_server.port)
    try:
        with pytest.raises(MissingBm25IndexError, match=collection_name):
            await store.asimilarity_search("unknown", mode="bm25")
    finally:
        await store.aclose()
        server_client.delete_collection(collection_name)
