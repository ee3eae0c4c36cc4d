"""Small helpers every route uses: reach the engine, run it off the event loop, answer in JSON.

Engine calls block (SQLite, hnswlib), so they run in Starlette's thread
pool: queries proceed in parallel and the event loop keeps accepting
connections. Errors the engine raises on purpose travel as Chroma's
``{"error", "message"}``; anything else is logged with its traceback and an
incident id, and sent as an ``InternalError`` naming only that id
(:func:`internal_error`): exception texts carry the host's paths and process ids.

Example:
    >>> json_response({"ok": True}).body
    b'{"ok":true}'

"""

from __future__ import annotations

import functools
import logging
import secrets
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


def internal_error(exc: BaseException, where: str) -> InternalError:
    """Log an unexpected failure with its traceback; the :class:`InternalError` to answer with.

    The answer names an incident id that is also in the log line, never the exception's
    text: that may hold the store's absolute path or a file name with the server's PID.

    Example:
        >>> error = internal_error(OSError(28, "No space left on device", "/srv/store/x"), "add")
        >>> error.message.startswith("Internal error (id ") and "/srv" not in error.message
        True

    """
    incident = secrets.token_hex(4)
    logger.error("Internal error (id %s) in %s", incident, where, exc_info=(type(exc), exc, exc.__traceback__))
    return InternalError(f"Internal error (id {incident}); see the server log")


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
