"""The text query modes (hybrid, sparse, text_search) in every client mode, sync and async, against ragstore's own answers."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ragstore
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from ragstore.collection_schema import has_bm25_index

from llama_index.vector_stores.ragstore import RagstoreVectorStore, UnsupportedQueryError
from llama_index.vector_stores.ragstore.driving import run_sync
from llama_index.vector_stores.ragstore.text_modes import weighted_hybrid

HYBRID, SPARSE, TEXT_SEARCH = VectorStoreQueryMode.HYBRID, VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH
DIM = 8
WORDS = ["apple", "banana", "cherry", "delta", "echo", "fox", "golf", "hotel", "india", "juliet", "kilo", "lima"]
StoreFactory = Callable[..., RagstoreVectorStore]  # conftest's store_factory
QUERIES = ["apple cherry", "fox golf hotel", "kilo", "banana echo lima"]


def corpus(size: int = 60, seed: int = 7) -> list[TextNode]:
    """Nodes with random word texts and random unit vectors (no two scores tie), ``group`` 0..2 and ``odd``."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).normal(size=(size, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        TextNode(
            id_=f"n{i:02d}",
            text=" ".join(rng.choices(WORDS, k=rng.randint(3, 12))),
            embedding=vectors[i].tolist(),
            metadata={"group": i % 3, "odd": "yes" if i % 2 else "no"},
        )
        for i in range(size)
    ]


def query_vector(seed: int) -> list[float]:
    vector = np.random.default_rng(1000 + seed).normal(size=DIM)
    return [float(v) for v in vector / np.linalg.norm(vector)]


def hybrid(text: str, seed: int, **fields: Any) -> VectorStoreQuery:
    return VectorStoreQuery(query_str=text, query_embedding=query_vector(seed), mode=HYBRID, **fields)


def test_alpha_half_is_ragstores_hybrid(store: RagstoreVectorStore) -> None:
    """At alpha 0.5 (and None) the store answers as collection.query(mode="hybrid"), and so does its own weighted fusion."""
    store.add(corpus())
    for seed, text in enumerate(QUERIES):
        engine = store.client.query(query_texts=[text], query_embeddings=[query_vector(seed)], n_results=10, mode="hybrid")
        halved = [-d / 2 for d in engine["distances"][0]]  # the engine's weights are 1 and 1
        for alpha in (0.5, None):
            got = store.query(hybrid(text, seed, similarity_top_k=10, alpha=alpha))
            assert got.ids == engine["ids"][0]
            assert got.similarities == pytest.approx(halved, abs=1e-6)
            assert got.nodes is not None and [n.get_content() for n in got.nodes] == engine["documents"][0]
        weighted = run_sync(store.client, weighted_hybrid(hybrid(text, seed, similarity_top_k=10, alpha=0.5), {}))
        assert weighted.ids == engine["ids"][0]
        assert weighted.similarities == pytest.approx(halved, abs=1e-6)


def test_filters_restrict_both_sides(store: RagstoreVectorStore) -> None:
    """Filters (an operator chromadb has, one only ragstore's extensions express) and where_document restrict both sides alike."""
    store.add(corpus())
    native = MetadataFilters(filters=[MetadataFilter(key="group", value=1, operator=FilterOperator.NE)])
    by_text = MetadataFilters(filters=[MetadataFilter(key="odd", value="Y", operator=FilterOperator.TEXT_MATCH_INSENSITIVE)])
    odd_ids = [f"n{i:02d}" for i in range(1, 60, 2)]
    cases: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any], Callable[[TextNode], bool]]] = [
        ({"filters": native}, {}, {"where": {"group": {"$ne": 1}}}, lambda n: n.metadata["group"] != 1),
        ({"filters": by_text}, {}, {"ids": odd_ids}, lambda n: n.metadata["odd"] == "yes"),
        ({}, {"where_document": {"$contains": "kilo"}}, {"where_document": {"$contains": "kilo"}}, lambda n: "kilo" in n.text),
    ]
    for fields, kwargs, engine_filter, holds in cases:
        for seed, text in enumerate(QUERIES):
            engine = store.client.query(
                query_texts=[text], query_embeddings=[query_vector(seed)], n_results=8, mode="hybrid", include=[], **engine_filter
            )
            assert store.query(hybrid(text, seed, similarity_top_k=8, **fields), **kwargs).ids == engine["ids"][0]
            weighted = run_sync(store.client, weighted_hybrid(hybrid(text, seed, similarity_top_k=8), engine_filter))
            assert weighted.ids == engine["ids"][0]
            for alpha in (0.2, 0.9):
                got = store.query(hybrid(text, seed, similarity_top_k=8, alpha=alpha, **fields), **kwargs)
                assert got.nodes and all(isinstance(n, TextNode) and holds(n) for n in got.nodes)


def test_alpha_extremes_are_each_side_alone(store: RagstoreVectorStore) -> None:
    """alpha=1 ranks as the vector search, alpha=0 as BM25 (for the records BM25 finds)."""
    store.add(corpus())
    for seed, text in enumerate(QUERIES):
        dense = store.client.query(query_embeddings=[query_vector(seed)], n_results=5, include=[])["ids"][0]
        assert store.query(hybrid(text, seed, similarity_top_k=5, alpha=1.0)).ids == dense
        lexical = store.client.query(query_texts=[text], n_results=5, mode="bm25", include=[])["ids"][0]
        assert len(lexical) == 5
        assert store.query(hybrid(text, seed, similarity_top_k=5, alpha=0.0)).ids == lexical


def test_alpha_moves_the_ranking(store: RagstoreVectorStore) -> None:
    """A record matching the words but not the vector wins at low alpha and loses at high alpha, and the reverse."""
    filler = [TextNode(id_=f"f{i}", text=f"filler text {i}", embedding=[0.0, 1.0, float(i) / 10]) for i in range(8)]
    store.add(
        [
            *filler,
            TextNode(id_="words", text="quasar telescope", embedding=[0.0, -1.0, 0.0]),
            TextNode(id_="vector", text="unrelated prose", embedding=[1.0, 0.0, 0.0]),
        ]
    )
    ask = VectorStoreQuery(query_str="quasar telescope", query_embedding=[1.0, 0.0, 0.0], mode=HYBRID, similarity_top_k=2)
    ask.alpha = 0.2
    assert (store.query(ask).ids or [])[0] == "words"
    ask.alpha = 0.8
    assert (store.query(ask).ids or [])[0] == "vector"


def test_top_k_fields(store: RagstoreVectorStore) -> None:
    """hybrid_top_k sets the result count; with it, similarity_top_k and sparse_top_k set each side's candidates (Qdrant's reading)."""
    store.add(corpus())
    text, seed = QUERIES[0], 0
    assert len(store.query(hybrid(text, seed, similarity_top_k=3)).ids or []) == 3
    assert len(store.query(hybrid(text, seed, similarity_top_k=30, hybrid_top_k=4)).ids or []) == 4
    dense_best = store.client.query(query_embeddings=[query_vector(seed)], n_results=1, include=[])["ids"][0]
    bm25_best = store.client.query(query_texts=[text], n_results=1, mode="bm25", include=[])["ids"][0]
    narrow = store.query(hybrid(text, seed, similarity_top_k=1, hybrid_top_k=5, sparse_top_k=1))
    assert set(narrow.ids or []) == set(dense_best + bm25_best)


@pytest.mark.parametrize("text_mode", [SPARSE, TEXT_SEARCH])
def test_sparse_and_text_search_are_bm25(store: RagstoreVectorStore, text_mode: VectorStoreQueryMode) -> None:
    store.add(corpus())
    for text in QUERIES:
        engine = store.client.query(query_texts=[text], n_results=6, mode="bm25")
        got = store.query(VectorStoreQuery(query_str=text, mode=text_mode, similarity_top_k=6))  # no embedding: the retriever sends none
        assert got.ids == engine["ids"][0]
        assert got.similarities == pytest.approx([1 - d for d in engine["distances"][0]])
        assert got.similarities is not None
        assert got.similarities == sorted(got.similarities, reverse=True) and all(s > 0 for s in got.similarities)
    assert len(store.query(VectorStoreQuery(query_str="apple", mode=text_mode, similarity_top_k=2, sparse_top_k=5)).ids or []) == 5
    assert store.query(VectorStoreQuery(query_str="zeppelin", mode=text_mode, similarity_top_k=3)).ids == []
    only_group_2 = MetadataFilters(filters=[MetadataFilter(key="group", value=2)])
    filtered = store.query(VectorStoreQuery(query_str="apple", mode=text_mode, similarity_top_k=50, filters=only_group_2))
    assert filtered.nodes and all(n.metadata["group"] == 2 and "apple" in n.get_content() for n in filtered.nodes)


@pytest.mark.parametrize("text_mode", [HYBRID, SPARSE, TEXT_SEARCH])
def test_text_modes_need_a_bm25_index(store_factory: StoreFactory, text_mode: VectorStoreQueryMode) -> None:
    """A store created with enable_hybrid=False (or on a collection created without the index) says what is missing and how to get it."""
    plain = store_factory(enable_hybrid=False)
    assert not has_bm25_index(plain.client.schema)
    plain.add(corpus(5))
    ask = VectorStoreQuery(query_str="apple", query_embedding=query_vector(0), mode=text_mode)
    with pytest.raises(UnsupportedQueryError, match=r"searches a BM25 index and collection .* has none: .*enable_hybrid"):
        plain.query(ask)
    assert plain.query(VectorStoreQuery(query_embedding=query_vector(0), similarity_top_k=2)).ids  # dense still works


def test_new_collections_get_the_index_unless_told_otherwise(store_factory: StoreFactory) -> None:
    assert has_bm25_index(store_factory().client.schema)
    assert not has_bm25_index(store_factory(collection_kwargs={"schema": ragstore.Schema()}).client.schema)


def test_text_mode_argument_errors(store: RagstoreVectorStore) -> None:
    store.add(corpus(5))
    vector = query_vector(0)
    refused = [
        (VectorStoreQuery(query_embedding=vector, mode=HYBRID), "needs query_str"),
        (VectorStoreQuery(query_str="  ", mode=SPARSE), "needs query_str"),
        (VectorStoreQuery(query_str="apple", mode=HYBRID), "needs a query embedding"),
        (VectorStoreQuery(query_str="apple", query_embedding=vector, mode=HYBRID, alpha=1.5), r"alpha must be in \[0, 1\]"),
        (VectorStoreQuery(query_str="apple", mode=SPARSE, sparse_top_k=0), "sparse_top_k must be >= 1"),
        (VectorStoreQuery(query_str="apple", query_embedding=vector, mode=HYBRID, hybrid_top_k=0), "hybrid_top_k must be >= 1"),
        (VectorStoreQuery(query_str="apple", query_embedding=vector, mode=VectorStoreQueryMode.SEMANTIC_HYBRID), "not supported"),
        (VectorStoreQuery(query_embedding=vector, mode=VectorStoreQueryMode.SVM), "not supported"),
    ]
    for ask, message in refused:
        with pytest.raises(UnsupportedQueryError, match=message):
            store.query(ask)


async def test_async_text_modes_match_sync(store: RagstoreVectorStore) -> None:
    """aquery (native AsyncHttpClient over HTTP, a worker thread locally) answers as query does."""
    await store.async_add(corpus())
    for seed, text in enumerate(QUERIES):
        for ask in (
            hybrid(text, seed, similarity_top_k=7, alpha=0.3),
            VectorStoreQuery(query_str=text, mode=SPARSE, similarity_top_k=7),
        ):
            expected = store.query(ask)
            got = await store.aquery(ask)
            assert (got.ids, got.similarities) == (expected.ids, expected.similarities)
    await store.aclose()


async def test_async_only_store_hybrid(server: Any) -> None:
    client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
    try:
        col = await client.get_or_create_collection("hybrid-async-only", ragstore.bm25_schema(), embedding_function=None)
        store = RagstoreVectorStore(async_collection=col)
        await store.async_add(corpus())
        got = await store.aquery(hybrid(QUERIES[1], 1, similarity_top_k=5))
        engine = await col.query(query_texts=[QUERIES[1]], query_embeddings=[query_vector(1)], n_results=5, mode="hybrid", include=[])
        assert got.ids == engine["ids"][0]
        plain = RagstoreVectorStore(async_collection=await client.get_or_create_collection("plain-async-only", embedding_function=None))
        with pytest.raises(UnsupportedQueryError, match="has none"):
            await plain.aquery(hybrid(QUERIES[1], 1))
    finally:
        await client.close()


DOCS = [
    Document(text="Apples are red fruit that grow on trees.", id_="fruit"),
    Document(text="The sky is blue on a clear day.", id_="sky"),
    Document(text="Bananas are yellow fruit rich in potassium.", id_="banana"),
]


async def test_retriever_modes_end_to_end(store: RagstoreVectorStore) -> None:
    """VectorStoreIndex's retriever drives every text mode; MockEmbedding's vectors are all equal, so only BM25 can find potassium."""
    embed = MockEmbedding(embed_dim=8)
    index = VectorStoreIndex.from_documents(DOCS, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed)
    for mode, extra in (("hybrid", {"alpha": 0.0}), ("hybrid", {}), ("sparse", {}), ("text_search", {})):
        retriever = index.as_retriever(similarity_top_k=1, vector_store_query_mode=mode, **extra)
        assert [h.node.ref_doc_id for h in retriever.retrieve("potassium")] == ["banana"], mode
        assert [h.node.ref_doc_id for h in await retriever.aretrieve("potassium")] == ["banana"], mode


def test_empty_collection_answers_nothing(store: RagstoreVectorStore) -> None:
    for ask in (
        hybrid("apple", 0, similarity_top_k=3),
        hybrid("apple", 0, similarity_top_k=3, alpha=0.3),
        VectorStoreQuery(query_str="apple", mode=SPARSE, similarity_top_k=3),
    ):
        assert (store.query(ask).ids, store.query(ask).similarities) == ([], [])


def test_reopened_store_keeps_its_index(tmp_path: Path) -> None:
    """The index is part of the stored collection: a store reopened on the directory (default or enable_hybrid=False) searches it."""
    first = RagstoreVectorStore.from_params("kept", persist_dir=str(tmp_path))
    first.add(corpus())
    expected = first.query(hybrid(QUERIES[2], 2, similarity_top_k=5, alpha=0.4)).ids
    first.close()
    again = RagstoreVectorStore.from_params("kept", persist_dir=str(tmp_path), enable_hybrid=False)
    try:
        assert again.query(hybrid(QUERIES[2], 2, similarity_top_k=5, alpha=0.4)).ids == expected
        assert expected and len(expected) == 5
    finally:
        again.close()
