"""Small helpers every route uses: reach the engine, run it off the event loop, answer in JSON.

Engine calls block (SQLite, hnswlib), so they run in Starlette's thread
pool: queries proceed in parallel and the event loop keeps accepting
connections. Errors the engine raises on purpose travel as Chroma's
``{"error", "message"}``; anything else becomes an ``InternalError`` naming only
an incident id (:func:`ragstore.server.errors.internal_error`), and
:func:`ragstore.server.errors.error_response` answers both.

Example:
    >>> json_response({"ok": True}).body
    b'{"ok":true}'

"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ragstore.api import API
from ragstore.errors import RagstoreError
from ragstore.http.wire import JSON_CONTENT_TYPE, dumps, json_object
from ragstore.server.errors import internal_error

T = TypeVar("T")


def engine(request: Request) -> API:
    """The engine the app wraps: any :class:`~ragstore.api.API` (``ragstore run`` gives it a ``LocalAPI``)."""
    api: API = request.app.state.api
    return api


def json_response(value: Any, status_code: int = 200) -> Response:
    """A JSON response (numpy arrays serialised natively)."""
    return Response(content=dumps(value), status_code=status_code, media_type=JSON_CONTENT_TYPE)


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` in the thread pool; unexpected failures become :class:`InternalError`."""
    return await run_in_threadpool(functools.partial(_guarded, fn, *args, **kwargs))


def _guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except RagstoreError:
        raise
    except Exception as exc:
        raise internal_error(exc, getattr(fn, "__name__", repr(fn))) from exc


async def read_object(request: Request, what: str) -> dict[str, Any]:
    """The request body as a JSON object (parsed in the thread pool: bodies can be large)."""
    body = await request.body()
    return await call(json_object, body, what)
