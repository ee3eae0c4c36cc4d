"""Shared fixtures: one ``client`` fixture over every client mode.

Every API test takes ``client`` and so runs once per mode. ``client_factory``
opens further clients on the same store (or reopens it, for persistence
tests). Tests that are about embeddings use the real default; others may pass
``HashingEmbeddingFunction`` explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

import ragstore

MODES = ["ephemeral", "persistent", "http"]

ClientFactory = Callable[..., ragstore.ClientAPI]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """The client mode under test."""
    return str(request.param)


@pytest.fixture
def client_factory(mode: str, tmp_path: Path) -> Iterator[ClientFactory]:
    """Makes clients of the current mode; persistent ones share one directory.

    ``client_factory(reopen=True)`` closes nothing by itself: it returns a new
    client on the same store (for the ephemeral mode there is no store to share,
    so it returns the first client again).
    """
    made: list[ragstore.ClientAPI] = []
    servers = ExitStack()

    def make(settings: ragstore.Settings | None = None, **kwargs: object) -> ragstore.ClientAPI:
        if mode == "ephemeral":
            if kwargs.get("reopen") and made:
                return made[0]
            new = ragstore.connect(settings=settings)
        elif mode == "persistent":
            new = ragstore.connect(tmp_path / "store", settings=settings)
        else:
            new = _in_process_http_client(tmp_path / "store", settings or ragstore.Settings(), servers)
        made.append(new)
        return new

    with servers:
        yield make
        for c in made:
            c.close()


def _in_process_http_client(path: Path, settings: ragstore.Settings, servers: ExitStack) -> ragstore.ClientAPI:
    """An HTTP client talking to a server app over an in-process ASGI transport.

    Each call wraps a new ``LocalAPI`` on ``path`` (as a new PersistentClient would), so
    "reopening" goes through a fresh engine; the server's settings are the client's. The
    client is opened as :meth:`ragstore.StoreAddress.client` opens one, with Starlette's
    ``TestClient`` as the HTTP session instead of a socket.
    """
    from starlette.testclient import TestClient

    from ragstore.http.client import HttpAPI
    from ragstore.local import LocalAPI
    from ragstore.local.reads import DEFAULT_MAX_RESPONSE_BYTES
    from ragstore.server import create_app

    # As ``ragstore run`` builds its engine: answers bounded by the server's default budget.
    served = ragstore.StoreAddress(path=path)
    engine = LocalAPI(path, served.settings(settings), max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES)
    address = ragstore.StoreAddress(host="http://testserver")
    transport = servers.enter_context(TestClient(create_app(engine), base_url=address.url()))  # runs the app's lifespan
    return ragstore.ClientAPI(HttpAPI(address.url(), address.request_headers(), session=transport), address.settings(settings))


@pytest.fixture
def client(client_factory: ClientFactory) -> ragstore.ClientAPI:
    """A fresh, empty client of the current mode."""
    return client_factory()


@pytest.fixture
def reset_client(client_factory: ClientFactory) -> ragstore.ClientAPI:
    """A client whose settings allow ``reset()``."""
    return client_factory(settings=ragstore.Settings(allow_reset=True))
