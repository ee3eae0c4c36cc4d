"""The server's front door, tested on real ``ragstore run`` processes over real sockets.

Request heads are bounded before anything else runs (431); bodies must be JSON
(415) and the ``Host`` header must name the server (421), so a web page can
neither write through a "simple" cross-site request nor read through DNS
rebinding; CORS is off unless configured; 405 answers carry ``Allow``, ``HEAD``
works on ``GET`` routes; the token can come from a file and the OpenAPI
document declares it; every start-up failure is one line and exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import httpx
import orjson
import pytest
from mounts import read_only_view
from servers import RunningServer

import ragstore
from ragstore.http.wire import API_PREFIX
from ragstore.server.protocol import MAX_HEAD_BYTES, MAX_HEADER_COUNT

TOKEN = "guards-s3cret"
HERMETIC = {
    name: ""
    for name in (
        "RAGSTORE_AUTH_TOKEN",
        "RAGSTORE_AUTH_TOKEN_FILE",
        "RAGSTORE_ALLOW_RESET",
        "RAGSTORE_ALLOW_HOSTS",
        "RAGSTORE_CORS_ORIGINS",
    )
}  # empty means unset: the environment never decides for a test
COLLECTIONS = f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections"


@contextlib.contextmanager
def running(path: Path, *args: str, **env: str) -> Iterator[RunningServer]:
    """A ``ragstore run --path path --port 0 *args`` child with only the given ``RAGSTORE_*`` variables."""
    server = RunningServer.start(path, list(args), env={**HERMETIC, **env})
    try:
        yield server
    finally:
        assert server.stop() == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Every default (loopback, no token), reset allowed so that a page reaching it could wipe it."""
    with running(tmp_path_factory.mktemp("guards") / "store", "--allow-reset") as s:
        yield s


def exchange(port: int, *requests: bytes, timeout: float = 30.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Send each request on one connection, reading its answer before the next: (status, headers, body)."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        buffered = b""
        for request in requests:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffered:
                chunk = sock.recv(65536)
                assert chunk, f"connection closed before an answer: {buffered!r}"
                buffered += chunk
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            status_line, *fields = head.decode("latin-1").split("\r\n")
            headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
            length = 0 if request.startswith(b"HEAD ") else int(headers.get("content-length", "0"))
            while len(buffered) < length:
                chunk = sock.recv(65536)
                assert chunk, "connection closed inside a body"
                buffered += chunk
            answers.append((int(status_line.split()[1]), headers, buffered[:length]))
            buffered = buffered[length:]
    return answers


def rss_kib(pid: int) -> int:
    """The process's resident memory (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def error_of(response: httpx.Response, status: int) -> str:
    """The message of a Chroma-shaped error answer with ``status``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] and body["message"], body
    return str(body["message"])


def collection_names(server: RunningServer) -> set[str]:
    with ragstore.HttpClient(port=server.port) as client:
        return {c.name for c in client.list_collections()}


# ---------------------------------------------------------------------------------- request heads (issue 13, item 3)


def test_a_100_mb_header_is_refused_at_once_without_memory_growth_or_a_stall(server: RunningServer) -> None:
    url = f"{server.url}{API_PREFIX}/heartbeat"
    with httpx.Client() as http:
        http.get(url).raise_for_status()  # warm: the first request builds routes and caches
        idle = rss_kib(server.process.pid)
        outcome: dict[str, object] = {}

        def attack() -> None:
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(b"GET /api/v2/heartbeat HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
                sent = 0
                with contextlib.suppress(ConnectionError):  # the server closes the connection while we send
                    while sent < 100 * 1024 * 1024:
                        sock.sendall(b"a" * (1024 * 1024))
                        sent += 1024 * 1024
                answer = b""
                with contextlib.suppress(ConnectionError):
                    while chunk := sock.recv(65536):
                        answer += chunk
            outcome.update(answer=answer, sent=sent, seconds=time.monotonic() - started)

        attacker = threading.Thread(target=attack)
        attacker.start()
        slowest = 0.0
        while attacker.is_alive():  # heartbeats while the header streams in
            t = time.monotonic()
            http.get(url).raise_for_status()
            slowest = max(slowest, time.monotonic() - t)
        attacker.join()
        grown = rss_kib(server.process.pid) - idle
    answer = outcome["answer"]
    assert isinstance(answer, bytes)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"error":"RequestTooLarge"' in answer and str(MAX_HEAD_BYTES).encode() in answer
    assert isinstance(outcome["sent"], int) and outcome["sent"] < 100 * 1024 * 1024, "the server read the whole header"
    assert isinstance(outcome["seconds"], float) and outcome["seconds"] < 5.0
    assert slowest < 2.0, f"a heartbeat waited {slowest:.1f} s"  # 12.3 s before the limit
    assert grown < 20 * 1024, f"RSS grew by {grown} KiB"  # 169 MB before the limit


def test_too_many_header_fields_get_431(server: RunningServer) -> None:
    def request(fields: int) -> bytes:
        extra = b"".join(b"X-F%d: 1\r\n" % i for i in range(fields))
        return b"GET /api/v2/heartbeat HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n"

    [(status, _, _)] = exchange(server.port, request(MAX_HEADER_COUNT - 1))  # with Host: exactly the limit
    assert status == 200
    [(status, headers, body)] = exchange(server.port, request(MAX_HEADER_COUNT))
    assert (status, headers["connection"]) == (431, "close")
    assert orjson.loads(body) == {
        "error": "RequestTooLarge",
        "message": f"Request has more than the server's limit of {MAX_HEADER_COUNT} header fields",
    }


def test_the_head_limit_is_per_request_on_a_kept_alive_connection(server: RunningServer) -> None:
    # A 40 KB header (a large token, say) is fine, twice in a row on one connection (80 KB in all).
    request = b"GET /api/v2/heartbeat HTTP/1.1\r\nHost: localhost\r\nX-Token: " + b"t" * 40_000 + b"\r\n\r\n"
    assert [status for status, _, _ in exchange(server.port, request, request)] == [200, 200]
    # Bodies are not head: requests of ~230 KB, each arriving in one piece, one after another.
    with ragstore.HttpClient(port=server.port) as client:
        col = client.get_or_create_collection("big-bodies", embedding_function=None)
    body = orjson.dumps({"ids": [f"missing-record-{i:06d}" for i in range(10_000)], "include": []})
    post = b"POST %s/%s/get HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        COLLECTIONS.encode(),
        str(col.id).encode(),
        len(body),
        body,
    )
    assert len(post) > 3 * MAX_HEAD_BYTES
    assert [status for status, _, _ in exchange(server.port, post, post, request, post)] == [200, 200, 200, 200]


# ---------------------------------------------------------------------------------- browser attacks (item 7)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_declared_json_changes_nothing(server: RunningServer, content_type: str | None) -> None:
    headers = {"Origin": "http://evil.example", **({"Content-Type": content_type} if content_type else {})}
    before = collection_names(server)
    answer = httpx.post(f"{server.url}{COLLECTIONS}", content=b'{"name": "planted"}', headers=headers)
    assert "Content-Type: application/json" in error_of(answer, 415)
    assert collection_names(server) == before


def test_a_record_route_refuses_a_plain_text_body_too(server: RunningServer) -> None:
    with ragstore.HttpClient(port=server.port) as client:
        col = client.get_or_create_collection("plain-text", embedding_function=None)
        col.upsert(ids=["kept"], embeddings=[[1.0, 2.0]])
    body = orjson.dumps({"ids": ["planted"], "embeddings": [[3.0, 4.0]]})
    for op in ("add", "upsert", "delete"):  # answered by record_dispatch, outside FastAPI's router
        answer = httpx.post(f"{server.url}{COLLECTIONS}/{col.id}/{op}", content=body, headers={"Content-Type": "text/plain"})
        error_of(answer, 415)
    with ragstore.HttpClient(port=server.port) as client:
        assert client.get_collection("plain-text").get()["ids"] == ["kept"]


def test_an_empty_post_cannot_reset_the_store(server: RunningServer) -> None:
    with ragstore.HttpClient(port=server.port) as client:
        client.get_or_create_collection("survivor", embedding_function=None)
    answer = httpx.post(f"{server.url}{API_PREFIX}/reset", headers={"Origin": "http://evil.example"})  # what a form or fetch() sends
    error_of(answer, 415)
    assert "survivor" in collection_names(server)


def test_json_with_a_charset_and_every_client_still_work(server: RunningServer) -> None:
    body = orjson.dumps({"name": "charset-ok", "get_or_create": True})
    answer = httpx.post(f"{server.url}{COLLECTIONS}", content=body, headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert answer.status_code == 200, answer.text
    with ragstore.HttpClient(port=server.port) as client:
        col = client.get_or_create_collection("sync-client", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert col.query(query_embeddings=[[1.0, 2.0]], n_results=1)["ids"] == [["a"]]
    theirs = chromadb.HttpClient(host="127.0.0.1", port=server.port)
    col_c = theirs.get_or_create_collection("chromadb-client", embedding_function=None)
    col_c.add(ids=["c"], embeddings=[[3.0, 4.0]])
    assert col_c.get(ids=["c"])["ids"] == ["c"]
    assert theirs.get_collection("sync-client").count() == 1


def test_the_async_client_still_works(server: RunningServer) -> None:
    async def use() -> int:
        async with await ragstore.AsyncHttpClient(port=server.port) as client:
            col = await client.get_or_create_collection("async-client", embedding_function=None)
            await col.upsert(ids=["a"], embeddings=[[1.0, 2.0]])
            return await col.count()

    assert asyncio.run(use()) == 1


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST."])
def test_loopback_names_are_answered(server: RunningServer, host: str) -> None:
    [(status, _, _)] = exchange(server.port, f"GET /api/v2/heartbeat HTTP/1.1\r\nHost: {host}:{server.port}\r\n\r\n".encode())
    assert status == 200


def test_a_rebound_name_is_refused_on_every_route(server: RunningServer) -> None:
    with ragstore.HttpClient(port=server.port) as client:
        col = client.get_or_create_collection("rebinding", embedding_function=None)
        col.upsert(ids=["secret"], embeddings=[[1.0, 2.0]])
    evil = {"Host": f"evil.example:{server.port}", "Content-Type": "application/json"}
    record = f"{server.url}{COLLECTIONS}/{col.id}"
    answers = [
        httpx.get(f"{server.url}{API_PREFIX}/heartbeat", headers=evil),  # open paths too
        httpx.get(f"{server.url}{COLLECTIONS}", headers=evil),
        httpx.post(f"{record}/get", content=b"{}", headers=evil),  # answered by record_dispatch, outside FastAPI
        httpx.post(f"{record}/add", content=orjson.dumps({"ids": ["x"], "embeddings": [[0.0, 0.0]]}), headers=evil),
        httpx.post(f"{server.url}{API_PREFIX}/reset", headers=evil),
    ]
    for answer in answers:
        message = error_of(answer, 421)
        assert "evil.example" in message and "--allow-host evil.example" in message
        assert "secret" not in answer.text
    with ragstore.HttpClient(port=server.port) as client:
        assert client.get_collection("rebinding").get()["ids"] == ["secret"]


def test_allowed_names_come_from_the_option_and_the_environment(tmp_path: Path) -> None:
    def status(server: RunningServer, host: str) -> int:
        return httpx.get(f"{server.url}{API_PREFIX}/heartbeat", headers={"Host": host}).status_code

    with running(tmp_path / "a", "--allow-host", "ragstore.internal", "--allow-host", "Other.Internal") as s:
        assert [status(s, h) for h in ("ragstore.internal:8000", "other.internal", "localhost", "evil.example")] == [200, 200, 200, 421]
    with running(tmp_path / "b", RAGSTORE_ALLOW_HOSTS="one.example, two.example") as s:
        assert [status(s, h) for h in ("one.example", "two.example", "evil.example")] == [200, 200, 421]
    with running(tmp_path / "c", "--allow-host", "*") as s:
        assert status(s, "anything.example") == 200


def test_beyond_loopback_ip_addresses_and_the_host_name_are_answered_and_a_missing_token_is_warned_about(tmp_path: Path) -> None:
    with running(tmp_path / "open", "--host", "0.0.0.0") as s:
        warning, started = s.output
        assert warning.startswith("warning: http://0.0.0.0:") and "needs no token" in warning and "RAGSTORE_AUTH_TOKEN" in warning
        assert " serving " in started
        for host, expected in [("192.0.2.7:80", 200), ("[2001:db8::1]", 200), (socket.gethostname(), 200), ("evil.example", 421)]:
            assert httpx.get(f"{s.url}{API_PREFIX}/heartbeat", headers={"Host": host}).status_code == expected, host
    with running(tmp_path / "guarded", "--host", "0.0.0.0", RAGSTORE_AUTH_TOKEN=TOKEN) as s:
        assert len(s.output) == 1 and " serving " in s.output[0], s.output  # the warning comes before the start line


def test_cors_is_off_by_default(server: RunningServer) -> None:
    answer = httpx.get(f"{server.url}{COLLECTIONS}", headers={"Origin": "https://app.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    preflight = httpx.options(
        f"{server.url}{COLLECTIONS}", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_origins_may_call_with_a_token(tmp_path: Path) -> None:
    with running(tmp_path / "store", "--cors-origin", "https://app.example", RAGSTORE_AUTH_TOKEN=TOKEN) as s:
        url = f"{s.url}{COLLECTIONS}"
        asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
        preflight = httpx.options(url, headers={"Origin": "https://app.example", **asks})  # carries no token
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert {"authorization", "content-type"} <= {
            h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
        }
        other = httpx.options(url, headers={"Origin": "http://evil.example", **asks})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        unauthenticated = httpx.get(url, headers={"Origin": "https://app.example"})
        assert unauthenticated.status_code == 401  # a page of an allowed origin still needs the token ...
        assert unauthenticated.headers["access-control-allow-origin"] == "https://app.example"  # ... and can read why
        allowed = httpx.get(url, headers={"Origin": "https://app.example", "Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"


# ---------------------------------------------------------------------------------- methods (item 8)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", f"{API_PREFIX}/heartbeat", "GET, HEAD"),
        ("PUT", COLLECTIONS, "GET, POST, HEAD"),
        ("GET", f"{COLLECTIONS}/{'0' * 8}-0000-0000-0000-{'0' * 12}/query", "POST"),
        ("POST", f"{API_PREFIX}/version", "GET, HEAD"),
    ],
)
def test_405_names_the_allowed_methods(server: RunningServer, method: str, path: str, allow: str) -> None:
    answer = httpx.request(method, f"{server.url}{path}", headers={"Content-Type": "application/json"})
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == allow


def test_a_bodiless_put_on_a_get_route_is_a_405_not_a_415(server: RunningServer) -> None:
    answer = httpx.put(f"{server.url}{API_PREFIX}/version")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")


def test_head_answers_like_get_without_a_body(server: RunningServer) -> None:
    with ragstore.HttpClient(port=server.port) as client:
        col = client.get_or_create_collection("heads", embedding_function=None)
    for path in (f"{API_PREFIX}/version", COLLECTIONS, f"{COLLECTIONS}/{col.id}/count", "/openapi.json"):
        request = f"{{}} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        [(get_status, get_headers, get_body), (head_status, head_headers, _)] = exchange(
            server.port,
            request.format("GET").encode(),
            request.format("HEAD").encode().replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
        )
        assert (get_status, head_status) == (200, 200), path
        assert head_headers["content-length"] == get_headers["content-length"] == str(len(get_body)), path
        assert head_headers["content-type"] == get_headers["content-type"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:  # nothing follows the HEAD's head
        sock.sendall(f"HEAD {API_PREFIX}/version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.endswith(b"\r\n\r\n")
    assert httpx.head(f"{server.url}{API_PREFIX}/reset").status_code == 405  # a POST route stays POST-only


# ---------------------------------------------------------------------------------- the token (item 8)


def test_the_token_can_come_from_a_file_and_stays_out_of_the_command_line(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    for how in (
        {"args": ("--auth-token-file", str(token_file)), "env": {}},
        {"args": (), "env": {"RAGSTORE_AUTH_TOKEN_FILE": str(token_file)}},
    ):
        with running(tmp_path / "store", *how["args"], **how["env"]) as s:  # type: ignore[arg-type]
            assert "(auth on," in s.output[0]
            assert TOKEN not in Path(f"/proc/{s.process.pid}/cmdline").read_bytes().decode()
            url = f"{s.url}{COLLECTIONS}"
            assert httpx.get(url).status_code == 401
            assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            assert httpx.get(url, headers={"X-Chroma-Token": TOKEN}).status_code == 200


def test_the_openapi_document_declares_the_token_only_when_one_is_required(server: RunningServer, tmp_path: Path) -> None:
    assert "securitySchemes" not in httpx.get(f"{server.url}/openapi.json").json().get("components", {})
    with running(tmp_path / "store", RAGSTORE_AUTH_TOKEN=TOKEN) as s:
        document = httpx.get(f"{s.url}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <token>"}
    assert (schemes["chromaToken"]["type"], schemes["chromaToken"]["in"], schemes["chromaToken"]["name"]) == (
        "apiKey",
        "header",
        "X-Chroma-Token",
    )
    assert document["security"] == [{"bearerAuth": []}, {"chromaToken": []}]
    assert document["paths"][f"{API_PREFIX}/heartbeat"]["get"]["security"] == []  # open paths stay open
    template = f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}/collections"
    assert "security" not in document["paths"][template]["get"]  # the document-wide requirement applies


# ---------------------------------------------------------------------------------- start-up failures (item 5)


def run_failing(*args: str, env: dict[str, str] | None = None) -> str:
    """Run ``ragstore run *args``, expecting a start-up failure: exit 1, one line on stderr (returned), no traceback."""
    command = [sys.executable, "-m", "ragstore", "run", "--port", "0", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **HERMETIC, **(env or {})})
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = run_failing("--path", str(tmp_path / "store"), "--port", str(port))
    assert line == f"Error: cannot listen on http://127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "store").exists(), "the store is not touched when the port is taken"


def test_a_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert (
        run_failing("--path", str(tmp_path / "file"))
        == f"Error: cannot open the store at {tmp_path / 'file'}: it is a file, not a directory"
    )


def test_a_path_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    with read_only_view(tmp_path / "ro", tmp_path / "ro") as ro:
        line = run_failing("--path", str(ro / "store"))
    assert str(ro / "store") in line and "Read-only file system" in line


def test_a_store_that_fails_to_open_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with ragstore.PersistentClient(path=store) as client:
        client.heartbeat()
    database = next(p for p in store.iterdir() if p.suffix in (".sqlite3", ".db", ".sqlite"))
    database.write_bytes(b"this is not a database" * 100)
    line = run_failing("--path", str(store))
    assert str(store) in line
    command = [sys.executable, "-m", "ragstore", "run", "--port", "0", "--path", str(store), "--log-level", "debug"]
    debug = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **HERMETIC})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and debug.stderr.splitlines()[-1] == line


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "cannot read the token file {}: No such file or directory"),
        (lambda d: d, "cannot read the token file {}: Is a directory"),
        (lambda d: (d / "empty").write_text(" \n") and d / "empty", "the token file {} is empty"),
        (lambda d: (d / "binary").write_bytes(b"\xff\xfe") and d / "binary", "cannot read the token file {}: "),
    ],
    ids=["missing", "directory", "empty", "not-utf8"],
)
def test_a_bad_token_file_is_one_line(tmp_path: Path, make: object, message: str) -> None:
    token_file = make(tmp_path)  # type: ignore[operator]
    line = run_failing("--path", str(tmp_path / "store"), "--auth-token-file", str(token_file))
    assert line.startswith("Error: " + message.format(token_file)), line
    assert not (tmp_path / "store").exists()


def test_a_token_given_twice_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    line = run_failing(
        "--path", str(tmp_path / "store"), "--auth-token-file", str(tmp_path / "token"), env={"RAGSTORE_AUTH_TOKEN": "other"}
    )
    assert "--auth-token-file" in line and "RAGSTORE_AUTH_TOKEN" in line
