"""Fixtures: real ragstore stores in every client mode, and a real ``ragstore run`` server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def store(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RagstoreVectorStore]:
    """An empty store on a fresh collection, in the client mode ``mode``."""
    if mode == "ephemeral":
        built = RagstoreVectorStore.from_params(unique_name())
    elif mode == "persistent":
        built = RagstoreVectorStore.from_params(unique_name(), persist_dir=str(tmp_path / "store"))
    else:
        srv: RunningServer = request.getfixturevalue("server")
        built = RagstoreVectorStore.from_params(unique_name(), host=srv.host, port=srv.port)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def http_client(server: RunningServer) -> Iterator[ragstore.ClientAPI]:
    client = server.client()
    yield client
    client.close()
