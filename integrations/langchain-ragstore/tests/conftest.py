from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ragstore
from langchain_core.embeddings import Embeddings

from langchain_ragstore import RagstoreVectorStore
from tests.server import RagstoreServer
from tests.stores import MODES, StoreFactory


@pytest.fixture(scope="session")
def ragstore_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagstoreServer]:
    """One real ``ragstore run`` child for the whole session."""
    server = RagstoreServer.start(tmp_path_factory.mktemp("server"), ["--host", "127.0.0.1"])
    try:
        yield server
    finally:
        status = server.stop()
        assert status == 0, "".join(server.output)


@pytest.fixture(scope="session")
def server_client(ragstore_server: RagstoreServer) -> Iterator[ragstore.ClientAPI]:
    """A sync client of the session server, for setup and cleanup only."""
    client = ragstore_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def collection_name() -> str:
    return f"lc-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture(params=MODES)
def open_store_in_mode(request: pytest.FixtureRequest, tmp_path: Path, collection_name: str) -> Iterator[StoreFactory]:
    """A factory of stores on one collection, in each of :data:`MODES` (a second call reopens the same collection)."""
    opened: list[RagstoreVectorStore] = []
    server_client = request.getfixturevalue("server_client") if request.param == "http" else None

    def factory(embeddings: Embeddings, **kwargs: Any) -> RagstoreVectorStore:
        if request.param == "ephemeral" and opened:
            kwargs["client"] = opened[0].client  # an in-memory store lives in its client: reopen through the first one's
        elif request.param == "persistent":
            kwargs["persist_directory"] = tmp_path / "store"
        elif request.param == "http":
            server: RagstoreServer = request.getfixturevalue("ragstore_server")
            kwargs.update(host=server.host, port=server.port)
        store = RagstoreVectorStore(collection_name, embeddings, **kwargs)
        opened.append(store)
        return store

    yield factory
    if server_client is not None:
        server_client.delete_collection(collection_name)
    for store in opened:
        store.close()
