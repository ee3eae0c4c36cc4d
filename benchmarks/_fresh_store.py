"""One ingest timed into a fresh persistent store: a cell of ``embedding_ingest.py`` and ``ray_ingest.py``.

Both scripts time the same thing for each cell: an ingest into an empty ``docs`` collection of a
new on-disk store, the store opened and the collection created before the clock starts (so a cell
is the ingest alone), the store deleted after. Only the ingest itself (and the embedder) differ.

Example:
    >>> from types import SimpleNamespace
    >>> seconds, written = timed_ingest(None, lambda collection: SimpleNamespace(written=collection.count()))
    >>> seconds >= 0, written
    (True, 0)

"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any


def timed_ingest(embedding_function: Any, ingest: Callable[[Any], Any]) -> tuple[float, int]:
    """Seconds ``ingest(collection)`` takes on a new store's empty ``docs`` collection, and the ``written`` its stats report.

    Args:
        embedding_function: The collection's embedding function (``None`` for none).
        ingest: Fills the collection; returns stats with a ``written`` count (``IngestStats``).

    """
    import ragstore  # imported here as the scripts do, after they have set the environment (HF_HUB_OFFLINE, Ray's)

    with tempfile.TemporaryDirectory(prefix="ragstore-bench-ingest-") as tmp, ragstore.PersistentClient(tmp) as client:
        collection = client.create_collection("docs", embedding_function=embedding_function)
        started = time.perf_counter()
        stats = ingest(collection)
        seconds = time.perf_counter() - started
    return seconds, int(stats.written)
