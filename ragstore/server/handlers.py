"""Small helpers every route uses: reach the engine, run it off the event loop, answer in JSON.

Engine calls block (SQLite, hnswlib), so they run in Starlette's thread
pool: queries proceed in parallel and the event loop keeps accepting
connections. Errors the engine raises on purpose travel as Chroma's
``{"error", "message"}``; anything else is logged and sent as ``InternalError``.

Example:
    >>> json_response({"ok": True}).body
    b'{"ok":true}'

"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ragstore.errors import InternalError, RagstoreError
from ragstore.http.wire import JSON_CONTENT_TYPE, dumps, error_to_json, json_object
from ragstore.local import LocalAPI

logger = logging.getLogger("ragstore.server")

T = TypeVar("T")


def engine(request: Request) -> LocalAPI:
    """The engine the app wraps."""
    api: LocalAPI = request.app.state.api
    return api


def json_response(value: Any, status_code: int = 200) -> Response:
    """A JSON response (numpy arrays serialised natively)."""
    return Response(content=dumps(value), status_code=status_code, media_type=JSON_CONTENT_TYPE)


def error_response(exc: RagstoreError) -> Response:
    """Chroma's error shape with the error's own status code."""
    return json_response(error_to_json(exc), exc.status_code)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` in the thread pool; unexpected failures become :class:`InternalError`."""
    return await run_in_threadpool(functools.partial(_guarded, fn, *args, **kwargs))


def _guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except RagstoreError:
        raise
    except Exception as exc:
        logger.exception("unexpected error in %s", getattr(fn, "__name__", fn))
        raise InternalError(f"{type(exc).__name__}: {exc}") from exc


async def read_object(request: Request, what: str) -> dict[str, Any]:
    """The request body as a JSON object (parsed in the thread pool: bodies can be large)."""
    body = await request.body()
    return await call(json_object, body, what)
