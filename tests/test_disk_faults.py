"""Full and read-only disks: a committed write is never reported as failed, and errors stay honest.

Every test runs on real file systems: a 20 MB tmpfs for a full disk, a read-only bind
mount for an immutable index folder or a read-only store. Each runs embedded
(``PersistentClient``) and against a real ``ragstore run`` process over a socket. Mounting
needs root (or CAP_SYS_ADMIN): see ``tests/mounts.py``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from starlette.testclient import TestClient

import ragstore
from ragstore.collection_requests import CreateCollectionRequest
from ragstore.errors import InternalError, StorageError
from ragstore.http.client import HttpAPI
from ragstore.http.wire import API_PREFIX
from ragstore.local import LocalAPI
from ragstore.local.database import DATABASE_FILENAME
from ragstore.local.index_cache import INDEX_DIRECTORY
from ragstore.server import create_app
from tests.indexing import eventually, indexed
from tests.mounts import read_only_view, small_disk
from tests.servers import RunningServer

DIM = 32
# Wide graph nodes (64 neighbours) make the index file about three times the size of the
# records in SQLite, so a disk can hold the next writes but not the next index save.
METADATA = {"hnsw:M": 64, "hnsw:sync_threshold": 100}
SAVE_FAILED = "Could not save the index of collection"
MODES = ["persistent", "server"]


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(disk: Path, leave: int) -> Path:
    """Take all of ``disk``'s free space but ``leave`` bytes (really allocated, not sparse)."""
    filler = disk / f"filler-{time.monotonic_ns()}"
    with filler.open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(free_bytes(disk) - leave, 1))
    return filler


# ----------------------------------------------------------------------------- one store, two modes


class Store:
    """A store at ``path`` opened embedded or behind a real ``ragstore run``; logs from either."""

    def __init__(self, mode: str, path: Path, caplog: pytest.LogCaptureFixture) -> None:
        self.mode = mode
        self.path = path
        self._caplog = caplog
        self._server_output: list[str] = []
        self._server: RunningServer | None = None
        self.client: ragstore.ClientAPI | None = None

    def open(self) -> ragstore.ClientAPI:
        if self.mode == "persistent":
            self.client = ragstore.PersistentClient(path=self.path)
        else:
            self._server = RunningServer.start(self.path)
            self.client = ragstore.HttpClient(host=self._server.host, port=self._server.port)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._server is not None:
            assert self._server.stop() == 0
            self._server_output.extend(self._server.output)
            self._server = None

    def logs(self) -> str:
        """What the store logged (the server's output, which also holds its warnings)."""
        running = self._server.output if self._server is not None else []
        return self._caplog.text + "".join(self._server_output + running)


StoreAt = Callable[[Path], Store]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_at(mode: str, caplog: pytest.LogCaptureFixture) -> Iterator[StoreAt]:
    caplog.set_level(logging.WARNING)
    opened: list[Store] = []

    def make(path: Path) -> Store:
        store = Store(mode, path, caplog)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def vectors(seed: int, n: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).random((n, DIM), dtype=np.float32)


def add_batch(col: ragstore.Collection, batch: int, n: int) -> None:
    col.add(ids=[f"b{batch}-{i}" for i in range(n)], embeddings=vectors(batch, n))


def assert_findable(col: ragstore.Collection, batch: int, n: int) -> None:
    """Every record of ``batch`` is its own nearest neighbour (the index serves queries)."""
    found = col.query(query_embeddings=vectors(batch, n)[:5], n_results=1, include=[])["ids"]
    assert found == [[f"b{batch}-{i}"] for i in range(5)]


def index_dir(store: Path, col: ragstore.Collection) -> Path:
    return store / INDEX_DIRECTORY / str(col.id)


def published(directory: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((directory / "meta.json").read_text())
    return meta


def assert_only_published_files(directory: Path) -> str:
    """The index folder holds the files ``meta.json`` names and nothing else; their token."""
    token = str(published(directory)["token"])
    files = sorted(p.name for p in directory.iterdir())
    expected = sorted([f"index-{token}.bin", f"labels-{token}.npy", "meta.json"])
    # The save's reachability note (ragstore.local.orphans) goes with them when it could be written.
    assert files in (expected, sorted([*expected, f"reachability-{token}.json"])), files
    return token


def assert_logged_once(store: Store) -> str:
    """The store's logs, which tell of a failed index save exactly once."""
    logs = store.logs()
    assert logs.count(SAVE_FAILED) == 1, logs
    return logs


def last_seq(store: Path) -> int:
    with closing(sqlite3.connect(f"file:{store / DATABASE_FILENAME}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT max(last_seq) FROM collections").fetchone()[0])


# ----------------------------------------------------------------------------- item 4: index saves


def test_a_full_disk_never_fails_a_committed_write_or_a_query_and_leaves_no_partial_files(
    store_at: StoreAt,
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        path = disk / "store"
        store = store_at(path)
        col = store.open().create_collection("docs", metadata=METADATA, embedding_function=None)
        for batch in range(6):
            add_batch(col, batch, 1000)
        folder = index_dir(path, col)
        indexed(col)  # the background indexer saves after it catches up
        eventually(lambda: assert_only_published_files(folder))
        # What a crashed save of another process left behind, long ago.
        orphan = folder / "index-3-999999-0badf00d.bin"
        orphan.write_bytes(b"\0" * 100_000)
        os.utime(orphan, (time.time() - 3600,) * 2)

        # Room for the records (~0.4 MB) but not for the index (~4.5 MB): saves fail, writes do not.
        filler = fill(disk, leave=2 * 1024 * 1024)
        for batch in range(6, 10):
            add_batch(col, batch, 400)
        assert col.count() == 7600
        assert col.delete(ids=[f"b0-{i}" for i in range(1000)]) == {"deleted": 1000}
        assert col.count() == 6600
        for batch in (1, 9):
            assert_findable(col, batch, 400)
        assert col.get(ids=["b9-0"], include=[])["ids"] == ["b9-0"]
        indexed(col)
        logs = eventually(lambda: assert_logged_once(store))  # once per failure streak, not once per call
        assert "Traceback" not in logs
        # The failed saves removed what they wrote; the orphan waits for a successful save.
        token = published(folder)["token"]
        note = folder / f"reachability-{token}.json"  # the published save's note (ragstore.local.orphans), if any
        assert sorted(p.name for p in folder.iterdir() if p not in (orphan, note)) == sorted(
            [f"index-{token}.bin", f"labels-{token}.npy", "meta.json"]
        )

        # Now SQLite itself cannot write: a typed error without the host's paths, nothing changed.
        # (8 MB of documents: more than the write-ahead log could take in the space it already has.)
        filler_2 = fill(disk, leave=0)
        with pytest.raises(StorageError, match=r"^The disk holding the store 'store' is full") as info:
            col.add(ids=[f"doc{i}" for i in range(400)], embeddings=vectors(10, 400), documents=["x" * 20_000] * 400)
        assert str(tmp_path) not in info.value.message
        assert col.count() == 6600
        assert_findable(col, 9, 400)

        # Space is freed: the same write succeeds, and the close saves the index.
        filler.unlink()
        filler_2.unlink()
        add_batch(col, 10, 400)
        assert col.count() == 7000
        store.close()
        token = assert_only_published_files(folder)  # the orphan went with the successful save
        assert published(folder)["seq"] == last_seq(path)

        # A restart loads those files: no rebuild, so nothing new to save at the next close.
        # Loading also removes what an old failed save of another process left (a partial graph).
        partial = folder / "index-12-999999-0badf00d.bin"
        partial.write_bytes(b"\0" * 100_000)
        os.utime(partial, (time.time() - 3600,) * 2)
        col = store.open().get_collection("docs", embedding_function=None)
        assert_findable(col, 10, 400)
        assert not partial.exists()
        store.close()
        assert assert_only_published_files(folder) == token


def test_an_immutable_index_folder_never_fails_writes_or_queries(
    store_at: StoreAt,
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    store = store_at(path)
    col = store.open().create_collection("docs", metadata=METADATA, embedding_function=None)
    add_batch(col, 0, 500)
    folder = index_dir(path, col)
    indexed(col)
    token = eventually(lambda: assert_only_published_files(folder))
    with read_only_view(path / INDEX_DIRECTORY, path / INDEX_DIRECTORY):
        for batch in range(1, 4):
            add_batch(col, batch, 300)
            assert_findable(col, batch, 300)
        assert col.delete(ids=[f"b1-{i}" for i in range(300)]) == {"deleted": 300}
        col.upsert(ids=["b2-0"], embeddings=vectors(99, 1))
        assert col.count() == 1100
        assert_findable(col, 3, 300)
        store.close()  # the save at close fails too, and is only logged
        assert assert_only_published_files(folder) == token
        logs = store.logs()
        assert logs.count(SAVE_FAILED) == 1, logs
        col = store.open().get_collection("docs", embedding_function=None)
        assert col.count() == 1100  # older files plus SQLite: the restart catches up
        assert_findable(col, 3, 300)
        store.close()
    # Writable again: the next save succeeds and replaces the old files.
    col = store.open().get_collection("docs", embedding_function=None)
    add_batch(col, 4, 300)
    store.close()
    assert assert_only_published_files(folder) != token
    assert published(folder)["seq"] == last_seq(path)


# ----------------------------------------------------------------------------- item 5: read-only stores


def _crash_after_writing(path: Path) -> None:
    """A child process that writes and dies without closing: its -wal and -shm files stay."""
    code = (
        "import os, sys, numpy as np, ragstore\n"
        "col = ragstore.PersistentClient(path=sys.argv[1]).get_collection('docs', embedding_function=None)\n"
        f"col.add(ids=['late'], embeddings=np.full((1, {DIM}), 0.5, dtype=np.float32))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)


@pytest.mark.parametrize("closed", ["cleanly", "by-a-crash"])
def test_a_read_only_store_serves_reads_and_refuses_writes_with_a_typed_error(
    store_at: StoreAt,
    mode: str,
    tmp_path: Path,
    closed: str,
) -> None:
    path = tmp_path / "store"
    writer = ragstore.PersistentClient(path=path)
    col = writer.create_collection("docs", metadata=METADATA, embedding_function=None)
    add_batch(col, 0, 300)
    # Never filtered by document: its full-text index is not built, and a read-only store cannot build it.
    texts = writer.create_collection("texts", embedding_function=None)
    texts.add(ids=["t1", "t2", "t3"], documents=["red apples", "green pears", "an apple pie"], embeddings=vectors(7, 3))
    writer.close()
    expected = 300
    if closed == "by-a-crash":
        _crash_after_writing(path)
        assert (path / f"{DATABASE_FILENAME}-wal").stat().st_size > 0  # the commit lives in the WAL only
        expected += 1
    before = sorted((p.name, p.stat().st_size) for p in path.rglob("*"))

    with read_only_view(tmp_path, tmp_path / "ro") as view:
        store = store_at(view / "store")
        client = store.open()
        assert sorted(c.name for c in client.list_collections()) == ["docs", "texts"]
        texts = client.get_collection("texts", embedding_function=None)
        assert texts.get(where_document={"$contains": "apple"}, include=[])["ids"] == ["t1", "t3"]
        assert texts.get(where_document={"$not_contains": "apple"}, include=[])["ids"] == ["t2"]
        found = texts.query(query_embeddings=vectors(7, 3)[:1], n_results=3, where_document={"$contains": "pple"}, include=[])
        assert sorted(found["ids"][0]) == ["t1", "t3"]
        col = client.get_or_create_collection("docs", embedding_function=None)
        assert col.count() == expected
        assert_findable(col, 0, 300)
        assert col.get(ids=["b0-7"], include=["embeddings"])["ids"] == ["b0-7"]
        if closed == "by-a-crash":
            assert col.get(ids=["late"], include=[])["ids"] == ["late"]
        for write in (
            lambda: add_batch(col, 1, 10),
            lambda: col.delete(ids=["b0-1"]),
            lambda: client.create_collection("other"),
        ):
            with pytest.raises(StorageError, match=r"^The store 'store' is read-only: writes are refused$"):
                write()
        assert col.count() == expected
        logs = store.logs()
        assert "is read-only: serving reads only" in logs and "Traceback" not in logs
        store.close()
    assert sorted((p.name, p.stat().st_size) for p in path.rglob("*")) == before


def test_a_read_only_store_that_needs_a_schema_upgrade_says_so(tmp_path: Path) -> None:
    ragstore.PersistentClient(path=tmp_path / "store").close()
    conn = sqlite3.connect(tmp_path / "store" / DATABASE_FILENAME)
    conn.execute("PRAGMA user_version = 2")  # as a store from before the last migration
    conn.close()
    older = r"was written by an older ragstore \(schema 2, this one reads \d+\) and is read-only"
    with read_only_view(tmp_path, tmp_path / "ro") as view, pytest.raises(StorageError, match=older):
        ragstore.PersistentClient(path=view / "store")


def test_a_store_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with read_only_view(tmp_path / "empty", tmp_path / "ro") as view:
        with pytest.raises(StorageError, match=r"^Cannot create the store at .*/ro/store: Read-only file system$"):
            ragstore.PersistentClient(path=view / "store")
        assert not (view / "store").exists()


# ----------------------------------------------------------------------------- item 5: internal errors


def test_an_internal_error_names_an_incident_not_the_hosts_paths(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # No real fault is left that produces an InternalError (index saves no longer fail
    # requests), so one engine method is replaced by the failure the issue saw.
    secret = f"{tmp_path}/store/indexes/c0ffee/index-7-{os.getpid()}-0abc.bin"

    def failing(*args: object) -> int:
        raise OSError(28, "No space left on device", secret)

    api = LocalAPI(tmp_path / "store")
    col = api.create_collection(CreateCollectionRequest("docs"))
    with TestClient(create_app(api), base_url="http://testserver") as http:
        api.count = failing  # type: ignore[method-assign]
        response = http.get(f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections/{col.id}/count")
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "InternalError"
        assert str(tmp_path) not in response.text and str(os.getpid()) not in response.text
        incident = body["message"].removeprefix("Internal error (id ").removesuffix("); see the server log")
        assert len(incident) == 8
        with pytest.raises(InternalError, match=r"^Internal error \(id [0-9a-f]{8}\); see the server log$"):
            HttpAPI("http://testserver", session=http).count(col.id)
    # The operator's log has the details, under the same id.
    logged = [r for r in caplog.records if f"id {incident}" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None and secret in str(logged[0].exc_info[1])
