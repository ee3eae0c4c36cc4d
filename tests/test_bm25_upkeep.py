"""A big BM25 write counts its terms in a thread while its records are written (sparse_upkeep.EarlyCounts).

It stays one transaction: the terms equal those counted inline, a count that fails or a
record write that fails (SQLite's page limit: the disk-full path) stores nothing, and a failed
write leaves no thread running. Every mode of the engine (in memory, on disk).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore import K, Knn, Schema, Search, SparseVectorIndexConfig
from ragstore.bm25_text import Bm25Tokenizer
from ragstore.embeddings import ChromaBm25EmbeddingFunction
from ragstore.errors import StorageError
from ragstore.local import LocalAPI, sparse_upkeep

DIM = 4
THREAD = "ragstore-bm25-terms"
WORDS = "apple pear orchard river stone cloud owl night garden hunt ripen grow".split()  # noqa: SIM905


def bm25_schema() -> Schema:
    config = SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction())
    return Schema().create_index(config=config, key="bm25")


def records(start: int, n: int, tag: str) -> dict[str, Any]:
    """``n`` records of a few hundred characters each; every document holds ``tag`` (a word no other batch has)."""
    rng = np.random.default_rng(start)
    documents = [" ".join([*rng.choice(WORDS, size=40), tag, f"w{start + i}"]) for i in range(n)]
    return {
        "ids": [f"r{start + i}" for i in range(n)],
        "embeddings": rng.standard_normal((n, DIM)).astype(np.float32),
        "documents": documents,
        "metadatas": [{"i": start + i} for i in range(n)],
    }


def bm25_ranking(col: ragstore.Collection, query: str) -> list[tuple[str, float]]:
    found = col.search(Search().rank(Knn(query=query, key="bm25", limit=1000)).limit(1000).select(K.SCORE))
    return list(zip(found["ids"][0], found["scores"][0], strict=True))


def counting_threads() -> int:
    return sum(thread.name == THREAD for thread in threading.enumerate())


@pytest.fixture(params=["ephemeral", "persistent"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ragstore.ClientAPI]:
    with ragstore.EphemeralClient() if request.param == "ephemeral" else ragstore.PersistentClient(tmp_path / "store") as opened:
        yield opened


@pytest.fixture
def in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write with documents counts its terms in a thread, however small."""
    monkeypatch.setattr(sparse_upkeep, "EARLY_MIN_CHARACTERS", 0)


def engine(client: ragstore.ClientAPI) -> LocalAPI:
    api = client._api  # type: ignore[attr-defined]  # the engine behind an embedded client
    assert isinstance(api, LocalAPI)
    return api


def test_terms_counted_in_a_thread_equal_terms_counted_inline(client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    cols = {}
    for name, least in (("threaded", 0), ("inline", 10**12)):
        monkeypatch.setattr(sparse_upkeep, "EARLY_MIN_CHARACTERS", least)
        col = cols[name] = client.create_collection(name, schema=bm25_schema(), embedding_function=None)
        col.add(**records(0, 300, "first"))
        col.add(**records(200, 200, "second"))  # 100 ids exist: an add skips them, so only some counted terms are used
        col.upsert(**records(350, 100, "third"))  # 50 existing records get new documents, 50 new ones
    for query in ["apple orchard", "first", "second", "third owl", "w399 w420"]:
        assert bm25_ranking(cols["threaded"], query) == bm25_ranking(cols["inline"], query)
    assert len(bm25_ranking(cols["threaded"], "second")) == 50 and len(bm25_ranking(cols["threaded"], "third")) == 100
    assert counting_threads() == 0


@pytest.mark.usefixtures("in_a_thread")
def test_a_count_that_fails_stores_nothing(client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    col = client.create_collection("docs", schema=bm25_schema(), embedding_function=None)
    col.add(**records(0, 100, "kept"))
    before = bm25_ranking(col, "apple kept")

    def broken(self: Bm25Tokenizer, texts: list[str]) -> Any:
        assert threading.current_thread().name == THREAD  # the failure happens in the counting thread
        raise RuntimeError("the tokenizer broke")

    monkeypatch.setattr(Bm25Tokenizer, "term_counts_batch", broken)
    with pytest.raises(Exception, match="the tokenizer broke"):
        col.add(**records(100, 100, "lost"))
    monkeypatch.undo()
    monkeypatch.setattr(sparse_upkeep, "EARLY_MIN_CHARACTERS", 0)
    assert col.count() == 100 and col.get(ids=["r100", "r199"])["ids"] == []
    assert bm25_ranking(col, "lost") == [] and bm25_ranking(col, "apple kept") == before
    col.add(**records(100, 100, "lost"))  # the same write, once the tokenizer works
    assert col.count() == 200 and len(bm25_ranking(col, "lost")) == 100


@pytest.mark.usefixtures("in_a_thread")
def test_a_record_write_that_fails_stores_nothing_and_waits_for_its_count(
    client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    col = client.create_collection("docs", schema=bm25_schema(), embedding_function=None)
    col.add(**records(0, 100, "kept"))
    original = Bm25Tokenizer.term_counts_batch

    def slow(self: Bm25Tokenizer, texts: list[str]) -> Any:
        time.sleep(0.3)  # still counting when the records' write fails
        return original(self, texts)

    monkeypatch.setattr(Bm25Tokenizer, "term_counts_batch", slow)
    conn = engine(client)._db.connection()  # this thread's connection: the one the write uses
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL, as on a full disk, inside the record write
    try:
        with pytest.raises(StorageError, match="full"):
            col.add(**records(100, 400, "lost"))
        assert counting_threads() == 0  # the failed write waited for its count: nothing runs on after it
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")
    assert col.count() == 100 and bm25_ranking(col, "lost") == []
    col.add(**records(100, 400, "lost"))
    assert col.count() == 500 and len(bm25_ranking(col, "lost")) == 400


def test_small_writes_count_inline(client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    original = Bm25Tokenizer.term_counts_batch

    def noting(self: Bm25Tokenizer, texts: list[str]) -> Any:
        started.append(threading.current_thread().name)
        return original(self, texts)

    monkeypatch.setattr(Bm25Tokenizer, "term_counts_batch", noting)
    col = client.create_collection("docs", schema=bm25_schema(), embedding_function=None)
    col.add(**records(0, 10, "small"))  # ~2,400 characters
    col.add(**records(10, 500, "big"))  # ~120,000 characters: past EARLY_MIN_CHARACTERS
    col.update(ids=["r0"], documents=["an update counts inline"], embeddings=np.ones((1, DIM), np.float32))
    assert started == [threading.current_thread().name, THREAD, threading.current_thread().name]
    assert len(bm25_ranking(col, "big")) == 500 and bm25_ranking(col, "update")[0][0] == "r0"
