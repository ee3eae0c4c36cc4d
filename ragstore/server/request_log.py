"""Every request's id, access log line and metrics: :class:`RequestTracking`, the outermost middleware.

Each answer carries its request id in the ``chroma-trace-id`` header, the header chromadb's
HTTP client reads into the ``trace_id`` of the error it raises (``chromadb/api/base_http_client.py``),
so an error a user reports names the access log line of its request. The id is a trace id as
OpenTelemetry writes one (32 hex digits, as ``chroma run`` sends): the caller's own when the request
carries a W3C ``traceparent`` header, else a fresh random one.

Being outermost, it sees the guards' refusals too (401, 413, 421), and it times a request from its
arrival to the last byte of its answer. The access log line goes to the ``ragstore.access`` logger
at INFO (``ragstore run --access-log``; :mod:`ragstore.server.log_format` writes it as text or
JSON); its fields are in the record's ``access`` attribute.

Example:
    >>> trace_id_of([(b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
    '4bf92f3577b34da6a3ce929d0e0e4736'
    >>> len(trace_id_of([]))
    32

"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from ragstore.http.wire import TRACE_HEADER
from ragstore.server.metrics import ServerMetrics, route_template
from ragstore.server.security import ASGIApp, Message, Receive, Scope, Send

"""The response header holding the request id (chromadb's client attaches it to its errors)."""

access_logger = logging.getLogger("ragstore.access")

_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_NO_TRACE = b"0" * 32  # W3C: an all-zero trace id is invalid


def trace_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request id: the trace id of a valid ``traceparent`` header, else 32 random hex digits."""
    for name, value in headers:
        if name == b"traceparent":
            match = _TRACEPARENT.match(value.strip())
            if match and match["trace"] != _NO_TRACE:
                return match["trace"].decode()
    # An id names a request; it guards nothing, so Mersenne Twister bits do (0.3 us against 1.5 us for os.urandom's syscall).
    return f"{random.getrandbits(128):032x}"


class RequestTracking:
    """ASGI middleware: a request id in every answer, then one access log line and the request's metrics.

    Args:
        app: The application behind it (the guards, then the routes).
        routes: Gives the app's routes, to name the ``route`` label and log field by template.
        metrics: Where requests are counted; ``None`` counts nothing.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> answer = TestClient(RequestTracking(PlainTextResponse("ok"), routes=list, metrics=None)).get("/")
        >>> len(answer.headers[TRACE_HEADER])
        32

    """

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable[Any]], metrics: ServerMetrics | None) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        trace_id = trace_id_of(scope["headers"])
        header = (TRACE_HEADER.encode(), trace_id.encode())
        status = 500  # what the server answers if the app fails before it starts an answer
        sent = 0

        async def tracked(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        if self.metrics is not None:
            self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, tracked)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"]
            route = route_template(self.routes(), method, scope["path"])
            if self.metrics is not None:
                self.metrics.in_progress.dec()
                self.metrics.observe(method, route, status, seconds)
            if access_logger.isEnabledFor(logging.INFO):
                _log_access(scope, trace_id, route, status, seconds, sent)


def _log_access(scope: Scope, trace_id: str, route: str, status: int, seconds: float, sent: int) -> None:
    # raw_path: the path as sent, still percent-encoded, so a path cannot put a space or a line break in the log.
    path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    client = scope.get("client")
    fields = {
        "trace_id": trace_id,
        "client": client[0] if client else None,
        "method": scope["method"],
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "bytes": sent,
    }
    text = " ".join(f"{name}={value}" for name, value in fields.items())
    access_logger.info(text, extra={"access": fields})
