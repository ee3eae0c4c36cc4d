"""Record API: add, upsert, update, delete, get, peek, count, includes and input shapes."""

from __future__ import annotations

import numpy as np
import pytest

import ragstore
from ragstore.embeddings import HashingEmbeddingFunction

EF = HashingEmbeddingFunction(dim=8)


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    return client.create_collection("records", embedding_function=EF)


def test_add_and_get_everything(col: ragstore.Collection) -> None:
    col.add(
        ids=["a", "b", "c"],
        embeddings=[[1, 2, 3], [4.5, 5, 6], [7, 8, 9.25]],
        documents=["doc a", None, "doc c"],
        metadatas=[{"s": "x", "i": 1, "f": 1.5, "b": True, "l": ["p", "q"]}, None, {"n": 2**63 - 1}],
        uris=["file://a", None, "file://c"],
    )
    got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert got["ids"] == ["a", "b", "c"]
    assert got["documents"] == ["doc a", None, "doc c"]
    assert got["metadatas"] == [{"s": "x", "i": 1, "f": 1.5, "b": True, "l": ["p", "q"]}, None, {"n": 2**63 - 1}]
    assert got["uris"] == ["file://a", None, "file://c"]
    assert got["embeddings"] is not None
    assert got["embeddings"].dtype == np.float32 and got["embeddings"].shape == (3, 3)
    np.testing.assert_array_equal(got["embeddings"], np.array([[1, 2, 3], [4.5, 5, 6], [7, 8, 9.25]], dtype=np.float32))
    assert got["included"] == ["embeddings", "documents", "metadatas", "uris"]
    assert col.count() == 3


def test_types_round_trip_exactly(col: ragstore.Collection) -> None:
    meta = {"int": -7, "float": 2.0, "true": True, "false": False, "str": "ünï€ode"}
    meta |= {"ints": [1, 2], "floats": [0.5], "bools": [False, True]}
    col.add(ids="k", embeddings=[0.0, 1.0], metadatas=meta)
    stored = col.get(ids="k")["metadatas"]
    assert stored is not None
    (value,) = stored
    assert value == meta
    assert value is not None and type(value["float"]) is float and type(value["int"]) is int and type(value["true"]) is bool


def test_default_includes(col: ragstore.Collection) -> None:
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["A"], metadatas=[{"k": 1}])
    got = col.get()
    assert got["ids"] == ["a"] and got["documents"] == ["A"] and got["metadatas"] == [{"k": 1}]
    assert got["embeddings"] is None and got["uris"] is None and got["data"] is None
    assert sorted(got["included"]) == ["documents", "metadatas"]
    ids_only = col.get(include=[])
    assert ids_only["ids"] == ["a"] and ids_only["documents"] is None and ids_only["metadatas"] is None
    peek = col.peek()
    assert peek["embeddings"] is not None and peek["embeddings"].shape == (1, 2) and peek["documents"] == ["A"]


def test_one_or_many_normalisation(col: ragstore.Collection) -> None:
    col.add(ids="single", embeddings=[1.0, 2.0, 3.0], documents="one doc", metadatas={"k": "v"}, uris="u://1")
    col.add(ids=["np1", "np2"], embeddings=np.array([[1, 1, 1], [2, 2, 2]], dtype=np.float64))
    col.add(ids=["list-of-arrays"], embeddings=[np.array([3, 3, 3], dtype=np.float32)])
    col.add(ids="flat-array", embeddings=np.array([4, 4, 4], dtype=np.int64))
    got = col.get(ids="single", include=["documents", "metadatas", "uris"])
    assert got["documents"] == ["one doc"] and got["metadatas"] == [{"k": "v"}] and got["uris"] == ["u://1"]
    assert col.get(include=[])["ids"] == ["single", "np1", "np2", "list-of-arrays", "flat-array"]


def test_documents_are_embedded_by_the_collection_function(col: ragstore.Collection) -> None:
    col.add(ids=["a", "b"], documents=["red apples", "blue skies"])
    got = col.get(include=["embeddings"])
    assert got["embeddings"] is not None
    np.testing.assert_allclose(got["embeddings"], np.array(EF(["red apples", "blue skies"])), rtol=1e-6)


def test_add_existing_id_is_skipped_and_not_embedded(client: ragstore.ClientAPI) -> None:
    calls: list[list[str]] = []

    class CountingEf:
        def __call__(self, input: list[str]) -> list[list[float]]:  # noqa: A002
            calls.append(list(input))
            return [[float(len(t)), 1.0] for t in input]

    col = client.create_collection("skip", embedding_function=CountingEf())
    col.add(ids=["a"], documents=["original"], metadatas=[{"v": 1}])
    col.add(ids=["a", "b"], documents=["replacement", "new"], metadatas=[{"v": 2}, {"v": 3}])
    assert calls == [["original"], ["new"]]  # "replacement" was never embedded
    got = col.get(include=["documents", "metadatas"])
    assert got["ids"] == ["a", "b"] and got["documents"] == ["original", "new"] and got["metadatas"] == [{"v": 1}, {"v": 3}]
    col.add(ids=["a"], embeddings=[[9.0, 9.0]], documents=["ignored"])
    assert col.get(ids="a")["documents"] == ["original"]


def test_upsert_inserts_and_merges(col: ragstore.Collection) -> None:
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["A", "B"], metadatas=[{"x": 1, "y": 2}, {"x": 3}])
    col.upsert(ids=["b", "c"], embeddings=[[5.0, 5.0], [6.0, 6.0]], metadatas=[{"y": None, "z": 9}, {"y": None, "w": 1}])
    got = col.get(include=["documents", "metadatas", "embeddings"])
    assert got["ids"] == ["a", "b", "c"]  # the upserted record keeps its place
    assert got["documents"] == ["A", "B", None]  # document kept when not supplied
    assert got["metadatas"] == [{"x": 1, "y": 2}, {"x": 3, "z": 9}, {"w": 1}]
    assert got["embeddings"] is not None
    np.testing.assert_array_equal(got["embeddings"][1], [5.0, 5.0])
    assert col.query(query_embeddings=[5.0, 5.0], n_results=1)["ids"] == [["b"]]


def test_upsert_documents_only_reembeds(col: ragstore.Collection) -> None:
    col.upsert(ids=["a"], documents=["first text"])
    col.upsert(ids=["a"], documents=["second text"])
    got = col.get(include=["documents", "embeddings"])
    assert got["documents"] == ["second text"] and got["embeddings"] is not None
    np.testing.assert_allclose(got["embeddings"][0], EF(["second text"])[0], rtol=1e-6)


def test_update_merges_and_ignores_missing(col: ragstore.Collection) -> None:
    col.add(ids=["a", "b"], documents=["A", "B"], metadatas=[{"x": 1, "y": 2}, {"only": True}])
    col.update(ids=["a", "missing"], metadatas=[{"y": None, "z": "new"}, {"q": 1}])
    col.update(ids="b", metadatas={"only": None})
    got = col.get(include=["metadatas", "documents"])
    assert got["ids"] == ["a", "b"]
    assert got["metadatas"] == [{"x": 1, "z": "new"}, None]  # all keys gone -> None
    assert col.count() == 2
    col.update(ids="a")  # nothing to change is accepted
    col.update(ids="a", documents="new A")
    after = col.get(ids="a", include=["documents", "embeddings"])
    assert after["documents"] == ["new A"] and after["embeddings"] is not None
    np.testing.assert_allclose(after["embeddings"][0], EF(["new A"])[0], rtol=1e-6)


def test_update_embeddings_moves_records_in_the_index(col: ragstore.Collection) -> None:
    col.add(ids=[f"r{i}" for i in range(50)], embeddings=np.arange(100, dtype=np.float32).reshape(50, 2))
    col.update(ids="r0", embeddings=[1000.0, 1000.0])
    assert col.query(query_embeddings=[999.0, 999.0], n_results=1)["ids"] == [["r0"]]
    assert col.query(query_embeddings=[0.0, 0.0], n_results=1)["ids"] == [["r1"]]


def test_get_insertion_order_and_paging(col: ragstore.Collection) -> None:
    ids = [f"id{i:03d}" for i in range(25)][::-1]
    col.add(ids=ids, embeddings=np.random.default_rng(0).random((25, 3)))
    assert col.get(include=[])["ids"] == ids
    assert col.get(ids=["id001", "id020", "id010"], include=[])["ids"] == ["id020", "id010", "id001"]
    pages = [col.get(limit=10, offset=o, include=[])["ids"] for o in (0, 10, 20)]
    assert pages[0] + pages[1] + pages[2] == ids and [len(p) for p in pages] == [10, 10, 5]
    assert col.get(limit=0, include=[])["ids"] == []
    assert col.get(offset=24, include=[])["ids"] == [ids[-1]]
    assert col.get(ids=["missing", "id005"], include=[])["ids"] == ["id005"]
    # delete then re-add puts the id at the end; upsert keeps its place
    col.delete(ids=ids[0])
    col.add(ids=ids[0], embeddings=[1.0, 1.0, 1.0])
    col.upsert(ids=ids[1], embeddings=[2.0, 2.0, 2.0])
    order = col.get(include=[])["ids"]
    assert order[0] == ids[1] and order[-1] == ids[0]


def test_get_ids_and_where_combine(col: ragstore.Collection) -> None:
    col.add(ids=["a", "b", "c"], embeddings=[[1.0], [2.0], [3.0]], metadatas=[{"k": 1}, {"k": 2}, {"k": 1}])
    assert col.get(ids=["a", "b"], where={"k": 1}, include=[])["ids"] == ["a"]
    assert col.get(where={"k": 1}, limit=1, offset=1, include=[])["ids"] == ["c"]


def test_delete_by_ids_where_and_document(col: ragstore.Collection) -> None:
    col.add(
        ids=["a", "b", "c", "d"],
        embeddings=[[1.0], [2.0], [3.0], [4.0]],
        documents=["keep me", "drop me", "drop me too", None],
        metadatas=[{"k": 1}, {"k": 2}, {"k": 2}, {"k": 3}],
    )
    assert col.delete(ids=["a", "nope"]) == {"deleted": 1}
    assert col.delete(where={"k": 3}) == {"deleted": 1}
    assert col.delete(where_document={"$contains": "drop"}, limit=1) == {"deleted": 1}
    assert col.get(include=[])["ids"] == ["c"]
    assert col.delete(ids=["c"], where={"k": 99}) == {"deleted": 0}  # ids AND where
    assert col.delete(where={"k": 2}) == {"deleted": 1}
    assert col.count() == 0
    assert col.query(query_embeddings=[1.0], n_results=3)["ids"] == [[]]


def test_deleted_records_leave_queries(col: ragstore.Collection) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.random((300, 4)).astype(np.float32)
    col.add(ids=[str(i) for i in range(300)], embeddings=vectors)
    col.delete(ids=[str(i) for i in range(0, 300, 2)])
    result = col.query(query_embeddings=vectors[:10], n_results=5, include=[])
    for i, ids in enumerate(result["ids"]):
        assert all(int(x) % 2 == 1 for x in ids) and len(ids) == 5
        if i % 2 == 1:
            assert ids[0] == str(i)


def test_count_and_peek_limit(col: ragstore.Collection) -> None:
    col.add(ids=[str(i) for i in range(15)], embeddings=np.ones((15, 2)))
    assert col.count() == 15
    assert len(col.peek()["ids"]) == 10 and len(col.peek(limit=3)["ids"]) == 3


def test_collections_are_isolated(client: ragstore.ClientAPI) -> None:
    one = client.create_collection("one")
    two = client.create_collection("two")
    one.add(ids=["same"], embeddings=[[1.0, 1.0]], documents=["in one"], metadatas=[{"k": 1}])
    two.add(ids=["same"], embeddings=[[1.0, 1.0, 1.0]], documents=["in two"], metadatas=[{"k": 1}])
    assert one.get(where={"k": 1})["documents"] == ["in one"]
    assert two.get(where_document={"$contains": "in"})["documents"] == ["in two"]
    client.delete_collection("one")
    assert two.count() == 1 and two.query(query_embeddings=[1.0, 1.0, 1.0], n_results=5)["ids"] == [["same"]]
