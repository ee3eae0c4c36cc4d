"""Hybrid search for the LangChain store: the BM25 index a store can create, and Search API requests.

Two ways in, both backed by the ragstore collection:

- One line, no expressions: ``similarity_search(query, mode="hybrid")`` (or ``as_retriever(search_type="hybrid")``)
  runs ragstore's ``collection.query(mode="hybrid")``: the best 200 dense and 200 BM25 results, fused by
  DBSF with equal weights (ragstore's setting, tuned on SciFact train). ``mode="bm25"`` ranks by BM25 alone.
  Both need the collection's BM25 index (:func:`bm25_schema`, created with ``bm25_index=True``).
- Expressions: ``hybrid_search(Search(...))`` runs chromadb's Search API (``collection.search``), as
  langchain-chroma does. Text queries on ``#embedding`` are embedded with the store's LangChain
  embeddings first (the vectors it stored came from them); text on a sparse key is embedded by the
  function the collection's schema declares (BM25's tokenizer).

Example:
    >>> from ragstore import K, Knn, Search
    >>> search = with_query_vectors(Search().rank(Knn(query="red")), {"red": [1.0, 0.0]})
    >>> [leaf.query for leaf in knn_leaves(search.parts().rank)], search.to_dict()["select"]
    ([[1.0, 0.0]], {'keys': ['#document', '#metadata']})

"""

from __future__ import annotations

import dataclasses
from typing import Any

import ragstore
from langchain_core.documents import Document
from ragstore.collection_schema import sparse_indexes
from ragstore.search import Key, Knn, knn_leaves, map_knn
from ragstore.search.keys import key_name
from ragstore.search_queries import EMBEDDING_KEY

BM25_KEY = "bm25"
"""The key of the BM25 index a store creates (``Knn(query=text, key="bm25")`` in a Search)."""

QUERY_MODES = ("dense", "hybrid", "bm25")
"""``mode=`` of the similarity searches: dense vectors (LangChain's usual search), dense and BM25 fused, BM25 alone."""


class MissingBm25IndexError(ValueError):
    """A hybrid or BM25 search on a collection created without a BM25 index."""


def bm25_schema() -> ragstore.Schema:
    """The schema of a new collection with a BM25 index on the documents' text, under :data:`BM25_KEY`.

    Example:
        >>> [spec.key for spec in sparse_indexes(bm25_schema()) if spec.bm25]
        ['bm25']

    """
    config = ragstore.SparseVectorIndexConfig(source_key=Key.DOCUMENT.name, embedding_function=ragstore.ChromaBm25EmbeddingFunction())
    return ragstore.Schema().create_index(config=config, key=BM25_KEY)


def bm25_key(schema: Any) -> str | None:
    """The key of ``schema``'s BM25 index (a ``Schema``, its JSON or ``None``); ``None`` when it has none.

    Example:
        >>> bm25_key(bm25_schema()), bm25_key(None)
        ('bm25', None)

    """
    return next((spec.key for spec in sparse_indexes(schema) if spec.bm25), None)


def missing_bm25_index(collection_name: str) -> MissingBm25IndexError:
    """The error for a hybrid or BM25 search on ``collection_name``, saying how to get the index.

    Example:
        >>> "bm25_index=True" in str(missing_bm25_index("docs"))
        True

    """
    return MissingBm25IndexError(
        f"Collection {collection_name!r} has no BM25 index, which mode='hybrid' / mode='bm25' "
        "(and search_type='hybrid' / 'bm25') search: create the store with bm25_index=True. That applies to a new "
        "collection; an existing one keeps the indexes it was created with (reindex into a new collection)."
    )


def check_mode(mode: Any, method: str) -> str:
    """``mode`` if it is one of :data:`QUERY_MODES`.

    Raises:
        ValueError: Any other value.

    Example:
        >>> check_mode("sparse", "similarity_search")
        Traceback (most recent call last):
        ...
        ValueError: similarity_search() got mode='sparse'; expected one of 'dense', 'hybrid', 'bm25'

    """
    if mode not in QUERY_MODES:
        expected = ", ".join(repr(m) for m in QUERY_MODES)
        raise ValueError(f"{method}() got mode={mode!r}; expected one of {expected}")
    return str(mode)


def _is_dense_text(leaf: Knn) -> bool:
    return isinstance(leaf.query, str) and key_name(leaf.key) == EMBEDDING_KEY


def dense_text_queries(search: ragstore.Search) -> list[str]:
    """The distinct text queries of ``search``'s ``Knn`` leaves on ``#embedding``, in order.

    Example:
        >>> from ragstore import Knn, Rrf, Search
        >>> dense_text_queries(Search().rank(Rrf([Knn(query="q"), Knn(query="q", key="bm25"), Knn(query=[1.0])])))
        ['q']

    """
    return list(dict.fromkeys(str(leaf.query) for leaf in knn_leaves(search.parts().rank) if _is_dense_text(leaf)))


def with_query_vectors(search: ragstore.Search, vectors: dict[str, list[float]]) -> ragstore.Search:
    """``search`` with its dense text queries replaced by ``vectors[text]``, selecting what a ``Document`` needs.

    A search that selects nothing selects the document and its metadata; one that selects fields but
    not the document also gets the document (a ``Document`` without text would be dropped, as
    langchain-chroma drops records without one). The caller's ``search`` is not changed.
    """

    def embedded(leaf: Knn) -> Knn:
        return dataclasses.replace(leaf, query=vectors[str(leaf.query)]) if _is_dense_text(leaf) else leaf

    rank = search.parts().rank
    if rank is not None and vectors:
        search = search.rank(map_knn(rank, embedded))
    keys = list(search.parts().select.keys)
    if not keys:
        return search.select(Key.DOCUMENT, Key.METADATA)
    if Key.DOCUMENT.name not in {key_name(k) for k in keys}:
        return search.select(*keys, Key.DOCUMENT)
    return search


def documents_from_search(result: ragstore.SearchResult) -> list[Document]:
    """The first search's records as Documents, best first; records without a document are left out.

    Example:
        >>> from ragstore import SearchResult
        >>> documents_from_search(SearchResult({"ids": [["a", "b"]], "documents": [["text", None]], "metadatas": None}))
        [Document(id='a', metadata={}, page_content='text')]

    """
    rows = result.rows()
    if not rows:
        return []
    return [
        Document(id=row["id"], page_content=text, metadata=dict(row.get("metadata") or {}))
        for row in rows[0]
        if (text := row.get("document")) is not None
    ]
