"""Ragstore's filter operators beyond chromadb's through the LangChain store, in memory, on disk and over HTTP.

``filter=`` / ``where_document=`` reach the store after :func:`langchain_ragstore.normalize_filter`, which must
pass ``$exists``, ``$text_contains`` / ``$not_text_contains``, ``$regex`` / ``$not_regex`` through and read
``$not``'s operand as a filter (several keys: ``$and``). Every search path filters in the store: dense,
MMR, hybrid, async and delete. The expected ids are worked out by hand from :data:`DOCS`.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from ragstore.errors import InvalidArgumentError

from langchain_ragstore import InvalidFilterError, RagstoreVectorStore, normalize_filter
from tests.stores import StoreFactory

DOCS = [
    Document(
        id="hnsw",
        page_content="HNSW graphs for approximate search",
        metadata={"title": "Intro to HNSW", "year": 2020, "author": "Malkov", "tags": ["ann", "graphs"]},
    ),
    Document(
        id="bm25",
        page_content="BM25 ranks documents by term frequency",
        metadata={"title": "BM25 in practice", "year": 2022, "author": "Robertson"},
    ),
    Document(id="sqlite", page_content="SQLite stores everything in one file", metadata={"title": "intro to SQLite", "year": 2024}),
    Document(id="numeric", page_content="a title that is a number", metadata={"title": 2021, "year": 2021, "tags": ["HNSW"]}),
    Document(id="bare", page_content="no metadata at all", metadata={}),
]
EVERY = {str(doc.id) for doc in DOCS}

FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"author": {"$exists": True}}, {"hnsw", "bm25"}),
    ({"author": {"$exists": False}}, {"sqlite", "numeric", "bare"}),
    ({"tags": {"$exists": True}}, {"hnsw", "numeric"}),  # a list value exists too
    ({"title": {"$text_contains": "ntro"}}, {"hnsw", "sqlite"}),
    ({"title": {"$text_contains": "HNSW"}}, {"hnsw"}),  # not numeric's tags: text operators read strings only
    ({"title": {"$not_text_contains": "ntro"}}, {"bm25", "numeric", "bare"}),  # the number and the absent title match
    ({"title": {"$regex": "(?i)^intro"}}, {"hnsw", "sqlite"}),
    ({"title": {"$regex": "^intro"}}, {"sqlite"}),
    ({"title": {"$not_regex": "^intro"}}, {"hnsw", "bm25", "numeric", "bare"}),
    ({"$not": {"year": {"$gte": 2022}}}, {"hnsw", "numeric", "bare"}),  # bare has no year: $not matches it
    ({"$not": {"author": "Malkov", "year": 2020}}, {"bm25", "sqlite", "numeric", "bare"}),  # several keys in $not: an $and
    ({"$not": {"$or": [{"year": 2020}, {"author": {"$exists": False}}]}}, {"bm25"}),
    ({"year": {"$gte": 2021}, "title": {"$regex": "^[A-Z]"}}, {"bm25"}),
    ({"year": {"$gte": 2021, "$lt": 2024}}, {"bm25", "numeric"}),  # a range in one field dict: one clause per operator
    ({"$not": {"year": {"$gt": 2020, "$lte": 2022}}}, {"hnsw", "sqlite", "bare"}),
    ({"$or": [{"title": {"$text_contains": "SQLite"}}, {"$not": {"title": {"$exists": True}}}]}, {"sqlite", "bare"}),
]
DOCUMENT_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"$not": {"$contains": "HNSW", "$regex": "graphs"}}, EVERY - {"hnsw"}),
    ({"$not": {"$regex": "^[A-Z]"}}, {"numeric", "bare"}),
]


def ids(docs: list[Document]) -> set[str | None]:
    return {doc.id for doc in docs}


@pytest.fixture
def store(open_store_in_mode: StoreFactory) -> RagstoreVectorStore:
    created = open_store_in_mode(DeterministicFakeEmbedding(size=8), bm25_index=True)
    created.add_documents(DOCS)
    return created


@pytest.mark.parametrize("search", ["dense", "mmr", "hybrid"])
def test_every_search_path_filters_with_the_extensions(store: RagstoreVectorStore, search: str) -> None:
    def found(**filters: Any) -> set[str | None]:
        if search == "mmr":
            return ids(store.max_marginal_relevance_search("documents", k=10, fetch_k=10, **filters))
        return ids(store.similarity_search("documents", k=10, mode=search, **filters))

    for where, expected in FILTERS:
        assert found(filter=where) == expected, where
    for where_document, expected in DOCUMENT_FILTERS:
        assert found(where_document=where_document) == expected, where_document


async def test_async_search_filters_with_the_extensions(store: RagstoreVectorStore) -> None:
    for where, expected in FILTERS:
        assert ids(await store.asimilarity_search("documents", k=10, filter=where)) == expected, where
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 10, "filter": {"$not": {"author": {"$exists": True}}}})
    assert ids(await retriever.ainvoke("documents")) == {"sqlite", "numeric", "bare"}


def test_delete_by_an_extension_filter(store: RagstoreVectorStore) -> None:
    assert store.delete(filter={"$not": {"author": {"$exists": True}, "year": {"$lt": 2022}}}) is True
    assert ids(store.get_by_ids(sorted(EVERY))) == {"hnsw"}
    assert store.delete(where_document={"$not": {"$regex": "^BM25"}}) is True
    assert store.get_by_ids(sorted(EVERY)) == []


def test_malformed_extensions_are_refused_before_or_by_the_store(store: RagstoreVectorStore) -> None:
    with pytest.raises(InvalidFilterError, match=r"\$not to be given one non-empty filter dict"):
        store.similarity_search("documents", filter={"$not": [{"year": 2020}]})
    with pytest.raises(InvalidFilterError, match=r"\$not"):
        store.similarity_search("documents", filter={"$not": {}})  # "not everything" would silently find nothing
    with pytest.raises(InvalidArgumentError, match=r"\$exists to be true or false"):
        store.similarity_search("documents", filter={"author": {"$exists": "yes"}})
    with pytest.raises(InvalidArgumentError, match="Regex syntax error"):
        store.similarity_search("documents", filter={"title": {"$regex": "(unclosed"}})
    assert ids(store.similarity_search("documents", k=10)) == EVERY  # nothing was changed by the refusals


def test_normalize_filter_passes_the_extensions_through() -> None:
    for where, _ in FILTERS:
        normalized = normalize_filter(where)
        assert normalized is not None and len(normalized) == 1
    assert normalize_filter({"title": {"$not_regex": "x"}}) == {"title": {"$not_regex": "x"}}
    assert normalize_filter({"$or": [{"$not": {"a": 1, "b": {"$exists": False}}}, {"c": {"$text_contains": "z"}}]}) == {
        "$or": [{"$not": {"$and": [{"a": 1}, {"b": {"$exists": False}}]}}, {"c": {"$text_contains": "z"}}]
    }
    assert normalize_filter({"$not": {"$not": {"a": 1}}}) == {"$not": {"$not": {"a": 1}}}
