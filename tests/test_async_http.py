"""``AsyncHttpClient`` against a real ``ragstore run`` process, checked against the sync ``HttpClient``.

Every client and collection method runs on both clients against the same server
(each on its own collection) and must give equal results and the same errors.
Tests are plain functions that drive their coroutine with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from servers import RunningServer

import ragstore
from ragstore.embeddings import HashingEmbeddingFunction
from ragstore.http.async_client import AsyncHttpAPI
from ragstore.http.client import HttpAPI
from ragstore.types import RecordSet


def stop(running: RunningServer) -> None:
    """Stop the server and check it exited cleanly."""
    status = running.stop()
    assert status == 0, "".join(running.output)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer.start(tmp_path_factory.mktemp("async-store"), extra_args=["--allow-reset"])
    try:
        yield running
    finally:
        stop(running)


@pytest.fixture
def sync_client(server: RunningServer) -> Iterator[ragstore.ClientAPI]:
    client = ragstore.HttpClient(host=server.host, port=server.port)
    yield client
    client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(main: Callable[[ragstore.AsyncClientAPI], Awaitable[Any]], server: RunningServer) -> Any:
    """Run ``main(client)`` on a new event loop with a fresh async client, closed afterwards."""

    async def wrapper() -> Any:
        client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
        try:
            return await main(client)
        finally:
            await client.close()

    return asyncio.run(wrapper())


def plain(value: Any) -> Any:
    """Results with numpy arrays turned into rounded lists, so they compare with ``==``."""
    if isinstance(value, np.ndarray):
        return np.round(value.astype(np.float64), 5).tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 5)
    return value


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- the same calls on both clients

DOCS = ["apples are red", "the sky is blue", "grass is green", "bananas are yellow", "the sea is blue too"]
METAS: list[dict[str, Any]] = [
    {"kind": "fruit", "n": 1},
    {"kind": "sky", "n": 2},
    {"kind": "plant", "n": 3},
    {"kind": "fruit", "n": 4},
    {"kind": "sea", "n": 5},
]
IDS = [f"d{i}" for i in range(len(DOCS))]
VECS = np.random.default_rng(7).normal(size=(4, 3)).astype(np.float32)


def sync_scenario(client: ragstore.ClientAPI, name: str) -> list[Any]:
    """The steps :func:`async_scenario` takes, with the sync client; returns every result."""
    out: list[Any] = []
    col = client.create_collection(name, metadata={"topic": "colours"})
    out.append((col.name, col.metadata, col.configuration, col.tenant, col.database))
    out.append(col.add(ids=IDS, documents=DOCS, metadatas=METAS))
    out.append(col.add(ids=["d0", "new"], documents=["skipped: d0 exists", "a new document"]))
    out.append(col.count())
    out.append(col.get())
    out.append(col.get(ids=["d3", "d1"], include=["documents", "metadatas", "embeddings"]))
    out.append(col.get(where={"kind": "fruit"}, limit=1, offset=1))
    out.append(col.get(where_document={"$contains": "blue"}, include=["documents"]))
    out.append(col.peek(2))
    out.append(col.query(query_texts=["blue sky"], n_results=3))
    out.append(col.query(query_texts=["red", "green"], n_results=2, where={"n": {"$gte": 2}}, include=["distances", "embeddings"]))
    out.append(col.query(query_texts="fruit", ids=["d0", "d3", "d4"], n_results=5, where_document={"$not_contains": "sea"}))
    out.append(col.upsert(ids=["d1", "u1"], documents=["the sky is grey", "an upserted one"], metadatas=[{"n": 20}, {"kind": "up"}]))
    out.append(col.update(ids=["d2", "missing"], metadatas=[{"n": None, "extra": True}, {"n": 1}]))
    out.append(col.update(ids="d3", documents="bananas are ripe"))
    out.append(col.get(ids=["d1", "u1", "d2", "d3"], include=["documents", "metadatas", "embeddings"]))
    out.append(col.delete(ids=["d4", "nope"]))
    out.append(col.delete(where={"kind": "fruit"}))
    out.append(col.count())
    out.append(col.modify(name=name + "-renamed", metadata={"topic": "renamed"}, configuration={"hnsw": {"ef_search": 123}}))
    out.append((col.name, col.metadata, col.configuration))
    again = client.get_collection(name + "-renamed")
    out.append((again.name, again.metadata, again.configuration, again.get(include=["documents"])))

    vec = client.create_collection(name + "-vec", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    out.append(vec.add(ids=["v0", "v1", "v2", "v3"], embeddings=VECS))
    out.append(vec.query(query_embeddings=VECS[:2], n_results=2, include=["distances", "embeddings", "documents"]))
    out.append(vec.update(ids=["v0"], embeddings=[[1.0, 0.0, 0.0]]))
    out.append(vec.get(ids="v0", include=["embeddings"]))
    out.append(vec.peek())
    out.append(vec.configuration)
    return out


async def async_scenario(client: ragstore.AsyncClientAPI, name: str) -> list[Any]:
    """The same steps as :func:`sync_scenario`, awaited."""
    out: list[Any] = []
    col = await client.create_collection(name, metadata={"topic": "colours"})
    out.append((col.name, col.metadata, col.configuration, col.tenant, col.database))
    out.append(await col.add(ids=IDS, documents=DOCS, metadatas=METAS))
    out.append(await col.add(ids=["d0", "new"], documents=["skipped: d0 exists", "a new document"]))
    out.append(await col.count())
    out.append(await col.get())
    out.append(await col.get(ids=["d3", "d1"], include=["documents", "metadatas", "embeddings"]))
    out.append(await col.get(where={"kind": "fruit"}, limit=1, offset=1))
    out.append(await col.get(where_document={"$contains": "blue"}, include=["documents"]))
    out.append(await col.peek(2))
    out.append(await col.query(query_texts=["blue sky"], n_results=3))
    out.append(await col.query(query_texts=["red", "green"], n_results=2, where={"n": {"$gte": 2}}, include=["distances", "embeddings"]))
    out.append(await col.query(query_texts="fruit", ids=["d0", "d3", "d4"], n_results=5, where_document={"$not_contains": "sea"}))
    out.append(await col.upsert(ids=["d1", "u1"], documents=["the sky is grey", "an upserted one"], metadatas=[{"n": 20}, {"kind": "up"}]))
    out.append(await col.update(ids=["d2", "missing"], metadatas=[{"n": None, "extra": True}, {"n": 1}]))
    out.append(await col.update(ids="d3", documents="bananas are ripe"))
    out.append(await col.get(ids=["d1", "u1", "d2", "d3"], include=["documents", "metadatas", "embeddings"]))
    out.append(await col.delete(ids=["d4", "nope"]))
    out.append(await col.delete(where={"kind": "fruit"}))
    out.append(await col.count())
    out.append(await col.modify(name=name + "-renamed", metadata={"topic": "renamed"}, configuration={"hnsw": {"ef_search": 123}}))
    out.append((col.name, col.metadata, col.configuration))
    again = await client.get_collection(name + "-renamed")
    out.append((again.name, again.metadata, again.configuration, await again.get(include=["documents"])))

    vec = await client.create_collection(name + "-vec", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    out.append(await vec.add(ids=["v0", "v1", "v2", "v3"], embeddings=VECS))
    out.append(await vec.query(query_embeddings=VECS[:2], n_results=2, include=["distances", "embeddings", "documents"]))
    out.append(await vec.update(ids=["v0"], embeddings=[[1.0, 0.0, 0.0]]))
    out.append(await vec.get(ids="v0", include=["embeddings"]))
    out.append(await vec.peek())
    out.append(vec.configuration)
    return out


def test_every_collection_method_matches_the_sync_client(server: RunningServer, sync_client: ragstore.ClientAPI) -> None:
    name = unique("same")
    expected = plain(sync_scenario(sync_client, name + "-s"))
    got = plain(run(lambda client: async_scenario(client, name + "-a"), server))
    assert len(got) == len(expected)
    for step, (want, have) in enumerate(zip(expected, got, strict=True)):
        # Each client worked on its own collection: only the names differ.
        assert repr(have).replace(f"{name}-a", "NAME") == repr(want).replace(f"{name}-s", "NAME"), f"step {step}"
    assert got[3] == 6 and got[16] == {"deleted": 1} and got[17] == {"deleted": 2} and got[18] == 4
    assert got[0][1] == {"topic": "colours"} and got[20][:2] == [f"{name}-a-renamed", {"topic": "renamed"}]
    assert got[20][2]["hnsw"]["ef_search"] == 123


def test_client_methods_match_the_sync_client(server: RunningServer, sync_client: ragstore.ClientAPI) -> None:
    prefix = unique("cm")

    async def main(client: ragstore.AsyncClientAPI) -> dict[str, Any]:
        result: dict[str, Any] = {}
        result["heartbeat"] = await client.heartbeat()
        result["version"] = await client.get_version()
        result["max_batch"] = await client.get_max_batch_size()
        result["settings"] = client.get_settings()
        before = await client.count_collections()
        made = await client.create_collection(prefix + "-1", configuration={"hnsw": {"space": "ip"}})
        same = await client.get_or_create_collection(prefix + "-1", metadata={"ignored": True})
        other = await client.get_or_create_collection(prefix + "-2", metadata={"k": "v"})
        result["ids"] = (made.id == same.id, same.metadata, other.metadata, made.configuration["hnsw"]["space"])
        result["count"] = await client.count_collections() - before
        listed = [c.name for c in await client.list_collections() if c.name.startswith(prefix)]
        result["listed"] = listed
        result["paged"] = [c.name for c in await client.list_collections(limit=1, offset=before)]
        result["types"] = {type(c).__name__ for c in await client.list_collections()}
        fetched = await client.get_collection(prefix + "-2")
        result["fetched"] = (fetched.id == other.id, fetched.embedding_function is not None)
        await client.delete_collection(prefix + "-1")
        result["after_delete"] = [c.name for c in await client.list_collections() if c.name.startswith(prefix)]
        await client.delete_collection(prefix + "-2")
        return result

    got = run(main, server)
    assert abs(got["heartbeat"] - sync_client.heartbeat()) < 60 * 10**9
    assert got["version"] == sync_client.get_version() == ragstore.__version__
    assert got["max_batch"] == sync_client.get_max_batch_size()
    assert got["settings"].chroma_server_http_port == server.port
    assert got["ids"] == (True, None, {"k": "v"}, "ip")
    assert got["count"] == 2
    assert got["listed"] == [prefix + "-1", prefix + "-2"]
    assert got["paged"] == [prefix + "-1"]
    assert got["types"] == {"AsyncCollection"}
    assert got["fetched"] == (True, True)
    assert got["after_delete"] == [prefix + "-2"]
    assert not [c for c in sync_client.list_collections() if c.name.startswith(prefix)]


def test_tenants_and_databases(server: RunningServer, sync_client: ragstore.ClientAPI) -> None:
    tenant, database = unique("tenant"), unique("db")
    admin = HttpAPI(server.url)
    admin.create_tenant(tenant)
    admin.create_database(database, tenant)
    admin.create_database("second", tenant)
    admin.close()

    async def main(client: ragstore.AsyncClientAPI) -> list[Any]:
        await client.set_tenant(tenant, database)
        assert (client.tenant, client.database) == (tenant, database)
        col = await client.create_collection("scoped")
        await col.add(ids="a", embeddings=[1.0, 2.0])
        await client.set_database("second")
        names_second = [c.name for c in await client.list_collections()]
        errors = []
        for call in (lambda: client.set_database("missing"), lambda: client.set_tenant("no-such-tenant")):
            with pytest.raises(ragstore.RagstoreError) as info:
                await call()
            errors.append((type(info.value), str(info.value)))
        assert (client.tenant, client.database) == (tenant, "second")  # a failed switch changes nothing
        await client.set_database(database)
        return [names_second, await col.count(), [c.name for c in await client.list_collections()], errors]

    names_second, count, names_first, errors = run(main, server)
    assert (names_second, count, names_first) == ([], 1, ["scoped"])
    sync_errors = []
    for call in (lambda: sync_client.set_database("missing"), lambda: sync_client.set_tenant("no-such-tenant")):
        with pytest.raises(ragstore.RagstoreError) as info:
            call()
        sync_errors.append((type(info.value), str(info.value)))
    assert errors == sync_errors
    assert errors[0][0] is ragstore.NotFoundError

    async def scoped_factory() -> int:
        async with await ragstore.AsyncHttpClient(host=server.host, port=server.port, tenant=tenant, database=database) as client:
            return await (await client.get_collection("scoped")).count()

    assert asyncio.run(scoped_factory()) == 1
    with pytest.raises(ragstore.NotFoundError):
        asyncio.run(ragstore.AsyncHttpClient(host=server.host, port=server.port, tenant=tenant, database="missing"))


# ---------------------------------------------------------------------- errors


def error_cases(prefix: str) -> list[tuple[str, Callable[[Any], Any]]]:
    """Calls that fail, as functions of a client whose result is awaited when it is a coroutine."""
    return [
        ("missing collection", lambda c: c.get_collection(prefix + "-missing")),
        ("delete missing collection", lambda c: c.delete_collection(prefix + "-missing")),
        ("duplicate name", lambda c: c.create_collection(prefix + "-dim")),
        ("bad name", lambda c: c.create_collection("x")),
        ("schema", lambda c: c.create_collection(prefix + "-schema", schema={})),
    ]


def collection_error_cases() -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        ("duplicate ids", lambda col: col.add(ids=["x", "x"], embeddings=[[1.0, 2.0], [3.0, 4.0]])),
        ("wrong dimension", lambda col: col.add(ids=["y"], embeddings=[[1.0, 2.0, 3.0]])),
        ("wrong query dimension", lambda col: col.query(query_embeddings=[[1.0]], n_results=1)),
        ("length mismatch", lambda col: col.add(ids=["a", "b"], embeddings=[[1.0, 2.0]])),
        ("bad where", lambda col: col.get(where={"$bad": 1})),
        ("bad include", lambda col: col.get(include=["distances"])),
        ("nothing to delete by", lambda col: col.delete()),
        ("no documents", lambda col: col.upsert(ids=["a"])),
        ("images", lambda col: col.add(ids=["a"], images=["x"])),
        ("too many results", lambda col: col.query(query_embeddings=[1.0, 2.0], n_results=-1)),
        ("texts need a function", lambda col: col.query(query_texts=["no ef"])),
        ("batch too large", lambda col: col.add(ids=[f"b{i}" for i in range(100_000)], embeddings=np.zeros((100_000, 2)))),
    ]


def test_errors_are_the_sync_clients(server: RunningServer, sync_client: ragstore.ClientAPI) -> None:
    prefix = unique("err")
    sync_client.create_collection(prefix + "-dim", embedding_function=None).add(ids=["x"], embeddings=[[1.0, 2.0]])

    def outcome(call: Callable[[], Any]) -> tuple[type[BaseException], str]:
        with pytest.raises(Exception) as info:
            call()
        return type(info.value), str(info.value)

    expected = [outcome(lambda f=f: f(sync_client)) for _, f in error_cases(prefix)]
    sync_col = sync_client.get_collection(prefix + "-dim", embedding_function=None)
    expected += [outcome(lambda f=f: f(sync_col)) for _, f in collection_error_cases()]

    async def main(client: ragstore.AsyncClientAPI) -> list[tuple[type[BaseException], str]]:
        async def outcome_async(call: Callable[[], Any]) -> tuple[type[BaseException], str]:
            try:
                await call()
            except Exception as exc:
                return type(exc), str(exc)
            raise AssertionError("no error")

        got = [await outcome_async(lambda f=f: f(client)) for _, f in error_cases(prefix)]
        col = await client.get_collection(prefix + "-dim", embedding_function=None)
        got += [await outcome_async(lambda f=f: f(col)) for _, f in collection_error_cases()]
        return got

    got = run(main, server)
    names = [n for n, _ in error_cases(prefix)] + [n for n, _ in collection_error_cases()]
    for name, want, have in zip(names, expected, got, strict=True):
        assert have == want, name
    kinds = dict(zip(names, (cls for cls, _ in got), strict=True))
    assert kinds["missing collection"] is ragstore.NotFoundError
    assert kinds["duplicate name"] is ragstore.UniqueConstraintError
    assert kinds["bad name"] is ragstore.InvalidArgumentError
    assert kinds["duplicate ids"] is ragstore.DuplicateIDError
    assert kinds["wrong dimension"] is ragstore.InvalidDimensionException
    assert kinds["batch too large"] is ragstore.BatchSizeExceededError


def test_request_too_large_is_refused_before_sending(tmp_path: Path) -> None:
    small = RunningServer.start(tmp_path / "small", extra_args=["--max-body-size", "2048"])
    try:
        sync_client = ragstore.HttpClient(host=small.host, port=small.port)
        big = np.ones((64, 16), dtype=np.float32)
        with pytest.raises(ragstore.RequestTooLargeError) as sync_info:
            sync_client.create_collection("big").add(ids=[str(i) for i in range(64)], embeddings=big)
        sync_client.close()

        async def main(client: ragstore.AsyncClientAPI) -> tuple[str, int]:
            col = await client.create_collection("big-async")
            with pytest.raises(ragstore.RequestTooLargeError) as info:
                await col.add(ids=[str(i) for i in range(64)], embeddings=big)
            await col.add(ids=["small"], embeddings=big[:1])
            return str(info.value), await col.count()

        message, count = run(main, small)
        assert message == str(sync_info.value) and "2048" in message
        assert count == 1
    finally:
        stop(small)


# ---------------------------------------------------------------------- concurrency and the event loop


def test_sixteen_concurrent_tasks_mixing_writes_and_queries(server: RunningServer, sync_client: ragstore.ClientAPI) -> None:
    name = unique("busy")
    per_writer, writers = 25, 8

    async def main(client: ragstore.AsyncClientAPI) -> tuple[int, list[Any]]:
        col = await client.create_collection(name, embedding_function=HashingEmbeddingFunction())  # about concurrency, not embeddings
        await col.add(ids=["s1", "s2", "s3"], documents=["seed one", "seed two", "seed three"])

        async def write(w: int) -> None:
            for start in range(0, per_writer, 5):
                ids = [f"w{w}-{i}" for i in range(start, start + 5)]
                await col.add(ids=ids, documents=[f"writer {w} document {i}" for i in range(start, start + 5)], metadatas=[{"w": w}] * 5)

        async def read(r: int) -> list[Any]:
            results = []
            for i in range(5):
                results.append(await col.query(query_texts=[f"writer {r} document {i}"], n_results=3, include=["distances"]))
                results.append(await col.get(where={"w": r}, include=[]))
            return results

        tasks = [write(i) if i % 2 == 0 else read(i // 2) for i in range(2 * writers)]
        outcomes = await asyncio.gather(*tasks)
        return await col.count(), outcomes

    count, outcomes = run(main, server)
    assert count == 3 + writers * per_writer
    assert sync_client.get_collection(name).count() == count
    reads = [o for o in outcomes if o is not None]
    assert len(reads) == writers and all(len(r) == 10 for r in reads)
    assert all(len(q["ids"][0]) == 3 for r in reads for q in r[::2])


class RecordingEmbedding:
    """A slow embedding function that notes the thread it ran in."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __call__(self, input: list[str]) -> list[list[float]]:  # noqa: A002
        self.threads.append(threading.current_thread())
        time.sleep(0.2)  # CPU-heavy in real life; the loop must keep running meanwhile
        return [[float(len(text)), 1.0] for text in input]


def test_embedding_runs_off_the_event_loop(server: RunningServer) -> None:
    ef = RecordingEmbedding()

    async def main(client: ragstore.AsyncClientAPI) -> tuple[threading.Thread, int, Any]:
        loop_thread = threading.current_thread()
        col = await client.create_collection(unique("thread"), embedding_function=ef)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await col.add(ids=["a", "b"], documents=["one", "three"])
        result = await col.query(query_texts=["three"], n_results=1, include=[])
        await col.upsert(ids="c", documents="eleven")
        await col.update(ids="a", documents="one!")
        task.cancel()
        return loop_thread, ticks, result["ids"]

    loop_thread, ticks, ids = run(main, server)
    assert len(ef.threads) == 4
    assert all(t is not loop_thread for t in ef.threads)
    assert ticks >= 10  # ~0.8 s of embedding: ~80 ticks if the loop runs, a few (while awaiting the server) if blocked
    assert ids == [["b"]]


def test_add_does_not_embed_existing_ids(server: RunningServer) -> None:
    ef = RecordingEmbedding()

    async def main(client: ragstore.AsyncClientAPI) -> int:
        col = await client.create_collection(unique("skip"), embedding_function=ef)
        await col.add(ids=["a"], documents=["one"])
        await col.add(ids=["a"], documents=["again"])  # nothing new: no embedding at all
        return await col.count()

    assert run(main, server) == 1
    assert len(ef.threads) == 1


# ---------------------------------------------------------------------- connection errors and closing


def test_heartbeat_against_a_closed_port_names_the_address() -> None:
    port = free_port()

    async def main() -> list[str]:
        messages = []
        api = AsyncHttpAPI(f"http://127.0.0.1:{port}")
        client = ragstore.AsyncClientAPI(api, ragstore.Settings())
        with pytest.raises(ragstore.ServerConnectionError) as info:
            await client.heartbeat()
        messages.append(str(info.value))
        await client.close()
        with pytest.raises(ragstore.ServerConnectionError) as info:
            await ragstore.AsyncHttpClient(host="127.0.0.1", port=port)
        messages.append(str(info.value))
        return messages

    for message in asyncio.run(main()):
        assert f"127.0.0.1:{port}" in message


def test_use_after_close_raises_closed_error(server: RunningServer) -> None:
    async def main() -> None:
        client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
        col = await client.create_collection(unique("closed"))
        await col.add(ids="a", embeddings=[1.0])
        await client.close()
        await client.close()  # idempotent
        calls: list[Callable[[], Awaitable[Any]]] = [
            client.heartbeat,
            client.list_collections,
            lambda: client.get_collection(col.name),
            col.count,
            lambda: col.get(ids="a"),
            lambda: col.query(query_embeddings=[1.0]),
        ]
        for call in calls:
            with pytest.raises(ragstore.ClosedError):
                await call()

    asyncio.run(main())


def test_reset(server: RunningServer) -> None:
    async def main(client: ragstore.AsyncClientAPI) -> tuple[bool, int]:
        await client.create_collection(unique("reset"))
        return await client.reset(), await client.count_collections()

    assert run(main, server) == (True, 0)


# ---------------------------------------------------------------------- the wire, without a server


@pytest.mark.parametrize("base64", [True, False])
def test_writes_send_base64_embeddings_when_the_server_supports_them(base64: bool) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pre-flight-checks"):
            return httpx.Response(200, json={"max_batch_size": 100, "supports_base64_encoding": base64, "max_payload_size_bytes": 10**6})
        sent.append(orjson.loads(request.content))
        return httpx.Response(200, json=True)

    async def main() -> None:
        session = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncHttpAPI("http://mock", session=session) as api:
            records = RecordSet(["a"], np.array([[1.0, 2.0]], dtype=np.float32), None, None, None)
            await api.write(uuid.uuid4(), "add", records)

    asyncio.run(main())
    assert sent[0]["ids"] == ["a"]
    assert sent[0]["embeddings"] == (["AACAPwAAAEA="] if base64 else [[1.0, 2.0]])
