"""The HTTP/1.1 connection protocol ``ragstore run`` serves with: uvicorn's, with a bounded request head.

uvicorn's httptools protocol puts no limit on the request line and headers:
llhttp hands a header over in pieces and httptools joins them, so one 100 MB
header held about 170 MB and stalled the event loop (a concurrent heartbeat
waited 12.3 s) before any middleware, authentication included, could see the
request. :class:`BoundedHttpToolsProtocol` counts the bytes of each request
head as they arrive and answers ``431 Request Header Fields Too Large`` (in
Chroma's error shape) and closes the connection once the head passes
:data:`MAX_HEAD_BYTES` or carries more than :data:`MAX_HEADER_COUNT` fields.
Python's own ``http.client`` uses the same two numbers.

Without httptools installed uvicorn falls back to h11, whose
``max_incomplete_event_size`` bounds the head the same way (h11 answers 400);
:func:`protocol_options` picks one or the other.

Example:
    >>> options = protocol_options()
    >>> options["http"] is BoundedHttpToolsProtocol or options["h11_max_incomplete_event_size"] == MAX_HEAD_BYTES
    True

"""

from __future__ import annotations

import logging
from typing import Any

from ragstore.errors import RequestTooLargeError
from ragstore.server.errors import error_response

logger = logging.getLogger("ragstore.server")

MAX_HEAD_BYTES = 64 * 1024
"""Largest request line plus headers, in bytes (a request past it gets 431)."""

MAX_HEADER_COUNT = 100
"""Most header fields in one request (more get 431)."""


class HeadTooLarge(Exception):  # noqa: N818 - a signal out of a parser callback, never raised to a caller
    """Raised inside a parser callback to stop parsing a request whose head is over a limit."""


def head_refusal(message: str) -> bytes:
    r"""The complete ``431`` response (Chroma's error shape), closing the connection.

    Example:
        >>> head_refusal("too big").split(b"\r\n")[0]
        b'HTTP/1.1 431 Request Header Fields Too Large'

    """
    body = bytes(error_response(RequestTooLargeError(message), status=431).body)
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with :data:`MAX_HEAD_BYTES` and :data:`MAX_HEADER_COUNT`.

        Only parser callbacks (httptools' public interface) and ``data_received`` are
        extended; the request and response handling stay uvicorn's.

        Example:
            >>> BoundedHttpToolsProtocol.__mro__[1].__name__
            'HttpToolsProtocol'

        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # a connection starts with a request head
            self._head_bytes = 0
            self._heads_completed = 0
            self._header_count = 0
            self._refusal: str | None = None

        def data_received(self, data: bytes) -> None:
            """Parse ``data``; refuse the request once its head is over the limit."""
            was_in_head, heads_before = self._in_head, self._heads_completed
            super().data_received(data)
            if self._refusal is not None or self.transport.is_closing() or not self._in_head:
                return
            # Counted after parsing, so only a chunk that held nothing but one open head is charged
            # (a chunk that also ended a head or a body would charge that request's bytes to the next
            # head); a head past the limit has cost at most two more chunks (256 KiB each) than the limit.
            if was_in_head and self._heads_completed == heads_before:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse(f"Request line and headers exceed the server's limit of {MAX_HEAD_BYTES} bytes")

        def on_message_begin(self) -> None:
            """A new request: its head starts here."""
            super().on_message_begin()
            self._in_head = True
            self._header_count = 0

        def on_header(self, name: bytes, value: bytes) -> None:
            """Count the fields; stop the parser past :data:`MAX_HEADER_COUNT`."""
            self._header_count += 1
            if self._header_count > MAX_HEADER_COUNT:
                self._refusal = f"Request has more than the server's limit of {MAX_HEADER_COUNT} header fields"
                raise HeadTooLarge(self._refusal)  # httptools turns it into a parser error, see send_400_response
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            """The head is complete: the body (if any) is the body limit's business."""
            self._in_head = False
            self._head_bytes = 0
            self._heads_completed += 1
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            """The request is complete; the next bytes on this connection start a new head."""
            super().on_message_complete()
            self._in_head = True

        def send_400_response(self, msg: str) -> None:
            """Answer a parser error as uvicorn does, or with 431 when a limit stopped the parser."""
            if self._refusal is None:
                super().send_400_response(msg)
                return
            self._refuse(self._refusal)

        def _refuse(self, message: str) -> None:
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            logger.warning("refused a request from %s: %s", client, message)
            self._refusal = message
            self.transport.write(head_refusal(message))
            self.transport.close()

else:  # pragma: no cover - only without httptools
    BoundedHttpToolsProtocol = None  # type: ignore[assignment,misc]


def protocol_options() -> dict[str, Any]:
    """The ``uvicorn.Config`` keyword arguments that bound every request head.

    Example:
        >>> sorted(protocol_options())
        ['h11_max_incomplete_event_size', 'http']

    """
    if BoundedHttpToolsProtocol is not None:
        return {"http": BoundedHttpToolsProtocol, "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
    return {"http": "h11", "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
