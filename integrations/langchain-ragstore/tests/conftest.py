from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import ragstore

from tests.server import RagstoreServer


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
