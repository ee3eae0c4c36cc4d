"""Memory (issue 19): what an ephemeral store keeps out of the process, and the C heap handed back after bursts.

An ephemeral store is SQLite's private temporary database (``ragstore.local.database``): its
pages beyond SQLite's small page cache live in the operating system's page cache, not in the
process. These tests measure that in a fresh interpreter (its resident memory is its own),
check that the database file is never visible and that each instance is its own, and that a
failed write still rolls back. The background indexer's idle hook
(``ragstore.local.indexer``) hands free heap memory back (``ragstore.local.heap``) once the
queue runs empty, and a hook that fails does not stop indexing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import ragstore
from ragstore.errors import StorageError
from ragstore.local.heap import release_free_memory
from ragstore.local.indexer import Indexer
from tests.indexing import eventually

# A fresh interpreter adds 80 MiB of documents to an ephemeral store (tiny vectors, so the
# graph and the columns hold next to nothing) and prints how much its resident memory grew.
_GROWTH = """
import re, sys
import numpy as np
import ragstore

def rss_mib():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024

client = ragstore.EphemeralClient()
col = client.create_collection("docs", embedding_function=None)
before = rss_mib()
for batch in range(20):
    ids = [f"{batch}-{i}" for i in range(1000)]
    documents = [f"{batch}-{i} " + "x" * 4096 for i in range(1000)]
    col.add(ids=ids, embeddings=np.ones((1000, 2), dtype=np.float32), documents=documents)
assert col.count() == 20_000
assert col.get(ids=["7-7"], include=["documents"])["documents"][0].startswith("7-7 xxx")
print(rss_mib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_ephemeral_store_keeps_its_pages_out_of_the_process(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "SQLITE_TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _GROWTH], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    growth = float(done.stdout.strip().splitlines()[-1])
    # 80 MiB of documents went into the store; held in the process (":memory:") they add at least that.
    assert growth < 40, f"resident memory grew {growth:.0f} MiB for 80 MiB of documents"
    assert list(tmp_path.iterdir()) == []  # the temporary database was never visible, and is gone


def test_ephemeral_instances_are_independent_and_empty_when_new() -> None:
    first, second = ragstore.EphemeralClient(), ragstore.EphemeralClient()
    first.create_collection("docs", embedding_function=None).add(ids=["a"], embeddings=[[1.0, 2.0]])
    assert [c.name for c in first.list_collections()] == ["docs"]
    assert second.list_collections() == []
    first.close()
    third = ragstore.EphemeralClient()
    assert third.list_collections() == []  # nothing of a closed instance comes back
    second.close()
    third.close()


def test_a_failed_ephemeral_write_stores_nothing() -> None:
    client = ragstore.EphemeralClient()
    col = client.create_collection("docs", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["kept"])
    conn = client._api._db.connection()  # type: ignore[attr-defined]  # the one shared connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL inside the write, as on a full temporary disk
    try:
        with pytest.raises(StorageError, match="full"):
            col.add(ids=[f"b{i}" for i in range(500)], embeddings=np.ones((500, 2), dtype=np.float32), documents=["x" * 1000] * 500)
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")
    assert col.count() == 1 and col.get(include=["documents"])["documents"] == ["kept"]
    assert col.query(query_embeddings=[[3.0, 4.0]], n_results=5)["ids"] == [["a"]]
    col.add(ids=["b0"], embeddings=[[3.0, 4.0]])  # the store stays usable
    assert col.count() == 2
    client.close()


def test_the_indexer_runs_its_idle_hook_once_the_queue_runs_empty() -> None:
    hooked = threading.Event()
    steps: list[str] = []

    def step(key: str) -> bool:
        time.sleep(0.01)
        steps.append(key)
        return len(steps) < 3  # three steps of work, then nothing left

    indexer = Indexer(step, idle=hooked.set)
    indexer.notify("docs")
    assert indexer.flush(timeout=30)
    assert hooked.wait(30)
    assert steps == ["docs", "docs", "docs"]
    assert indexer.stop(timeout=30)


def test_a_failing_idle_hook_does_not_stop_indexing() -> None:
    calls: list[int] = []
    done: list[str] = []

    def hook() -> None:
        calls.append(1)
        raise RuntimeError("no")

    def step(key: str) -> bool:
        time.sleep(0.005)
        done.append(key)
        return False

    indexer = Indexer(step, idle=hook)
    indexer.notify("a")

    def hook_ran() -> None:
        assert calls == [1]

    eventually(hook_ran)
    indexer.notify("b")
    assert indexer.flush(timeout=30)
    assert done == ["a", "b"]
    assert indexer.stop(timeout=30)


def test_releasing_free_memory_is_safe_at_any_time() -> None:
    blocks = [np.ones(100_000) for _ in range(50)]  # 40 MB through the C heap, then freed
    del blocks
    assert release_free_memory() in (True, False)
    assert float(np.ones(10).sum()) == 10.0  # allocation works as before


def test_close_frees_the_columns_before_it_saves(tmp_path: Path) -> None:
    client = ragstore.PersistentClient(path=str(tmp_path / "store"))
    col = client.create_collection("docs", embedding_function=None)
    vectors = np.random.default_rng(3).standard_normal((300, 8)).astype(np.float32)
    col.add(ids=[str(i) for i in range(300)], embeddings=vectors, metadatas=[{"even": i % 2 == 0} for i in range(300)])
    filtered = col.query(query_embeddings=vectors[:1], n_results=3, where={"even": True})  # builds the columns
    (entry,) = client._api._indexes._cached.values()  # type: ignore[attr-defined]  # white box: the cache's entry
    assert entry.columns is not None
    client.close()
    assert entry.columns is None  # freed before the save, not held through it
    reopened = ragstore.PersistentClient(path=str(tmp_path / "store"))
    again = reopened.get_collection("docs", embedding_function=None)
    assert again.query(query_embeddings=vectors[:1], n_results=3, where={"even": True})["ids"] == filtered["ids"]
    reopened.close()


def test_file_store_connections_keep_a_small_page_cache_and_writes_a_larger_one(tmp_path: Path) -> None:
    from ragstore.local.database import Database

    db = Database(tmp_path / "store")
    with db.read() as conn:
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -512  # per thread: many threads, many caches
    with db.write() as conn:
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -2000  # SQLite's default while a write runs
        conn.execute("INSERT INTO tenants (name) VALUES ('acme')")
    with pytest.raises(RuntimeError), db.write() as conn:
        raise RuntimeError("a failed write")
    with db.read() as conn:
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -512  # back after a commit and after a rollback
        assert conn.execute("SELECT count(*) FROM tenants WHERE name = 'acme'").fetchone()[0] == 1
    db.close()
