"""Embedding the text queries of a search before it is sent, as chromadb's ``Collection.search`` does.

A ``Knn`` may carry text. On ``#embedding`` the collection's embedding function embeds it (as a
query: ``embed_query``); on a sparse key, the sparse function the schema declares for that key
(for BM25, chroma's ``ChromaBm25EmbeddingFunction``: the same hashes and weights chromadb's
client would send, so every client gets the same scores). Texts are embedded once per key for
the whole request, however many searches and leaves repeat them.

Example:
    >>> from ragstore.embeddings import HashingEmbeddingFunction
    >>> from ragstore.record_requests import SearchRequest
    >>> from ragstore.search import Knn, Search, knn_leaves
    >>> request = SearchRequest(Search().rank(Knn(query="red apples")))
    >>> embedded = embed_search_queries(request, HashingEmbeddingFunction(dim=3), None)
    >>> [len(leaf.query) for leaf in knn_leaves(embedded.searches[0].parts().rank)]
    [3]

"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ragstore.collection_schema import sparse_indexes
from ragstore.embeddings.base import build_sparse_embedding_function, embed
from ragstore.errors import InvalidArgumentError
from ragstore.record_requests import SearchRequest
from ragstore.search import Knn, knn_leaves
from ragstore.search.keys import key_name

EMBEDDING_KEY = "#embedding"


def embed_search_queries(request: SearchRequest, dense_function: Any, schema: dict[str, Any] | None) -> SearchRequest:
    """``request`` with its text queries embedded (the request itself when it has none)."""
    texts: dict[str, list[str]] = {}
    for search in request.searches:
        for leaf in knn_leaves(search.parts().rank):
            if isinstance(leaf.query, str):
                texts.setdefault(key_name(leaf.key), []).append(leaf.query)
    if not texts:
        return request
    vectors = {key: dict(zip(queries, _embedder(key, dense_function, schema)(queries), strict=True)) for key, queries in texts.items()}

    def embedded(leaf: Knn) -> Knn:
        if not isinstance(leaf.query, str):
            return leaf
        return dataclasses.replace(leaf, query=vectors[key_name(leaf.key)][leaf.query])

    return request.map_queries(embedded)


def _distinct(queries: list[str]) -> list[str]:
    return list(dict.fromkeys(queries))


def _embedder(key: str, dense_function: Any, schema: dict[str, Any] | None) -> Callable[[list[str]], list[Any]]:
    """How the texts of Knn leaves on ``key`` become vectors (the function chromadb's client would use)."""
    if key == EMBEDDING_KEY:
        if dense_function is None:
            raise InvalidArgumentError("Cannot embed a text query on #embedding: the collection has no embedding function")

        def dense(queries: list[str]) -> list[Any]:
            unique = _distinct(queries)
            by_text = dict(zip(unique, embed(dense_function, unique, query=True, op="search"), strict=True))
            return [by_text[q].tolist() for q in queries]

        return dense
    descriptions = [spec.embedding_function for spec in sparse_indexes(schema) if spec.key == key]
    function = build_sparse_embedding_function(descriptions[0]) if descriptions else None
    if function is not None:

        def sparse(queries: list[str]) -> list[Any]:
            unique = _distinct(queries)
            by_text = dict(zip(unique, function.embed_query(unique), strict=True))
            return [by_text[q] for q in queries]

        return sparse
    raise InvalidArgumentError(
        f"Cannot embed string query for key '{key}': key not found in schema. "
        "Please provide an embedded vector or configure an embedding function for this key in the schema."
    )
