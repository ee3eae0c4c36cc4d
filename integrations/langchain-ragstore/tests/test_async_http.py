"""The async API against a real ``ragstore run`` child, over ``AsyncHttpClient`` (no sync client, no executor)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ragstore
from langchain_core.documents import Document
from ragstore.store_address import StoreAddress

from langchain_ragstore import AsyncOnlyStoreError, RagstoreVectorStore
from tests.fakes import TableEmbeddings
from tests.server import RagstoreServer

VECTORS = {"q": [1.0, 0.0, 0.0], "a1": [1.0, 0.05, 0.0], "a2": [1.0, 0.06, 0.0], "b": [0.8, 0.0, 0.6]}


@pytest.fixture
def no_sync_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tripwire: opening a sync client (through ragstore's opener or ``HttpClient``) fails the test."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a sync client was opened on the async path")

    monkeypatch.setattr(ragstore, "HttpClient", forbidden)
    monkeypatch.setattr(StoreAddress, "client", forbidden)


@pytest.fixture
def cleanup(server_client: ragstore.ClientAPI, collection_name: str) -> Iterator[str]:
    yield collection_name
    server_client.delete_collection(collection_name)


async def test_async_path_over_http(ragstore_server: RagstoreServer, cleanup: str, no_sync_http: None) -> None:
    store = RagstoreVectorStore(
        cleanup,
        TableEmbeddings(VECTORS),
        host=ragstore_server.host,
        port=ragstore_server.port,
        collection_configuration={"hnsw": {"space": "cosine"}},
    )
    docs = [Document(id=i, page_content=i, metadata={"g": i[0]}) for i in ("a1", "a2", "b")]
    assert await store.aadd_documents(docs) == ["a1", "a2", "b"]
    assert [d.id for d in await store.asimilarity_search("q", k=2)] == ["a1", "a2"]
    assert [d.id for d in await store.asimilarity_search("q", k=3, filter={"g": "b"})] == ["b"]
    assert [d.id for d in await store.amax_marginal_relevance_search("q", k=2, fetch_k=3)] == ["a1", "b"]
    scored = await store.asimilarity_search_with_relevance_scores("q", k=3)
    assert [d.id for d, _ in scored] == ["a1", "a2", "b"] and all(0.0 <= s <= 1.0 for _, s in scored)
    assert scored[-1][1] == pytest.approx(0.8, abs=1e-5)  # b's cosine
    by_vector = await store.asimilarity_search_by_vector_with_relevance_scores([1.0, 0.0, 0.0], k=1)
    assert by_vector[0][0].id == "a1" and by_vector[0][1] > 0.99
    assert sorted(d.id or "" for d in await store.aget_by_ids(["a1", "b", "missing"])) == ["a1", "b"]
    assert await store.adelete(["a1"]) is True
    assert [d.id for d in await store.asimilarity_search("q", k=3)] == ["a2", "b"]
    assert await store.adelete() is True
    assert await store.asimilarity_search("q") == []
    await store.aclose()


async def test_afrom_texts_over_http(ragstore_server: RagstoreServer, cleanup: str, no_sync_http: None) -> None:
    store = await RagstoreVectorStore.afrom_texts(
        ["a1", "b"], TableEmbeddings(VECTORS), ids=["x", "y"], collection_name=cleanup, host=ragstore_server.host, port=ragstore_server.port
    )
    assert [d.id for d in await store.asimilarity_search("q", k=1)] == ["x"]
    await store.aclose()


async def test_given_async_client_is_async_only(ragstore_server: RagstoreServer, cleanup: str) -> None:
    client = await ragstore.AsyncHttpClient(host=ragstore_server.host, port=ragstore_server.port)
    store = RagstoreVectorStore(cleanup, TableEmbeddings(VECTORS), client=client)
    await store.aadd_texts(["a1"], ids=["one"])
    assert (await store.aget_by_ids(["one"]))[0].page_content == "a1"
    with pytest.raises(AsyncOnlyStoreError, match="async methods"):
        store.similarity_search("q")
    await store.aclose()
    assert await client.heartbeat() > 0  # the caller's client stays open
    await client.close()


def test_sync_path_over_http(ragstore_server: RagstoreServer, cleanup: str) -> None:
    store = RagstoreVectorStore(cleanup, TableEmbeddings(VECTORS), host=ragstore_server.host, port=ragstore_server.port)
    store.add_texts(["a1", "b"], ids=["x", "y"])
    assert [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=2)] == ["x", "y"]
    store.close()
