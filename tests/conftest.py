"""Shared fixtures: one ``client`` fixture over every client mode.

Every API test takes ``client`` and so runs once per mode. ``client_factory``
opens further clients on the same store (or reopens it, for persistence
tests). Tests that are about embeddings use the real default; others may pass
``HashingEmbeddingFunction`` explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ragstore

MODES = ["ephemeral", "persistent"]

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

    def make(settings: ragstore.Settings | None = None, **kwargs: object) -> ragstore.ClientAPI:
        if mode == "ephemeral":
            if kwargs.get("reopen") and made:
                return made[0]
            new = ragstore.EphemeralClient(settings=settings)
        else:
            new = ragstore.PersistentClient(path=tmp_path / "store", settings=settings)
        made.append(new)
        return new

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(client_factory: ClientFactory) -> ragstore.ClientAPI:
    """A fresh, empty client of the current mode."""
    return client_factory()


@pytest.fixture
def reset_client(client_factory: ClientFactory) -> ragstore.ClientAPI:
    """A client whose settings allow ``reset()``."""
    return client_factory(settings=ragstore.Settings(allow_reset=True))
