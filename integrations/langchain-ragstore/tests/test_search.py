"""Filters, scores per space, MMR and the retriever's three search types, on an in-memory store."""

from __future__ import annotations

import math

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_ragstore import InvalidFilterError, RagstoreVectorStore, UnknownSpaceError
from tests.fakes import TableEmbeddings

BOOKS = [
    Document(id="1", page_content="a book about cats", metadata={"year": 2020, "lang": "en", "tags": ["pets", "cats"]}),
    Document(id="2", page_content="a book about dogs", metadata={"year": 2022, "lang": "en", "tags": ["pets"]}),
    Document(id="3", page_content="un livre sur les chats", metadata={"year": 2022, "lang": "fr", "tags": ["cats"]}),
    Document(id="4", page_content="a history of rome", metadata={"year": 2024, "lang": "en"}),
]


@pytest.fixture
def books() -> RagstoreVectorStore:
    store = RagstoreVectorStore("books", DeterministicFakeEmbedding(size=8))
    store.add_documents(BOOKS)
    return store


def ids(docs: list[Document]) -> set[str | None]:
    return {doc.id for doc in docs}


def test_filter_operators(books: RagstoreVectorStore) -> None:
    assert ids(books.similarity_search("cats", k=10, filter={"year": {"$gte": 2022}})) == {"2", "3", "4"}
    assert ids(books.similarity_search("cats", k=10, filter={"lang": {"$in": ["fr"]}})) == {"3"}
    assert ids(books.similarity_search("cats", k=10, filter={"tags": {"$contains": "cats"}})) == {"1", "3"}
    assert ids(books.similarity_search("cats", k=10, filter={"$or": [{"year": 2020}, {"lang": "fr"}]})) == {"1", "3"}


def test_multi_key_filter_is_an_implicit_and(books: RagstoreVectorStore) -> None:
    assert ids(books.similarity_search("cats", k=10, filter={"year": 2022, "lang": "en"})) == {"2"}
    nested = {"$or": [{"year": 2020, "lang": "en"}, {"year": 2024, "lang": "fr"}]}
    assert ids(books.similarity_search("cats", k=10, filter=nested)) == {"1"}
    assert ids(books.max_marginal_relevance_search("cats", k=10, fetch_k=10, filter={"year": 2022, "lang": "fr"})) == {"3"}


def test_where_document_and_ids(books: RagstoreVectorStore) -> None:
    assert ids(books.similarity_search("cats", k=10, where_document={"$contains": "book"})) == {"1", "2"}
    assert ids(books.similarity_search("cats", k=10, where_document={"$regex": "^a (book|history)", "$not_contains": "dogs"})) == {"1", "4"}
    assert ids(books.similarity_search("cats", k=10, ids=["2", "4"], filter={"year": 2024})) == {"4"}


def test_delete_by_filter_and_all(books: RagstoreVectorStore) -> None:
    assert books.delete(filter={"lang": "en", "year": 2022}) is True
    assert ids(books.get_by_ids(["1", "2", "3", "4"])) == {"1", "3", "4"}
    assert books.delete() is True
    assert books.get_by_ids(["1", "3", "4"]) == []


def test_bad_filters_are_clear_errors(books: RagstoreVectorStore) -> None:
    with pytest.raises(InvalidFilterError, match="filter dict"):
        books.similarity_search("cats", filter="year = 2020")
    with pytest.raises(InvalidFilterError, match=r"\$or"):
        books.similarity_search("cats", filter={"$or": {"year": 2020}})
    with pytest.raises(TypeError, match="unexpected keyword arguments: fliter"):
        books.similarity_search("cats", fliter={"year": 2020})
    with pytest.raises(ValueError, match="positive int"):
        books.similarity_search("cats", k=0)


def test_results_carry_ids_and_metadata_and_inputs_are_not_mutated() -> None:
    store = RagstoreVectorStore("mutation", DeterministicFakeEmbedding(size=8))
    original = Document(page_content="x", metadata={"a": 1, "gone": None})
    [new_id] = store.add_documents([original])
    assert original.id is None and original.metadata == {"a": 1, "gone": None}
    assert store.get_by_ids([new_id]) == [Document(id=new_id, page_content="x", metadata={"a": 1})]


def test_replacing_a_document_drops_old_metadata_keys() -> None:
    store = RagstoreVectorStore("replace", DeterministicFakeEmbedding(size=8))
    store.add_documents([Document(id="k", page_content="old", metadata={"keep": 1, "drop": 2})])
    store.add_documents([Document(id="k", page_content="new", metadata={"keep": 3})])
    assert store.get_by_ids(["k"]) == [Document(id="k", page_content="new", metadata={"keep": 3})]
    assert ids(store.similarity_search("new", k=5, filter={"drop": 2})) == set()


# --------------------------------------------------------------------------- scores per space

ANGLES = {"q": [1.0, 0.0], "same": [1.0, 0.0], "right": [0.0, 1.0], "opposite": [-1.0, 0.0], "diag": [math.sqrt(0.5), math.sqrt(0.5)]}


# The one relevance score (ragstore.relevance) is the cosine clipped to [0, 1], in every space: for unit vectors
# the l2 distances are 2 - 2 cos (0, 2 - sqrt(2), 2, 4), the cosine and ip ones 1 - cos.
SAME_IN_EVERY_SPACE = {"same": 1.0, "diag": math.sqrt(0.5), "right": 0.0, "opposite": 0.0}


@pytest.mark.parametrize(("space", "expected"), [(space, SAME_IN_EVERY_SPACE) for space in ("cosine", "ip", "l2")])
def test_relevance_scores_per_space(space: str, expected: dict[str, float]) -> None:
    store = RagstoreVectorStore(f"space-{space}", TableEmbeddings(ANGLES), collection_configuration={"hnsw": {"space": space}})
    texts = ["same", "right", "opposite", "diag"]
    store.add_texts(texts, ids=texts)
    with_distance = store.similarity_search_with_score("q", k=4)
    with_relevance = store.similarity_search_with_relevance_scores("q", k=4)
    assert [d.id for d, _ in with_distance] == [d.id for d, _ in with_relevance] == ["same", "diag", "right", "opposite"]
    distances = [s for _, s in with_distance]
    relevances = [s for _, s in with_relevance]
    assert distances == sorted(distances) and relevances == sorted(relevances, reverse=True)
    assert all(0.0 <= r <= 1.0 for r in relevances)
    assert {d.id: r for d, r in with_relevance} == pytest.approx(expected, abs=1e-5)
    by_vector = store.similarity_search_by_vector_with_relevance_scores([1.0, 0.0], k=4)
    assert [r for _, r in by_vector] == pytest.approx(relevances)


def test_l2_relevance_stays_in_range_for_unnormalised_vectors() -> None:
    store = RagstoreVectorStore("l2-raw", DeterministicFakeEmbedding(size=16))
    store.add_texts([f"text {i}" for i in range(20)])
    scored = store.similarity_search_with_relevance_scores("query", k=20)
    distances = [d for _, d in store.similarity_search_with_score("query", k=20)]
    assert max(distances) > 10  # far outside what chroma's 1 - d/sqrt(2) keeps in [0, 1]
    # Not unit vectors, so not cosines: clipped to [0, 1], and never higher for a farther hit.
    assert all(0.0 <= r <= 1.0 for _, r in scored)
    assert [r for _, r in scored] == sorted((r for _, r in scored), reverse=True)
    assert [r for _, r in scored] == pytest.approx([max(0.0, 1.0 - d / 2) for d in distances])


def test_relevance_is_ragstores_one_relevance_score() -> None:
    from ragstore.relevance import relevance

    from langchain_ragstore.relevance import cosine_relevance, inner_product_relevance, squared_l2_relevance

    for distance in (0.0, 0.25, 0.9065, 1.7, 2.5):
        assert squared_l2_relevance(distance) == relevance(distance, "l2")
        assert cosine_relevance(distance) == relevance(distance, "cosine")
        assert inner_product_relevance(distance) == relevance(distance, "ip")
    store = RagstoreVectorStore("one-score", TableEmbeddings(ANGLES))
    assert store._select_relevance_score_fn()(0.9065) == pytest.approx(0.54675)  # the issue's hit: 0.525 with 1 / (1 + d)


def test_relevance_score_fn_override_and_unknown_space() -> None:
    store = RagstoreVectorStore("override", TableEmbeddings(ANGLES), relevance_score_fn=lambda d: 42.0 - d)
    store.add_texts(["same"], ids=["same"])
    assert store.similarity_search_by_vector_with_relevance_scores([1.0, 0.0], k=1)[0][1] == pytest.approx(42.0)
    with pytest.raises(UnknownSpaceError):
        from langchain_ragstore import relevance_fn

        relevance_fn("hamming")


# --------------------------------------------------------------------------- MMR

CLUSTER = {
    "q": [1.0, 0.0, 0.0],
    "a1": [1.0, 0.05, 0.0],
    "a2": [1.0, 0.06, 0.0],  # a near-duplicate of a1
    "a3": [1.0, 0.07, 0.0],
    "b": [0.8, 0.0, 0.6],  # a little farther, but different
}


def test_mmr_prefers_diversity() -> None:
    store = RagstoreVectorStore("mmr", TableEmbeddings(CLUSTER), collection_configuration={"hnsw": {"space": "cosine"}})
    store.add_texts(["a1", "a2", "a3", "b"], ids=["a1", "a2", "a3", "b"])
    plain = [d.id for d in store.similarity_search("q", k=2)]
    assert plain == ["a1", "a2"]
    diverse = [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=4, lambda_mult=0.5)]
    assert diverse == ["a1", "b"]
    relevance_only = [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=4, lambda_mult=1.0)]
    assert relevance_only == plain
    assert [d.id for d in store.max_marginal_relevance_search_by_vector([1.0, 0.0, 0.0], k=2, fetch_k=4)] == ["a1", "b"]
    with pytest.raises(ValueError, match="fetch_k"):
        store.max_marginal_relevance_search("q", k=3, fetch_k=2)


# --------------------------------------------------------------------------- retriever


def test_retriever_three_search_types() -> None:
    store = RagstoreVectorStore("retriever", TableEmbeddings(CLUSTER), collection_configuration={"hnsw": {"space": "cosine"}})
    store.add_texts(["a1", "a2", "a3", "b"], ids=["a1", "a2", "a3", "b"], metadatas=[{"g": "a"}, {"g": "a"}, {"g": "a"}, {"g": "b"}])
    similarity = store.as_retriever(search_kwargs={"k": 2})
    assert [d.id for d in similarity.invoke("q")] == ["a1", "a2"]
    assert [d.id for d in similarity.invoke("q", k=1)] == ["a1"]
    threshold = store.as_retriever(search_type="similarity_score_threshold", search_kwargs={"k": 4, "score_threshold": 0.95})
    kept = threshold.invoke("q")
    assert {d.id for d in kept} == {"a1", "a2", "a3"}  # b's relevance is its cosine, 0.8
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4})
    assert [d.id for d in mmr.invoke("q")] == ["a1", "b"]
    filtered = store.as_retriever(search_kwargs={"k": 4, "filter": {"g": "b"}})
    assert [d.id for d in filtered.invoke("q")] == ["b"]


async def test_retriever_async_search_types() -> None:
    store = RagstoreVectorStore("retriever-async", TableEmbeddings(CLUSTER), collection_configuration={"hnsw": {"space": "cosine"}})
    await store.aadd_texts(["a1", "a2", "a3", "b"], ids=["a1", "a2", "a3", "b"])
    assert [d.id for d in await store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4}).ainvoke("q")] == ["a1", "b"]
    kept = await store.as_retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.95}).ainvoke("q")
    assert {d.id for d in kept} == {"a1", "a2", "a3"}


def test_from_texts_and_from_documents() -> None:
    store = RagstoreVectorStore.from_texts(["a1", "b"], TableEmbeddings(CLUSTER), ids=["x", "y"], collection_name="from-texts")
    assert store.similarity_search("q", k=1)[0].id == "x"
    docs = [Document(id="d1", page_content="a1"), Document(page_content="b", metadata={"m": 1})]
    store2 = RagstoreVectorStore.from_documents(docs, TableEmbeddings(CLUSTER), collection_name="from-docs")
    found = store2.similarity_search("q", k=2)
    assert found[0] == Document(id="d1", page_content="a1")
    assert found[1].metadata == {"m": 1} and found[1].id not in (None, "")
