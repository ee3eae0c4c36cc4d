"""The vector store's operations as collection-call generators (see :mod:`.driving`).

Each function takes plain arguments, yields ``(collection_method, kwargs)`` calls and
returns the operation's result; it does no I/O itself.

Example:
    >>> import ragstore
    >>> from llama_index.core.schema import TextNode
    >>> from llama_index.vector_stores.ragstore.driving import run_sync
    >>> col = ragstore.EphemeralClient().create_collection("ops-example", embedding_function=None)
    >>> run_sync(col, add_nodes([TextNode(id_="a", text="hi", embedding=[1.0, 0.0])], batch_size=100, flat_metadata=True))
    ['a']
    >>> [n.text for n in run_sync(col, get_nodes(["a"], None))]
    ['hi']

"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery, VectorStoreQueryMode, VectorStoreQueryResult

from llama_index.vector_stores.ragstore.driving import Call
from llama_index.vector_stores.ragstore.errors import UnsupportedQueryError
from llama_index.vector_stores.ragstore.records import Record, node_to_record, record_to_node
from llama_index.vector_stores.ragstore.scoring import mmr_select, prefetch_k, similarities
from llama_index.vector_stores.ragstore.text_modes import TEXT_MODES, bm25_query, check_text_query, hybrid_query
from llama_index.vector_stores.ragstore.translation import Where, plan_filters

QUERY_KWARGS = frozenset({"where", "where_document", "mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor"})


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``.

    Example:
        >>> batches([1, 2, 3, 4, 5], 2)
        [[1, 2], [3, 4], [5]]

    """
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def and_where(*parts: Where | None) -> Where | None:
    """AND native ``where`` clauses together, dropping ``None``.

    Example:
        >>> and_where(None, {"a": {"$eq": 1}})
        {'a': {'$eq': 1}}

    """
    present = [part for part in parts if part]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"$and": present}


def _last_wins(records: list[Record]) -> list[Record]:
    """One record per id (the last one), in first-seen order: a node id added twice in one call is upserted once."""
    by_id: dict[str, Record] = {}
    for record in records:
        by_id[record.id] = record
    return list(by_id.values())


def add_nodes(nodes: Sequence[BaseNode], *, batch_size: int, flat_metadata: bool) -> Generator[Call, Any, list[str]]:
    """Upsert ``nodes``: a node whose id exists replaces the stored one entirely.

    ragstore's ``upsert`` merges metadata key by key, so keys the stored record has and the
    new node lacks are sent as ``None`` (which deletes them) in the same atomic upsert.
    """
    records = _last_wins([node_to_record(node, flat_metadata=flat_metadata) for node in nodes])
    for batch in batches(records, batch_size):
        ids = [record.id for record in batch]
        stored = yield ("get", {"ids": ids, "include": ["metadatas"]})
        old_keys = {i: set(m or ()) for i, m in zip(stored["ids"], stored["metadatas"] or [], strict=False)}
        metadatas = []
        for record in batch:
            metadata: dict[str, Any] = dict(record.metadata)
            metadata.update({key: None for key in old_keys.get(record.id, ()) if key not in metadata})
            metadatas.append(metadata)
        yield (
            "upsert",
            {
                "ids": ids,
                "embeddings": [record.embedding for record in batch],
                "documents": [record.document for record in batch],
                "metadatas": metadatas,
            },
        )
    return [node.node_id for node in nodes]


def delete_document(ref_doc_id: str) -> Generator[Call, Any, None]:
    """Delete every node of the source document ``ref_doc_id``."""
    yield ("delete", {"where": {"ref_doc_id": {"$eq": ref_doc_id}}})


def clear(*, batch_size: int) -> Generator[Call, Any, None]:
    """Delete every record, one batch of ids at a time."""
    while True:
        got = yield ("get", {"limit": batch_size, "include": []})
        if not got["ids"]:
            return
        yield ("delete", {"ids": got["ids"]})


def delete_nodes(node_ids: list[str] | None, filters: MetadataFilters | None, *, batch_size: int) -> Generator[Call, Any, None]:
    """Delete the nodes with these ids and/or matching ``filters`` (both: the nodes satisfying both).

    Raises:
        ValueError: neither ``node_ids`` nor ``filters`` given (use ``clear()`` to delete everything).

    """
    if node_ids is None and filters is None:
        raise UnsupportedQueryError("delete_nodes needs node_ids and/or filters; use clear() to delete every node")
    if node_ids is not None and not node_ids:
        return
    plan = plan_filters(filters)
    if plan.matches_nothing:
        return
    if node_ids is None and plan.where is None:
        yield from clear(batch_size=batch_size)
        return
    if node_ids is None:
        yield ("delete", {"where": plan.where})
        return
    for batch in batches(node_ids, batch_size):
        yield ("delete", {"ids": list(batch), "where": plan.where})


def get_nodes(node_ids: list[str] | None, filters: MetadataFilters | None) -> Generator[Call, Any, list[BaseNode]]:
    """The stored nodes with these ids (in that order, missing ids skipped) and/or matching ``filters``."""
    if node_ids is not None and not node_ids:
        return []
    plan = plan_filters(filters)
    if plan.matches_nothing:
        return []
    got = yield ("get", {"ids": node_ids, "where": plan.where, "include": ["documents", "metadatas"]})
    found = {
        i: record_to_node(i, doc, meta) for i, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False)
    }
    order = node_ids if node_ids is not None else got["ids"]
    return [found[i] for i in dict.fromkeys(order) if i in found]


SERVED_MODES = (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR, *sorted(TEXT_MODES, key=lambda mode: mode.value))


def _check_query(query: VectorStoreQuery, kwargs: dict[str, Any], bm25_index: bool, collection_name: str) -> None:
    unknown = sorted(set(kwargs) - QUERY_KWARGS)
    if unknown:
        raise UnsupportedQueryError(f"Unknown query arguments {unknown}; supported: {sorted(QUERY_KWARGS)}")
    if query.mode not in SERVED_MODES:
        served = ", ".join(repr(mode.value) for mode in SERVED_MODES)
        raise UnsupportedQueryError(f"Query mode {query.mode.value!r} is not supported; use one of {served}")
    if query.similarity_top_k < 1:
        raise UnsupportedQueryError(f"similarity_top_k must be >= 1, got {query.similarity_top_k}")
    if query.mode == VectorStoreQueryMode.MMR and query.query_embedding is None:
        raise UnsupportedQueryError("MMR needs a query embedding")
    if query.mode in TEXT_MODES:
        check_text_query(query, bm25_index=bm25_index, collection_name=collection_name)


def _restriction(query: VectorStoreQuery, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The candidates as ``ids`` / ``where`` / ``where_document`` call arguments; ``None`` when no record can match.

    ``filters``, ``doc_ids`` and ``node_ids`` restrict the candidates (empty ``node_ids``/``doc_ids``: no
    restriction); ``kwargs`` may add a native ``where`` and ``where_document`` (ANDed).
    """
    plan = plan_filters(query.filters)
    if plan.matches_nothing:
        return None
    doc_where = {"ref_doc_id": {"$in": list(query.doc_ids)}} if query.doc_ids else None
    where = and_where(plan.where, kwargs.get("where"), doc_where)
    where_document = kwargs.get("where_document")
    # VectorIndexRetriever passes node_ids=[] (its empty docstore's ids) for a store that keeps text:
    # an empty list means no restriction, as in the other LlamaIndex stores.
    ids = list(query.node_ids) if query.node_ids else None
    return {"ids": ids, "where": where, "where_document": where_document}


def query_nodes(
    query: VectorStoreQuery, *, space: str, kwargs: dict[str, Any], bm25_index: bool = False, collection_name: str = ""
) -> Generator[Call, Any, VectorStoreQueryResult]:
    """Serve a ``VectorStoreQuery`` in ``default``, ``mmr``, ``hybrid``, ``sparse`` or ``text_search`` mode.

    ``filters``, ``doc_ids`` and ``node_ids`` restrict the candidates in every mode; ``kwargs`` may add a
    native ``where`` and ``where_document`` (ANDed) and the MMR settings ``mmr_threshold``,
    ``mmr_prefetch_k`` / ``mmr_prefetch_factor``. The text modes (:mod:`.text_modes`) need
    ``bm25_index``: whether the collection ``collection_name`` has a BM25 index. Without a query
    embedding, ``default`` mode returns the first ``similarity_top_k`` matches in insertion order,
    with no similarities.
    """
    _check_query(query, kwargs, bm25_index, collection_name)
    empty = VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
    top_k = query.similarity_top_k
    restrict = _restriction(query, kwargs)
    if restrict is None:
        return empty
    if query.mode == VectorStoreQueryMode.HYBRID:
        return (yield from hybrid_query(query, restrict))
    if query.mode in TEXT_MODES:
        return (yield from bm25_query(query, restrict))
    if query.query_embedding is None:
        got = yield ("get", {**restrict, "limit": top_k, "include": ["documents", "metadatas"]})
        nodes = [record_to_node(i, d, m) for i, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False)]
        return VectorStoreQueryResult(nodes=nodes, similarities=None, ids=list(got["ids"]))
    mmr = query.mode == VectorStoreQueryMode.MMR
    n_results = prefetch_k(top_k, kwargs.get("mmr_prefetch_k"), kwargs.get("mmr_prefetch_factor")) if mmr else top_k
    include = ["documents", "metadatas", "distances", *(["embeddings"] if mmr else [])]
    got = yield (
        "query",
        {
            "query_embeddings": [list(query.query_embedding)],
            "n_results": n_results,
            **restrict,
            "include": include,
        },
    )
    hit_ids: list[str] = list(got["ids"][0])
    documents, metadatas, distances = got["documents"][0], got["metadatas"][0], got["distances"][0]
    nodes_by_id = {i: record_to_node(i, d, m) for i, d, m in zip(hit_ids, documents, metadatas, strict=True)}
    scores = dict(zip(hit_ids, similarities(distances, space), strict=True))
    if not mmr:
        return VectorStoreQueryResult(nodes=[nodes_by_id[i] for i in hit_ids], similarities=[scores[i] for i in hit_ids], ids=hit_ids)
    threshold = kwargs["mmr_threshold"] if kwargs.get("mmr_threshold") is not None else query.mmr_threshold
    _, picked = mmr_select(query.query_embedding, got["embeddings"][0] if hit_ids else [], hit_ids, top_k, threshold)
    # MMR chose the nodes and their order; each is scored by its relevance, as in default mode (one score everywhere).
    return VectorStoreQueryResult(nodes=[nodes_by_id[i] for i in picked], similarities=[scores[i] for i in picked], ids=picked)
