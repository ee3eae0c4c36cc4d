"""Where a store keeps its records: one source only, no silent network client, persistence across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import ragstore
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_ragstore import ConflictingSourcesError, InvalidSourceError, MissingEmbeddingsError, RagstoreVectorStore
from langchain_ragstore.vectorstores import DEFAULT_MAX_BATCH_SIZE

EMB = DeterministicFakeEmbedding(size=6)


def test_conflicting_sources_raise(tmp_path: Path) -> None:
    client = ragstore.EphemeralClient()
    with pytest.raises(ConflictingSourcesError, match="client= and persist_directory="):
        RagstoreVectorStore(embedding_function=EMB, client=client, persist_directory=tmp_path)
    with pytest.raises(ConflictingSourcesError, match="persist_directory= and host="):
        RagstoreVectorStore(embedding_function=EMB, persist_directory=tmp_path, host="127.0.0.1")
    with pytest.raises(ConflictingSourcesError, match="port= is for a server"):
        RagstoreVectorStore(embedding_function=EMB, persist_directory=tmp_path, port=8000)
    collection = client.create_collection("given")
    with pytest.raises(ConflictingSourcesError, match="collection= and client="):
        RagstoreVectorStore(embedding_function=EMB, collection=collection, client=client)
    with pytest.raises(ConflictingSourcesError, match="differs"):
        RagstoreVectorStore("other", EMB, collection=collection)
    with pytest.raises(InvalidSourceError, match="ragstore Client or AsyncClient"):
        RagstoreVectorStore(embedding_function=EMB, client=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LangChain Embeddings"):
        RagstoreVectorStore(embedding_function=ragstore.HashingEmbeddingFunction())  # type: ignore[arg-type]


def test_unawaited_async_client_is_rejected() -> None:
    with pytest.raises(InvalidSourceError, match="await"):
        RagstoreVectorStore(embedding_function=EMB, client=ragstore.AsyncHttpClient(port=9))  # type: ignore[arg-type]


def test_host_opens_nothing_until_used() -> None:
    store = RagstoreVectorStore(embedding_function=EMB, host="127.0.0.1", port=9)  # nothing listens on port 9
    with pytest.raises(ragstore.ServerConnectionError):
        store.similarity_search("foo")


def test_given_client_and_collection_are_used(tmp_path: Path) -> None:
    client = ragstore.PersistentClient(tmp_path)
    store = RagstoreVectorStore("shared", EMB, client=client)
    store.add_texts(["foo"], ids=["1"])
    assert client.get_collection("shared").count() == 1
    by_collection = RagstoreVectorStore(embedding_function=EMB, collection=client.get_collection("shared"))
    assert [d.id for d in by_collection.similarity_search("foo", k=1)] == ["1"]
    assert by_collection._connection.max_batch_size() == DEFAULT_MAX_BATCH_SIZE
    store.close()
    assert client.heartbeat() > 0  # a client the caller gave stays open
    client.close()


def test_collection_without_embeddings_is_a_clear_error() -> None:
    collection = ragstore.EphemeralClient().create_collection("bare", embedding_function=None)
    store = RagstoreVectorStore(collection=collection)
    with pytest.raises(MissingEmbeddingsError, match="embedding_function="):
        store.add_texts(["x"])


def test_default_embeddings_are_ragstores_collection_function() -> None:
    store = RagstoreVectorStore(
        collection=ragstore.EphemeralClient().create_collection("hashing", embedding_function=ragstore.HashingEmbeddingFunction(dim=16))
    )
    store.add_texts(["apples are red", "the sky is blue"], ids=["a", "b"])
    assert store.similarity_search("apples are red", k=1)[0].id == "a"


def test_persistence_across_processes(tmp_path: Path) -> None:
    writer = textwrap.dedent(
        f"""
        from langchain_core.embeddings import DeterministicFakeEmbedding
        from langchain_ragstore import RagstoreVectorStore
        store = RagstoreVectorStore("kept", DeterministicFakeEmbedding(size=6), persist_directory={str(tmp_path)!r})
        store.add_texts(["foo", "bar"], metadatas=[{{"n": 1}}, {{"n": 2}}], ids=["f", "b"])
        store.close()
        """
    )
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=120)
    reader = RagstoreVectorStore("kept", EMB, persist_directory=tmp_path)
    found = reader.similarity_search("bar", k=2)
    assert [(d.id, d.page_content, d.metadata) for d in found] == [("b", "bar", {"n": 2}), ("f", "foo", {"n": 1})]
    reader.close()


def test_writes_are_split_at_the_max_batch_size() -> None:
    store = RagstoreVectorStore("big", DeterministicFakeEmbedding(size=2))
    limit = store.client.get_max_batch_size()  # type: ignore[union-attr]
    count = limit + 7
    texts = [f"t{i}" for i in range(count)]
    with pytest.raises(ragstore.BatchSizeExceededError):  # one write of everything is refused by ragstore
        store.collection.upsert(ids=texts, embeddings=[[0.0, 1.0]] * count)
    ids = store.add_texts(texts, ids=texts)
    assert ids == texts and store.collection.count() == count
    assert store.get_by_ids([texts[0], texts[-1]])[-1].page_content == texts[-1]
    assert store.delete() is True and store.collection.count() == 0
