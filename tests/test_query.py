"""Query: distances per space, ordering, n_results, filters, includes, recall."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

import ragstore
from ragstore.embeddings import DefaultEmbeddingFunction
from ragstore.local import reads
from tests.indexing import indexed


def oracle(space: str, q: npt.NDArray[np.float64], x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """chromadb's distance definitions (chromadb/utils/distance_functions.py)."""
    if space == "l2":
        return np.asarray(((x - q) ** 2).sum(axis=1))
    if space == "cosine":
        return np.asarray(1.0 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q) + 1e-30))
    return np.asarray(1.0 - x @ q)


@pytest.mark.parametrize(("space", "expected"), [("l2", 13.0), ("cosine", 0.01005), ("ip", -6.0)])
def test_reference_distances(client: ragstore.ClientAPI, space: str, expected: float) -> None:
    col = client.create_collection(f"space-{space}", configuration={"hnsw": {"space": space}})
    col.add(ids=["p"], embeddings=[[3.0, 4.0]])
    result = col.query(query_embeddings=[[1.0, 1.0]], n_results=1)
    assert result["distances"] is not None
    assert result["distances"][0][0] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_distances_and_order_match_brute_force(client: ragstore.ClientAPI, space: str) -> None:
    rng = np.random.default_rng(42)
    data = rng.normal(size=(200, 16)).astype(np.float32)
    queries = rng.normal(size=(5, 16)).astype(np.float32)
    col = client.create_collection("brute-force", configuration={"hnsw": {"space": space}})
    col.add(ids=[f"v{i}" for i in range(200)], embeddings=data)
    result = col.query(query_embeddings=queries, n_results=10, include=["distances", "embeddings"])
    assert result["distances"] is not None and result["embeddings"] is not None
    for qi, q in enumerate(queries):
        truth = oracle(space, q.astype(np.float64), data.astype(np.float64))
        best = np.argsort(truth)[:10]
        assert result["ids"][qi] == [f"v{i}" for i in best]
        np.testing.assert_allclose(result["distances"][qi], truth[best], rtol=1e-4, atol=1e-4)
        assert result["distances"][qi] == sorted(result["distances"][qi])
        np.testing.assert_array_equal(result["embeddings"][qi], data[best])


def test_result_shape_and_default_include(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("shape")
    col.add(ids=["a", "b"], embeddings=[[0.0, 0.0], [1.0, 1.0]], documents=["A", None], metadatas=[None, {"k": 1}], uris=["u", None])
    result = col.query(query_embeddings=[[0.0, 0.1], [1.0, 0.9]], n_results=2)
    assert result["ids"] == [["a", "b"], ["b", "a"]]
    assert result["documents"] == [["A", None], [None, "A"]]
    assert result["metadatas"] == [[None, {"k": 1}], [{"k": 1}, None]]
    assert result["embeddings"] is None and result["uris"] is None
    assert sorted(result["included"]) == ["distances", "documents", "metadatas"]
    with_uris = col.query(query_embeddings=[0.0, 0.0], n_results=1, include=["uris"])
    assert with_uris["uris"] == [["u"]] and with_uris["distances"] is None


def test_n_results_larger_than_collection_and_empty_collection(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("small")
    empty = col.query(query_embeddings=[1.0, 2.0], n_results=5)
    assert empty["ids"] == [[]] and empty["documents"] == [[]] and empty["metadatas"] == [[]] and empty["distances"] == [[]]
    col.add(ids=["a", "b", "c"], embeddings=[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    assert col.query(query_embeddings=[0.0, 0.0], n_results=100, include=[])["ids"] == [["a", "b", "c"]]


def test_query_texts_use_embed_query(client: ragstore.ClientAPI) -> None:
    class AsymmetricEf:
        def __call__(self, input: list[str]) -> list[list[float]]:  # noqa: A002
            return [[1.0, 0.0] if "doc" in t else [0.0, 1.0] for t in input]

        def embed_query(self, input: list[str]) -> list[list[float]]:  # noqa: A002
            return [[1.0, 0.0] for _ in input]

    col = client.create_collection("asym", embedding_function=AsymmetricEf())
    col.add(ids=["doc", "other"], documents=["a doc", "something else"])
    assert col.query(query_texts="anything", n_results=1)["ids"] == [["doc"]]
    assert col.query(query_texts=["x", "y"], n_results=1)["ids"] == [["doc"], ["doc"]]


def test_query_with_ids_where_and_document_filters(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("filtered")
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    col.add(
        ids=[f"r{i}" for i in range(20)],
        embeddings=data,
        metadatas=[{"even": i % 2 == 0, "i": i} for i in range(20)],
        documents=[f"record number {i}" for i in range(20)],
    )
    q = [0.0, 0.0]
    assert col.query(query_embeddings=q, n_results=3, where={"even": False}, include=[])["ids"] == [["r1", "r3", "r5"]]
    assert col.query(query_embeddings=q, n_results=2, ids=["r7", "r3", "r9"], include=[])["ids"] == [["r3", "r7"]]
    assert col.query(query_embeddings=q, n_results=5, ids=["r7", "r3"], where={"i": {"$gt": 4}}, include=[])["ids"] == [["r7"]]
    assert col.query(query_embeddings=q, n_results=5, where_document={"$contains": "number 1"}, include=[])["ids"] == [
        ["r1", "r10", "r11", "r12", "r13"]
    ]
    assert col.query(query_embeddings=q, n_results=5, where={"i": {"$gt": 100}})["ids"] == [[]]
    assert col.query(query_embeddings=q, n_results=5, ids=[])["ids"] == [[]]


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_recall_at_defaults(client: ragstore.ClientAPI, space: str) -> None:
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(20, 32))
    data = (centers[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 32))).astype(np.float32)
    queries = (centers[rng.integers(0, 20, 50)] + 0.3 * rng.normal(size=(50, 32))).astype(np.float32)
    col = client.create_collection("recall", configuration={"hnsw": {"space": space}})
    for start in range(0, 3000, 1000):
        col.add(ids=[str(i) for i in range(start, start + 1000)], embeddings=data[start : start + 1000])
    result = col.query(query_embeddings=queries, n_results=10, include=[])
    hits = 0
    for qi, q in enumerate(queries):
        truth = {str(i) for i in np.argsort(oracle(space, q.astype(np.float64), data.astype(np.float64)))[:10]}
        hits += len(truth & set(result["ids"][qi]))
    assert hits / (10 * len(queries)) >= 0.98


@pytest.mark.parametrize("exact_max", [0, 20_000])
def test_filtered_queries_return_true_nearest_matches(client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch, exact_max: int) -> None:
    """Both plans (exact over matches, index with an allow-list) return only matches, nearest first."""
    monkeypatch.setattr(reads, "EXACT_SEARCH_MAX", exact_max)
    monkeypatch.setattr(reads, "EXACT_SEARCH_FRACTION", 0.0 if exact_max == 0 else 0.25)
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2000, 8)).astype(np.float32)
    groups = rng.integers(0, 4, 2000)
    col = client.create_collection("plans")
    col.add(ids=[str(i) for i in range(2000)], embeddings=data, metadatas=[{"g": int(g)} for g in groups])
    queries = rng.normal(size=(20, 8)).astype(np.float32)
    result = col.query(query_embeddings=queries, n_results=10, where={"g": {"$in": [1, 2]}}, include=["metadatas"])
    assert result["metadatas"] is not None
    match = np.flatnonzero(np.isin(groups, [1, 2]))
    hits = 0
    for qi, q in enumerate(queries):
        assert all(m is not None and m["g"] in (1, 2) for m in result["metadatas"][qi])
        truth = {str(i) for i in match[np.argsort(oracle("l2", q.astype(np.float64), data[match].astype(np.float64)))[:10]]}
        hits += len(truth & set(result["ids"][qi]))
    recall = hits / (10 * len(queries))
    assert recall == 1.0 if exact_max else recall >= 0.95


def test_modify_ef_search_takes_effect(client: ragstore.ClientAPI) -> None:
    rng = np.random.default_rng(11)
    data = rng.normal(size=(1500, 24)).astype(np.float32)
    col = client.create_collection("ef-search", configuration={"hnsw": {"ef_search": 10, "max_neighbors": 8, "ef_construction": 40}})
    col.add(ids=[str(i) for i in range(1500)], embeddings=data)
    indexed(col)  # ef_search is the graph's: until the indexer is done, what the graph lacks is searched exactly
    queries = rng.normal(size=(40, 24)).astype(np.float32)

    def recall() -> float:
        result = col.query(query_embeddings=queries, n_results=10, include=[])
        hits = 0
        for qi, q in enumerate(queries):
            truth = {str(i) for i in np.argsort(oracle("l2", q.astype(np.float64), data.astype(np.float64)))[:10]}
            hits += len(truth & set(result["ids"][qi]))
        return hits / (10 * len(queries))

    low = recall()
    col.modify(configuration={"hnsw": {"ef_search": 500}})
    high = recall()
    assert low < high and high >= 0.99


def test_default_embedding_query_by_text(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("texts")
    assert isinstance(col.embedding_function, DefaultEmbeddingFunction)  # the real MiniLM model
    col.add(ids=["fruit", "sky", "code"], documents=["apples and pears are fruit", "the sky is blue today", "python code compiles"])
    assert col.query(query_texts=["blue sky"], n_results=1)["ids"] == [["sky"]]
