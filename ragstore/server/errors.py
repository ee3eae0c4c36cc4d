"""The one way the server turns an exception into its answer: :func:`error_response`.

Every server path answers a failure through it: the route handlers (FastAPI's
exception handlers), the record dispatcher, the guards in front of them
(:mod:`ragstore.server.security`, :mod:`ragstore.server.origin`) and the
431 written by the HTTP protocol itself (:mod:`ragstore.server.protocol`). So
the same error has the same body on every path, in Chroma's shape
``{"error": <wire name>, "message": ...}``, and its status and wire name come
from the error class itself. Where HTTP has a more precise status than the class
(403 for a wrong token, 415, 421, 431), the caller passes it; headers such as
``WWW-Authenticate`` or ``Allow`` are passed the same way.

Anything that is not a :class:`~ragstore.errors.RagstoreError` is logged with its
traceback and an incident id, and answered as an ``InternalError`` naming only
that id (:func:`internal_error`): exception texts carry the host's paths and
process ids.

Example:
    >>> from ragstore.errors import NotFoundError
    >>> answer = error_response(NotFoundError("Collection [x] does not exist"))
    >>> answer.status_code, answer.body
    (404, b'{"error":"NotFoundError","message":"Collection [x] does not exist"}')

"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import Response

from ragstore.errors import InternalError, RagstoreError
from ragstore.http.wire import JSON_CONTENT_TYPE, dumps
from ragstore.http.wire_answers import error_to_json

logger = logging.getLogger("ragstore.server")

# Starlette's own HTTP errors (405 and the like) have no ragstore class; they travel under this name.
HTTP_ERROR_WIRE_NAME = "HTTPError"


def error_response(
    exc: BaseException, *, where: str = "the server", status: int | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The JSON answer for ``exc``, with the status and wire name of its class.

    Args:
        exc: What went wrong: a ragstore error (sent as itself), Starlette's ``HTTPException``
            (sent as ``HTTPError`` with its status and headers), or anything else (logged, then
            sent as an ``InternalError`` with an incident id).
        where: Names the failing request or call in the log line of an unexpected failure.
        status: A more precise HTTP status than the class's own (403 for a wrong token, 415, 421, 431).
        headers: Extra response headers (``WWW-Authenticate``, ``Allow`` ...).

    Example:
        >>> from ragstore.errors import AuthenticationError
        >>> answer = error_response(AuthenticationError("Forbidden"), status=403)
        >>> answer.status_code, answer.body
        (403, b'{"error":"AuthError","message":"Forbidden"}')

    """
    extra = dict(headers or {})
    if isinstance(exc, RagstoreError):
        payload, code = error_to_json(exc), exc.status_code
    elif isinstance(exc, HTTPException):
        payload, code = {"error": HTTP_ERROR_WIRE_NAME, "message": str(exc.detail)}, exc.status_code
        extra = {**(exc.headers or {}), **extra}
    else:
        internal = internal_error(exc, where)
        payload, code = error_to_json(internal), internal.status_code
    response = Response(content=dumps(payload), status_code=status or code, media_type=JSON_CONTENT_TYPE)
    response.headers.update(extra)
    return response


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
