"""``create_app``: the REST v2 server as a FastAPI application around one :class:`~ragstore.api.API`.

There is no second engine: the server depends only on the ``API`` protocol,
and ``ragstore run`` gives it the same ``LocalAPI`` a ``PersistentClient``
uses, so every mode answers alike. Middleware order
(outermost first), so that every guard covers every route: the request id,
access log line and metrics of every answer, refusals included
(:mod:`ragstore.server.request_log`), the ``Host`` check
and CORS (:mod:`ragstore.server.origin`, when configured), token auth (headers
only, before any body is read), the body-size limit, JSON-only bodies, ``HEAD``
served as ``GET`` without the body, then the record routes' own dispatch
(:mod:`ragstore.server.record_dispatch`), then FastAPI.

Example:
    >>> from ragstore.local import LocalAPI
    >>> app = create_app(LocalAPI(None), ServerConfig())
    >>> app.title
    'ragstore'

"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from ragstore._version import __version__
from ragstore.api import API
from ragstore.errors import InvalidArgumentError, NotFoundError, RagstoreError, UnimplementedError
from ragstore.server import routes_collections, routes_system
from ragstore.server.errors import error_response
from ragstore.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ragstore.server.metrics import ServerMetrics
from ragstore.server.origin import HostCheck, HostPolicy, JsonBodies, with_cors
from ragstore.server.record_dispatch import RecordDispatch
from ragstore.server.request_log import RequestTracking
from ragstore.server.security import OPEN_PATHS, ASGIApp, BodyLimit, Receive, Scope, Send, TokenAuth, declare_token_auth

# Methods a route may answer; a 405's ``Allow`` header lists those the path has.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024
METRICS_PATH = "/metrics"


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """How the server guards itself.

    Attributes:
        auth_token: Required token (``Authorization: Bearer`` or ``X-Chroma-Token``);
            ``None`` serves without authentication (``ragstore run`` reads ``RAGSTORE_AUTH_TOKEN``;
            the app itself never looks at the environment).
        max_body_size: Largest request body in bytes (larger ones get 413).
        hosts: The ``Host`` headers answered (``ragstore run`` derives it from the bound
            address); ``None`` answers any (an app mounted in-process has no address).
        cors_origins: Origins whose pages may call the server (``*`` = any); none by default.
        metrics: Serve Prometheus metrics at ``GET /metrics`` (:mod:`ragstore.server.metrics`).
        metrics_public: Let ``/metrics`` be scraped without the token (it names no record, only counts).
        backup_dir: Serve ``POST/GET /api/v2/ragstore/backups`` (:mod:`ragstore.backup_route`), taking
            backups of the served store into this folder; ``None`` serves no backup route.

    """

    auth_token: str | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    hosts: HostPolicy | None = None
    cors_origins: tuple[str, ...] = ()
    metrics: bool = True
    metrics_public: bool = False
    backup_dir: Path | None = None


class RagstoreApp(FastAPI):
    """The FastAPI app, with the guards of :class:`ServerConfig` around it."""

    def __init__(self, api: API, config: ServerConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state.api = api
        self.state.config = config
        store = getattr(api, "path", None)  # a LocalAPI's directory; other engines have no store file to count
        self.state.metrics = ServerMetrics(store if isinstance(store, Path) else None) if config.metrics else None
        guarded: ASGIApp = HeadAsGet(RecordDispatch(super().__call__, owner=self))
        guarded = BodyLimit(JsonBodies(guarded), config.max_body_size)
        if config.auth_token:
            public = {METRICS_PATH} if config.metrics_public else set()
            guarded = TokenAuth(guarded, config.auth_token, open_paths=OPEN_PATHS | public)
        guarded = with_cors(guarded, config.cors_origins)  # outside auth: preflights carry no token
        if config.hosts is not None:
            guarded = HostCheck(guarded, config.hosts)
        self._guarded = RequestTracking(guarded, routes=lambda: self.routes, metrics=self.state.metrics)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        await self._guarded(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, declaring the token schemes when a token is required."""
        fresh = self.openapi_schema is None  # FastAPI builds the document once and keeps it
        schema = super().openapi()
        if fresh and self.state.config.auth_token:
            declare_token_auth(schema)
        return schema

    def allowed_methods(self, path: str) -> list[str]:
        """The methods some route answers on ``path`` (``HEAD`` with ``GET``), for a 405's ``Allow``.

        Example:
            >>> from ragstore.local import LocalAPI
            >>> create_app(LocalAPI(None)).allowed_methods("/api/v2/heartbeat")
            ['GET', 'HEAD']

        """

        def answers(route: Any, method: str) -> bool:
            return route.matches({"type": "http", "path": path, "method": method})[0] is Match.FULL

        allowed = [method for method in _METHODS if any(answers(route, method) for route in self.routes)]
        return [*allowed, "HEAD"] if "GET" in allowed else allowed


class HeadAsGet:
    """Answer ``HEAD`` as the ``GET`` of the same path would, without the body.

    FastAPI's routes answer only the methods they declare, so ``HEAD`` on a
    ``GET`` route was a 405; the headers (``Content-Length`` included) stay
    those of the ``GET``, as HTTP asks.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> answer = TestClient(HeadAsGet(PlainTextResponse("ok"))).head("/")
        >>> answer.status_code, answer.headers["content-length"], answer.content
        (200, '2', b'')

    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Any) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


async def _error(request: Request, exc: Exception) -> Response:
    # A ragstore error as itself; any other failure outside the engine's thread pool (``handlers.call``
    # covers the engine itself) logged with an id and answered without its text (it may hold host
    # paths). Starlette re-raises the latter afterwards, so uvicorn logs the traceback as well.
    return error_response(exc, where=f"{request.method} {request.url.path}")


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
    return error_response(InvalidArgumentError(f"Invalid request: {problems}"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFoundError(f"No such endpoint: {request.method} {request.url.path}"))
    # Starlette names the methods of one route in a 405's Allow; the path may have several.
    allow = {"Allow": ", ".join(request.app.allowed_methods(request.url.path))} if exc.status_code == 405 else None
    return error_response(exc, headers=allow)


def create_app(api: API, config: ServerConfig | None = None) -> FastAPI:
    """The server application for ``api``, any :class:`~ragstore.api.API` (serve it with uvicorn).

    The app closes ``api`` when it shuts down (saving index caches).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        api.close()

    config = config or ServerConfig()
    app = RagstoreApp(
        api,
        config,
        title="ragstore",
        version=__version__,
        description="Chroma-compatible REST v2 API of a ragstore store.",
        lifespan=lifespan,
    )
    app.add_exception_handler(RagstoreError, _error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _error)
    app.include_router(routes_system.router)
    app.include_router(routes_collections.router)
    if config.backup_dir is not None:
        from ragstore.backup_route import backup_router  # only servers that take backups load it

        app.include_router(backup_router(config.backup_dir))

    if app.state.metrics is not None:

        @app.get(METRICS_PATH, include_in_schema=False)
        async def metrics(request: Request) -> Response:
            # The store's counts read SQLite: off the event loop, as every engine call.
            body = await run_in_threadpool(request.app.state.metrics.render)
            return Response(body, media_type=METRICS_CONTENT_TYPE)

    @app.api_route("/api/v1/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    async def v1_gone(rest: str) -> Response:
        raise UnimplementedError("The v1 API is deprecated. Please use /v2 apis")

    return app
