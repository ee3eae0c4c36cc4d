"""Backup and restore: consistent snapshots of live stores, restores that answer as the original did.

Real stores on disk, a real writer process (and its index saves) running during a backup, a
real 20 MB tmpfs for a full disk. The writer is a function of this module run in a child
interpreter, so what it writes and what the test expects come from the same code.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
import pytest
from click.testing import CliRunner

import ragstore
from ragstore.backup import backup, restore
from ragstore.cli.backup import backup as backup_command
from ragstore.cli.backup import restore as restore_command
from ragstore.cli.errors import RagstoreGroup
from ragstore.errors import InvalidArgumentError, StorageError
from ragstore.local.database import DATABASE_FILENAME
from ragstore.local.index_cache import INDEX_DIRECTORY
from tests.mounts import read_only_view, small_disk

TESTS_DIR = Path(__file__).resolve().parent
DIM = 16
BATCH = 20
# Saves every 40 changes: the writer replaces its index files many times while a backup copies them.
CONFIG = {"hnsw": {"sync_threshold": 40}}


def batch(number: int) -> tuple[list[str], npt.NDArray[np.float32], list[dict[str, Any]]]:
    """Batch ``number`` of the writer: ids, vectors and metadata, the same in every process."""
    rng = np.random.default_rng(number)
    ids = [f"b{number}-{i}" for i in range(BATCH)]
    metadatas: list[dict[str, Any]] = [{"batch": number, "i": i} for i in range(BATCH)]
    return ids, rng.random((BATCH, DIM), dtype=np.float32), metadatas


def write_batches(path: str, acks: str) -> None:
    """The writer process: adds batch after batch, appending each acknowledged batch's number to ``acks``."""
    with ragstore.PersistentClient(path=path) as client, open(acks, "a") as out:
        col = client.get_or_create_collection("live", configuration=CONFIG)  # type: ignore[arg-type]
        number = 0
        while not Path(acks + ".stop").exists():
            ids, vectors, metadatas = batch(number)
            col.add(ids=ids, embeddings=vectors, metadatas=metadatas)  # type: ignore[arg-type]
            out.write(f"{number}\n")
            out.flush()
            number += 1


def read_acks(acks: Path) -> list[int]:
    return [int(line) for line in acks.read_text().split()] if acks.exists() else []


def make_store(path: Path) -> None:
    """Two collections with updates and deletes, their indexes saved at close."""
    rng = np.random.default_rng(7)
    with ragstore.PersistentClient(path=path) as client:
        for name in ("one", "two"):
            col = client.create_collection(name, configuration={"hnsw": {"space": "cosine" if name == "two" else "l2"}})
            ids = [f"{name}-{i}" for i in range(300)]
            col.add(
                ids=ids,
                embeddings=rng.random((300, DIM)),
                documents=[f"text {i}" for i in range(300)],
                metadatas=[{"i": i} for i in range(300)],
            )
            col.update(ids=ids[:50], embeddings=rng.random((50, DIM)))
            col.delete(ids=ids[250:])


def answers(path: Path, queries: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Everything the store at ``path`` says: every record, and the 10 nearest to each query (plain and filtered)."""
    with ragstore.PersistentClient(path=path) as client:
        out: dict[str, Any] = {}
        for col in client.list_collections():
            col.get_indexing_status()  # loads the index (a missing one is rebuilt in the background) ...
        assert client._api._indexes.flush(60)  # type: ignore[attr-defined]  # ... and the answers come from the finished one
        for col in client.list_collections():
            got = col.get(include=["embeddings", "documents", "metadatas"])
            order = np.argsort(got["ids"])
            out[col.name] = {
                "ids": [got["ids"][i] for i in order],
                "embeddings": np.asarray(got["embeddings"])[order].tobytes(),
                "documents": [got["documents"][i] for i in order],  # type: ignore[index]
                "metadatas": [got["metadatas"][i] for i in order],  # type: ignore[index]
                "query": col.query(query_embeddings=queries, n_results=10, include=["distances"]),
                "filtered": col.query(query_embeddings=queries, n_results=10, where={"i": {"$lt": 100}}, include=["distances"]),
                "configuration": col.configuration,
            }
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- a quiet store


def test_restored_store_answers_every_query_as_the_original(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    queries = np.random.default_rng(3).random((40, DIM))
    before = answers(tmp_path / "store", queries)

    report = backup(tmp_path / "store", tmp_path / "backup")
    assert (report.collections, report.records, report.indexes) == (2, 500, 2)
    restored = restore(tmp_path / "backup", tmp_path / "restored")
    assert (restored.collections, restored.records, restored.indexes) == (2, 500, 2)

    assert answers(tmp_path / "restored", queries) == before
    assert answers(tmp_path / "backup", queries) == before  # a backup is a store too
    assert leftovers(tmp_path) == []


def test_copied_index_files_are_loaded_not_rebuilt(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    backup(tmp_path / "store", tmp_path / "backup")
    for folder in (tmp_path / "backup" / INDEX_DIRECTORY).iterdir():
        original = tmp_path / "store" / INDEX_DIRECTORY / folder.name
        assert json.loads((folder / "meta.json").read_text()) == json.loads((original / "meta.json").read_text())
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in original.iterdir())
    restore(tmp_path / "backup", tmp_path / "restored")
    with ragstore.PersistentClient(path=tmp_path / "restored") as client:
        for col in client.list_collections():
            col.query(query_embeddings=[[0.5] * DIM], n_results=1)
            meta = json.loads((tmp_path / "restored" / INDEX_DIRECTORY / str(col.id) / "meta.json").read_text())
            cached = client._api._indexes._cached  # type: ignore[attr-defined]  # white box: which files the index came from
            assert [entry.index._saved_token for entry in cached.values() if entry.collection_id == str(col.id)] == [meta["token"]]


def test_a_torn_index_is_left_out_and_rebuilt(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    queries = np.random.default_rng(4).random((20, DIM))
    before = answers(tmp_path / "store", queries)
    folder = next((tmp_path / "store" / INDEX_DIRECTORY).iterdir())
    graph = next(folder.glob("index-*.bin"))
    with graph.open("r+b") as handle:  # as a save that another process is writing would look
        handle.truncate(graph.stat().st_size // 2)

    report = backup(tmp_path / "store", tmp_path / "backup")
    assert report.indexes == 1
    assert not (tmp_path / "backup" / INDEX_DIRECTORY / folder.name).exists()
    assert answers(tmp_path / "backup", queries) == before


# ----------------------------------------------------------------------------- a live store


def test_backup_during_a_concurrent_writer_holds_every_acknowledged_write(tmp_path: Path) -> None:
    store, acks = tmp_path / "store", tmp_path / "acks"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    code = "import sys, tests.test_backup as t; t.write_batches(sys.argv[1], sys.argv[2])"
    with subprocess.Popen([sys.executable, "-c", code, str(store), str(acks)], env=env, stderr=subprocess.PIPE, text=True) as writer:
        try:
            deadline = time.monotonic() + 60
            while len(read_acks(acks)) < 10:  # past a few index saves
                assert writer.poll() is None and time.monotonic() < deadline, writer.stderr.read() if writer.stderr else ""
                time.sleep(0.01)
            snapshots = []
            for number in range(3):
                acknowledged = read_acks(acks)
                report = backup(store, tmp_path / f"backup{number}")
                snapshots.append((acknowledged, report))
            # The writer keeps going: the backups neither stopped it nor left it waiting on a lock.
            while len(read_acks(acks)) <= len(snapshots[-1][0]) + 2:
                assert writer.poll() is None and time.monotonic() < deadline, writer.stderr.read() if writer.stderr else ""
                time.sleep(0.01)
        finally:
            (tmp_path / "acks.stop").touch()
            writer.wait(timeout=60)
    assert writer.returncode == 0, writer.stderr

    for number, (acknowledged, report) in enumerate(snapshots):
        restored = tmp_path / f"restored{number}"
        restore(tmp_path / f"backup{number}", restored)
        with ragstore.PersistentClient(path=restored) as client:
            col = client.get_collection("live")
            got = col.get(include=["embeddings", "metadatas"])
            batches = sorted({m["batch"] for m in got["metadatas"]})  # type: ignore[union-attr, index]
            # Whole batches, from the first on, including every batch acknowledged before the backup began.
            assert batches == list(range(len(batches))) and len(batches) >= len(acknowledged)
            assert report.records == col.count() == len(batches) * BATCH
            expected_ids, expected_vectors = [], []
            for b in batches:
                ids, vectors, _ = batch(b)
                expected_ids += ids
                expected_vectors.append(vectors)
            order = np.argsort(got["ids"])
            assert sorted(got["ids"]) == sorted(expected_ids)
            stored = np.asarray(got["embeddings"], dtype=np.float32)[order]
            wanted = np.concatenate(expected_vectors)[np.argsort(expected_ids)]
            assert stored.tobytes() == wanted.tobytes()
            # Each record is its own nearest neighbour: the index (copied or rebuilt) covers every record.
            hits = col.query(query_embeddings=wanted, n_results=1, include=["distances"])
            misses = sum(hit != [i] for hit, i in zip(hits["ids"], sorted(expected_ids), strict=True))
            assert misses <= 2


def test_backup_of_a_store_a_running_server_serves_and_writes(tmp_path: Path) -> None:
    from ragstore.testing import RunningServer

    store = tmp_path / "store"
    make_store(store)
    queries = np.random.default_rng(6).random((30, DIM))
    acknowledged: list[int] = []
    stop = threading.Event()
    with RunningServer.start(store) as server, server.client() as client:
        col = client.get_or_create_collection("live", configuration=CONFIG)  # type: ignore[arg-type]

        def write() -> None:
            number = 0
            while not stop.is_set():
                ids, vectors, metadatas = batch(number)
                col.add(ids=ids, embeddings=vectors, metadatas=metadatas)  # type: ignore[arg-type]
                acknowledged.append(number)
                number += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            while len(acknowledged) < 5:
                assert writer.is_alive()
                time.sleep(0.01)
            seen = len(acknowledged)
            report = backup(store, tmp_path / "during")
            assert report.records >= 500 + seen * BATCH
        finally:
            stop.set()
            writer.join(timeout=60)
        # Now quiet, the server still holding its indexes in memory: the backup answers as the server does.
        backup(store, tmp_path / "after")
        served = {
            c.name: c.query(query_embeddings=queries, n_results=10, include=["distances", "metadatas"]) for c in client.list_collections()
        }
    with ragstore.PersistentClient(path=tmp_path / "after") as restored:
        for name, expected in served.items():
            got = restored.get_collection(name).query(query_embeddings=queries, n_results=10, include=["distances", "metadatas"])
            assert got["ids"] == expected["ids"] and got["metadatas"] == expected["metadatas"], name
            np.testing.assert_allclose(np.asarray(got["distances"]), np.asarray(expected["distances"]), rtol=1e-6, atol=1e-6)
    with ragstore.PersistentClient(path=tmp_path / "during") as restored:
        live = restored.get_collection("live").get(include=["metadatas"])
        batches = sorted({m["batch"] for m in live["metadatas"]})  # type: ignore[union-attr, index]
        assert batches == list(range(len(batches))) and len(live["ids"]) == len(batches) * BATCH >= seen * BATCH


# ----------------------------------------------------------------------------- restore's refusals, bad input


def test_restore_refuses_a_non_empty_store_unless_forced(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    backup(tmp_path / "store", tmp_path / "backup")
    with ragstore.PersistentClient(path=tmp_path / "other") as client:
        client.create_collection("mine").add(ids=["x"], embeddings=[[0.0] * DIM])
    snapshot = sorted((p.name, p.stat().st_size) for p in (tmp_path / "other").rglob("*"))

    with pytest.raises(InvalidArgumentError, match="not empty: pass --force"):
        restore(tmp_path / "backup", tmp_path / "other")
    assert sorted((p.name, p.stat().st_size) for p in (tmp_path / "other").rglob("*")) == snapshot

    restore(tmp_path / "backup", tmp_path / "other", force=True)
    with ragstore.PersistentClient(path=tmp_path / "other") as client:
        assert sorted(c.name for c in client.list_collections()) == ["one", "two"]
    assert leftovers(tmp_path) == []


def test_restore_refuses_a_store_a_process_has_open(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    backup(tmp_path / "store", tmp_path / "backup")
    code = "import sys, ragstore; c = ragstore.PersistentClient(path=sys.argv[1]); c.list_collections(); print('open', flush=True); input()"
    command = [sys.executable, "-c", code, str(tmp_path / "store")]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout is not None and other.stdout.readline() == "open\n"
        with pytest.raises(InvalidArgumentError, match="open in a running process"):
            restore(tmp_path / "backup", tmp_path / "store", force=True)
        other.communicate("\n")  # the other process closes its client and ends
    assert other.returncode == 0
    # This process's own client counts too.
    with ragstore.PersistentClient(path=tmp_path / "store"), pytest.raises(InvalidArgumentError, match="open in a running process"):
        restore(tmp_path / "backup", tmp_path / "store", force=True)
    restore(tmp_path / "backup", tmp_path / "store", force=True)


def test_bad_input_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="No ragstore store"):
        backup(tmp_path / "empty", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()

    make_store(tmp_path / "store")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="not empty"):
        backup(tmp_path / "store", tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]

    backup(tmp_path / "store", tmp_path / "backup")
    damaged = tmp_path / "backup" / DATABASE_FILENAME
    with damaged.open("r+b") as handle:
        handle.seek(4096 * 3)
        handle.write(os.urandom(4096 * 4))
    (tmp_path / "target").mkdir()
    with pytest.raises(InvalidArgumentError, match="damaged"):
        restore(tmp_path / "backup", tmp_path / "target")
    assert list((tmp_path / "target").iterdir()) == []
    shutil.copytree(tmp_path / "backup", tmp_path / "damaged")
    with pytest.raises(StorageError, match=r"is damaged .*: no backup was made"):
        backup(tmp_path / "damaged", tmp_path / "again")
    assert not (tmp_path / "again").exists()
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="no ragstore store: not replacing it, even with --force"):
        restore(tmp_path / "store", tmp_path / "home", force=True)
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["notes.txt"]
    with pytest.raises(InvalidArgumentError, match="onto itself"):
        restore(tmp_path / "store", tmp_path / "store", force=True)
    assert leftovers(tmp_path) == []


def test_a_full_disk_leaves_no_backup_behind(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with ragstore.PersistentClient(path=store) as client:  # ~3 MB in SQLite: more than the disk holds
        rng = np.random.default_rng(0)
        client.create_collection("big").add(ids=[str(i) for i in range(1000)], embeddings=rng.random((1000, 768)))
    with small_disk(tmp_path / "disk", size="2m") as disk:
        with pytest.raises(StorageError, match=r"Could not write the backup at .*: the disk is full"):
            backup(store, disk / "backup")  # the index files fill it
        assert list(disk.iterdir()) == []
        shutil.rmtree(store / INDEX_DIRECTORY)
        with pytest.raises(StorageError, match=r"Could not write the backup at .*: the disk is full") as raised:
            backup(store, disk / "backup")  # SQLite fills it
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        assert list(disk.iterdir()) == []
        (disk / "target").mkdir()
        with pytest.raises(StorageError, match="Could not restore into"):
            restore(store, disk / "target")
        assert [p.name for p in disk.iterdir()] == ["target"] and list((disk / "target").iterdir()) == []


def test_a_read_only_store_is_backed_up(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    queries = np.random.default_rng(8).random((20, DIM))
    before = answers(tmp_path / "store", queries)
    with read_only_view(tmp_path / "store", tmp_path / "mounted") as mounted:
        report = backup(mounted, tmp_path / "backup")
    assert (report.records, report.indexes) == (500, 2)
    assert answers(tmp_path / "backup", queries) == before


# ----------------------------------------------------------------------------- the commands


def test_commands_back_up_and_restore_and_report_mistakes_in_one_line(tmp_path: Path) -> None:
    make_store(tmp_path / "store")
    runner = CliRunner()
    result = runner.invoke(backup_command, [str(tmp_path / "store"), str(tmp_path / "backup")], catch_exceptions=False)
    assert result.exit_code == 0 and "Backed up 500 records in 2 collections" in result.output
    result = runner.invoke(restore_command, [str(tmp_path / "backup"), str(tmp_path / "restored")], catch_exceptions=False)
    assert result.exit_code == 0 and "Restored 500 records" in result.output

    @click.group(cls=RagstoreGroup)
    def cli() -> None: ...

    cli.add_command(backup_command)
    cli.add_command(restore_command)
    result = runner.invoke(cli, ["restore", str(tmp_path / "backup"), str(tmp_path / "restored")])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "Error: Restore target" in result.output
    result = runner.invoke(cli, ["restore", "--force", str(tmp_path / "backup"), str(tmp_path / "restored")])
    assert result.exit_code == 0, result.output
    shutil.rmtree(tmp_path / "backup")
    result = runner.invoke(cli, ["backup", str(tmp_path / "nowhere"), str(tmp_path / "backup")])
    assert result.exit_code == 1 and result.output.startswith("Error: No ragstore store at")


# ----------------------------------------------------------------------------- the server route


def test_server_route_backs_up_the_served_store_behind_the_token(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from ragstore.local import LocalAPI
    from ragstore.server import create_app
    from ragstore.server.app import ServerConfig

    make_store(tmp_path / "store")
    queries = np.random.default_rng(5).random((20, DIM))
    before = answers(tmp_path / "store", queries)
    app = create_app(LocalAPI(tmp_path / "store"), ServerConfig(auth_token="s3cret", backup_dir=tmp_path / "backups"))
    url = "/api/v2/ragstore/backups"
    with TestClient(app) as http:
        assert http.post(url, json={"name": "nightly"}).status_code == 401
        assert http.post(url, json={"name": "nightly"}, headers={"X-Chroma-Token": "wrong"}).status_code == 403
        assert not (tmp_path / "backups").exists()
        auth = {"Authorization": "Bearer s3cret"}
        answer = http.post(url, json={"name": "nightly"}, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"name": "nightly", "collections": 2, "records": 500, "indexes": 2}
        assert http.get(url, headers=auth).json() == {"backups": ["nightly"]}
        again = http.post(url, json={"name": "nightly"}, headers=auth)
        assert again.status_code == 409 and again.json()["error"] == "UniqueConstraintError"
        for bad in ("../escape", "", ".hidden", 7):
            refused = http.post(url, json={"name": bad}, headers=auth)
            assert refused.status_code == 400 and str(tmp_path) not in refused.text
        assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == ["nightly"]
    restore(tmp_path / "backups" / "nightly", tmp_path / "restored")
    assert answers(tmp_path / "restored", queries) == before
