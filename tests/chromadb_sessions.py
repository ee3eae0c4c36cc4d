"""chromadb's HTTP clients in tests, with the httpx sessions their ``close()`` leaves open closed.

chromadb 1.5.9's ``Client.close()`` never closes the session of its ``FastAPI`` server API (nor does
a client whose constructor failed); under ``filterwarnings = error`` the leak surfaces as a
``ResourceWarning`` in some later, unrelated test. :func:`chromadb_sessions_closed` closes every one
opened inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def chromadb_sessions_closed() -> Iterator[None]:
    """Close, on leaving, the session of every chromadb ``FastAPI`` made inside the block (a module fixture, or one test)."""
    # Imported here, not at module top: modules that import this helper load chromadb (slow) only when they use it.
    from chromadb.api.fastapi import FastAPI

    opened: list[FastAPI] = []
    original = FastAPI.__init__

    def tracking_init(self: FastAPI, system: Any) -> None:
        original(self, system)
        opened.append(self)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(FastAPI, "__init__", tracking_init)
            yield
    finally:
        for api in opened:
            api._session.close()
