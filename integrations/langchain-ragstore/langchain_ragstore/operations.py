"""The vector store's operations, each written once as a generator of steps (see :mod:`langchain_ragstore.driving`).

An operation checks its arguments, yields the collection, embedding and connection calls it needs and
returns the method's result; it does no I/O itself. ``method`` is the public method's name, used in
argument errors (``similarity_search()`` or ``asimilarity_search()``).

Example:
    >>> import ragstore
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore.driving import run_sync
    >>> from types import SimpleNamespace
    >>> resolve = {
    ...     "collection": ragstore.EphemeralClient().create_collection("ops-example", embedding_function=None),
    ...     "embeddings": DeterministicFakeEmbedding(size=4),
    ...     "connection": SimpleNamespace(max_batch_size=lambda: 100),
    ... }.__getitem__
    >>> run_sync(add_texts(["apples"], None, ["a"], {}, method="add_texts"), resolve)
    ['a']
    >>> [(doc.id, score) for doc, score in run_sync(similarity("apples", 1, {}, method="similarity_search"), resolve)]
    [('a', 0.0)]

"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ragstore
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

from langchain_ragstore.driving import Operation
from langchain_ragstore.filters import normalize_filter
from langchain_ragstore.hybrid import check_mode, dense_text_queries, documents_from_search, with_query_vectors
from langchain_ragstore.records import (
    InvalidRecordsError,
    batches,
    documents_from_get,
    documents_from_query,
    embeddings_from_query,
    prepare_ids,
    prepare_metadatas,
    upsert_metadatas,
)

Query = str | list[float]
"""A query text (embedded with ``embed_query`` first) or a query vector."""

_SEARCH_INCLUDE = ["documents", "metadatas", "distances"]
_MMR_INCLUDE = [*_SEARCH_INCLUDE, "embeddings"]


@dataclass(frozen=True)
class Search:
    """The checked filter arguments of a search or delete call.

    Example:
        >>> search_args({"filter": {"k": 1}}, "delete").where
        {'k': 1}

    """

    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    ids: list[str] | None


def search_args(kwargs: dict[str, Any], method: str) -> Search:
    """Take ``filter``/``where``, ``where_document`` and ``ids`` from ``kwargs``; anything else is an error.

    Raises:
        TypeError: Both ``filter`` and ``where``, an unknown keyword, or ``ids`` that are not strings.

    Example:
        >>> search_args({"fliter": {}}, "similarity_search")
        Traceback (most recent call last):
        ...
        TypeError: similarity_search() got unexpected keyword arguments: fliter

    """
    kwargs = dict(kwargs)
    if "filter" in kwargs and "where" in kwargs:
        raise TypeError(f"{method}() got both filter= and where=; they are the same thing, give one")
    where = normalize_filter(kwargs.pop("filter", None) if "filter" in kwargs else kwargs.pop("where", None))
    where_document = normalize_filter(kwargs.pop("where_document", None))
    ids = kwargs.pop("ids", None)
    _no_other_kwargs(kwargs, method)
    if ids is not None and (isinstance(ids, str) or not all(isinstance(i, str) for i in ids)):
        raise TypeError(f"Expected ids= to be a list of strings, got {ids!r:.80}")
    return Search(where, where_document, list(ids) if ids is not None else None)


def _no_other_kwargs(kwargs: dict[str, Any], method: str) -> None:
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")


def check_k(k: int, name: str = "k") -> int:
    """``k`` if it is a positive int (not a bool).

    Example:
        >>> check_k(0)
        Traceback (most recent call last):
        ...
        ValueError: Expected k to be a positive int, got 0

    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Expected {name} to be a positive int, got {k!r}")
    return k


def check_mmr(k: int, fetch_k: int, lambda_mult: float) -> None:
    """Check the MMR arguments: positive ``k <= fetch_k`` and ``lambda_mult`` in [0, 1].

    Example:
        >>> check_mmr(3, 2, 0.5)
        Traceback (most recent call last):
        ...
        ValueError: Expected fetch_k (2) to be at least k (3)

    """
    check_k(k)
    check_k(fetch_k, "fetch_k")
    if fetch_k < k:
        raise ValueError(f"Expected fetch_k ({fetch_k}) to be at least k ({k})")
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"Expected lambda_mult to be between 0 and 1, got {lambda_mult}")


def add_texts(
    texts: Iterable[str], metadatas: list[dict[str, Any]] | None, ids: list[str] | None, kwargs: dict[str, Any], *, method: str
) -> Operation[list[str]]:
    """Embed and upsert ``texts`` in batches of the client's limit, replacing existing ids; returns the ids.

    Each batch reads the stored metadata first, so keys a replaced record no longer has are removed
    (:func:`langchain_ragstore.records.upsert_metadatas`).
    """
    _no_other_kwargs(kwargs, method)
    items = list(texts)
    record_ids, metas = prepare_ids(len(items), ids), prepare_metadatas(len(items), metadatas)
    if not items:
        return []
    size = yield ("connection", "max_batch_size", {})
    for batch_ids, batch_texts, batch_metas in batches(record_ids, items, metas, size):
        vectors = yield ("embeddings", "embed_documents", {"texts": batch_texts})
        existing = yield ("collection", "get", {"ids": batch_ids, "include": ["metadatas"]})
        metadatas_arg = upsert_metadatas(batch_ids, batch_metas, existing)
        yield ("collection", "upsert", {"ids": batch_ids, "embeddings": vectors, "documents": batch_texts, "metadatas": metadatas_arg})
    return record_ids


def _update_ids(ids: Sequence[str], documents: Sequence[Document], method: str) -> list[str]:
    given = [ids] if isinstance(ids, str) else list(ids)
    if len(given) != len(documents):
        raise InvalidRecordsError(f"{method}() got {len(given)} ids for {len(documents)} documents")
    bad = [item for item in given if not isinstance(item, str) or not item]
    if bad:
        raise InvalidRecordsError(f"{method}() needs the id of each stored record to update, got {bad[0]!r}")
    if len(set(given)) != len(given):
        raise InvalidRecordsError(f"{method}() got an id twice: {next(i for i in given if given.count(i) > 1)!r}")
    if not all(isinstance(doc, Document) for doc in documents):
        raise InvalidRecordsError(f"{method}() expects LangChain Documents")
    return given


def update_documents(ids: Sequence[str], documents: Sequence[Document], *, method: str) -> Operation[None]:
    """Re-embed ``documents`` and write each over the record with the same position's id (text, metadata, vector).

    Every id must be stored: they are all checked before the first write, so a typo changes nothing
    (chroma skips unknown ids without a word). A document's metadata replaces the record's, as in
    :func:`add_texts`; ``Document.id`` is not read (the ids say which records change, as in langchain-chroma).
    """
    record_ids = _update_ids(ids, documents, method)
    if not record_ids:
        return
    size = yield ("connection", "max_batch_size", {})
    stored: dict[str, Any] = {}
    for start in range(0, len(record_ids), size):
        found = yield ("collection", "get", {"ids": record_ids[start : start + size], "include": ["metadatas"]})
        stored.update(zip(found["ids"], found["metadatas"] or [None] * len(found["ids"]), strict=True))
    missing = [record_id for record_id in record_ids if record_id not in stored]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InvalidRecordsError(f"{method}() got ids that are not in the collection: {shown}; nothing was updated (add them first)")
    texts = [doc.page_content for doc in documents]
    metadatas = prepare_metadatas(len(texts), [doc.metadata for doc in documents])
    for batch_ids, batch_texts, batch_metas in batches(record_ids, texts, metadatas, size):
        vectors = yield ("embeddings", "embed_documents", {"texts": batch_texts})
        previous = {"ids": batch_ids, "metadatas": [stored[record_id] for record_id in batch_ids]}
        metadatas_arg = upsert_metadatas(batch_ids, batch_metas, previous)
        yield ("collection", "update", {"ids": batch_ids, "embeddings": vectors, "documents": batch_texts, "metadatas": metadatas_arg})


def delete(ids: list[str] | None, kwargs: dict[str, Any], *, method: str) -> Operation[bool]:
    """Delete by ids and/or filter; with neither, every record, one page of the client's limit at a time."""
    search = search_args(kwargs, method)
    if ids is not None and not ids:
        return True
    if ids is None and search.where is None and search.where_document is None:
        size = yield ("connection", "max_batch_size", {})
        while page := (yield ("collection", "get", {"limit": size, "include": []}))["ids"]:
            yield ("collection", "delete", {"ids": page})
        return True
    yield (
        "collection",
        "delete",
        {"ids": list(ids) if ids is not None else None, "where": search.where, "where_document": search.where_document},
    )
    return True


def get_by_ids(ids: Sequence[str]) -> Operation[list[Document]]:
    """The stored documents with these ids (missing ids left out)."""
    if not ids:
        return []
    return documents_from_get((yield ("collection", "get", {"ids": list(ids), "include": ["documents", "metadatas"]})))


def _vector(query: Query) -> Operation[list[float]]:
    if isinstance(query, str):
        vector: list[float] = yield ("embeddings", "embed_query", {"text": query})
        return vector
    return query


def _query(vector: list[float], n_results: int, search: Search, include: list[str]) -> Operation[dict[str, Any]]:
    result = yield (
        "collection",
        "query",
        {
            "query_embeddings": [vector],
            "n_results": n_results,
            "where": search.where,
            "where_document": search.where_document,
            "ids": search.ids,
            "include": include,
        },
    )
    return dict(result)


def similarity(query: Query, k: int, kwargs: dict[str, Any], *, method: str) -> Operation[list[tuple[Document, float]]]:
    """The ``k`` best documents for ``query`` with ragstore's distances (lower is better).

    ``kwargs["mode"]`` (default ``"dense"``) may ask for ``"hybrid"`` or ``"bm25"``, which need a query text
    and the collection's BM25 index (:mod:`langchain_ragstore.hybrid`).
    """
    kwargs = dict(kwargs)
    mode = check_mode(kwargs.pop("mode", "dense"), method)
    if mode != "dense":
        return (yield from _text_search(query, k, mode, kwargs, method=method))
    vector = yield from _vector(query)
    search = search_args(kwargs, method)
    return documents_from_query((yield from _query(vector, check_k(k), search, _SEARCH_INCLUDE)))


def _text_search(query: Query, k: int, mode: str, kwargs: dict[str, Any], *, method: str) -> Operation[list[tuple[Document, float]]]:
    """``collection.query(mode="hybrid" | "bm25")``: hybrid distances are negated fused scores, BM25's ``1 - score``."""
    if not isinstance(query, str):
        raise TypeError(f"{method}() with mode={mode!r} needs a query text (BM25 matches words): use similarity_search")
    search = search_args(kwargs, method)
    check_k(k)
    yield ("connection", "bm25_key", {})  # a clear error before embedding, if the collection has no BM25 index
    vectors = [(yield from _vector(query))] if mode == "hybrid" else None  # the dense side uses LangChain's embeddings
    result = yield (
        "collection",
        "query",
        {
            "query_texts": [query],
            "query_embeddings": vectors,
            "n_results": k,
            "where": search.where,
            "where_document": search.where_document,
            "ids": search.ids,
            "include": _SEARCH_INCLUDE,
            "mode": mode,
        },
    )
    return documents_from_query(dict(result))


def hybrid_search(search: ragstore.Search, *, method: str) -> Operation[list[Document]]:
    """Run a Search API ``search`` (langchain-chroma's ``hybrid_search``); its dense text queries embedded by LangChain.

    Raises:
        TypeError: ``search`` is not a ``ragstore.Search``.

    """
    if not isinstance(search, ragstore.Search):
        raise TypeError(f"{method}() expects a ragstore.Search (from ragstore import Search), got {type(search).__name__}")
    vectors: dict[str, list[float]] = {}
    for text in dense_text_queries(search):
        vectors[text] = yield ("embeddings", "embed_query", {"text": text})
    return documents_from_search((yield ("collection", "search", {"searches": with_query_vectors(search, vectors)})))


def max_marginal_relevance(
    query: Query, k: int, fetch_k: int, lambda_mult: float, kwargs: dict[str, Any], *, method: str
) -> Operation[list[Document]]:
    """``k`` of the ``fetch_k`` nearest documents, chosen with LangChain's ``maximal_marginal_relevance`` on the stored vectors."""
    vector = yield from _vector(query)
    check_mmr(k, fetch_k, lambda_mult)
    search = search_args(kwargs, method)
    result = yield from _query(vector, fetch_k, search, _MMR_INCLUDE)
    pairs = documents_from_query(result)
    chosen = maximal_marginal_relevance(np.asarray(vector, dtype=np.float32), embeddings_from_query(result), lambda_mult=lambda_mult, k=k)
    return [pairs[i][0] for i in chosen]
