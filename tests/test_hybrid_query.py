"""``query(mode="bm25" | "hybrid")``, the one-line hybrid search, in every mode.

BM25 is checked against the Search API's BM25 Knn on the same collection (its own tests check it
against the textbook formula), and hybrid against DBSF computed here from the dense and BM25 lists.
"""

from __future__ import annotations

import numpy as np
import pytest

import ragstore
from ragstore import ChromaBm25EmbeddingFunction, HashingEmbeddingFunction, K, Knn, Schema, Search, SparseVectorIndexConfig
from ragstore.errors import InvalidArgumentError

DOCS = [
    "the cat sat on the mat",
    "dogs chase cats around the garden",
    "quantum physics of cats in boxes",
    "birds sing in the morning light",
    "a mat for the dog by the door",
    "cats and dogs living together",
    "morning coffee on the garden terrace",
]
EF = HashingEmbeddingFunction(dim=16)


def bm25_schema() -> Schema:
    return Schema().create_index(
        config=SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction()), key="bm25"
    )


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    collection = client.create_collection("hybrid", schema=bm25_schema(), embedding_function=EF)
    collection.add(
        ids=[f"d{i}" for i in range(len(DOCS))], documents=DOCS, metadatas=[{"i": i, "even": i % 2 == 0} for i in range(len(DOCS))]
    )
    return collection


def test_bm25_mode_ranks_as_the_search_apis_bm25_knn(col: ragstore.Collection) -> None:
    found = col.query(query_texts=["cats on the mat", "morning garden"], n_results=4, mode="bm25")
    for i, text in enumerate(["cats on the mat", "morning garden"]):
        # The Search API embeds text with chroma's BM25 function (query weights ~1.68 a term, a constant factor):
        # the same order, and the same records.
        reference = col.search(Search().rank(Knn(query=text, key="bm25", limit=4)).limit(4).select(K.SCORE))
        assert found["ids"][i] == reference["ids"][0]
        assert found["distances"][i] == sorted(found["distances"][i])
    assert found["documents"][0][0] == "the cat sat on the mat"


def test_hybrid_mode_is_dbsf_of_the_dense_and_bm25_lists(col: ragstore.Collection) -> None:
    text = "cats in the garden"
    dense = col.query(query_texts=[text], n_results=len(DOCS), include=["distances"])
    bm25 = col.query(query_texts=[text], n_results=len(DOCS), include=["distances"], mode="bm25")
    fused: dict[str, float] = {}
    for ids, scores in ((dense["ids"][0], -np.array(dense["distances"][0])), (bm25["ids"][0], -np.array(bm25["distances"][0]))):
        mean, sd = scores.mean(), scores.std(ddof=1)
        for id_, score in zip(ids, (scores - (mean - 3 * sd)) / (6 * sd), strict=True):
            fused[id_] = fused.get(id_, 0.0) + score
    expected = sorted(fused, key=lambda id_: (-fused[id_], int(id_[1:])))[:5]
    hybrid = col.query(query_texts=[text], n_results=5, include=["distances"], mode="hybrid")
    assert hybrid["ids"][0] == expected
    np.testing.assert_allclose(hybrid["distances"][0], [-fused[id_] for id_ in expected], rtol=1e-5)


def test_filters_and_ids_apply_before_ranking(col: ragstore.Collection) -> None:
    for mode in ("bm25", "hybrid"):
        found = col.query(query_texts=["cats"], n_results=7, where={"even": True}, mode=mode)
        assert found["ids"][0] and all(int(id_[1:]) % 2 == 0 for id_ in found["ids"][0]), mode
        only = col.query(query_texts=["cats"], n_results=7, ids=["d1", "d3"], mode=mode)
        assert set(only["ids"][0]) <= {"d1", "d3"}, mode
        assert col.query(query_texts=["cats"], ids=[], mode=mode)["ids"] == [[]]
        document = col.query(query_texts=["cats"], where_document={"$contains": "dogs"}, mode=mode)
        assert set(document["ids"][0]) <= {"d1", "d5"}, mode


def test_writes_are_searchable_at_once(col: ragstore.Collection) -> None:
    col.upsert(ids=["d3"], documents=["zebras graze"], metadatas=[{"i": 3, "even": False}])
    col.add(ids=["new"], documents=["a zebra crossing"])
    assert col.query(query_texts=["zebras"], n_results=2, mode="bm25")["ids"] == [["d3", "new"]]
    col.delete(ids=["d3"])
    assert col.query(query_texts=["zebras"], n_results=2, mode="bm25")["ids"] == [["new"]]
    col.update(ids=["new"], documents=["nothing to see"])
    assert col.query(query_texts=["zebras"], n_results=2, mode="bm25")["ids"] == [[]]


def test_mistakes_get_the_same_error_in_every_mode_and_change_nothing(client: ragstore.ClientAPI, col: ragstore.Collection) -> None:
    plain = client.create_collection("plain", embedding_function=EF)
    plain.add(ids=["a"], documents=["cats"])
    with pytest.raises(InvalidArgumentError, match="no BM25 index"):
        plain.query(query_texts=["cats"], mode="hybrid")
    with pytest.raises(InvalidArgumentError, match="Expected mode to be one of dense, hybrid, bm25"):
        col.query(query_texts=["cats"], mode="sparse")
    with pytest.raises(InvalidArgumentError, match="Expected query_texts"):
        col.query(query_embeddings=[[0.0] * 16], mode="hybrid")
    with pytest.raises(InvalidArgumentError, match="no query_embeddings"):
        col.query(query_embeddings=[[0.0] * 16], query_texts=["cats"], mode="bm25")
    assert col.count() == len(DOCS) and plain.count() == 1


def test_hybrid_takes_given_embeddings_with_their_texts(col: ragstore.Collection) -> None:
    vectors = EF(["cats in the garden"])
    given = col.query(query_embeddings=vectors, query_texts=["cats in the garden"], n_results=3, mode="hybrid")
    embedded = col.query(query_texts=["cats in the garden"], n_results=3, mode="hybrid")
    assert given["ids"] == embedded["ids"]
