"""Sharded, replicated serving on Ray Serve (``ragstore.distributed.serve``, ``ragstore serve --ray``).

The service runs on one local Ray instance (``ray.init(num_cpus=2)``, started once for the module) with
2 shards x 1 replica and 2 shards x 2 replicas, behind a token. chromadb 1.5.9's own ``HttpClient`` and
``ragstore.HttpClient`` talk to the router; every answer is compared with one in-process store holding
the same records (dense queries on a small collection with a large ``ef_search``, so both are exact).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

# Ray's single-node mode: every process of the local instance on 127.0.0.1 (read when Ray is imported).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import chromadb
import ray
from chromadb.config import Settings as ChromaSettings
from chromadb_sessions import chromadb_sessions_closed
from click.testing import CliRunner
from servers import RunningServer

import ragstore
from ragstore.cli import main
from ragstore.distributed.serve import APP_NAME, replica_path, require_serve, start_service, stop_service
from ragstore.distributed.shard_routing import shard_of
from ragstore.errors import ServerConnectionError, UnimplementedError
from ragstore.record_requests import GetRequest
from ragstore.search import K, Knn, Search
from ragstore.testing import START_LINE

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TOKEN = "sharded-s3cret"
Service = tuple[str, int, Path]  # the router's host and port, and the root of the replicas' stores
DIM = 8
EXACT = {"hnsw": {"ef_search": 500}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_command_serves_until_stopped(tmp_path: Path) -> None:
    """``ragstore serve --ray`` starts its own local Ray instance, prints ``ragstore run``'s start line, stops on SIGTERM.

    First in the module: it runs before the module's own Ray instance starts.
    """
    root = tmp_path / "shards"
    command = [sys.executable, "-m", "ragstore", "serve", "--ray", "--shards", "2", "--replicas", "1", "--path", str(root)]
    env = {"RAGSTORE_AUTH_TOKEN": TOKEN, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    port = free_port()
    with (
        RunningServer.launch([*command, "--port", str(port)], START_LINE, root, env=env, timeout=240) as server,
        ragstore.HttpClient(host="127.0.0.1", port=port, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        collection = client.create_collection("cli", embedding_function=None)
        collection.add(**data(1, 30))
        assert collection.count() == 30
    assert server.returncode == 0, "".join(server.output)
    assert sorted(p.name for p in root.iterdir()) == ["shard-0", "shard-1"]


def test_the_command_needs_ray() -> None:
    result = CliRunner().invoke(main, ["serve", "--shards", "2"])
    assert result.exit_code == 2
    assert "needs --ray" in result.output


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """One local Ray instance for the module."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=400 * 2**20, log_to_driver=False)
    try:
        with chromadb_sessions_closed():
            yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module", params=[(2, 1), (2, 2)], ids=lambda p: f"{p[0]}x{p[1]}")
def service(ray_instance: None, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The sharded service with a token: ``(host, port, path)``."""
    shards, replicas = request.param
    root = tmp_path_factory.mktemp(f"serve-{shards}x{replicas}")
    port = free_port()
    start_service(root, shards, replicas, port=port, auth_token=TOKEN, timeout_s=20)
    try:
        yield "127.0.0.1", port, root
    finally:
        stop_service()


def ragstore_client(service: Service) -> Any:
    host, port, _ = service
    return ragstore.HttpClient(host=host, port=port, headers={"Authorization": f"Bearer {TOKEN}"})


def chroma_client(service: Service, token: str = TOKEN) -> Any:
    host, port, _ = service
    settings = ChromaSettings(
        anonymized_telemetry=False,
        chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
        chroma_client_auth_credentials=token,
    )
    return chromadb.HttpClient(host=host, port=port, settings=settings)


def data(seed: int, n: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "ids": [f"r{seed}-{i}" for i in range(n)],
        "embeddings": rng.normal(size=(n, DIM)).astype(np.float32).tolist(),
        "metadatas": [{"k": int(rng.integers(0, 4)), "seed": seed} for _ in range(n)],
        "documents": [f"record {i} of seed {seed}" for i in range(n)],
    }


def rows(got: Any) -> dict[str, tuple[Any, ...]]:
    return {
        i: (d, m, tuple(np.round(np.asarray(e, dtype=np.float32), 5).tolist()))
        for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
    }


def same_query(left: Any, right: Any) -> None:
    assert left["ids"] == right["ids"]
    assert left["documents"] == right["documents"]
    assert left["metadatas"] == right["metadatas"]
    for a, b in zip(left["distances"], right["distances"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("which", ["chromadb", "ragstore"])
def test_clients_get_one_stores_answers(service: Service, which: str) -> None:
    client = chroma_client(service) if which == "chromadb" else ragstore_client(service)
    single = ragstore.EphemeralClient()
    name = f"docs-{which}-{uuid.uuid4().hex[:6]}"
    remote = client.create_collection(name, embedding_function=None, configuration=EXACT)
    local = single.create_collection(name, embedding_function=None, configuration=EXACT)
    for seed, n in ((1, 120), (2, 80)):
        batch = data(seed, n)
        remote.add(**batch)
        local.add(**batch)
    assert remote.count() == local.count() == 200
    queries = np.random.default_rng(9).normal(size=(4, DIM)).astype(np.float32).tolist()
    for where in (None, {"k": {"$gte": 2}}, {"$and": [{"seed": 1}, {"k": 0}]}):
        same_query(
            remote.query(query_embeddings=queries, n_results=15, where=where),
            local.query(query_embeddings=queries, n_results=15, where=where),
        )
    everything = ["documents", "metadatas", "embeddings"]
    assert rows(remote.get(include=everything)) == rows(local.get(include=everything))
    search = Search().where(K("k") < 3).rank(Knn(query=queries[0], limit=30)).limit(10, offset=5).select(K.DOCUMENT, K.SCORE)
    found, expected = remote.search(search), local.search(search)
    assert found["ids"] == expected["ids"] and found["documents"] == expected["documents"]
    np.testing.assert_allclose(found["scores"][0], expected["scores"][0], rtol=1e-4, atol=1e-5)
    ids = ["r1-3", "r2-70", "nope", "r1-119"]
    assert rows(remote.get(ids=ids, include=everything)) == rows(local.get(ids=ids, include=everything))
    upsert = data(3, 10) | {"ids": [f"r1-{i}" for i in range(5)] + [f"r3-{i}" for i in range(5)]}  # five new, five replaced
    for target in (remote, local):
        target.upsert(**upsert)
        target.update(ids=["r1-5", "r2-6"], metadatas=[{"k": 99}, {"k": 99}])
        target.delete(ids=["r1-0", "r2-1", "nope"])
        target.delete(where={"k": 1})
    assert remote.count() == local.count()
    assert rows(remote.get(include=everything)) == rows(local.get(include=everything))
    same_query(remote.query(query_embeddings=queries, n_results=200), local.query(query_embeddings=queries, n_results=200))
    assert [c.name for c in client.list_collections()].count(name) == 1
    client.delete_collection(name)
    with pytest.raises(Exception, match="does not exist"):
        client.get_collection(name)
    single.close()
    if which == "ragstore":
        client.close()


def test_every_replica_holds_its_shards_records(service: Service) -> None:
    """Writes reach every replica of their shard; each replica's directory is its own store."""
    client = ragstore_client(service)
    name = f"spread-{uuid.uuid4().hex[:6]}"
    collection = client.create_collection(name, embedding_function=None)
    batch = data(5, 60)
    collection.add(**batch)
    _, _, root = service
    held: dict[int, set[str]] = {}
    for shard_dir in sorted(root.glob("shard-*")):
        shard = int(shard_dir.name.split("-")[1])
        for replica_dir in sorted(shard_dir.glob("replica-*")):
            assert replica_dir == Path(replica_path(root, shard, int(replica_dir.name.split("-")[1])))
            store = ragstore.PersistentClient(path=str(replica_dir))  # a second process may open a store (SQLite WAL)
            ids = set(store.get_collection(name, embedding_function=None).get(include=[])["ids"])
            store.close()
            assert held.setdefault(shard, ids) == ids  # the replicas of a shard agree
    assert set().union(*held.values()) == set(batch["ids"])
    assert sum(len(ids) for ids in held.values()) == 60
    client.delete_collection(name)
    client.close()


def test_the_token_is_enforced(service: Service) -> None:
    host, port, _ = service
    assert httpx.get(f"http://{host}:{port}/api/v2/tenants/default_tenant/databases/default_database/collections").status_code == 401
    wrong = httpx.get(
        f"http://{host}:{port}/api/v2/tenants/default_tenant/databases/default_database/collections", headers={"X-Chroma-Token": "nope"}
    )
    assert wrong.status_code == 403
    with pytest.raises(Exception, match=r"(?i)forbidden|authori|credentials"):
        chroma_client(service, token="nope").list_collections()
    assert httpx.get(f"http://{host}:{port}/api/v2/heartbeat").status_code == 200


def hybrid_records(seed: int, n: int) -> dict[str, Any]:
    """Records with documents of distinct lengths (no two BM25 scores tie, so one store's order is the only one)."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    weights = 1.0 / np.arange(1, 31)
    documents = [" ".join(rng.choice(words, size=int(length), p=weights / weights.sum())) for length in rng.permutation(n) + 3]
    return data(seed, n) | {"documents": documents}


@pytest.mark.parametrize("which", ["chromadb", "ragstore"])
def test_hybrid_search_uses_collection_wide_bm25_statistics(service: Service, which: str) -> None:
    """BM25, Rrf(dense + BM25) and a weighted sum with a filter through the router equal one store's ids and scores."""
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction as ChromaBm25

    chroma = which == "chromadb"
    client = chroma_client(service) if chroma else ragstore_client(service)
    lib: Any = chromadb if chroma else ragstore
    schema = lib.Schema()
    function = ChromaBm25() if chroma else ragstore.ChromaBm25EmbeddingFunction()
    schema.create_index(config=lib.SparseVectorIndexConfig(source_key="#document", embedding_function=function), key="bm25")
    local_schema = ragstore.Schema()
    config = ragstore.SparseVectorIndexConfig(source_key="#document", embedding_function=ragstore.ChromaBm25EmbeddingFunction())
    local_schema.create_index(config=config, key="bm25")
    name = f"hybrid-{which}-{uuid.uuid4().hex[:6]}"
    remote = client.create_collection(name, schema=schema, embedding_function=None)
    single = ragstore.EphemeralClient()
    local = single.create_collection(name, schema=local_schema, embedding_function=None)
    batch = hybrid_records(11, 150)
    remote.add(**batch)
    local.add(**batch)
    vector = np.random.default_rng(12).normal(size=DIM).astype(np.float32).tolist()
    searches = [
        lib.Search().rank(lib.Knn(query="w3 w7 w19", key="bm25", limit=40)).limit(10).select(lib.K.SCORE, lib.K.DOCUMENT),
        lib.Search()
        .where(lib.K("k") >= 1)
        .rank(lib.Rrf([lib.Knn(query=vector, return_rank=True, limit=30), lib.Knn(query="w2 w11", key="bm25", return_rank=True, limit=30)]))
        .limit(12)
        .select(lib.K.SCORE),
        lib.Search()
        .rank(lib.Knn(query=vector, limit=50) * 0.8 + lib.Knn(query="w5 w9", key="bm25", limit=50, default=1.0) * 0.2)
        .limit(15)
        .select(lib.K.SCORE),
    ]
    found = remote.search(searches)
    expected = local.search([ragstore.Search.from_dict(search.to_dict()) for search in searches])
    assert found["ids"] == expected["ids"]
    assert all(found["ids"])
    for got, want in zip(found["scores"], expected["scores"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    client.delete_collection(name)
    single.close()
    if not chroma:
        client.close()


def test_bm25_query_modes_on_the_sharded_service_are_a_clear_error(service: Service) -> None:
    with ragstore_client(service) as client:
        collection = client.create_collection(f"text-{uuid.uuid4().hex[:6]}", embedding_function=None)
        collection.add(**data(7, 5))
        with pytest.raises(UnimplementedError, match="sharded store"):
            collection.query(query_texts=["record"], mode="bm25")


# Last in the module: these kill replicas of the module's service.


def replica_pid(shard: int, replica: int) -> int:
    serve = require_serve()  # imported late: importing it warns, and the module's warnings filter covers tests only
    handle = serve.get_deployment_handle(f"shard-{shard}-replica-{replica}", app_name=APP_NAME)
    pid: int = handle.process_id.remote().result(timeout_s=60)
    return pid


def test_a_replica_killed_during_writes_loses_no_acknowledged_write(service: Service) -> None:
    """SIGKILL a replica of shard 1 while a client writes: every acknowledged record is readable afterwards.

    With two replicas the shard goes on with the other one and no write fails. With one, a write that
    needed the dead replica either waits for Serve to restart it (its store is on disk) or fails with
    ``ServerConnectionError`` naming the shard; then the shard answers nothing rather than a partial answer.
    """
    _, _, root = service
    replicas = len(list((root / "shard-1").glob("replica-*")))
    victim = replicas - 1
    pid = replica_pid(1, victim)
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    with ragstore_client(service) as client:
        collection = client.create_collection(f"killed-{uuid.uuid4().hex[:6]}", embedding_function=None)
        for batch in range(12):
            if batch == 4:
                os.kill(pid, signal.SIGKILL)
            records = data(100 + batch, 20)
            try:
                collection.add(**records)
            except ServerConnectionError as exc:
                failures.append(exc)
                continue
            acknowledged.extend(records["ids"])
        if replicas > 1:
            assert failures == []
            assert sorted(collection.get(include=[])["ids"]) == sorted(acknowledged)
            assert collection.count() == len(acknowledged) == 240
            on_shard_1 = {i for i in acknowledged if shard_of(i, 2) == 1}
            store = ragstore.PersistentClient(path=replica_path(root, 1, 0))
            assert on_shard_1 <= set(store.get_collection(collection.name, embedding_function=None).get(include=[])["ids"])
            store.close()
            return
        assert all("Shard 1" in str(exc) for exc in failures), failures
        try:
            got = set(collection.get(include=[])["ids"])
        except ServerConnectionError as exc:  # the shard's only replica missed a write: nothing is answered from it
            assert "Shard 1 has no live replica" in str(exc)
            assert failures
            with pytest.raises(ServerConnectionError, match="Shard 1"):
                collection.query(query_embeddings=[[0.0] * DIM], n_results=3)
            got = set()
            for shard in (0, 1):  # what the replicas committed, read from their stores
                store = ragstore.PersistentClient(path=replica_path(root, shard, 0))
                got |= set(store.get_collection(collection.name, embedding_function=None).get(include=[])["ids"])
                store.close()
        assert set(acknowledged) <= got


def replica_ids(shard: int, replica: int, collection: str) -> set[str]:
    """The record ids replica ``replica`` of ``shard`` holds, asked of the replica itself (not through the router)."""
    serve = require_serve()
    handle = serve.get_deployment_handle(f"shard-{shard}-replica-{replica}", app_name=APP_NAME)
    local = handle.call.remote("get_collection", collection).result(timeout_s=30).id
    ids: list[str] = handle.call.remote("get", local, GetRequest(include=[])).result(timeout_s=30)["ids"]
    return set(ids)


@pytest.mark.parametrize("service", [(2, 2)], ids=["2x2"], indirect=True)  # a second replica to copy from
def test_a_stale_replica_catches_up_from_a_healthy_one(service: Service) -> None:
    """A replica frozen (SIGSTOP) during a write misses it and the next one; once it answers again the router copies its shard."""
    _, _, root = service
    assert len(list((root / "shard-1").glob("replica-*"))) == 2
    with ragstore_client(service) as client:
        collection = client.create_collection(f"behind-{uuid.uuid4().hex[:6]}", embedding_function=None)
        batches = [data(300 + b, 20) for b in range(3)]
        collection.add(**batches[0])
        pid = replica_pid(1, 1)
        os.kill(pid, signal.SIGSTOP)
        try:
            collection.add(**batches[1])  # waits for the frozen replica (the router's timeout), then goes on without it
            collection.add(**batches[2])  # the router no longer sends anything to it
        finally:
            with contextlib.suppress(ProcessLookupError):  # Serve's health check may have replaced it meanwhile
                os.kill(pid, signal.SIGCONT)
        on_shard_1 = {i for batch in batches for i in batch["ids"] if shard_of(i, 2) == 1}
        assert on_shard_1 & set(batches[2]["ids"])  # the last batch has records the replica never received
        deadline = time.monotonic() + 120
        while replica_ids(1, 1, collection.name) != on_shard_1:
            assert time.monotonic() < deadline, "the stale replica was not caught up"
            time.sleep(2)
        assert replica_ids(1, 0, collection.name) == on_shard_1
        everything = {i for batch in batches for i in batch["ids"]}
        for _ in range(4):  # reads go to both replicas of shard 1 in turn again
            assert set(collection.get(include=[])["ids"]) == everything
        more = data(310, 20)
        collection.add(**more)  # and writes reach it again
        assert replica_ids(1, 1, collection.name) == on_shard_1 | {i for i in more["ids"] if shard_of(i, 2) == 1}


def test_a_shard_with_no_live_replica_fails_clearly(service: Service) -> None:
    """Every replica of shard 1 killed, and unable to restart (its store path is now a file): a clear error, no partial answer.

    The last test of each service: shard 1 stays lost for its router.
    """
    _, _, root = service
    replicas = sorted((root / "shard-1").glob("replica-*"))
    with ragstore_client(service) as client:
        collection = client.create_collection(f"lost-{uuid.uuid4().hex[:6]}", embedding_function=None)
        before = data(200, 20)
        collection.add(**before)
        pids = [replica_pid(1, j) for j in range(len(replicas))]
        try:
            for folder in replicas:
                folder.rename(folder.with_name(folder.name + ".away"))
                folder.write_text("not a store")  # Serve's restart of the replica fails to open it
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            after = data(201, 20)
            with pytest.raises(ServerConnectionError, match="Shard 1"):
                collection.add(**after)  # the router waits for the replica (timeout_s), then gives up on it
            for request in (collection.count, lambda: collection.get(include=[]), lambda: collection.query(query_embeddings=[[0.0] * DIM])):
                with pytest.raises(ServerConnectionError, match="Shard 1 has no live replica"):
                    request()
            assert collection.get(ids=[i for i in before["ids"] if shard_of(i, 2) == 0], include=[])["ids"]  # shard 0 still answers
        finally:
            for folder in replicas:
                folder.unlink(missing_ok=True)
                folder.with_name(folder.name + ".away").rename(folder)
