"""``ragstore.connect``: one way to open a store (path, server, memory), its refusals, and one value per event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ragstore
from ragstore.event_loops import PerEventLoop
from ragstore.store_address import StoreAddress, connect
from ragstore.testing import RunningServer, run_server

HERMETIC = {"RAGSTORE_AUTH_TOKEN": "", "RAGSTORE_AUTH_TOKEN_FILE": ""}  # the caller's environment never decides
TOKEN = "t0k-for-connect"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real ``ragstore run`` that requires :data:`TOKEN`."""
    with run_server(tmp_path_factory.mktemp("served"), env=HERMETIC, auth_token=TOKEN) as running:
        yield running


# ---------------------------------------------------------------------------------------------- kinds


def test_kind_and_description_follow_what_is_given(tmp_path: Path) -> None:
    assert (StoreAddress().kind, StoreAddress().describe()) == ("memory", "memory")
    assert (StoreAddress(path=tmp_path).kind, StoreAddress(path=tmp_path).describe()) == ("persistent", str(tmp_path))
    remote = StoreAddress(host="db.example.com", port=9000, ssl=True)
    assert (remote.kind, remote.describe()) == ("http", "https://db.example.com:9000")
    assert StoreAddress(host="localhost").describe() == "http://localhost:8000"  # no port: the server default
    assert StoreAddress(host="http://10.0.0.1:1234/", port=5).describe() == "http://10.0.0.1:1234"  # a URL keeps its own port


def test_memory_stores_are_independent() -> None:
    first, second = connect(), connect()
    try:
        first.create_collection("docs")
        assert (first.count_collections(), second.count_collections()) == (1, 0)
    finally:
        first.close()
        second.close()


def test_persistent_store_is_reopened_at_its_path_and_reports_it_in_settings(tmp_path: Path) -> None:
    with connect(tmp_path / "store") as client:
        client.create_collection("docs").add(ids=["a"], embeddings=[[1.0, 0.0]])
        settings = client.get_settings()
        assert (settings.is_persistent, settings.persist_directory) == (True, str(tmp_path / "store"))
    with StoreAddress(path=str(tmp_path / "store")).client() as again:
        assert again.get_collection("docs").count() == 1


def test_tenant_and_database_scope_the_client(tmp_path: Path) -> None:
    with ragstore.AdminClient(ragstore.Settings(is_persistent=True, persist_directory=str(tmp_path))) as admin:
        admin.create_tenant("acme")
        admin.create_database("docs", tenant="acme")
    with connect(tmp_path, tenant="acme", database="docs") as scoped:
        scoped.create_collection("only-here")
    with connect(tmp_path) as default:
        assert default.count_collections() == 0
    with pytest.raises(ragstore.NotFoundError):
        connect(tmp_path, tenant="nobody")


# ---------------------------------------------------------------------------------------------- refusals

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"path": "./data", "host": "localhost"}, "Give a path (a local store) or a host (a server), not both"),
    ({"port": 8000}, "port given without a host"),
    ({"ssl": True}, "ssl given without a host"),
    ({"headers": {"X-Team": "a"}}, "headers given without a host"),
    ({"auth_token": "t"}, "auth_token given without a host"),
    ({"path": "./data", "port": 1, "auth_token": "t"}, "port and auth_token given without a host"),
    ({"port": 1, "ssl": True, "auth_token": "t"}, "port, ssl and auth_token given without a host"),
    ({"host": "localhost", "auth_token": "t", "headers": {"authorization": "Bearer u"}}, "Give auth_token or an Authorization header"),
    ({"host": "ftp://example.com"}, "Invalid server URL 'ftp://example.com'"),
    ({"host": "example.com/path"}, "Invalid host 'example.com/path'"),
]


@pytest.mark.parametrize(("arguments", "message"), REFUSED)
def test_contradictions_are_refused_with_one_line(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ragstore.InvalidArgumentError) as refused:
        StoreAddress(**arguments)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ragstore.InvalidArgumentError, match=r"need|not both|Invalid|Give"):
        connect(**arguments)


def test_local_stores_have_no_url_or_async_client(tmp_path: Path) -> None:
    with pytest.raises(ragstore.InvalidArgumentError, match="is not a server"):
        StoreAddress(path=tmp_path).url()
    with pytest.raises(ragstore.InvalidArgumentError, match="async client needs a server"):
        asyncio.run(StoreAddress().async_client())
    assert not list(tmp_path.iterdir())  # refusing created nothing


def test_empty_headers_without_a_host_are_no_contradiction() -> None:
    assert StoreAddress(headers={}).kind == "memory"


def test_request_headers_carry_the_token_after_the_callers_headers() -> None:
    address = StoreAddress(host="localhost", headers={"X-Team": "a"}, auth_token="s3cret")
    assert address.request_headers() == {"X-Team": "a", "Authorization": "Bearer s3cret"}
    assert StoreAddress(host="localhost", headers={"Authorization": "Basic eA=="}).request_headers() == {"Authorization": "Basic eA=="}


# ---------------------------------------------------------------------------------------------- chromadb settings


def test_from_settings_reads_server_then_path_then_memory() -> None:
    remote = StoreAddress.from_settings(
        ragstore.Settings(chroma_server_host="db", chroma_server_http_port=9000, chroma_server_ssl_enabled=True, is_persistent=True)
    )
    assert (remote.kind, remote.describe()) == ("http", "https://db:9000")
    local = StoreAddress.from_settings(ragstore.Settings(is_persistent=True, persist_directory="./here"))
    assert (local.kind, local.describe()) == ("persistent", "./here")
    assert StoreAddress.from_settings(ragstore.Settings(persist_directory="./ignored")).kind == "memory"


# ---------------------------------------------------------------------------------------------- a real server


def test_token_reaches_the_server(server: RunningServer) -> None:
    with connect(host=server.host, port=server.port, auth_token=TOKEN) as client:
        client.get_or_create_collection("docs").upsert(ids=["a"], embeddings=[[1.0, 0.0]])
        assert client.get_settings().chroma_server_http_port == server.port
    with StoreAddress(host=server.url, headers={"Authorization": f"Bearer {TOKEN}"}).client() as by_url:
        assert by_url.get_collection("docs").count() == 1


def test_missing_or_wrong_token_is_refused(server: RunningServer) -> None:
    with pytest.raises(ragstore.AuthenticationError):
        connect(host=server.host, port=server.port)
    with pytest.raises(ragstore.AuthenticationError):
        connect(host=server.host, port=server.port, auth_token="wrong")


def test_token_from_chromadb_settings_reaches_the_server(server: RunningServer) -> None:
    settings = ragstore.Settings(chroma_server_host=server.host, chroma_server_http_port=server.port, chroma_client_auth_credentials=TOKEN)
    with StoreAddress.from_settings(settings).client(settings) as client:
        assert client.heartbeat() > 0


def test_no_server_is_a_connection_error_naming_the_address() -> None:
    with pytest.raises(ragstore.ServerConnectionError, match=r"http://127\.0\.0\.1:9"):
        connect(host="127.0.0.1", port=9, timeout=5.0)


def test_async_client_sends_the_token(server: RunningServer) -> None:
    async def count() -> int:
        client = await StoreAddress(host=server.host, port=server.port, auth_token=TOKEN).async_client()
        try:
            collection = await client.get_or_create_collection("async-docs")
            await collection.upsert(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
            return await collection.count()
        finally:
            await client.close()

    assert asyncio.run(count()) == 2


def test_per_event_loop_async_clients_of_a_real_server(server: RunningServer) -> None:
    address = StoreAddress(host=server.host, port=server.port, auth_token=TOKEN)
    opened: list[object] = []

    async def open_client() -> ragstore.AsyncClientAPI:
        client = await address.async_client()
        opened.append(client)
        return client

    async def close_client(client: ragstore.AsyncClientAPI) -> None:
        await client.close()

    clients = PerEventLoop(open_client, close_client)

    async def use() -> object:
        first, second = await asyncio.gather(clients.get(), clients.get())
        assert first is second and await first.heartbeat() > 0
        await clients.aclose()
        return first

    assert asyncio.run(use()) is not asyncio.run(use())  # each loop had its own client, and used it
    assert len(opened) == 2


# ---------------------------------------------------------------------------------------------- PerEventLoop


class Opener:
    """Counts opens and closes; each open yields to the loop, so tasks that ask at once really overlap."""

    def __init__(self) -> None:
        self.opened: list[int] = []
        self.closed: list[int] = []
        self._lock = threading.Lock()

    async def open(self) -> int:
        await asyncio.sleep(0.01)
        with self._lock:
            self.opened.append(len(self.opened))
            return self.opened[-1]

    async def close(self, value: int) -> None:
        self.closed.append(value)


def test_concurrent_tasks_of_one_loop_share_one_open() -> None:
    opener = Opener()
    per_loop = PerEventLoop(opener.open, opener.close)

    async def many() -> list[int]:
        return list(await asyncio.gather(*(per_loop.get() for _ in range(20))))

    assert asyncio.run(many()) == [0] * 20
    assert opener.opened == [0]


def test_each_loop_gets_its_own_value_and_closes_only_its_own() -> None:
    opener = Opener()
    per_loop = PerEventLoop(opener.open, opener.close)

    async def get_then_close() -> int:
        value = await per_loop.get()
        await per_loop.aclose()
        await per_loop.aclose()  # nothing left to close: no second close
        return value

    assert asyncio.run(get_then_close()) == 0
    assert asyncio.run(get_then_close()) == 1
    assert opener.closed == [0, 1]


def test_loops_in_two_threads_at_once_get_two_values() -> None:
    opener = Opener()
    per_loop = PerEventLoop(opener.open, opener.close)
    results: list[int] = []
    start = threading.Barrier(2)

    def run() -> None:
        async def twice() -> None:
            start.wait()  # both loops ask at the same moment
            first, second = await per_loop.get(), await per_loop.get()
            assert first == second
            results.append(first)

        asyncio.run(twice())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [0, 1] and len(opener.opened) == 2


def test_a_failed_open_is_not_kept_and_the_next_get_retries() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("not yet")
        return "open"

    per_loop = PerEventLoop(flaky)

    async def main() -> str:
        with pytest.raises(ConnectionError):
            await per_loop.get()
        return await per_loop.get()

    assert asyncio.run(main()) == "open" and len(attempts) == 2


def test_aclose_after_reopen_in_the_same_loop_opens_a_fresh_value() -> None:
    opener = Opener()
    per_loop = PerEventLoop(opener.open, opener.close)

    async def main() -> tuple[int, int]:
        first = await per_loop.get()
        await per_loop.aclose()
        second = await per_loop.get()
        await per_loop.aclose()
        return first, second

    assert asyncio.run(main()) == (0, 1)
    assert opener.closed == [0, 1]


def test_a_value_of_none_counts_as_opened() -> None:
    calls: list[int] = []

    async def nothing() -> None:
        calls.append(1)

    per_loop: PerEventLoop[None] = PerEventLoop(nothing)

    async def main() -> None:
        await per_loop.get()
        await per_loop.get()

    asyncio.run(main())
    assert calls == [1]
