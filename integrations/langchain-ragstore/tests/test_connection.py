"""The connection lifecycle: what is opened when, per event loop, and what close() leaves usable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ragstore
from langchain_core.embeddings import DeterministicFakeEmbedding
from ragstore.store_address import StoreAddress

from langchain_ragstore import RagstoreVectorStore
from tests.server import RagstoreServer

EMB = DeterministicFakeEmbedding(size=6)


@pytest.fixture
def cleanup(server_client: ragstore.ClientAPI, collection_name: str) -> Iterator[str]:
    yield collection_name
    server_client.delete_collection(collection_name)


def test_calls_that_need_no_records_open_nothing() -> None:
    store = RagstoreVectorStore(embedding_function=EMB, host="127.0.0.1", port=9)  # nothing listens on port 9
    assert store.add_texts([]) == []
    assert store.get_by_ids([]) == []
    assert store.delete([]) is True
    assert asyncio.run(store.aget_by_ids([])) == []
    with pytest.raises(ragstore.ServerConnectionError):
        store.get_by_ids(["x"])
    with pytest.raises(ragstore.ServerConnectionError):
        asyncio.run(store.aget_by_ids(["x"]))


def test_a_given_client_or_collection_stays_in_use_after_close() -> None:
    client = ragstore.EphemeralClient()
    store = RagstoreVectorStore("given", EMB, client=client)
    store.add_texts(["kept"], ids=["k"])
    store.close()
    assert [d.page_content for d in store.get_by_ids(["k"])] == ["kept"]
    by_collection = RagstoreVectorStore(embedding_function=EMB, collection=client.get_collection("given"))
    by_collection.close()
    assert by_collection.collection.count() == 1


def test_an_owned_client_is_opened_again_after_close(tmp_path: Path) -> None:
    store = RagstoreVectorStore("reopened", EMB, persist_directory=str(tmp_path))
    store.add_texts(["kept"], ids=["k"])
    first = store.client
    store.close()
    assert store.client is not first
    assert [d.id for d in store.get_by_ids(["k"])] == ["k"]  # the same directory, through a new client
    store.close()


def test_each_event_loop_gets_its_own_async_client(ragstore_server: RagstoreServer, cleanup: str) -> None:
    store = RagstoreVectorStore(cleanup, EMB, host=ragstore_server.host, port=ragstore_server.port)

    async def write_and_read(text: str) -> tuple[object, list[str]]:
        await store.aadd_texts([text], ids=[text])
        opened = await store._connection._per_loop.get()
        found = [d.id or "" for d in await store.aget_by_ids(["one", "two"])]
        return opened.client, found

    first_client, first = asyncio.run(write_and_read("one"))
    second_client, second = asyncio.run(write_and_read("two"))  # the first loop is closed: its client cannot serve this one
    assert first_client is not second_client
    assert first == ["one"] and sorted(second) == ["one", "two"]


async def test_adelete_collection_keeps_the_loops_client(ragstore_server: RagstoreServer, cleanup: str) -> None:
    store = RagstoreVectorStore(cleanup, EMB, host=ragstore_server.host, port=ragstore_server.port)
    await store.aadd_texts(["a"], ids=["a"])
    before = (await store._connection._per_loop.get()).client
    await store.adelete_collection()
    assert await store.aget_by_ids(["a"]) == []  # the collection is created again, empty
    await store.aadd_texts(["b"], ids=["b"])
    assert (await store._connection._per_loop.get()).client is before
    assert [d.id for d in await store.asimilarity_search("b", k=5)] == ["b"]
    await store.aclose()
    assert (await store._connection._per_loop.get()).client is not before  # aclose closed it; a new one is opened
    await store.aclose()


async def test_concurrent_first_calls_share_one_client(
    ragstore_server: RagstoreServer, cleanup: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[StoreAddress] = []
    real = StoreAddress.async_client

    async def counted(self: StoreAddress, *args: Any, **kwargs: Any) -> ragstore.AsyncClientAPI:
        opened.append(self)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(StoreAddress, "async_client", counted)
    store = RagstoreVectorStore(cleanup, EMB, host=ragstore_server.host, port=ragstore_server.port)
    results = await asyncio.gather(*(store.aadd_texts([f"t{i}"], ids=[f"t{i}"]) for i in range(8)))
    assert sorted(i for ids in results for i in ids) == sorted(f"t{i}" for i in range(8))
    assert len(await store.aget_by_ids([f"t{i}" for i in range(8)])) == 8
    assert [address.port for address in opened] == [ragstore_server.port]
    await store.aclose()
