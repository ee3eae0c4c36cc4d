"""``ragstore run`` as a real process: its start line, options, signals, auth and limits over a real socket.

Each server is a ``python -m ragstore run --port 0`` child (:class:`servers.RunningServer`);
the environment never decides for a test (``RAGSTORE_*`` are cleared unless a test sets them).
In-process checks of the same guards are in ``tests/test_server.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import numpy as np
import pytest
from servers import RunningServer

import ragstore
from ragstore.cli import run as run_command
from ragstore.server import routes_collections, routes_system

TOKEN = "cli-s3cret"
BODY_LIMIT = 4096
HERMETIC = {"RAGSTORE_AUTH_TOKEN": "", "RAGSTORE_ALLOW_RESET": ""}  # empty means unset to click and to serve()


# ---------------------------------------------------------------------------------- helpers


def start(path: Path, *args: str, **env: str) -> RunningServer:
    """``ragstore run --path path --port 0 *args`` with only the given ``RAGSTORE_*`` variables set."""
    return RunningServer.start(path, list(args), env={**HERMETIC, **env})


def stop(server: RunningServer, sig: int = signal.SIGTERM) -> int:
    """Stop the server (its output is complete afterwards); returns the exit status."""
    return server.stop(sig)


@contextlib.contextmanager
def running(path: Path, *args: str, **env: str) -> Iterator[RunningServer]:
    server = start(path, *args, **env)
    try:
        yield server
    finally:
        stop(server)


def start_line(server: RunningServer, path: Path, auth: str = "off", reset: str = "disabled") -> str:
    """The exact line ``ragstore run`` prints once it listens."""
    return f"ragstore {ragstore.__version__} serving {path} at http://127.0.0.1:{server.port} (auth {auth}, reset {reset})\n"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listeners(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux ``/proc/net/tcp*``), as hex ``addr`` strings."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                    found.add(address)
    return found


def raw_request(port: int, head: str, timeout: float = 10.0) -> bytes:
    """Send only a request head over a socket and read the answer (the body is never sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def vectors(n: int, seed: int) -> Any:
    return np.random.default_rng(seed).random((n, 8), dtype=np.float32)


# ---------------------------------------------------------------------------------- a server with every default


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Started with a *relative* ``--path`` and no other option."""
    base = tmp_path_factory.mktemp("default")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        server = start(Path("store"))
    server.path = (base / "store").resolve()
    yield server
    assert stop(server) == 0


def test_the_start_line_names_the_address_and_the_absolute_path(default_server: RunningServer) -> None:
    assert default_server.output == [start_line(default_server, default_server.path)]
    assert default_server.path.is_absolute() and default_server.path.is_dir()


def test_it_binds_only_the_loopback_interface_by_default(default_server: RunningServer) -> None:
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("needs Linux /proc/net/tcp")
    assert listeners(default_server.port) == {"0100007F"}  # 127.0.0.1, little-endian hex; nothing on IPv6


def test_openapi_lists_every_route(default_server: RunningServer) -> None:
    paths = httpx.get(f"{default_server.url}/openapi.json").json()["paths"]
    declared = [
        (method, route.path)
        for router in (routes_system.router, routes_collections.router)
        for route in router.routes
        for method in sorted(getattr(route, "methods", set()) - {"HEAD"})
    ]
    assert len(declared) >= 25
    for method, path in declared:
        assert method.lower() in paths.get(path, {}), f"{method} {path} is missing from /openapi.json"


def test_docs_answer(default_server: RunningServer) -> None:
    docs = httpx.get(f"{default_server.url}/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text


def test_reset_is_refused_by_default(default_server: RunningServer) -> None:
    answer = httpx.post(f"{default_server.url}/api/v2/reset", headers={"Content-Type": "application/json"})  # as clients send
    assert answer.status_code == 403 and answer.json() == {"error": "AuthorizationError", "message": "Reset is disabled by config"}
    with ragstore.HttpClient(port=default_server.port) as client:
        client.get_or_create_collection("kept", embedding_function=None)
        with pytest.raises(ragstore.AuthorizationError, match=r"^Reset is disabled by config$"):
            client.reset()
        assert "kept" in [c.name for c in client.list_collections()]


@pytest.mark.parametrize(("args", "env"), [(["--allow-reset"], {}), ([], {"RAGSTORE_ALLOW_RESET": "1"})], ids=["flag", "env"])
def test_allow_reset_enables_reset(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    with running(tmp_path / "store", *args, **env) as server:
        assert server.output == [start_line(server, tmp_path / "store", reset="allowed")]
        with ragstore.HttpClient(port=server.port) as client:
            client.create_collection("doomed", embedding_function=None).add(ids=["a"], embeddings=[[1.0, 2.0]])
            assert client.reset() is True
            assert client.count_collections() == 0


# ---------------------------------------------------------------------------------- options


def test_help_documents_every_option() -> None:
    result = subprocess.run([sys.executable, "-m", "ragstore", "run", "--help"], capture_output=True, text=True, timeout=60, check=True)
    text = " ".join(result.stdout.split())  # undo click's line wrapping
    options = [param for param in run_command.params if isinstance(param, click.Option)]
    assert {param.name for param in options} >= {"path", "host", "port", "auth_token", "allow_reset", "max_body_size", "log_level"}
    for param in options:
        assert param.help, f"--{param.name} has no help text"
        for flag in (*param.opts, *param.secondary_opts):
            assert flag in text, f"{flag} is not in --help"
        envvar = param.envvar if isinstance(param.envvar, str) else None
        if envvar:
            assert envvar in text, f"{envvar} is not in --help"
    top = subprocess.run([sys.executable, "-m", "ragstore", "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert re.search(r"^\s+run\s+Serve a store", top.stdout, re.MULTILINE)


def test_a_port_in_use_fails_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "ragstore", "run", "--path", str(tmp_path / "store"), "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **HERMETIC})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "serving" not in output, "no start line for a server that does not listen"
    assert str(port) in output and "address already in use" in output.lower(), output
    assert "Traceback" not in output, output


def test_a_closed_port_is_a_server_connection_error_naming_host_and_port() -> None:
    port = free_port()
    with pytest.raises(ragstore.ServerConnectionError, match=rf"127\.0\.0\.1:{port}") as info:
        ragstore.HttpClient(host="127.0.0.1", port=port)
    assert isinstance(info.value, ConnectionError)


def test_heartbeat_after_the_server_stopped_is_a_server_connection_error(tmp_path: Path) -> None:
    server = start(tmp_path / "store")
    client = ragstore.HttpClient(host="127.0.0.1", port=server.port)
    assert client.heartbeat() > 0
    assert stop(server) == 0
    with pytest.raises(ragstore.ServerConnectionError, match=rf"127\.0\.0\.1:{server.port}"):
        client.heartbeat()
    client.close()


# ---------------------------------------------------------------------------------- signals and durability


class Writer(threading.Thread):
    """Adds batches until the server goes away; remembers which batches were acknowledged."""

    def __init__(self, collection: ragstore.Collection) -> None:
        super().__init__(daemon=True)
        self.collection = collection
        self.acknowledged: list[int] = []
        self.in_flight: int | None = None
        self.error: BaseException | None = None

    @staticmethod
    def batch(number: int) -> dict[str, Any]:
        ids = [f"b{number}-{i}" for i in range(20)]
        return {
            "ids": ids,
            "embeddings": vectors(20, number),
            "documents": [f"document {i}" for i in ids],
            "metadatas": [{"batch": number, "i": i} for i in range(20)],
        }

    def run(self) -> None:
        number = 0
        while True:
            self.in_flight = number
            try:
                self.collection.add(**self.batch(number))
            except ragstore.RagstoreError as exc:
                self.error = exc
                return
            self.acknowledged.append(number)
            number += 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_server_cleanly_and_keeps_every_acknowledged_write(tmp_path: Path, sig: signal.Signals) -> None:
    path = tmp_path / "store"
    server = start(path)
    client = ragstore.HttpClient(host="127.0.0.1", port=server.port)
    writer = Writer(client.create_collection("durable", embedding_function=None))
    writer.start()
    deadline = time.monotonic() + 60
    while len(writer.acknowledged) < 10 and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(writer.acknowledged) >= 10, writer.error

    assert stop(server, sig) == 0  # while the writer is still writing
    writer.join(timeout=60)
    assert isinstance(writer.error, ragstore.ServerConnectionError), writer.error
    assert server.output == [start_line(server, path)], "nothing but the start line (no traceback, no shutdown noise)"
    client.close()

    with ragstore.PersistentClient(path) as reopened:
        col = reopened.get_collection("durable", embedding_function=None)
        stored = col.get(include=["embeddings", "documents", "metadatas"])
        batches = list(writer.acknowledged)
        if len(stored["ids"]) > 20 * len(batches):  # the batch in flight at the signal: all of it or none
            batches.append(writer.in_flight)  # type: ignore[arg-type]
        expected = [Writer.batch(n) for n in batches]
        assert stored["ids"] == [i for b in expected for i in b["ids"]]
        assert stored["documents"] == [d for b in expected for d in b["documents"]]
        assert stored["metadatas"] == [m for b in expected for m in b["metadatas"]]
        assert stored["embeddings"] is not None
        np.testing.assert_array_equal(stored["embeddings"], np.concatenate([b["embeddings"] for b in expected]))
        last = expected[-1]
        hits = col.query(query_embeddings=last["embeddings"], n_results=1, include=["distances"])
        assert [h[0] for h in hits["ids"]] == last["ids"]  # the index is there too


# ---------------------------------------------------------------------------------- auth and limits over a real socket


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The token comes from RAGSTORE_AUTH_TOKEN; bodies are limited to BODY_LIMIT bytes."""
    path = tmp_path_factory.mktemp("auth") / "store"
    server = start(path, "--max-body-size", str(BODY_LIMIT), RAGSTORE_AUTH_TOKEN=TOKEN)
    server.path = path
    yield server
    assert stop(server) == 0


def test_the_token_comes_from_the_environment(auth_server: RunningServer) -> None:
    assert auth_server.output[0] == start_line(auth_server, auth_server.path, auth="on")
    url = f"{auth_server.url}/api/v2/tenants/default_tenant/databases/default_database/collections"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(f"{auth_server.url}/api/v2/heartbeat").status_code == 200


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("headers-bearer", {"headers": {"Authorization": f"Bearer {TOKEN}"}}),
        ("headers-x-chroma-token", {"headers": {"X-Chroma-Token": TOKEN}}),
        ("settings-bearer", {"settings": ragstore.Settings(chroma_client_auth_credentials=TOKEN)}),
        (
            "settings-x-chroma-token",
            {"settings": ragstore.Settings(chroma_client_auth_credentials=TOKEN, chroma_auth_token_transport_header="X-Chroma-Token")},
        ),
    ],
)
def test_http_client_sends_the_token(auth_server: RunningServer, name: str, how: dict[str, Any]) -> None:
    with ragstore.HttpClient(port=auth_server.port, **how) as client:
        col = client.get_or_create_collection(name, embedding_function=None)
        col.upsert(ids=["a"], embeddings=[[1.0, 2.0]])
        assert col.count() == 1


@pytest.mark.parametrize(
    "how",
    [{}, {"headers": {"Authorization": "Bearer wrong"}}, {"settings": ragstore.Settings(chroma_client_auth_credentials="wrong")}],
    ids=["none", "headers-wrong", "settings-wrong"],
)
def test_http_client_with_a_wrong_token_raises_authentication_error(auth_server: RunningServer, how: dict[str, Any]) -> None:
    with pytest.raises(ragstore.AuthenticationError) as info:
        ragstore.HttpClient(port=auth_server.port, **how)
    assert type(info.value) is ragstore.AuthenticationError


@pytest.mark.parametrize(("token", "status", "error"), [("wrong", 403, "AuthError"), (TOKEN, 413, "RequestTooLarge")])
def test_a_huge_declared_body_is_answered_without_being_sent(auth_server: RunningServer, token: str, status: int, error: str) -> None:
    head = (
        "POST /api/v2/tenants HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {10**12}\r\n\r\n"
    )
    answer = raw_request(auth_server.port, head)  # a server waiting for the terabyte would time out here
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert f'"error":"{error}"'.encode() in answer


def test_a_streamed_body_over_the_limit_is_refused(auth_server: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with ragstore.HttpClient(port=auth_server.port, headers=headers) as client:
        col = client.get_or_create_collection("streamed", embedding_function=None)
        before = col.count()
        body = b'{"ids": [' + b",".join(b'"id%d"' % i for i in range(2000)) + b'], "embeddings": []}'

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 512):
                yield body[i : i + 512]

        url = f"{auth_server.url}/api/v2/tenants/default_tenant/databases/default_database/collections/{col.id}/add"
        answer = httpx.post(url, content=chunks(), headers=headers)
        assert "content-length" not in answer.request.headers
        assert answer.status_code == 413 and answer.json()["error"] == "RequestTooLarge"
        assert col.count() == before


def test_the_client_refuses_a_batch_over_the_servers_limit(auth_server: RunningServer) -> None:
    with ragstore.HttpClient(port=auth_server.port, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert httpx.get(f"{auth_server.url}/api/v2/pre-flight-checks").status_code == 401  # the limits are not open
        checks = httpx.get(f"{auth_server.url}/api/v2/pre-flight-checks", headers={"X-Chroma-Token": TOKEN}).json()
        assert checks["max_payload_size_bytes"] == BODY_LIMIT
        col = client.get_or_create_collection("too-big", embedding_function=None)
        with pytest.raises(ragstore.RequestTooLargeError, match=f"request limit of {BODY_LIMIT} bytes"):
            col.add(ids=[f"id{i}" for i in range(200)], embeddings=vectors(200, 0))
        assert col.count() == 0


def test_an_onnx_folder_that_cannot_be_built_is_one_line_and_nothing_is_created(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Apples are red.", encoding="utf-8")
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text('{"model_type": "gpt2"}', encoding="utf-8")
    store = tmp_path / "store"
    for folder, says in ((tmp_path / "nope", "is not a local folder"), (gpt2, "holds a 'gpt2' model"), (docs, "config.json")):
        done = subprocess.run(
            [sys.executable, "-m", "ragstore", "ingest", str(docs), "-c", "notes", "--path", str(store), "--embedding", f"onnx:{folder}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and says in done.stderr, done.stderr
        assert "Invalid value for --embedding" in done.stderr
    assert not store.exists() or ragstore.PersistentClient(path=store).list_collections() == []
