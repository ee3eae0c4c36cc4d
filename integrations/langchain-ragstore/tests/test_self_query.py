"""``RagstoreTranslator``: LangChain's structured queries run as ragstore filters, in memory, on disk and over HTTP.

Each structured query (what ``SelfQueryRetriever``'s LLM writes) is translated and searched in a real
store; the expected ids are worked out by hand from :data:`MOVIES`. langchain-classic (which provides
``SelfQueryRetriever``) is not installed here, so :func:`self_query` does what its ``_prepare_query`` and
``_get_docs_with_query`` do: translate, set ``k`` from the query's limit, and call ``store.search``.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.structured_query import Comparator, Comparison, FilterDirective, Operation, Operator, StructuredQuery

from langchain_ragstore import RagstoreTranslator, RagstoreVectorStore
from tests.stores import StoreFactory

MOVIES = [
    Document(
        id="jurassic",
        page_content="Scientists bring back dinosaurs and mayhem breaks loose",
        metadata={"title": "Jurassic Park", "year": 1993, "rating": 7.7, "genre": "science fiction"},
    ),
    Document(
        id="inception",
        page_content="A thief enters dreams within dreams",
        metadata={
            "title": "Inception",
            "year": 2010,
            "released": "2010-07-16",
            "director": "Christopher Nolan",
            "rating": 8.2,
            "genre": ["thriller", "science fiction"],
            "oscars": [2011],
        },
    ),
    Document(
        id="paprika",
        page_content="A psychologist chases a thief through dreams",
        metadata={"title": "Paprika", "year": 2006, "director": "Satoshi Kon", "rating": 8.6, "genre": ["anime", "thriller"]},
    ),
    Document(
        id="women",
        page_content="Four sisters grow up in Massachusetts",
        metadata={"title": "Little Women", "year": 2019, "director": "Greta Gerwig", "rating": 8.3, "genre": "drama"},
    ),
    Document(
        id="toys", page_content="Toys come alive when nobody looks", metadata={"title": "Toy Story", "year": 1995, "genre": "animated"}
    ),
]
EVERY = {str(doc.id) for doc in MOVIES}


def compare(comparator: Comparator, attribute: str, value: Any) -> Comparison:
    return Comparison(comparator=comparator, attribute=attribute, value=value)


def combine(operator: Operator, *arguments: FilterDirective) -> Operation:
    return Operation(operator=operator, arguments=list(arguments))


Cmp, Op = Comparator, Operator
CASES: list[tuple[FilterDirective, set[str]]] = [
    (compare(Cmp.EQ, "director", "Greta Gerwig"), {"women"}),
    (compare(Cmp.NE, "director", "Greta Gerwig"), EVERY - {"women"}),  # movies without a director too
    (compare(Cmp.GT, "rating", 8.2), {"paprika", "women"}),
    (compare(Cmp.GTE, "rating", 8.2), {"inception", "paprika", "women"}),
    (compare(Cmp.LT, "year", 1995), {"jurassic"}),
    (compare(Cmp.LTE, "year", 1995), {"jurassic", "toys"}),
    (compare(Cmp.IN, "director", ["Satoshi Kon", "Greta Gerwig"]), {"paprika", "women"}),
    (compare(Cmp.IN, "year", 1993), {"jurassic"}),  # one value, not a list
    (compare(Cmp.NIN, "director", ["Satoshi Kon"]), EVERY - {"paprika"}),
    (compare(Cmp.CONTAIN, "genre", "thriller"), {"inception", "paprika"}),  # items of lists
    (compare(Cmp.CONTAIN, "genre", "fiction"), {"jurassic"}),  # a substring of a string; no list item is "fiction"
    (compare(Cmp.CONTAIN, "genre", "science fiction"), {"jurassic", "inception"}),  # both kinds
    (compare(Cmp.CONTAIN, "oscars", 2011), {"inception"}),
    (compare(Cmp.LIKE, "title", "Park"), {"jurassic"}),
    (compare(Cmp.LIKE, "title", "park"), set()),  # case-sensitive
    (compare(Cmp.EQ, "released", {"date": "2010-07-16", "type": "date"}), {"inception"}),  # the query constructor's date
    (combine(Op.NOT, compare(Cmp.LIKE, "title", "Toy")), EVERY - {"toys"}),
    (combine(Op.NOT, compare(Cmp.EQ, "genre", "drama"), compare(Cmp.LT, "year", 2000)), {"inception", "paprika"}),  # none of them
    (combine(Op.AND, compare(Cmp.GT, "rating", 8), compare(Cmp.CONTAIN, "genre", "thriller")), {"inception", "paprika"}),
    (combine(Op.AND, compare(Cmp.LT, "year", 1994)), {"jurassic"}),  # one argument
    (combine(Op.OR, compare(Cmp.EQ, "director", "Satoshi Kon"), compare(Cmp.LT, "year", 1994)), {"paprika", "jurassic"}),
    (combine(Op.AND, combine(Op.NOT, compare(Cmp.CONTAIN, "genre", "anime")), compare(Cmp.GTE, "rating", 8)), {"inception", "women"}),
]


def ids(docs: list[Document]) -> set[str | None]:
    return {doc.id for doc in docs}


def self_query(store: RagstoreVectorStore, structured: StructuredQuery, search_type: str, search_kwargs: dict[str, Any]) -> list[Document]:
    """What ``SelfQueryRetriever`` does with the structured query its LLM wrote."""
    query, kwargs = RagstoreTranslator().visit_structured_query(structured)
    if structured.limit is not None:
        kwargs["k"] = structured.limit
    return store.search(query, search_type, **{**search_kwargs, **kwargs})


@pytest.fixture
def store(open_store_in_mode: StoreFactory) -> RagstoreVectorStore:
    created = open_store_in_mode(DeterministicFakeEmbedding(size=8), bm25_index=True)
    created.add_documents(MOVIES)
    return created


def test_every_operator_and_comparator_filters_in_the_store(store: RagstoreVectorStore) -> None:
    for directive, expected in CASES:
        query, kwargs = RagstoreTranslator().visit_structured_query(StructuredQuery(query="dreams", filter=directive))
        assert ids(store.similarity_search(query, k=10, **kwargs)) == expected, kwargs["filter"]


@pytest.mark.parametrize("search_type", ["similarity", "mmr", "hybrid"])
def test_a_self_query_retriever_flow(store: RagstoreVectorStore, search_type: str) -> None:
    good_thrillers = combine(Op.AND, compare(Cmp.CONTAIN, "genre", "thriller"), compare(Cmp.GT, "rating", 8.0))
    found = self_query(store, StructuredQuery(query="dreams", filter=good_thrillers), search_type, {"k": 10})
    assert ids(found) == {"inception", "paprika"}
    limited = self_query(store, StructuredQuery(query="dreams", filter=compare(Cmp.NE, "genre", "drama"), limit=2), search_type, {"k": 10})
    assert len(limited) == 2 and ids(limited) <= EVERY - {"women"}
    assert len(self_query(store, StructuredQuery(query="dreams", filter=None), search_type, {"k": 10})) == len(MOVIES)


async def test_the_translated_filter_works_in_the_async_retriever(store: RagstoreVectorStore) -> None:
    _, kwargs = RagstoreTranslator().visit_structured_query(
        StructuredQuery(query="dreams", filter=combine(Op.NOT, compare(Cmp.CONTAIN, "genre", "fiction")))
    )
    retriever = store.as_retriever(search_kwargs={"k": 10, **kwargs})
    assert ids(await retriever.ainvoke("dreams")) == EVERY - {"jurassic"}


def test_what_cannot_be_translated_is_a_clear_error() -> None:
    translator = RagstoreTranslator()
    with pytest.raises(ValueError, match="LIKE on 'year' to be given a string"):
        translator.visit_comparison(compare(Cmp.LIKE, "year", 1993))
    with pytest.raises(ValueError, match="CONTAIN on 'genre' to compare with a string, number or bool"):
        translator.visit_comparison(compare(Cmp.CONTAIN, "genre", ["anime", "drama"]))
    with pytest.raises(ValueError, match="AND to have at least one argument"):
        translator.visit_operation(combine(Op.AND))

    class EqualityOnly(RagstoreTranslator):
        allowed_comparators = (Comparator.EQ,)

    with pytest.raises(ValueError, match="disallowed comparator"):
        EqualityOnly().visit_comparison(compare(Cmp.LIKE, "title", "Park"))
