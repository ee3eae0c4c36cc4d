"""examples/langchain_rag.py with an LLM: a real local OpenAI-compatible ``/v1/chat/completions`` server.

The server (``http.server`` in a thread on 127.0.0.1, port 0) records every request and answers a
fixed completion: plain JSON, or server-sent events when the request asks for ``stream: true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "langchain_rag.py"
HTTPX_DOCS = Path(__file__).resolve().parents[4] / "shared" / "data" / "docs" / "markdown" / "httpx"
FILES = ("http2.md", "exceptions.md")
QUESTION = "How do I enable HTTP/2?"
ANSWER = "Pass http2=True to httpx.Client after installing httpx[http2] [http2.md]."
MODEL = "test-chat-model"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ChatServer:
    """What the chat server answers, and the requests it received."""

    status: int = 200
    requests: list[Received] = field(default_factory=list)
    url: str = ""


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path != "/v1/chat/completions":
                self._send(404, "application/json", json.dumps({"error": {"message": "not found"}}).encode())
            elif state.status != 200:
                self._send(state.status, "application/json", json.dumps({"error": {"message": "model overloaded"}}).encode())
            elif body.get("stream"):
                chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
                chunks += [{"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in re.findall(r"\S+\s*", ANSWER)]
                chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                events = "".join(f"data: {json.dumps({'object': 'chat.completion.chunk', 'model': MODEL, **c})}\n\n" for c in chunks)
                self._send(200, "text/event-stream", (events + "data: [DONE]\n\n").encode())
            else:
                completion = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(200, "application/json", json.dumps(completion).encode())

        def _send(self, status: int, content_type: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
            pass

    return Handler


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in FILES:
        shutil.copy(HTTPX_DOCS / name, folder / name)
    base = {k: v for k, v in os.environ.items() if k not in ("LLM_URL", "LLM_MODEL", "LLM_API_KEY")}
    command = [sys.executable, str(EXAMPLE), str(folder), "--path", str(tmp_path / "store"), "-q", QUESTION, "-k", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**base, "HF_HUB_OFFLINE": "1", **env})


def test_example_answers_with_chat_endpoint(tmp_path: Path, chat_server: ChatServer) -> None:
    result = _run(tmp_path, ["--llm-url", chat_server.url, "--llm-model", MODEL], LLM_API_KEY="sk-test-key")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    answer = out.split("A: ", 1)[1].split("\nSources:", 1)[0]
    assert answer == ANSWER
    sources = out.split("Sources:", 1)[1].split()
    assert "http2.md" in sources

    assert len(chat_server.requests) == 1
    request = chat_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.body["model"] == MODEL
    messages = request.body["messages"]
    assert [m["role"] for m in messages][-1] == "user"
    prompt = "\n".join(m["content"] for m in messages)
    assert QUESTION in prompt
    assert "[http2.md]" in prompt
    doc_lines = [line for line in (HTTPX_DOCS / "http2.md").read_text().splitlines() if len(line) >= 30]
    assert any(line in prompt for line in doc_lines), "no text of http2.md in the prompt"


def test_example_reports_failing_endpoint(tmp_path: Path, chat_server: ChatServer) -> None:
    """HTTP 500 from the endpoint (configured through LLM_URL/LLM_MODEL): a one-line error and exit 1."""
    chat_server.status = 500
    result = _run(tmp_path, [], LLM_URL=chat_server.url, LLM_MODEL=MODEL)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "HTTP 500" in error[0] and f"{chat_server.url}/chat/completions" in error[0] and "model overloaded" in error[0]
    assert "\nA: " not in result.stdout
    assert len(chat_server.requests) == 1
    assert chat_server.requests[0].body["model"] == MODEL
    assert "authorization" not in chat_server.requests[0].headers  # no LLM_API_KEY, no header


def test_example_reports_unreachable_endpoint(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    result = _run(tmp_path, ["--llm-url", url, "--llm-model", MODEL])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "cannot reach" in error[0] and f"{url}/chat/completions" in error[0]
