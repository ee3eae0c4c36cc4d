"""OpenAICompatibleEmbeddingFunction against a real local HTTP server speaking ``/v1/embeddings``.

The server (``http.server`` in a thread on 127.0.0.1) embeds with the hashing
embedder, answers in shuffled order (clients must use ``index``), and can be
told to fail the next requests, to misbehave, or to require a key.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.embeddings import HashingEmbeddingFunction, OpenAICompatibleEmbeddingFunction, build_embedding_function
from ragstore.embeddings.openai_compatible import endpoint_for

TRUTH = HashingEmbeddingFunction(dim=16)


@dataclass
class Plan:
    """What the fake server does; tests change it between calls."""

    failures: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)  # (status, headers, body) answered first
    drops: int = 0  # close the connection without an answer this many times first
    mode: str = "ok"  # ok | short | non_numeric | repeated_index | mixed_dims | (bad_)base64 | not_json | slow
    api_key: str | None = None
    models: tuple[str, ...] = ("test-embed",)
    requests: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    server: EmbeddingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the request log
        pass

    def do_POST(self) -> None:
        plan = self.server.plan
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        plan.times.append(time.monotonic())
        plan.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if plan.drops:
            plan.drops -= 1
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if plan.failures:
            status, headers, error = plan.failures.pop(0)
            return self.reply(status, error, headers)
        if self.path != "/v1/embeddings":
            return self.reply(404, {"detail": "Not Found"})
        if plan.api_key is not None and self.headers.get("Authorization") != f"Bearer {plan.api_key}":
            return self.reply(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        if body.get("model") not in plan.models:
            return self.reply(404, {"error": f"model '{body.get('model')}' not found"})  # Ollama's shape
        if plan.mode == "slow":
            time.sleep(1.0)
        texts = body["input"]
        vectors = [v.tolist() for v in TRUTH(texts)]
        if "dimensions" in body:
            vectors = [v[: body["dimensions"]] for v in vectors]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        random.Random(len(plan.requests)).shuffle(data)
        if plan.mode == "short":
            data = data[1:]
        elif plan.mode == "non_numeric":
            data[0]["embedding"] = ["0.1", "x"]
        elif plan.mode == "repeated_index":
            data[-1]["index"] = data[0]["index"]
        elif plan.mode == "mixed_dims":
            data[0]["embedding"] = data[0]["embedding"][:3]
        elif plan.mode == "bad_base64":
            data[0]["embedding"] = "not base64!"
        elif plan.mode == "base64":
            for item in data:
                item["embedding"] = base64.b64encode(np.asarray(item["embedding"], dtype="<f4").tobytes()).decode()
        if plan.mode == "not_json":
            return self.reply(200, "<html>proxy page</html>")
        self.reply(200, {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class EmbeddingServer(ThreadingHTTPServer):
    daemon_threads = True
    plan: Plan

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[None]:
        """Serve from a thread for the ``with`` block, then stop, close the socket and wait for the thread."""
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.shutdown()
            self.server_close()
            thread.join(timeout=10)


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    httpd = EmbeddingServer(("127.0.0.1", 0), Handler)
    httpd.plan = Plan()
    with httpd.running():
        yield httpd


@pytest.fixture
def make(server: EmbeddingServer) -> Iterator[Any]:
    made: list[OpenAICompatibleEmbeddingFunction] = []

    def factory(**kwargs: Any) -> OpenAICompatibleEmbeddingFunction:
        options: dict[str, Any] = {"base_url": server.url + "/v1", "model": "test-embed", "retry_backoff": 0.01, **kwargs}
        ef = OpenAICompatibleEmbeddingFunction(**options)
        made.append(ef)
        return ef

    yield factory
    for ef in made:
        ef.close()


def truth(texts: list[str]) -> np.ndarray[Any, Any]:
    return np.stack(TRUTH(texts))


# ---------------------------------------------------------------------------------- the happy path


def test_batches_and_restores_order_by_index(server: EmbeddingServer, make: Any) -> None:
    texts = [f"document number {i} about {'cats' if i % 2 else 'dogs'}" for i in range(300)]
    got = np.stack(make()(texts))
    np.testing.assert_allclose(got, truth(texts), atol=1e-6)
    assert [len(r["body"]["input"]) for r in server.plan.requests] == [128, 128, 44]
    assert {r["path"] for r in server.plan.requests} == {"/v1/embeddings"}
    assert all(r["body"]["model"] == "test-embed" for r in server.plan.requests)
    assert make()([]) == []


def test_dimensions_are_requested_and_checked(server: EmbeddingServer, make: Any) -> None:
    (v,) = make(dimensions=8)(["short"])
    assert v.shape == (8,) and server.plan.requests[-1]["body"]["dimensions"] == 8
    server.plan.failures = [(200, {}, {"data": [{"index": 0, "embedding": [0.5] * 16}]})]  # a server that ignores `dimensions`
    with pytest.raises(ragstore.InvalidArgumentError, match="returned 16 dimensions; 8 were requested"):
        make(dimensions=8)(["x"])


def test_base64_answers_are_decoded(server: EmbeddingServer, make: Any) -> None:
    server.plan.mode = "base64"
    np.testing.assert_allclose(np.stack(make()(["a", "bb", "ccc"])), truth(["a", "bb", "ccc"]), atol=1e-6)


def test_the_key_comes_from_the_named_environment_variable_and_is_never_persisted(
    server: EmbeddingServer, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.plan.api_key = "sk-secret"
    monkeypatch.setenv("MY_EMBED_KEY", "sk-secret")
    ef = make(api_key_env_var="MY_EMBED_KEY")
    ef(["hello"])
    assert server.plan.requests[-1]["auth"] == "Bearer sk-secret"
    assert "sk-secret" not in json.dumps(ef.get_config())
    explicit = make(api_key="sk-secret", api_key_env_var="UNSET_VARIABLE_FOR_TEST")
    explicit(["hello"])
    assert server.plan.requests[-1]["auth"] == "Bearer sk-secret"
    with pytest.raises(ragstore.AuthenticationError, match=r"HTTP 401\): Incorrect API key provided"):
        make(api_key_env_var="UNSET_VARIABLE_FOR_TEST")(["hello"])


# ---------------------------------------------------------------------------------- retries


def test_429_and_500_are_retried_honouring_retry_after(server: EmbeddingServer, make: Any) -> None:
    server.plan.failures = [
        (429, {"Retry-After": "0.3"}, {"error": {"message": "Rate limit reached"}}),
        (500, {}, {"error": {"message": "overloaded"}}),
    ]
    started = time.monotonic()
    got = make()(["retry me"])
    np.testing.assert_allclose(got[0], truth(["retry me"])[0], atol=1e-6)
    assert len(server.plan.requests) == 3
    assert server.plan.times[1] - server.plan.times[0] >= 0.29  # waited as told
    assert time.monotonic() - started < 5


def test_backoff_grows_exponentially(server: EmbeddingServer, make: Any) -> None:
    server.plan.failures = [(503, {}, {"message": "warming up"})] * 4
    make(retry_backoff=0.05)(["x"])
    gaps = np.diff(server.plan.times)
    assert len(gaps) == 4
    for attempt, gap in enumerate(gaps):  # jitter keeps each wait in [0.5, 1] x 0.05 x 2^attempt
        assert gap >= 0.5 * 0.05 * 2**attempt - 0.005, (attempt, gaps)


def test_dropped_connections_are_retried(server: EmbeddingServer, make: Any) -> None:
    server.plan.drops = 2
    assert len(make()(["after two drops"])) == 1
    assert len(server.plan.requests) == 3


def test_persistent_server_errors_give_up_with_the_servers_message(server: EmbeddingServer, make: Any) -> None:
    server.plan.failures = [(500, {}, {"error": {"message": "CUDA out of memory"}})] * 10
    with pytest.raises(ragstore.InternalError, match=r"HTTP 500\): CUDA out of memory \(after 3 attempts\)"):
        make(max_retries=2)(["x"])
    assert len(server.plan.requests) == 3


def test_an_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    ef = OpenAICompatibleEmbeddingFunction(f"http://127.0.0.1:{port}", "m", max_retries=1, retry_backoff=0.01)
    with ef, pytest.raises(ragstore.ServerConnectionError, match=r"Could not reach the embedding server .*after 2 attempts"):
        ef(["x"])


def test_a_timeout_is_retried_then_reported(server: EmbeddingServer, make: Any) -> None:
    server.plan.mode = "slow"
    with pytest.raises(ragstore.ServerConnectionError, match="ReadTimeout"):
        make(timeout=0.2, max_retries=1)(["x"])
    assert len(server.plan.requests) == 2


# ---------------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize(
    ("failure", "cls", "message"),
    [
        ((400, {}, {"error": {"message": "This model's maximum context length is 8192 tokens"}}), ragstore.InvalidArgumentError, "8192"),
        ((422, {}, {"detail": [{"msg": "field required"}]}), ragstore.InvalidArgumentError, "field required"),
        ((403, {}, {"error": "forbidden for this project"}), ragstore.AuthenticationError, "forbidden"),
        ((413, {}, "payload too large"), ragstore.InvalidArgumentError, "payload too large"),
    ],
)
def test_client_errors_are_not_retried_and_carry_the_message(
    server: EmbeddingServer, make: Any, failure: Any, cls: type[Exception], message: str
) -> None:
    server.plan.failures = [failure]
    with pytest.raises(cls, match=message) as info:
        make()(["x"])
    assert type(info.value) is cls and f"HTTP {failure[0]}" in str(info.value)
    assert len(server.plan.requests) == 1


def test_unknown_model_and_wrong_path(server: EmbeddingServer, make: Any) -> None:
    with pytest.raises(ragstore.InvalidArgumentError, match="model 'nope' not found"):
        make(model="nope")(["x"])
    with pytest.raises(ragstore.InvalidArgumentError, match=r"HTTP 404.*Not Found"):
        make(base_url=server.url + "/api")(["x"])


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "returned 2 embeddings for 3 inputs"),
        ("non_numeric", "non-numeric embedding"),
        ("repeated_index", "invalid or repeated index"),
        ("mixed_dims", "different dimensions"),
        ("not_json", "invalid JSON"),
        ("bad_base64", "undecodable base64"),
    ],
)
def test_malformed_answers_are_clear_errors(server: EmbeddingServer, make: Any, mode: str, message: str) -> None:
    server.plan.mode = mode
    with pytest.raises(ragstore.InvalidArgumentError, match=message):
        make()(["one", "two", "three"])


def test_arguments_are_validated() -> None:
    for bad in ({"base_url": "localhost:8080"}, {"model": ""}, {"batch_size": 0}, {"max_retries": -1}, {"dimensions": 0}, {"timeout": 0}):
        with pytest.raises(ragstore.InvalidArgumentError):
            OpenAICompatibleEmbeddingFunction(**{"base_url": "http://h", "model": "m", **bad})
    assert endpoint_for("http://h:8080/v1/embeddings") == "http://h:8080/v1/embeddings"


# ---------------------------------------------------------------------------------- through collections, every mode


def test_collections_embed_through_the_server_and_rebuild_it(
    server: EmbeddingServer, make: Any, client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.plan.api_key = "sk-collection"
    monkeypatch.setenv("RAGSTORE_TEST_EMBED_KEY", "sk-collection")
    ef = make(api_key_env_var="RAGSTORE_TEST_EMBED_KEY", batch_size=2)
    col = client.create_collection("remote", embedding_function=ef)
    col.add(ids=["a", "b", "c"], documents=["red apples", "blue sky", "green grass"])
    assert col.configuration["hnsw"]["space"] == "cosine"
    stored = col.configuration["embedding_function"]
    assert stored == {"type": "known", "name": "ragstore_openai_compatible", "config": ef.get_config()}
    assert "sk-collection" not in json.dumps(stored)
    again = client.get_collection("remote")
    rebuilt = again.embedding_function
    assert isinstance(rebuilt, OpenAICompatibleEmbeddingFunction) and rebuilt.get_config() == ef.get_config()
    try:
        assert again.query(query_texts=["blue sky"], n_results=1)["ids"] == [["b"]]
    finally:
        rebuilt.close()
    assert type(build_embedding_function(stored)) is OpenAICompatibleEmbeddingFunction
