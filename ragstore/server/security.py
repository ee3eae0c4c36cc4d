"""ASGI middleware that guards the server before any handler runs.

:class:`TokenAuth` checks a bearer token from the request headers alone, so
an unauthenticated client never gets its body read. :class:`BodyLimit`
refuses request bodies above a size: at once when ``Content-Length`` says so,
otherwise while the body streams in. Both answer with Chroma's error shape.

Example:
    >>> async def app(scope, receive, send): ...
    >>> guarded = TokenAuth(BodyLimit(app, max_bytes=1024), token="s3cret")
    >>> guarded.token
    's3cret'

"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ragstore.errors import AuthenticationError, InvalidArgumentError, RagstoreError, RequestTooLargeError
from ragstore.http.wire import API_PREFIX
from ragstore.server.errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Paths anyone may call: liveness checks and the API description (as chromadb's server does).
OPEN_PATHS = frozenset(
    {
        f"{API_PREFIX}/heartbeat",
        f"{API_PREFIX}/version",
        f"{API_PREFIX}/healthcheck",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)


async def send_error(send: Send, exc: RagstoreError, status: int | None = None, headers: Mapping[str, str] | None = None) -> None:
    """Send :func:`~ragstore.server.errors.error_response` for ``exc`` from ASGI middleware (no ``Request`` there)."""
    response = error_response(exc, status=status, headers=headers)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def declare_token_auth(schema: dict[str, Any]) -> None:
    """Declare :class:`TokenAuth`'s two schemes in an OpenAPI ``schema``, open paths exempt.

    Example:
        >>> schema = {"paths": {f"{API_PREFIX}/heartbeat": {"get": {}}, f"{API_PREFIX}/reset": {"post": {}}}}
        >>> declare_token_auth(schema)
        >>> schema["security"], schema["paths"][f"{API_PREFIX}/heartbeat"]["get"]["security"]
        ([{'bearerAuth': []}, {'chromaToken': []}], [])

    """
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["bearerAuth"] = {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"}
    schemes["chromaToken"] = {"type": "apiKey", "in": "header", "name": "X-Chroma-Token", "description": "X-Chroma-Token: <token>"}
    schema["security"] = [{"bearerAuth": []}, {"chromaToken": []}]  # either one
    for path, operations in schema.get("paths", {}).items():
        if path in OPEN_PATHS:
            for operation in operations.values():
                operation["security"] = []


def presented_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token in ``Authorization: Bearer <t>`` or ``X-Chroma-Token: <t>``, if any.

    Example:
        >>> presented_token([(b"authorization", b"Bearer abc")])
        b'abc'
        >>> presented_token([(b"x-chroma-token", b"abc")])
        b'abc'

    """
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                return credentials.strip()
        elif name == b"x-chroma-token" and value.strip():
            return value.strip()
    return None


class TokenAuth:
    """Require a static token on every path outside :data:`OPEN_PATHS`.

    Missing credentials answer 401, a wrong token 403 (``AuthError``); the
    comparison takes constant time.

    Args:
        app: The application behind the check.
        token: The token every request must present.
        open_paths: Paths answered without it (``/metrics`` joins them with ``ragstore run --metrics-public``).

    """

    def __init__(self, app: ASGIApp, token: str, open_paths: frozenset[str] | set[str] = OPEN_PATHS) -> None:
        self.app = app
        self.token = token
        self.open_paths = frozenset(open_paths)
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or scope["path"] in self.open_paths or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        token = presented_token(scope["headers"])
        if token is None:
            await send_error(
                send,
                AuthenticationError("Missing credentials: send 'Authorization: Bearer <token>' or 'X-Chroma-Token: <token>'"),
                headers={"WWW-Authenticate": "Bearer"},
            )
            return
        if not hmac.compare_digest(token, self._expected):
            await send_error(send, AuthenticationError("Forbidden"), status=403)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with 413 ``RequestTooLarge``.

    A declared ``Content-Length`` is checked before anything is read; a chunked
    body is buffered here up to the limit and then replayed to the app.

    Args:
        app: The application behind the limit.
        max_bytes: Largest body accepted.
        hint: Appended to the error message (what the client can do about it).

    """

    def __init__(self, app: ASGIApp, max_bytes: int, hint: str = " (ragstore run --max-body-size); send smaller batches") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.hint = hint

    def _message(self, size: int | None) -> str:
        got = f" of {size} bytes" if size is not None else ""  # a streamed body: its size is unknown
        return f"Request body{got} exceeds the server's limit of {self.max_bytes} bytes{self.hint}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [value for name, value in scope["headers"] if name == b"content-length"]
        if declared:
            try:
                size = int(declared[0])
            except ValueError:
                await send_error(send, InvalidArgumentError("Malformed Content-Length header"))
                return
            if size > self.max_bytes:
                await send_error(send, RequestTooLargeError(self._message(size)))
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await send_error(send, RequestTooLargeError(self._message(None)))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
