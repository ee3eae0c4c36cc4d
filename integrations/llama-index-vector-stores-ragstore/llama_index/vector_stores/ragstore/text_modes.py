"""The query modes that search text: ``SPARSE`` and ``TEXT_SEARCH`` (BM25 alone) and ``HYBRID`` (dense and BM25 fused).

They search the collection's BM25 index (ragstore's engine-owned BM25 over the node texts),
so the collection must have one: the collections this store creates do unless
``enable_hybrid=False`` (see :mod:`.connections`). Each function is a collection-call generator
(see :mod:`.driving`); ``restrict`` holds the candidates' ``ids`` / ``where`` /
``where_document``, already planned from the query's filters, ``node_ids`` and ``doc_ids``.

How the query's fields map, following Qdrant's, Weaviate's and Milvus's LlamaIndex stores:

- ``SPARSE`` / ``TEXT_SEARCH``: ``query(query_texts=[query_str], mode="bm25")``; the best
  ``sparse_top_k or similarity_top_k``; similarities are BM25 scores.
- ``HYBRID``: results ``hybrid_top_k or similarity_top_k``; ``alpha`` (default 0.5) weighs the
  dense side, ``1 - alpha`` the BM25 side (:func:`.fusion.fuse`); similarities are the fused
  scores. Each side's candidates default to ragstore's tuned 200 (or the result count if larger).
  ``sparse_top_k`` sets the BM25 side's depth; ``similarity_top_k`` sets the dense side's depth
  when ``hybrid_top_k`` gives the result count (Qdrant's reading of the three fields). With
  equal weights and those default depths the store asks ragstore's ``query(mode="hybrid")``,
  one call; otherwise it fetches both lists and fuses them here (:func:`weighted_hybrid`).

Example:
    >>> import ragstore
    >>> from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
    >>> from llama_index.vector_stores.ragstore.driving import run_sync
    >>> col = ragstore.EphemeralClient().create_collection("modes-example", ragstore.bm25_schema(), embedding_function=None)
    >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["red apples", "blue sky"])
    >>> run_sync(col, bm25_query(VectorStoreQuery(query_str="apples", mode=VectorStoreQueryMode.SPARSE), {})).ids
    ['a']

"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode, VectorStoreQueryResult

from llama_index.vector_stores.ragstore.driving import Call
from llama_index.vector_stores.ragstore.errors import UnsupportedQueryError
from llama_index.vector_stores.ragstore.fusion import DEFAULT_ALPHA, fuse
from llama_index.vector_stores.ragstore.records import record_to_node

# How many results of each side ragstore's query(mode="hybrid") fuses (tuned on SciFact train): the
# engine's own constant, so that the default depths here stay the ones its one-call hybrid uses.
from ragstore.local.hybrid_query import HYBRID_CANDIDATES

TEXT_MODES = frozenset({VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID})

HOW_TO_INDEX = (
    "the collections this store creates have one unless enable_hybrid=False; a collection created elsewhere needs "
    "schema=ragstore.bm25_schema() at creation (an index cannot be added to an existing collection)"
)


def check_text_query(query: VectorStoreQuery, *, bm25_index: bool, collection_name: str) -> None:
    """Refuse a text-mode query the collection cannot answer, before any call.

    Raises:
        UnsupportedQueryError: no BM25 index, no ``query_str``, a hybrid query without embedding,
            ``alpha`` outside [0, 1], or a top-k below 1.

    Example:
        >>> q = VectorStoreQuery(query_str="x", mode=VectorStoreQueryMode.SPARSE)
        >>> try:
        ...     check_text_query(q, bm25_index=False, collection_name="docs")
        ... except UnsupportedQueryError as exc:
        ...     print(str(exc)[:66])
        Query mode 'sparse' searches a BM25 index and collection 'docs' ha

    """
    mode = query.mode.value
    if not bm25_index:
        raise UnsupportedQueryError(
            f"Query mode {mode!r} searches a BM25 index and collection {collection_name!r} has none: {HOW_TO_INDEX}"
        )
    if not query.query_str or not query.query_str.strip():
        raise UnsupportedQueryError(f"Query mode {mode!r} needs query_str (the text BM25 searches)")
    for field in ("sparse_top_k", "hybrid_top_k"):
        value = getattr(query, field)
        if value is not None and value < 1:
            raise UnsupportedQueryError(f"{field} must be >= 1, got {value}")
    if query.mode != VectorStoreQueryMode.HYBRID:
        return
    if query.query_embedding is None:
        raise UnsupportedQueryError("Query mode 'hybrid' needs a query embedding as well as query_str")
    if query.alpha is not None and not 0.0 <= query.alpha <= 1.0:
        raise UnsupportedQueryError(f"alpha must be in [0, 1] (0: BM25 only, 1: vector only), got {query.alpha}")


def _text(query: VectorStoreQuery) -> str:
    assert query.query_str is not None  # check_text_query ran
    return query.query_str


def bm25_query(query: VectorStoreQuery, restrict: dict[str, Any]) -> Generator[Call, Any, VectorStoreQueryResult]:
    """``SPARSE`` / ``TEXT_SEARCH``: the best ``sparse_top_k or similarity_top_k`` records by BM25."""
    got = yield (
        "query",
        {
            "query_texts": [_text(query)],
            "mode": "bm25",
            "n_results": query.sparse_top_k or query.similarity_top_k,
            **restrict,
            "include": ["documents", "metadatas", "distances"],
        },
    )
    ids: list[str] = list(got["ids"][0])
    nodes = [record_to_node(i, d, m) for i, d, m in zip(ids, got["documents"][0], got["metadatas"][0], strict=True)]
    return VectorStoreQueryResult(nodes=nodes, similarities=[1.0 - float(d) for d in got["distances"][0]], ids=ids)  # chroma: 1 - score


def hybrid_depths(query: VectorStoreQuery) -> tuple[int, int, int]:
    """``(results, dense candidates, BM25 candidates)`` of a hybrid query (see the module docstring).

    Example:
        >>> hybrid_depths(VectorStoreQuery(similarity_top_k=5))
        (5, 200, 200)
        >>> hybrid_depths(VectorStoreQuery(similarity_top_k=20, hybrid_top_k=5, sparse_top_k=30))
        (5, 20, 30)

    """
    results = query.hybrid_top_k or query.similarity_top_k
    default = max(HYBRID_CANDIDATES, results)
    dense = query.similarity_top_k if query.hybrid_top_k is not None else default
    return results, dense, query.sparse_top_k if query.sparse_top_k is not None else default


def engine_fuses(query: VectorStoreQuery) -> bool:
    """Whether ragstore's ``query(mode="hybrid")`` answers ``query`` as :func:`weighted_hybrid` would: equal weights, its depths.

    Example:
        >>> [engine_fuses(VectorStoreQuery(alpha=None)), engine_fuses(VectorStoreQuery(alpha=0.5, sparse_top_k=200))]
        [True, True]
        >>> [engine_fuses(VectorStoreQuery(alpha=0.7)), engine_fuses(VectorStoreQuery(sparse_top_k=9))]
        [False, False]

    """
    results, dense, bm25 = hybrid_depths(query)
    return query.alpha in (None, DEFAULT_ALPHA) and dense == bm25 == max(HYBRID_CANDIDATES, results)


def hybrid_query(query: VectorStoreQuery, restrict: dict[str, Any]) -> Generator[Call, Any, VectorStoreQueryResult]:
    """``HYBRID``: ragstore's own hybrid query when it fuses as asked (:func:`engine_fuses`), else :func:`weighted_hybrid`.

    The engine's one call costs half of the three calls (SciFact, 100 results with their nodes:
    10.3 against 22.3 ms a query on two busy shared cores; see the README) and ranks identically.
    """
    if not engine_fuses(query):
        return (yield from weighted_hybrid(query, restrict))
    assert query.query_embedding is not None  # check_text_query ran
    got = yield (
        "query",
        {
            "query_texts": [_text(query)],
            "query_embeddings": [list(query.query_embedding)],
            "mode": "hybrid",
            "n_results": query.hybrid_top_k or query.similarity_top_k,
            **restrict,
            "include": ["documents", "metadatas", "distances"],
        },
    )
    ids: list[str] = list(got["ids"][0])
    nodes = [record_to_node(i, d, m) for i, d, m in zip(ids, got["documents"][0], got["metadatas"][0], strict=True)]
    # The engine's distance is minus the DBSF sum with weights 1 and 1; halved, it is the fused score with weights 0.5 and 0.5.
    return VectorStoreQueryResult(nodes=nodes, similarities=[-float(d) / 2 for d in got["distances"][0]], ids=ids)


def weighted_hybrid(query: VectorStoreQuery, restrict: dict[str, Any]) -> Generator[Call, Any, VectorStoreQueryResult]:
    """Dense and BM25 candidates fused with weights ``alpha`` and ``1 - alpha`` (:func:`.fusion.fuse`), then the winners' nodes.

    Three calls: each side's ids and distances, then the fused top records' texts and metadata
    (so only the returned records cross the wire whole). A record deleted between the calls is
    left out.

    Example:
        >>> import ragstore
        >>> from llama_index.vector_stores.ragstore.driving import run_sync
        >>> col = ragstore.EphemeralClient().create_collection("weighted-example", ragstore.bm25_schema(), embedding_function=None)
        >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["red apples", "blue sky"])
        >>> ask = VectorStoreQuery(query_str="sky", query_embedding=[1.0, 0.0], mode=VectorStoreQueryMode.HYBRID, similarity_top_k=2)
        >>> ask.alpha = 0.2
        >>> run_sync(col, weighted_hybrid(ask, {})).ids
        ['b', 'a']

    """
    assert query.query_embedding is not None  # check_text_query ran
    results, dense_depth, bm25_depth = hybrid_depths(query)
    dense = yield (
        "query",
        {"query_embeddings": [list(query.query_embedding)], "n_results": dense_depth, **restrict, "include": ["distances"]},
    )
    lexical = yield (
        "query",
        {"query_texts": [_text(query)], "mode": "bm25", "n_results": bm25_depth, **restrict, "include": ["distances"]},
    )
    alpha = DEFAULT_ALPHA if query.alpha is None else float(query.alpha)
    # Distances ascend on both sides (cosine/l2/ip distance; 1 - BM25): negated, higher is better, as the engine fuses them.
    dense_scores = [-float(d) for d in dense["distances"][0]]
    ranked = fuse(
        dense["ids"][0], dense_scores, lexical["ids"][0], [-float(d) for d in lexical["distances"][0]], alpha=alpha, limit=results
    )
    if not ranked:
        return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
    got = yield ("get", {"ids": [record_id for record_id, _ in ranked], "include": ["documents", "metadatas"]})
    found = {i: record_to_node(i, d, m) for i, d, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=False)}
    kept = [(record_id, score) for record_id, score in ranked if record_id in found]
    return VectorStoreQueryResult(nodes=[found[i] for i, _ in kept], similarities=[score for _, score in kept], ids=[i for i, _ in kept])
