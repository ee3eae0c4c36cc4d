"""Background indexing: acknowledged writes are searchable at once, writers wait past a bound, close finishes or persists.

A write is acknowledged once SQLite commits it; the HNSW graph takes it in afterwards
(``ragstore.local.indexer``). These tests hold the indexer (``IndexCache.hold``, a test hook)
to meet a graph that lacks records, check what ``get_indexing_status()`` reports in every
mode and through chromadb's own client, the writers' back-pressure
(``Settings.max_unindexed_records``) and what ``close()`` leaves on disk
(``Settings.index_close_wait``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import numpy.typing as npt
import pytest
from chromadb.api.types import IndexingStatus as ChromaIndexingStatus

import ragstore
from ragstore.errors import InvalidArgumentError
from ragstore.local.index_cache import INDEX_DIRECTORY
from tests.chromadb_sessions import chromadb_sessions_closed
from tests.indexing import eventually, flushed, indexed
from tests.servers import RunningServer

DIM = 16


def vectors(seed: int, n: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def assert_consistent(status: Any) -> None:
    """The four numbers agree with each other, as chromadb's client presents them."""
    assert status.num_indexed_ops + status.num_unindexed_ops == status.total_ops
    expected = status.num_indexed_ops / status.total_ops if status.total_ops else 1.0
    assert status.op_indexing_progress == pytest.approx(expected)


# ----------------------------------------------------------------------------- the type


def test_indexing_status_is_chromadbs_type_field_for_field() -> None:
    ours = [(f.name, f.type) for f in dataclasses.fields(ragstore.IndexingStatus)]
    theirs = [(f.name, f.type) for f in dataclasses.fields(ChromaIndexingStatus)]
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert [str(kind).replace("builtins.", "") for _, kind in ours] == [getattr(kind, "__name__", str(kind)) for _, kind in theirs]
    assert "IndexingStatus" in ragstore.__all__


# ----------------------------------------------------------------------------- every mode


def test_indexing_status_in_every_mode(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("status", embedding_function=None)
    assert col.get_indexing_status() == ragstore.IndexingStatus(0, 0, 0, 1.0)  # empty: nothing to index, done
    col.add(ids=[f"r{i}" for i in range(600)], embeddings=vectors(1, 600))
    status = col.get_indexing_status()
    assert_consistent(status)
    assert status.total_ops == 600  # a record per op; nothing removed yet
    indexed(col)
    assert col.get_indexing_status() == ragstore.IndexingStatus(600, 0, 600, 1.0)

    col.delete(ids=[f"r{i}" for i in range(100)])
    col.update(ids=[f"r{i}" for i in range(100, 150)], embeddings=vectors(2, 50))  # new vectors: old ones removed
    status = col.get_indexing_status()
    assert_consistent(status)
    assert status.total_ops >= col.count() == 500  # the removals the graph has not applied yet count until it has
    indexed(col)
    assert col.get_indexing_status() == ragstore.IndexingStatus(500, 0, 500, 1.0)
    # Everything is found by its own vector, before and after.
    found = col.query(query_embeddings=vectors(2, 50), n_results=1, include=[])["ids"]
    assert found == [[f"r{i}"] for i in range(100, 150)]


@pytest.mark.parametrize("mode", ["ephemeral", "persistent"])
def test_a_held_indexer_shows_in_the_status_and_queries_still_see_everything(mode: str, tmp_path: Path) -> None:
    client = ragstore.EphemeralClient() if mode == "ephemeral" else ragstore.PersistentClient(tmp_path / "store")
    col = client.create_collection("held", embedding_function=None)
    col.add(ids=[f"a{i}" for i in range(200)], embeddings=vectors(1, 200))
    flushed(client)
    with client._api._indexes.hold():  # type: ignore[attr-defined]
        col.add(ids=[f"b{i}" for i in range(300)], embeddings=vectors(2, 300))
        col.delete(ids=[f"a{i}" for i in range(40)])
        col.upsert(ids=[f"a{i}" for i in range(40, 60)], embeddings=vectors(3, 20))  # 20 new vectors, 20 old ones removed
        status = col.get_indexing_status()
        # Indexed: the 140 records whose vectors the graph holds. Unindexed: 300 + 20 new vectors, and
        # 40 deleted records and 20 replaced vectors to drop. Total: the 460 records and those 60 removals.
        assert status == ragstore.IndexingStatus(140, 380, 520, 140 / 520)
        # Read-your-writes while the graph lacks them: each record is its own nearest neighbour ...
        hits = col.query(query_embeddings=np.concatenate([vectors(2, 300), vectors(3, 20)]), n_results=1, include=[])["ids"]
        assert hits == [[f"b{i}"] for i in range(300)] + [[f"a{i}"] for i in range(40, 60)]
        # ... and what was deleted or replaced (still in the graph) is never answered.
        everything = col.query(query_embeddings=vectors(1, 1), n_results=1000, include=["embeddings"])
        assert sorted(everything["ids"][0]) == sorted([f"a{i}" for i in range(40, 200)] + [f"b{i}" for i in range(300)])
        replaced = col.query(query_embeddings=vectors(1, 200)[40:60], n_results=1, include=["distances"])
        assert replaced["distances"] is not None and min(d[0] for d in replaced["distances"]) > 1e-4
        filtered = col.query(query_embeddings=vectors(2, 1), n_results=3, ids=["b0", "a0", "a50"], include=[])
        assert filtered["ids"] == [["b0", "a50"]]  # a0 is deleted: two live matches
    flushed(client)
    assert col.get_indexing_status() == ragstore.IndexingStatus(460, 0, 460, 1.0)
    client.close()


# ----------------------------------------------------------------------------- back-pressure


@pytest.mark.parametrize("bound", [0, 250])
def test_writers_wait_while_more_than_the_bound_is_unindexed(bound: int) -> None:
    client = ragstore.EphemeralClient(settings=ragstore.Settings(max_unindexed_records=bound))
    col = client.create_collection("bounded", embedding_function=None)
    for batch in range(8):
        col.add(ids=[f"b{batch}-{i}" for i in range(400)], embeddings=vectors(batch, 400))
        status = col.get_indexing_status()  # right after the write returns: the indexer may have done more since, never less
        assert status.num_unindexed_ops <= bound, (batch, status)
    client.close()


def test_without_a_bound_writes_do_not_wait_for_the_graph() -> None:
    client = ragstore.EphemeralClient(settings=ragstore.Settings(max_unindexed_records=10**9))
    col = client.create_collection("unbounded", embedding_function=None)
    with client._api._indexes.hold():  # type: ignore[attr-defined]  # nothing is indexed meanwhile
        for batch in range(4):
            col.add(ids=[f"b{batch}-{i}" for i in range(500)], embeddings=vectors(batch, 500))
        assert col.get_indexing_status().num_unindexed_ops == 2000
    client.close()


def test_the_settings_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="max_unindexed_records"):
        ragstore.EphemeralClient(settings=ragstore.Settings(max_unindexed_records=-1))
    with pytest.raises(InvalidArgumentError, match="index_close_wait"):
        ragstore.EphemeralClient(settings=ragstore.Settings(index_close_wait=-0.5))


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGSTORE_MAX_UNINDEXED_RECORDS", "123")
    monkeypatch.setenv("RAGSTORE_INDEX_CLOSE_WAIT", "2.5")
    assert (ragstore.Settings().max_unindexed_records, ragstore.Settings().index_close_wait) == (123, 2.5)
    monkeypatch.setenv("RAGSTORE_MAX_UNINDEXED_RECORDS", "many")
    with pytest.raises(ValueError, match="RAGSTORE_MAX_UNINDEXED_RECORDS must be a int"):
        ragstore.Settings()


# ----------------------------------------------------------------------------- close


def saved_seq(path: Path, col: ragstore.Collection) -> int:
    return int(json.loads((path / INDEX_DIRECTORY / str(col.id) / "meta.json").read_text())["seq"])


def test_close_finishes_indexing_then_saves(tmp_path: Path) -> None:
    path = tmp_path / "store"
    client = ragstore.PersistentClient(path, settings=ragstore.Settings(max_unindexed_records=10**9))
    col = client.create_collection("closing", embedding_function=None)
    for batch in range(5):
        col.add(ids=[f"b{batch}-{i}" for i in range(1000)], embeddings=vectors(batch, 1000))
    client.close()  # default: waits for the indexer, whatever is left
    with ragstore.PersistentClient(path) as again:
        col = again.get_collection("closing", embedding_function=None)
        status = col.get_indexing_status()  # the saved graph, loaded: complete
        assert status == ragstore.IndexingStatus(5000, 0, 5000, 1.0)
        assert saved_seq(path, col) == 5


def test_close_with_a_zero_wait_persists_what_is_left_for_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "store"
    settings = ragstore.Settings(max_unindexed_records=10**9, index_close_wait=0)
    client = ragstore.PersistentClient(path, settings=settings)
    col = client.create_collection("hurried", embedding_function=None)
    with client._api._indexes.hold():  # type: ignore[attr-defined]  # nothing is indexed before the close
        for batch in range(3):
            col.add(ids=[f"b{batch}-{i}" for i in range(500)], embeddings=vectors(batch, 500))
        began = time.monotonic()
        client.close()
        assert time.monotonic() - began < 5
    with ragstore.PersistentClient(path) as again:
        col = again.get_collection("hurried", embedding_function=None)
        assert col.count() == 1500
        hits = col.query(query_embeddings=vectors(2, 500), n_results=1, include=[])["ids"]
        assert hits == [[f"b2-{i}"] for i in range(500)]  # found before the graph caught up ...
        indexed(col)
        assert col.query(query_embeddings=vectors(2, 500), n_results=1, include=[])["ids"] == hits  # ... and after
        again.close()
        assert eventually(lambda: saved_seq(path, col)) == 3


# ----------------------------------------------------------------------------- chromadb's client


def test_chromadbs_client_reads_the_indexing_status_from_ragstore_run(tmp_path: Path) -> None:
    with chromadb_sessions_closed(), RunningServer.start(tmp_path / "store") as server:
        chroma = chromadb.HttpClient(host=server.host, port=server.port)
        col = chroma.create_collection("indexing", embedding_function=None)
        col.add(ids=[f"r{i}" for i in range(300)], embeddings=vectors(1, 300).tolist())
        status = col.get_indexing_status()
        assert isinstance(status, ChromaIndexingStatus)
        assert_consistent(status)
        assert status.total_ops == 300
        eventually(lambda: _assert_done(col, 300))
        col.delete(ids=["r0"])
        eventually(lambda: _assert_done(col, 299))
        chroma.delete_collection("indexing")
        with pytest.raises(chromadb.errors.NotFoundError):
            col.get_indexing_status()
        chroma.close()


def _assert_done(col: Any, total: int) -> None:
    assert col.get_indexing_status() == ChromaIndexingStatus(total, 0, total, 1.0)
