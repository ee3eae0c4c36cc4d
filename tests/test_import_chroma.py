"""``ragstore import-chroma``: stores made by chromadb 1.5.9 itself, in its own processes, come across whole.

Each chromadb store is made by a child process running :data:`CHROMA_SCRIPT` (chromadb keeps process-wide
state per path, and a crash test needs a process to kill); the same script then reports what chromadb
itself answers (records, configuration, query ids), which the imported ragstore store must answer too.
Every collection is given its embeddings: chromadb's default embedding function would download a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import ragstore
from ragstore.chroma_import import import_chroma
from ragstore.cli.errors import RagstoreGroup
from ragstore.cli.import_chroma import import_chroma_command
from ragstore.errors import InvalidArgumentError, UniqueConstraintError
from tests.store_answers import SCOPES, answers

REPOSITORY = Path(__file__).resolve().parents[1]

CHROMA_SCRIPT = r"""
import contextlib, json, sys, time
import numpy as np
import chromadb
from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

mode, path = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)

def vectors(n, d):
    return rng.standard_normal((n, d)).astype("float32")

def make():
    client = chromadb.PersistentClient(path=path)
    # Cosine through legacy metadata, under the first HNSW sync: every vector is in the queue only.
    docs = client.create_collection("docs", metadata={"topic": "notes", "hnsw:space": "cosine"}, embedding_function=None)
    docs.add(ids=[f"d{i}" for i in range(40)], embeddings=vectors(40, 8), documents=[f"doc {i}" for i in range(40)],
             metadatas=[{"i": i, "f": i / 3, "b": i % 2 == 0, "s": f"s{i}", "tags": ["a", f"t{i % 3}"]} for i in range(40)])
    docs.delete(ids=["d1", "d2"])
    docs.update(ids=["d3"], documents=["updated"], metadatas=[{"i": -3, "s": None}], embeddings=vectors(1, 8))
    docs.upsert(ids=["d4", "fresh"], documents=["up4", "fresh doc"], embeddings=vectors(2, 8), metadatas=[{"z": 1}, None])
    docs.add(ids=["d5"], embeddings=vectors(1, 8), documents=["ignored: d5 exists"])
    # Over several syncs (every 100 records): HNSW files, then deletes and updates both before and after the last sync.
    big = client.create_collection("big", embedding_function=DefaultEmbeddingFunction(),
                                   configuration={"hnsw": {"space": "ip", "sync_threshold": 100, "batch_size": 50}})
    for start in range(0, 450, 150):
        big.add(ids=[f"b{i}" for i in range(start, start + 150)], embeddings=vectors(150, 16),
                metadatas=[{"n": i} for i in range(start, start + 150)])
        big.delete(ids=[f"b{i}" for i in range(start, start + 150, 7)])
    big.update(ids=["b1", "b200"], embeddings=vectors(2, 16), metadatas=[{"n": -1}, {"n": -200}])
    big.add(ids=["b0"], embeddings=vectors(1, 16))  # re-added after its delete
    admin = chromadb.AdminClient(chromadb.Settings(is_persistent=True, persist_directory=path))
    admin.create_tenant("tenant2")
    admin.create_database("db2", tenant="tenant2")
    other = chromadb.PersistentClient(path=path, tenant="tenant2", database="db2")
    other = other.create_collection("other", embedding_function=None)
    other.add(ids=["q", "r"], embeddings=[[0.0, 1.0], [1.0, 0.0]], documents=["hello", None], uris=["file:///q.txt", "file:///r.txt"])

def crash():
    client = chromadb.PersistentClient(path=path)
    col = client.create_collection("crashed", embedding_function=None, configuration={"hnsw": {"sync_threshold": 100, "batch_size": 50}})
    for round in range(10_000):
        col.add(ids=[f"c{round}-{i}" for i in range(25)], embeddings=vectors(25, 8))
        col.delete(ids=[f"c{round}-0"])
        if round == 12:
            print("ready", flush=True)

def truth():
    sys.path.insert(0, sys.argv[3])  # the repository, for the observation the test makes of ragstore too
    from tests.store_answers import answers

    def open_client(tenant, database):
        try:
            return contextlib.nullcontext(chromadb.PersistentClient(path=path, tenant=tenant, database=database))
        except Exception:
            return contextlib.nullcontext()

    print(json.dumps(answers(open_client, lambda ef: ef.name() if ef is not None else None)))

{"make": make, "crash": crash, "truth": truth}[mode]()
"""


def _chroma(mode: str, path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHROMA_SCRIPT, mode, str(path), str(REPOSITORY)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _truth(path: Path) -> dict[str, Any]:
    return json.loads(_chroma("truth", path).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def chroma_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma") / "store"
    _chroma("make", path)
    return path


def _answers(path: Path) -> dict[str, Any]:
    """What the ragstore store at ``path`` answers, as :data:`CHROMA_SCRIPT`'s ``truth`` reports chromadb's."""

    def open_client(tenant: str, database: str) -> AbstractContextManager[ragstore.ClientAPI | None]:
        try:
            return ragstore.PersistentClient(path, tenant=tenant, database=database)
        except ragstore.NotFoundError:
            return contextlib.nullcontext()

    return answers(open_client, lambda ef: (ef or {}).get("name"))


def _assert_same(imported: dict[str, Any], truth: dict[str, Any]) -> None:
    assert sorted(imported) == sorted(truth)
    for name, expected in truth.items():
        got = imported[name]
        assert got["ids"] == expected["ids"], name
        assert got["documents"] == expected["documents"], name
        # chromadb 1.5.9 answers {} for a record with a URI and no metadata (None without the URI); ragstore answers None.
        assert got["metadatas"] == [metadata or None for metadata in expected["metadatas"]], name
        assert got["uris"] == expected["uris"], name
        assert got["metadata"] == expected["metadata"], name
        # Where chromadb's schema names no function, it embeds with its default: ragstore then names "default" or none.
        assert got["ef"] in ({expected["ef"]} if expected["ef"] else {None, "default"}), name
        assert {key: got["hnsw"][key] for key in expected["hnsw"]} == expected["hnsw"], name
        assert got["queries"] == expected["queries"], name
        if expected["hnsw"]["space"] == "cosine":
            # hnswlib stores cosine vectors normalised, the queue keeps them as given: same directions, same answers.
            assert all(len(a) == len(b) for a, b in zip(got["embeddings"], expected["embeddings"], strict=True))
        else:
            assert got["embeddings"] == expected["embeddings"], name  # float32 bits


def test_a_chromadb_store_with_deletes_and_updates_comes_across_whole(chroma_store: Path, tmp_path: Path) -> None:
    truth = _truth(chroma_store)
    assert set(truth) == {"default_tenant/default_database/docs", "default_tenant/default_database/big", "tenant2/db2/other"}
    # The store is what the brief says it is: HNSW files were synced, and the queue still holds rows after them.
    # chromadb purges the queue per collection, up to what its HNSW files hold ("big" wrote 450 adds and more).
    with sqlite3.connect(chroma_store / "chroma.sqlite3") as conn:
        queued = conn.execute(
            "SELECT count(*) FROM embeddings_queue WHERE topic LIKE '%/' || (SELECT id FROM collections WHERE name = 'big')"
        ).fetchone()[0]
    assert 0 < queued < 450, queued
    assert list(chroma_store.glob("*/index_metadata.pickle")), "no HNSW files were synced"

    summary = import_chroma(chroma_store, tmp_path / "into")

    assert summary.tenants == ["tenant2"] and summary.databases == ["tenant2/db2"]
    assert summary.collections == {name: len(value["ids"]) for name, value in truth.items()}
    _assert_same(_answers(tmp_path / "into"), truth)


def test_the_cli_imports_and_a_second_import_changes_nothing(chroma_store: Path, tmp_path: Path) -> None:
    cli = _group()
    into = tmp_path / "into"
    first = CliRunner().invoke(cli, ["import-chroma", str(chroma_store), "--into", str(into)])
    assert first.exit_code == 0, first.output
    assert "collection default_tenant/default_database/docs: 39 records" in first.output
    before = _answers(into)

    again = CliRunner().invoke(cli, ["import-chroma", str(chroma_store), "--into", str(into)])

    assert again.exit_code == 1
    assert again.output.count("\n") == 1 and again.output.startswith("Error: Collection [docs] already exists"), again.output
    assert _answers(into) == before
    with pytest.raises(UniqueConstraintError):
        import_chroma(chroma_store, into)


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "other sqlite", "ragstore store"])
def test_a_folder_chromadb_did_not_make_gets_one_line_and_no_store(kind: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    if kind != "missing":
        source.mkdir()
    if kind == "garbage":
        (source / "chroma.sqlite3").write_bytes(b"not a database at all" * 100)
    if kind == "other sqlite":
        with sqlite3.connect(source / "chroma.sqlite3") as conn:
            conn.execute("CREATE TABLE tenants (id TEXT)")
    if kind == "ragstore store":
        with ragstore.PersistentClient(source) as client:
            client.create_collection("docs").add(ids=["a"], embeddings=[[1.0, 2.0]])
    into = tmp_path / "into"

    result = CliRunner().invoke(_group(), ["import-chroma", str(source), "--into", str(into)])

    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    assert "chromadb" in result.output
    assert not into.exists()
    with pytest.raises(InvalidArgumentError):
        import_chroma(source, into)


@pytest.mark.slow
def test_a_store_chromadb_was_killed_writing_reads_as_chromadb_recovers_it(tmp_path: Path) -> None:
    live = tmp_path / "live"
    writer = subprocess.Popen([sys.executable, "-c", CHROMA_SCRIPT, "crash", str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    finally:
        os.kill(writer.pid, signal.SIGKILL)  # mid-write: HNSW files and queue as a crash leaves them
        writer.wait(timeout=30)
        if writer.stdout is not None:
            writer.stdout.close()
    crashed = tmp_path / "crashed"
    shutil.copytree(live, crashed)  # chromadb's own reopening below may repair the original; the import reads the copy as left

    summary = import_chroma(crashed, tmp_path / "into")

    truth = _truth(live)
    assert summary.collections == {"default_tenant/default_database/crashed": len(truth["default_tenant/default_database/crashed"]["ids"])}
    _assert_same(_answers(tmp_path / "into"), truth)


def _group() -> click.Group:
    """The command under the CLI's own error handling, as ``ragstore`` registers it."""

    @click.group(cls=RagstoreGroup)
    @click.option("--debug", is_flag=True)
    def cli(debug: bool) -> None: ...

    cli.add_command(import_chroma_command)
    return cli


def test_a_record_ragstore_refuses_undoes_the_whole_import(chroma_store: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(chroma_store, damaged)
    with sqlite3.connect(damaged / "chroma.sqlite3") as conn:  # the last collection gets a metadata value ragstore refuses
        conn.execute(
            "INSERT INTO embedding_metadata (id, key, string_value) SELECT max(id), '', 'empty key' FROM embeddings WHERE segment_id = "
            "(SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection WHERE c.name = 'other' AND s.scope = 'METADATA')"
        )
    into = tmp_path / "into"

    with pytest.raises(InvalidArgumentError):
        import_chroma(damaged, into)

    for tenant, database in SCOPES[:1]:
        with ragstore.PersistentClient(into, tenant=tenant, database=database) as client:
            assert client.list_collections() == []
    with pytest.raises(ragstore.NotFoundError), ragstore.PersistentClient(into, tenant="tenant2", database="db2"):
        pass
