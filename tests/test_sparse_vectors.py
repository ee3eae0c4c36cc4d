"""SparseVector (against chromadb's class) and sparse vectors as metadata values, in every mode."""

from __future__ import annotations

import math
from typing import Any

import chromadb.api.types as chroma_types
import numpy as np
import pytest
from chromadb.base_types import SparseVector as ChromaSparseVector

import ragstore
from ragstore.embeddings import ChromaBm25EmbeddingFunction, HashingEmbeddingFunction
from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import (
    SparseVector,
    metadata_from_json,
    metadata_to_json,
    metadatas_from_json,
    metadatas_to_json,
)

# ---------------------------------------------------------------------- the class, against chromadb's

# Inputs both classes judge alike: (indices, values, labels).
SAME_VERDICT: list[tuple[Any, Any, Any]] = [
    ([], [], None),
    ([0], [1.0], None),
    ([1, 5, 9], [0.5, -2, 3.25], None),
    ([1, 5], [0.5, 1.0], ["a", "b"]),
    ([1, 5], [0.5], None),  # lengths differ
    ([1, 5], [0.5, 1.0], ["a"]),  # labels length
    ([5, 1], [0.5, 1.0], None),  # not ascending
    ([1, 1], [0.5, 1.0], None),  # duplicate
    ([-1], [1.0], None),  # negative
    ([1.0], [1.0], None),  # float index
    (["1"], [1.0], None),
    ([1], ["x"], None),  # non-number value
    ([1], [None], None),
    ((1, 2), [1.0, 2.0], None),  # a tuple is not a list
    ([1, 2], (1.0, 2.0), None),
    ([1], [1.0], "a"),  # labels not a list
    ([2**31], [1.0], None),  # the largest Murmur3 absolute value
]


@pytest.mark.parametrize(("indices", "values", "labels"), SAME_VERDICT)
def test_validation_agrees_with_chromadb(indices: Any, values: Any, labels: Any) -> None:
    try:
        theirs = ChromaSparseVector(indices, values, labels)
    except ValueError as exc:
        with pytest.raises(InvalidArgumentError) as ours:
            SparseVector(indices, values, labels)
        assert str(ours.value) == str(exc)  # the same words
        assert isinstance(ours.value, ValueError)
        return
    ours_vector = SparseVector(indices, values, labels)
    assert ours_vector.to_dict() == theirs.to_dict()
    assert SparseVector.from_dict(theirs.to_dict()) == ours_vector
    assert ChromaSparseVector.from_dict(ours_vector.to_dict()) == theirs


@pytest.mark.parametrize(
    ("indices", "values", "match"),
    [
        ([1], [math.nan], "must be finite"),
        ([1, 2], [1.0, math.inf], "must be finite"),
        ([True], [1.0], "must be integers"),
        ([1], [False], "must be numbers"),
        ([2**32], [1.0], "unsigned 32-bit"),
    ],
)
def test_ragstore_refuses_what_cannot_be_stored_or_served(indices: Any, values: Any, match: str) -> None:
    ChromaSparseVector(indices, values)  # chromadb's client accepts these; its server or JSON cannot keep them
    with pytest.raises(InvalidArgumentError, match=match):
        SparseVector(indices, values)


def test_numpy_input_becomes_python_numbers() -> None:
    vector = SparseVector(np.array([1, 4], dtype=np.int64), np.array([0.5, 2.0], dtype=np.float32))
    assert vector == SparseVector([1, 4], [0.5, 2.0])
    assert [type(i) for i in vector.indices] == [int, int] and [type(v) for v in vector.values] == [float, float]
    assert SparseVector([np.int32(3)], [np.float64(1.5)]).to_dict() == {"#type": "sparse_vector", "indices": [3], "values": [1.5]}
    ints = SparseVector([1], [2])
    assert ints.values == [2.0] and type(ints.values[0]) is float


def test_from_dict_is_strict() -> None:
    good = {"#type": "sparse_vector", "indices": [1], "values": [1.0], "tokens": ["a"]}
    assert SparseVector.from_dict(good) == SparseVector([1], [1.0], ["a"])
    for bad in [
        {"indices": [1], "values": [1.0]},
        {"#type": "dense", "indices": [1], "values": [1.0]},
        {"#type": "sparse_vector", "indices": [1]},
        {"#type": "sparse_vector", "indices": [1], "values": [1.0], "labels": ["a"]},
        [1, 2],
        "sparse_vector",
    ]:
        with pytest.raises(InvalidArgumentError):
            SparseVector.from_dict(bad)


def test_metadata_transport_matches_chromadb() -> None:
    ours = {"v": SparseVector([1, 3], [0.5, 1.0], ["x", "y"]), "n": 1, "l": ["a"]}
    theirs = {"v": ChromaSparseVector([1, 3], [0.5, 1.0], ["x", "y"]), "n": 1, "l": ["a"]}
    assert metadata_to_json(ours) == chroma_types.serialize_metadata(theirs)
    wire = chroma_types.serialize_metadata(theirs)
    assert metadata_from_json(wire) == ours
    assert chroma_types.deserialize_metadata(metadata_to_json(ours)) == theirs
    assert metadatas_to_json([None, ours]) == [None, wire] and metadatas_from_json([None, wire]) == [None, ours]
    assert metadata_to_json(None) is None and metadatas_from_json(None) is None


# ---------------------------------------------------------------------- as metadata values, through a client

EF = HashingEmbeddingFunction(dim=4)
BM25 = ChromaBm25EmbeddingFunction(include_tokens=True)


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    return client.create_collection("sparse", embedding_function=EF)


@pytest.fixture
def stored(col: ragstore.Collection) -> ragstore.Collection:
    """``col``, for tests that store sparse vectors and read them back."""
    return col


def test_sparse_vectors_round_trip_through_get_and_query(stored: ragstore.Collection) -> None:
    docs = ["cats chase mice", "dogs chase cats", "birds sing"]
    vectors = BM25(docs)
    stored.add(ids=["a", "b", "c"], documents=docs, metadatas=[{"bm25": v, "n": i} for i, v in enumerate(vectors)])
    got = stored.get(include=["metadatas"])
    assert got["metadatas"] == [{"bm25": v, "n": i} for i, v in enumerate(vectors)]
    first = got["metadatas"][0]
    assert first is not None and isinstance(first["bm25"], SparseVector) and first["bm25"].labels == vectors[0].labels
    found = stored.query(query_texts=["cats"], n_results=3, include=["metadatas"])
    assert found["metadatas"] is not None
    assert {m["n"]: m["bm25"] for m in found["metadatas"][0] if m} == dict(enumerate(vectors))


def test_every_accepted_form_is_stored_as_a_sparse_vector(stored: ragstore.Collection) -> None:
    wire = {"#type": "sparse_vector", "indices": [2, 8], "values": [1, 0.25]}
    stored.add(
        ids=["ours", "wire", "chroma"],
        embeddings=[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        metadatas=[{"s": SparseVector([2, 8], [1.0, 0.25])}, {"s": wire}, {"s": ChromaSparseVector([2, 8], [1.0, 0.25])}],
    )
    got = stored.get(include=["metadatas"])["metadatas"]
    assert got == [{"s": SparseVector([2, 8], [1.0, 0.25])}] * 3


def test_update_upsert_and_delete_a_sparse_value(stored: ragstore.Collection) -> None:
    stored.add(ids=["a", "b"], embeddings=[[1, 0, 0, 0], [0, 1, 0, 0]], metadatas=[{"s": SparseVector([1], [1.0]), "k": "x"}, {"k": "y"}])
    stored.update(ids="a", metadatas={"s": SparseVector([1, 2], [2.0, 3.0])})
    stored.upsert(ids="b", embeddings=[0, 1, 0, 0], metadatas={"s": SparseVector([7], [0.5])})
    assert stored.get(include=["metadatas"])["metadatas"] == [
        {"s": SparseVector([1, 2], [2.0, 3.0]), "k": "x"},
        {"s": SparseVector([7], [0.5]), "k": "y"},
    ]
    stored.update(ids="a", metadatas={"s": None})
    assert stored.get(ids="a", include=["metadatas"])["metadatas"] == [{"k": "x"}]


def test_filters_see_a_sparse_key_as_absent(stored: ragstore.Collection) -> None:
    stored.add(
        ids=["sparse", "number", "none"],
        embeddings=[[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0.8, 0.2, 0, 0]],
        metadatas=[{"s": SparseVector([1], [1.0]), "k": 1}, {"s": 3, "k": 1}, {"k": 2}],
    )

    def matches(where: dict[str, Any]) -> tuple[list[str], list[str]]:
        by_sql = sorted(stored.get(where=where)["ids"])  # get: SQLite's record_metadata
        by_columns = sorted(stored.query(query_embeddings=[1, 0, 0, 0], n_results=3, where=where)["ids"][0])  # query: numpy columns
        return by_sql, by_columns

    assert matches({"s": {"$eq": 3}}) == (["number"], ["number"])
    assert matches({"s": {"$ne": 3}}) == (["none", "sparse"], ["none", "sparse"])
    assert matches({"s": {"$nin": [3]}}) == (["none", "sparse"], ["none", "sparse"])
    assert matches({"s": {"$gte": 0}}) == (["number"], ["number"])
    assert matches({"$and": [{"k": 1}, {"s": {"$ne": 3}}]}) == (["sparse"], ["sparse"])


def test_sparse_vectors_survive_reopening(client_factory: Any) -> None:
    first = client_factory()
    vector = SparseVector([3, 2**31], [0.125, 7.5], ["a", "b"])
    first.create_collection("kept", embedding_function=EF).add(ids="a", embeddings=[1, 2, 3, 4], metadatas={"s": vector})
    again = client_factory(reopen=True)
    assert again.get_collection("kept", embedding_function=EF).get(include=["metadatas"])["metadatas"] == [{"s": vector}]


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"s": {"#type": "sparse_vector", "indices": [2, 1], "values": [1.0, 1.0]}}, "strictly ascending"),
        ({"s": {"#type": "sparse_vector", "indices": [1]}}, "'indices' and 'values'"),
        ({"s": {"indices": [1], "values": [1.0]}}, "Expected metadata value"),
        ({"s": [SparseVector([1], [1.0])]}, "contain only str, int, float, or bool"),
    ],
)
def test_bad_sparse_values_are_refused(col: ragstore.Collection, metadata: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        col.add(ids="a", embeddings=[1, 0, 0, 0], metadatas=metadata)
    assert col.count() == 0


def test_collection_metadata_refuses_sparse_vectors(client: ragstore.ClientAPI) -> None:
    for value in (SparseVector([1], [1.0]), {"#type": "sparse_vector", "indices": [1], "values": [1.0]}):
        with pytest.raises(InvalidArgumentError, match="str, int, float or bool"):
            client.create_collection("coll", metadata={"s": value})
