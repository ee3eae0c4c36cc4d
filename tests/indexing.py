"""Waiting for the background indexer, for tests whose subject is what it leaves behind (graphs, saved files, logs).

A write is acknowledged before its vectors are in the HNSW graph (``ragstore.local.indexer``);
queries see it at once, but the graph, the files saved after a catch-up and the log lines
of a failed save come a moment later. These helpers wait for them, never for longer than
``TIMEOUT``, so a test that checks them checks what the indexer did rather than when.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

TIMEOUT = 60.0
T = TypeVar("T")


def indexed(collection: Any, timeout: float = TIMEOUT) -> None:
    """Wait until ``collection``'s graph has applied every write (``get_indexing_status``: works in every mode)."""
    deadline = time.monotonic() + timeout
    while collection.get_indexing_status().num_unindexed_ops:
        assert time.monotonic() < deadline, f"still indexing after {timeout} s: {collection.get_indexing_status()}"
        time.sleep(0.01)


def flushed(client: Any, timeout: float = TIMEOUT) -> None:
    """Wait until an embedded client's indexer is idle: every catch-up done, and the saves that follow them."""
    assert client._api._indexes.flush(timeout), f"the indexer was still busy after {timeout} s"


def eventually(check: Callable[[], T], timeout: float = TIMEOUT) -> T:
    """``check()``'s result once it stops raising ``AssertionError`` (or ``FileNotFoundError``); its last error after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
