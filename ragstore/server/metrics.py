"""Prometheus metrics of one server: :class:`ServerMetrics`, served at ``GET /metrics``.

Each app has its own ``CollectorRegistry`` (never ``prometheus_client``'s global one), so
several apps in one process (tests, an app mounted in a bigger one) count apart. What it holds:

- ``ragstore_http_requests_total{method, route, status}`` and
  ``ragstore_http_request_duration_seconds{method, route}``: every request, the record routes
  and the guards' refusals (401, 413, 421) included, labelled by route *template*
  (``/api/v2/tenants/{tenant}/...``) so collection ids and names never become labels; a path no
  route answers is counted under ``route="unmatched"``.
- ``ragstore_http_requests_in_progress``.
- ``ragstore_collections``, ``ragstore_records``, ``ragstore_tombstones`` (deleted records the vector
  indexes still hold until compacted), ``ragstore_databases``, ``ragstore_tenants`` and
  ``ragstore_store_bytes``, read at scrape time from the store's SQLite file through a read-only
  connection of their own (the engine's connections and locks are never touched; a store in memory
  has none of these); and the vector indexes' state: ``ragstore_index_pending_records`` (records
  newer than their collection's saved index files, which a restart replays from SQLite)
  and ``ragstore_index_unsaved_collections``.
- ``process_*`` (resident and virtual memory, CPU seconds, open files) and ``python_info``.

Example:
    >>> from prometheus_client.parser import text_string_to_metric_families
    >>> metrics = ServerMetrics(store=None)
    >>> metrics.observe("GET", "/api/v2/heartbeat", 200, 0.0004)
    >>> families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    >>> [s.value for s in families["ragstore_http_requests"].samples if s.name.endswith("_total")]
    [1.0]

"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ragstore.local.database import DATABASE_FILENAME
from ragstore.local.index_cache import INDEX_DIRECTORY
from ragstore.server.record_dispatch import match_record_route

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format's media type."""

UNMATCHED = "unmatched"
"""The ``route`` label of a path no route answers (scanners' guesses must not each become a series)."""

# The engine answers most requests in well under 5 ms, below prometheus_client's smallest default bucket.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_STORE_COUNTS = {
    "ragstore_collections": ("Collections in the store.", "SELECT count(*) FROM collections"),
    "ragstore_records": ("Records in the store, every collection together.", "SELECT count(*) FROM records"),
    "ragstore_tombstones": ("Deleted records still held by vector indexes until they are compacted.", "SELECT count(*) FROM tombstones"),
    "ragstore_databases": ("Databases in the store.", "SELECT count(*) FROM databases"),
    "ragstore_tenants": ("Tenants in the store.", "SELECT count(*) FROM tenants"),
}


class StoreCollector(Collector):
    """Counts read from the store's SQLite file at scrape time.

    A read-only connection is opened for each scrape and closed after it: a scrape every 15 s
    costs one open (about 0.1 ms), and the engine's own connections stay untouched. SQLite's WAL
    mode lets this read run beside writers.

    Args:
        store: The store's directory.

    Example:
        >>> list(StoreCollector(Path("/nonexistent")).collect())
        []

    """

    def __init__(self, store: Path) -> None:
        self.file = store / DATABASE_FILENAME

    def collect(self) -> Iterator[Metric]:
        """The store's gauges; none when its file cannot be read (the scrape itself still succeeds)."""
        if not self.file.is_file():
            return
        try:
            conn = sqlite3.connect(f"{self.file.as_uri()}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return
        try:
            values = {name: conn.execute(sql).fetchone()[0] for name, (_, sql) in _STORE_COUNTS.items()}
            pending, unsaved = self._index_state(conn)
        except sqlite3.Error:
            return
        finally:
            conn.close()
        for name, (text, _) in _STORE_COUNTS.items():
            yield GaugeMetricFamily(name, text, value=values[name])
        yield GaugeMetricFamily(
            "ragstore_index_pending_records",
            "Records newer than their collection's saved vector index files (the index in memory may hold them; a restart replays them).",
            value=pending,
        )
        yield GaugeMetricFamily(
            "ragstore_index_unsaved_collections", "Collections with records but no saved vector index (rebuilt when loaded).", value=unsaved
        )
        size = sum(_size(self.file.with_name(self.file.name + suffix)) for suffix in ("", "-wal"))
        yield GaugeMetricFamily("ragstore_store_bytes", "Size of the store's SQLite file and its write-ahead log.", value=size)

    def _index_state(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """(records newer than their collection's saved index, collections with records and no saved index).

        Reads each collection's ``meta.json`` (the sequence its graph has applied; see
        :mod:`ragstore.local.index_files`) and counts newer records on SQLite's ``(collection, seq)``
        index: one small file read and one index range a collection.
        """
        pending = unsaved = 0
        for pk, collection_id in conn.execute("SELECT pk, id FROM collections").fetchall():
            saved = _saved_seq(self.file.parent / INDEX_DIRECTORY / collection_id / "meta.json", collection_id)
            newer = conn.execute("SELECT count(*) FROM records WHERE collection_pk = ? AND seq > ?", (pk, saved or 0)).fetchone()[0]
            pending += newer
            unsaved += saved is None and newer > 0
        return pending, unsaved


def _saved_seq(meta: Path, collection_id: str) -> int | None:
    # Only the sequence: whether the files are intact is the engine's question when it loads them (and ragstore check's).
    try:
        saved = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("collection_id") != collection_id or not isinstance(saved.get("seq"), int):
        return None
    return int(saved["seq"])


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


class ServerMetrics:
    """The metrics of one server (see the module docstring).

    Args:
        store: The store's directory, for the store gauges; ``None`` (a store in memory, or an
            engine that is not local) leaves them out.

    """

    def __init__(self, store: Path | None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ragstore_http_requests", "HTTP requests answered.", ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram(
            "ragstore_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge("ragstore_http_requests_in_progress", "Requests being answered.", registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}  # bounded: routes x methods x statuses
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if store is not None:
            self.registry.register(StoreCollector(store))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # labels() validates and locks on every call: about half the cost of counting a request
            children = self._children[key] = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (blocks on SQLite: call it off the event loop)."""
        return generate_latest(self.registry)


def route_template(routes: Iterable[Any], method: str, path: str) -> str:
    """The template of the route answering ``method path`` (the ``route`` label), else :data:`UNMATCHED`.

    A path whose route exists for another method (a 405) keeps that route's template.

    Example:
        >>> from ragstore.server import create_app
        >>> from ragstore.local import LocalAPI
        >>> routes = create_app(LocalAPI(None)).routes
        >>> route_template(routes, "GET", "/api/v2/tenants/t/databases/d/collections/c1")
        '/api/v2/tenants/{tenant}/databases/{database}/collections/{name}'
        >>> route_template(routes, "POST", "/api/v2/tenants/t/databases/d/collections/c1/query")
        '/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query'
        >>> route_template(routes, "GET", "/wp-login.php")
        'unmatched'

    """
    record = match_record_route(method, path)
    if record is not None:  # most traffic: one regular expression instead of a walk over every route
        return f"/api/v2/tenants/{{tenant}}/databases/{{database}}/collections/{{collection_id}}/{record[3]}"
    wanted = "GET" if method == "HEAD" else method
    partial = None
    # Each route's own compiled regex and method set: Route.matches() also converts the path's parameters,
    # which made a walk over the app's ~40 routes cost 50-100 us a request against ~10 us this way.
    for template, regex, methods in _flat(routes):
        if regex.match(path):
            if methods is None or wanted in methods:
                return template
            partial = partial or template
    return partial or UNMATCHED


def _flat(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, re.Pattern[str], set[str] | None]]:
    # FastAPI 0.16x keeps an included router as one entry (its routes are not copied into the app's),
    # and its matches() tells no template: walk into it.
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", ""))
            continue
        regex = getattr(route, "path_regex", None)
        if regex is None:  # a mount or a websocket route: no HTTP template to name
            continue
        if prefix:
            regex = re.compile(re.escape(prefix) + regex.pattern.lstrip("^"))
        yield prefix + route.path, regex, getattr(route, "methods", None)
