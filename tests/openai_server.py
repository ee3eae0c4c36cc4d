"""A real, local OpenAI-compatible chat server for tests of the examples' LLM paths.

``POST /v1/chat/completions`` on 127.0.0.1 (a free port, in a thread) records
every request and answers with fixed ``tokens``: server-sent events when the
request asks for ``stream: true`` (``data: [DONE]`` last), one JSON completion
otherwise, or an error status with OpenAI's error body when ``status`` is set.

To prove that a client streams, set ``hold`` (a :class:`threading.Event`): the
server sends the first token, then waits for the event before the rest; the
test sets it once it has seen the first token arrive (printed, or on a page).
``streamed`` tells whether it was set in time.

Example:
    >>> import httpx
    >>> with OpenAIServer(tokens=("Hi", "!")) as server:
    ...     reply = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "messages": []})
    >>> reply.json()["choices"][0]["message"]["content"], server.requests[0].body["model"]
    ('Hi!', 'm')

"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (header names in lower case)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class OpenAIServer:
    """The chat server (a context manager: started on enter, stopped on exit).

    Args:
        tokens: The answer's pieces, streamed one event each.
        status: HTTP status to answer with instead (an error body names "model overloaded").
        hold: When set, the stream waits for this event after the first token (up to ``hold_seconds``).
        hold_seconds: How long to wait for ``hold``.
    """

    def __init__(
        self,
        tokens: Sequence[str] = ("You ", "pass ", "`timeout=5.0`", " [1]."),
        status: int = 200,
        hold: threading.Event | None = None,
        hold_seconds: float = 20.0,
    ) -> None:
        self.tokens = tuple(tokens)
        self.status = status
        self.hold = hold
        self.hold_seconds = hold_seconds
        self.streamed = False
        self.requests: list[Received] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def answer(self) -> str:
        """The whole answer text."""
        return "".join(self.tokens)

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.hold is not None:
            self.hold.set()  # never leave a handler waiting
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            server.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
            elif server.status != 200:
                self._send(server.status, {"error": {"message": "model overloaded"}})
            elif body.get("stream"):
                self._stream(body)
            else:
                message = {"role": "assistant", "content": server.answer}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                usage = {"prompt_tokens": 1, "completion_tokens": len(server.tokens), "total_tokens": 1 + len(server.tokens)}
                self._send(
                    200,
                    {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"), "choices": [choice], "usage": usage},
                )

        def _stream(self, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self._event({"delta": {"role": "assistant", "content": ""}}, body)
            for number, token in enumerate(server.tokens):
                if number == 1 and server.hold is not None:
                    server.streamed = server.hold.wait(server.hold_seconds)
                self._event({"delta": {"content": token}}, body)
            self._event({"delta": {}, "finish_reason": "stop"}, body)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, choice: dict[str, Any], body: dict[str, Any]) -> None:
            chunk = {"object": "chat.completion.chunk", "model": body.get("model"), "choices": [{"index": 0, **choice}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
