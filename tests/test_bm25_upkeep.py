"""A BM25 write is one transaction: a tokenizer that fails, or a record write that fails (SQLite's page
limit: the disk-full path), stores nothing, and the same write succeeds afterwards. Every mode of the
engine (in memory, on disk).
"""

from __future__ import annotations

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
from ragstore.local import LocalAPI

DIM = 4
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


@pytest.fixture(params=["ephemeral", "persistent"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ragstore.ClientAPI]:
    with ragstore.EphemeralClient() if request.param == "ephemeral" else ragstore.PersistentClient(tmp_path / "store") as opened:
        yield opened


def engine(client: ragstore.ClientAPI) -> LocalAPI:
    api = client._api  # type: ignore[attr-defined]  # the engine behind an embedded client
    assert isinstance(api, LocalAPI)
    return api


def test_a_tokenizer_that_fails_stores_nothing(client: ragstore.ClientAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    col = client.create_collection("docs", schema=bm25_schema(), embedding_function=None)
    col.add(**records(0, 100, "kept"))
    before = bm25_ranking(col, "apple kept")

    def broken(self: Bm25Tokenizer, texts: list[str]) -> Any:
        raise RuntimeError("the tokenizer broke")  # after the records are written, in the same transaction

    monkeypatch.setattr(Bm25Tokenizer, "term_counts_batch", broken)
    with pytest.raises(Exception, match="the tokenizer broke"):
        col.add(**records(100, 100, "lost"))
    monkeypatch.undo()
    assert col.count() == 100 and col.get(ids=["r100", "r199"])["ids"] == []
    assert bm25_ranking(col, "lost") == [] and bm25_ranking(col, "apple kept") == before
    col.add(**records(100, 100, "lost"))  # the same write, once the tokenizer works
    assert col.count() == 200 and len(bm25_ranking(col, "lost")) == 100


def test_a_record_write_that_fails_stores_nothing(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("docs", schema=bm25_schema(), embedding_function=None)
    col.add(**records(0, 100, "kept"))
    conn = engine(client)._db.connection()  # this thread's connection: the one the write uses
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL, as on a full disk, inside the record write
    try:
        with pytest.raises(StorageError, match="full"):
            col.add(**records(100, 400, "lost"))
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")
    assert col.count() == 100 and bm25_ranking(col, "lost") == []
    col.add(**records(100, 400, "lost"))
    assert col.count() == 500 and len(bm25_ranking(col, "lost")) == 400
