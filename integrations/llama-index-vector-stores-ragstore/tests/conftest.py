"""Fixtures: real ragstore stores in every client mode, and a real ``ragstore run`` server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ragstore
from ragstore.testing import RunningServer

from llama_index.vector_stores.ragstore import RagstoreVectorStore


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer.start(tmp_path_factory.mktemp("server"))
    yield running
    assert running.stop() == 0, "".join(running.output)


def unique_name() -> str:
    return f"li-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["ephemeral", "persistent", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StoreFactory = Callable[..., RagstoreVectorStore]


@pytest.fixture
def store_factory(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Builds stores on fresh collections in the client mode ``mode`` (keyword arguments go to ``from_params``)."""
    built: list[RagstoreVectorStore] = []

    def make(**kwargs: Any) -> RagstoreVectorStore:
        if mode == "ephemeral":
            store = RagstoreVectorStore.from_params(unique_name(), **kwargs)
        elif mode == "persistent":
            store = RagstoreVectorStore.from_params(unique_name(), persist_dir=str(tmp_path / "store"), **kwargs)
        else:
            srv: RunningServer = request.getfixturevalue("server")
            store = RagstoreVectorStore.from_params(unique_name(), host=srv.host, port=srv.port, **kwargs)
        built.append(store)
        return store

    try:
        yield make
    finally:
        for store in built:
            store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> RagstoreVectorStore:
    """An empty store on a fresh collection, in the client mode ``mode``."""
    return store_factory()


@pytest.fixture
def http_client(server: RunningServer) -> Iterator[ragstore.ClientAPI]:
    client = server.client()
    yield client
    client.close()
