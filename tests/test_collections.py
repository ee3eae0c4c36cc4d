"""Client-level API: collections, configuration, embedding functions, lifecycle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ragstore
from ragstore.embeddings import DefaultEmbeddingFunction, HashingEmbeddingFunction, OnnxEmbeddingFunction
from tests.conftest import ClientFactory


def test_heartbeat_version_and_batch_size(client: ragstore.ClientAPI) -> None:
    assert isinstance(client.heartbeat(), int) and client.heartbeat() > 1_600_000_000 * 10**9
    assert client.get_version() == ragstore.__version__
    assert client.get_max_batch_size() >= 5461


def test_create_get_list_count_delete(client: ragstore.ClientAPI) -> None:
    assert client.count_collections() == 0
    assert client.list_collections() == []
    a = client.create_collection("alpha", metadata={"owner": "me", "n": 3})
    client.create_collection("beta")
    client.create_collection("gamma")
    assert a.name == "alpha" and a.metadata == {"owner": "me", "n": 3}
    assert repr(a) == "Collection(name=alpha)"
    assert client.count_collections() == 3
    assert [c.name for c in client.list_collections()] == ["alpha", "beta", "gamma"]
    assert [c.name for c in client.list_collections(limit=2)] == ["alpha", "beta"]
    assert [c.name for c in client.list_collections(limit=2, offset=2)] == ["gamma"]
    assert [c.name for c in client.list_collections(offset=1)] == ["beta", "gamma"]
    got = client.get_collection("alpha")
    assert got.id == a.id and got.metadata == a.metadata
    client.delete_collection("beta")
    assert [c.name for c in client.list_collections()] == ["alpha", "gamma"]
    with pytest.raises(ragstore.NotFoundError, match=r"Collection \[beta\] does not exist"):
        client.get_collection("beta")
    with pytest.raises(ragstore.NotFoundError):
        client.delete_collection("beta")


def test_create_existing_and_get_or_create(client: ragstore.ClientAPI) -> None:
    first = client.create_collection("docs", metadata={"v": 1})
    with pytest.raises(ragstore.UniqueConstraintError, match=r"Collection \[docs\] already exists"):
        client.create_collection("docs")
    with pytest.raises(ValueError):  # also a ValueError, as chromadb documents
        client.create_collection("docs")
    again = client.get_or_create_collection("docs", metadata={"v": 2})
    assert again.id == first.id and again.metadata == {"v": 1}  # arguments ignored when it exists
    same = client.create_collection("docs", get_or_create=True)
    assert same.id == first.id
    fresh = client.get_or_create_collection("other")
    assert fresh.id != first.id and client.count_collections() == 2


@pytest.mark.parametrize("name", ["abc", "ABC", "a.b", "a_b-c", "a" * 512, "1x1", "docs.v2"])
def test_valid_names(client: ragstore.ClientAPI, name: str) -> None:
    assert client.create_collection(name).name == name


def test_default_configuration(client: ragstore.ClientAPI) -> None:
    config = client.create_collection("plain").configuration
    hnsw = config["hnsw"]
    assert hnsw["space"] == "l2"
    assert (hnsw["ef_construction"], hnsw["ef_search"], hnsw["max_neighbors"]) == (100, 100, 32)  # chromadb: 16 (README)
    assert hnsw["resize_factor"] == 1.2 and hnsw["sync_threshold"] == 1000 and hnsw["batch_size"] == 100
    assert hnsw["num_threads"] == (os.cpu_count() or 1)
    assert config["embedding_function"] == {"type": "known", "name": DefaultEmbeddingFunction.name(), "config": {}}


@pytest.mark.parametrize("space", ["l2", "cosine", "ip"])
def test_space_from_configuration_and_legacy_metadata(client: ragstore.ClientAPI, space: str) -> None:
    by_config = client.create_collection("by-config", configuration={"hnsw": {"space": space, "ef_search": 33}})
    assert by_config.configuration["hnsw"]["space"] == space
    assert by_config.configuration["hnsw"]["ef_search"] == 33
    legacy = client.create_collection("by-metadata", metadata={"hnsw:space": space, "hnsw:M": 8, "hnsw:search_ef": 20})
    assert legacy.configuration["hnsw"]["space"] == space
    assert legacy.configuration["hnsw"]["max_neighbors"] == 8
    assert legacy.configuration["hnsw"]["ef_search"] == 20
    assert legacy.metadata == {"hnsw:space": space, "hnsw:M": 8, "hnsw:search_ef": 20}  # keys stay visible


def test_configuration_wins_over_legacy_metadata(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("both", configuration={"hnsw": {"space": "ip"}}, metadata={"hnsw:space": "cosine"})
    assert col.configuration["hnsw"]["space"] == "ip"


def test_bad_configuration(client: ragstore.ClientAPI) -> None:
    with pytest.raises(ragstore.InvalidArgumentError, match="unknown variant `dot`"):
        client.create_collection("bad-space", configuration={"hnsw": {"space": "dot"}})
    with pytest.raises(ragstore.InvalidArgumentError, match="unknown field `M`"):
        client.create_collection("bad-key", configuration={"hnsw": {"M": 8}})
    with pytest.raises(ragstore.InvalidArgumentError, match="hnsw and spann cannot both be provided"):
        client.create_collection("both-kinds", configuration={"hnsw": {}, "spann": {}})
    with pytest.raises(ragstore.InvalidArgumentError):
        client.create_collection("bad-legacy", metadata={"hnsw:space": "euclid"})
    assert client.count_collections() == 0


def test_modify_name_metadata_and_ef_search(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("before", metadata={"a": 1})
    col.add(ids=["x"], embeddings=[[1.0, 2.0]])
    col.modify(name="after", metadata={"b": 2}, configuration={"hnsw": {"ef_search": 250}})
    assert col.name == "after" and col.metadata == {"b": 2}
    again = client.get_collection("after")
    assert again.id == col.id and again.metadata == {"b": 2}  # metadata is replaced, not merged
    assert again.configuration["hnsw"]["ef_search"] == 250
    assert again.count() == 1
    with pytest.raises(ragstore.NotFoundError):
        client.get_collection("before")


def test_modify_rejects_build_time_parameters_and_taken_names(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("one")
    client.create_collection("two")
    with pytest.raises(ragstore.InvalidArgumentError, match="unknown field `space`"):
        col.modify(configuration={"hnsw": {"space": "cosine"}})
    with pytest.raises(ragstore.InvalidArgumentError, match="Changing the distance function"):
        col.modify(metadata={"hnsw:space": "cosine"})
    with pytest.raises(ragstore.UniqueConstraintError):
        col.modify(name="two")
    assert client.get_collection("one").configuration["hnsw"]["space"] == "l2"


def test_reset_only_when_allowed(client: ragstore.ClientAPI, reset_client: ragstore.ClientAPI) -> None:
    client.create_collection("keep")
    with pytest.raises(ragstore.AuthorizationError, match="Reset is disabled by config"):
        client.reset()
    assert client.count_collections() == 1
    reset_client.create_collection("gone")
    reset_client.create_collection("gone-too").add(ids="a", embeddings=[1.0])
    assert reset_client.reset() is True
    assert reset_client.count_collections() == 0


def test_close_and_context_manager(mode: str, tmp_path: Path) -> None:
    client = ragstore.EphemeralClient() if mode == "ephemeral" else ragstore.PersistentClient(path=tmp_path / "db")
    with client as entered:
        assert entered is client
        entered.create_collection("abc")
    with pytest.raises(ragstore.RagstoreError, match="closed"):
        client.heartbeat()
    client.close()  # closing twice is harmless


def test_ephemeral_clients_are_independent() -> None:
    a, b = ragstore.EphemeralClient(), ragstore.EphemeralClient()
    a.create_collection("only-in-a")
    assert b.count_collections() == 0
    assert ragstore.Client().count_collections() == 0


def test_client_settings_select_the_mode(tmp_path: Path) -> None:
    settings = ragstore.Settings(is_persistent=True, persist_directory=str(tmp_path / "viaset"))
    with ragstore.Client(settings) as client:
        client.create_collection("stored").add(ids="a", embeddings=[1.0, 0.0])
    with ragstore.PersistentClient(path=tmp_path / "viaset") as client:
        assert client.get_collection("stored").count() == 1


def test_missing_tenant_or_database(mode: str, tmp_path: Path) -> None:
    with pytest.raises(ragstore.NotFoundError, match=r"Tenant \[nope\] not found"):
        ragstore.EphemeralClient(tenant="nope") if mode == "ephemeral" else ragstore.PersistentClient(tmp_path / "t", tenant="nope")
    with pytest.raises(ragstore.NotFoundError, match=r"Database \[nope\] not found"):
        ragstore.EphemeralClient(database="nope") if mode == "ephemeral" else ragstore.PersistentClient(tmp_path / "d", database="nope")


def test_embedding_function_is_used_and_rebuilt(client_factory: ClientFactory) -> None:
    client = client_factory()
    ef = HashingEmbeddingFunction(dim=16)
    col = client.create_collection("embedded", embedding_function=ef)
    col.add(ids=["a", "b"], documents=["red apples", "blue skies"])
    stored = col.get(include=["embeddings"])["embeddings"]
    assert stored is not None and stored.shape == (2, 16)
    np.testing.assert_allclose(stored[0], ef(["red apples"])[0], rtol=1e-6)
    # A new handle without an embedding function rebuilds the persisted one.
    again = client_factory(reopen=True).get_collection("embedded")
    assert isinstance(again.embedding_function, HashingEmbeddingFunction) and again.embedding_function.dim == 16
    assert again.query(query_texts=["red apples"], n_results=1)["ids"] == [["a"]]


def test_conflicting_embedding_function(client: ragstore.ClientAPI) -> None:
    client.create_collection("hashing", embedding_function=HashingEmbeddingFunction())
    expected = "Embedding function conflict: new: ragstore_onnx vs persisted: ragstore_hashing"
    with pytest.raises(ragstore.InvalidArgumentError, match=expected):
        client.get_collection("hashing", embedding_function=OnnxEmbeddingFunction())  # the model loads at the first text only
    same = client.get_collection("hashing", embedding_function=HashingEmbeddingFunction(dim=384))
    assert same.name == "hashing"


def test_no_embedding_function_gives_clear_error(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("no-ef", embedding_function=None)
    col.add(ids="a", embeddings=[1.0, 2.0], documents="has a vector already")
    with pytest.raises(ragstore.InvalidArgumentError, match="You must provide an embedding function"):
        col.add(ids="b", documents="needs embedding")
    with pytest.raises(ragstore.InvalidArgumentError, match="You must provide an embedding function"):
        col.query(query_texts=["text"])
    assert col.count() == 1


def test_legacy_embedding_function_callable(client: ragstore.ClientAPI) -> None:
    class Legacy:
        def __call__(self, input: list[str]) -> list[list[float]]:  # noqa: A002
            return [[float(len(t)), 1.0] for t in input]

    col = client.create_collection("legacy-ef", embedding_function=Legacy())
    assert col.configuration["embedding_function"] == {"type": "legacy"}
    col.add(ids=["short", "longer"], documents=["ab", "abcdefgh"])
    assert col.query(query_texts=["abcdefg"], n_results=1)["ids"] == [["longer"]]


def test_embedding_function_default_space_is_used(client: ragstore.ClientAPI) -> None:
    cosine = OnnxEmbeddingFunction()  # its default_space() is cosine, the collection default is l2
    assert cosine.default_space() == "cosine"
    assert client.create_collection("ef-space", embedding_function=cosine).configuration["hnsw"]["space"] == "cosine"
    explicit = client.create_collection("ef-space-2", embedding_function=cosine, configuration={"hnsw": {"space": "ip"}})
    assert explicit.configuration["hnsw"]["space"] == "ip"


def test_persistent_collections_survive_reopen(tmp_path: Path) -> None:
    with ragstore.PersistentClient(path=tmp_path) as client:
        col = client.create_collection("kept", metadata={"k": "v"}, configuration={"hnsw": {"space": "cosine"}})
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=["A", "B"])
    with ragstore.PersistentClient(path=tmp_path) as client:
        col = client.get_collection("kept")
        assert col.metadata == {"k": "v"} and col.configuration["hnsw"]["space"] == "cosine"
        assert col.get()["documents"] == ["A", "B"]
        assert col.query(query_embeddings=[1.0, 0.1], n_results=1)["ids"] == [["a"]]
