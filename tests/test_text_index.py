"""The full-text index (``documents_fts``) stays exactly in step with the stored documents.

White-box: FTS5's ``integrity-check`` with rank 1 compares the index with its
external content (``records``), so any write path that forgets to index or
un-index a document fails here even when no filter happens to notice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

import ragstore
from ragstore.local import LocalAPI


def assert_text_index_matches_records(client: ragstore.ClientAPI) -> None:
    """Raise if ``documents_fts`` holds other (term, record, position) entries than a fresh index would.

    The fresh index holds the documents of the collections indexed so far (``text_indexed``).

    FTS5's own ``integrity-check`` cannot be used: it expects every content row to be
    indexed, and records without a document are (rightly) not.
    """
    api = client._api
    assert isinstance(api, LocalAPI)
    with api._db.write() as conn:  # the temp tables are private to this connection and dropped below
        for statement in (
            "CREATE VIRTUAL TABLE temp.fresh USING fts5(document, tokenize='trigram case_sensitive 1')",
            "INSERT INTO temp.fresh (rowid, document) SELECT rowid, document FROM main.records "
            "WHERE document IS NOT NULL AND collection_pk IN (SELECT pk FROM main.collections WHERE text_indexed)",
            "CREATE VIRTUAL TABLE temp.fresh_terms USING fts5vocab(temp, fresh, instance)",
            "CREATE VIRTUAL TABLE temp.kept_terms USING fts5vocab(main, documents_fts, instance)",
        ):
            conn.execute(statement)
        try:
            query = "SELECT term, doc, offset FROM temp.{} EXCEPT SELECT term, doc, offset FROM temp.{} LIMIT 5"
            stale = conn.execute(query.format("kept_terms", "fresh_terms")).fetchall()
            missing = conn.execute(query.format("fresh_terms", "kept_terms")).fetchall()
        finally:
            for table in ("kept_terms", "fresh_terms", "fresh"):
                conn.execute(f"DROP TABLE temp.{table}")
    assert not stale, f"indexed terms no record has: {stale}"
    assert not missing, f"record terms missing from the index: {missing}"


@pytest.fixture(params=["ephemeral", "persistent"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> ragstore.ClientAPI:
    if request.param == "ephemeral":
        return ragstore.EphemeralClient(ragstore.Settings(allow_reset=True))
    return ragstore.PersistentClient(tmp_path / "store", ragstore.Settings(allow_reset=True))


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 4), dtype=np.float32)


def contains(col: ragstore.Collection, text: str) -> list[str]:
    return sorted(col.get(where_document={"$contains": text}, include=[])["ids"])


def indexed_documents(client: ragstore.ClientAPI) -> int:
    api = client._api
    assert isinstance(api, LocalAPI)
    with api._db.read() as conn:
        return int(conn.execute("SELECT count(*) FROM documents_fts_docsize").fetchone()[0])


def test_every_write_path_keeps_the_index_in_step(embedded: ragstore.ClientAPI) -> None:
    col = embedded.create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction(dim=4))
    other = embedded.create_collection("other", embedding_function=None)
    ids = [f"d{i}" for i in range(300)]
    col.add(ids=ids, embeddings=vectors(300), documents=[f"alpha doc {i}" if i % 3 else None for i in range(300)])
    other.add(ids=["o1"], embeddings=vectors(1), documents=["alpha elsewhere"])
    assert indexed_documents(embedded) == 0  # nothing is indexed before a document filter needs it
    assert len(contains(col, "alpha")) == 200
    assert contains(other, "alpha") == ["o1"]
    assert indexed_documents(embedded) == 201
    assert_text_index_matches_records(embedded)

    col.upsert(ids=ids[:50], embeddings=vectors(50, 1), documents=[f"beta doc {i}" for i in range(50)])  # replaces, some were None
    col.update(ids=ids[50:60], documents=[f"gamma {i}" for i in range(10)])
    col.update(ids=ids[60:70], metadatas=[{"k": i} for i in range(10)])  # no document change
    col.add(ids=ids[:5], embeddings=vectors(5, 2), documents=["skipped: the ids exist"] * 5)
    assert_text_index_matches_records(embedded)
    assert contains(col, "beta") == sorted(ids[:50])
    assert contains(col, "gamma") == sorted(ids[50:60])
    assert "skipped" not in " ".join(col.get(ids=ids[:5])["documents"])

    assert col.delete(ids=ids[100:150]) == {"deleted": 50}
    assert col.delete(where_document={"$contains": "gamma"}) == {"deleted": 10}
    assert_text_index_matches_records(embedded)
    assert len(contains(col, "alpha")) == len([i for i in range(60, 300) if i % 3 and not 100 <= i < 150])

    embedded.delete_collection("docs")
    assert_text_index_matches_records(embedded)
    assert contains(other, "alpha") == ["o1"]

    embedded.reset()
    assert_text_index_matches_records(embedded)
    embedded.close()


def test_deleting_a_database_unindexes_its_documents(tmp_path: Path) -> None:
    api = LocalAPI(tmp_path / "store")
    api.create_database("scratch")
    from ragstore.collection_requests import CreateCollectionRequest
    from ragstore.record_requests import GetRequest

    col = api.create_collection(CreateCollectionRequest("docs", database="scratch"))
    keep = api.create_collection(CreateCollectionRequest("docs"))
    from ragstore.types import RecordSet

    api.write(col.id, "add", RecordSet(["a", "b"], vectors(2), None, ["needle one", "needle two"], None))
    api.write(keep.id, "add", RecordSet(["c"], vectors(1), None, ["needle three"], None))
    api.delete_database("scratch")
    assert api.get(keep.id, GetRequest(where_document={"$contains": "needle"}))["ids"] == ["c"]
    api.close()


def test_a_store_made_with_index_triggers_is_migrated(tmp_path: Path) -> None:
    """Stores written before migration 2 kept the index by triggers: those go, the index stays."""
    from ragstore.local.schema import MIGRATIONS

    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        client.create_collection("docs", embedding_function=None).add(ids=["old"], embeddings=vectors(1), documents=["old needle"])
    # Turn it back into a version-1 store: its triggers, and user_version 1.
    triggers = MIGRATIONS[0][MIGRATIONS[0].index("CREATE TRIGGER") : MIGRATIONS[0].index("INSERT INTO tenants")]
    conn = sqlite3.connect(path / "ragstore.sqlite3", isolation_level=None)
    conn.execute("INSERT INTO documents_fts (rowid, document) SELECT rowid, document FROM records")  # its triggers had indexed them
    conn.execute("ALTER TABLE collections DROP COLUMN text_indexed")
    conn.executescript(triggers + "PRAGMA user_version = 1;")
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 3
    conn.close()

    with ragstore.PersistentClient(path) as client:
        assert client._api._db.connection().execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
        col = client.get_collection("docs", embedding_function=None)
        assert contains(col, "needle") == ["old"]
        col.upsert(ids=["old", "new"], embeddings=vectors(2), documents=["changed text", "new needle"])
        assert contains(col, "needle") == ["new"]
        assert_text_index_matches_records(client)


def test_a_collection_is_indexed_on_its_first_document_filter_only(embedded: ragstore.ClientAPI) -> None:
    plain = embedded.create_collection("plain", embedding_function=None)
    plain.add(ids=["a", "b"], embeddings=vectors(2), documents=["needle in a haystack", "just hay"])
    plain.query(query_embeddings=vectors(1), n_results=2, where_document={"$contains": "ne"})  # 2 characters: no index needed
    plain.get(where={"page": 1})
    assert indexed_documents(embedded) == 0
    found = plain.query(query_embeddings=vectors(1), n_results=2, where_document={"$contains": "needle"}, include=[])
    assert found["ids"] == [["a"]]
    assert indexed_documents(embedded) == 2  # the whole collection, once
    plain.add(ids=["c"], embeddings=vectors(1, 3), documents=["another needle"])  # indexed from now on
    assert contains(plain, "needle") == ["a", "c"]
    assert plain.delete(where={"#document": {"$not_contains": "needle"}}) == {"deleted": 1}
    assert_text_index_matches_records(embedded)


def test_a_client_that_saw_no_index_indexes_once_another_built_it(tmp_path: Path) -> None:
    """The flag is read in the same transaction as every write, so no client's writes slip past a new index."""
    with ragstore.PersistentClient(tmp_path / "s") as first, ragstore.PersistentClient(tmp_path / "s") as second:
        mine = first.create_collection("docs", embedding_function=None)
        mine.add(ids=["a"], embeddings=vectors(1), documents=["first needle"])
        theirs = second.get_collection("docs", embedding_function=None)
        assert contains(theirs, "needle") == ["a"]  # the second client builds the index
        mine.upsert(ids=["a", "b"], embeddings=vectors(2, 4), documents=["changed", "second needle"])
        assert contains(theirs, "needle") == ["b"]
        assert contains(mine, "changed") == ["a"]
        assert_text_index_matches_records(first)


def test_collections_of_an_older_store_stay_indexed(tmp_path: Path) -> None:
    """Migration 3 marks the collections of a store whose writes all indexed their documents."""
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        client.create_collection("docs", embedding_function=None).add(ids=["x"], embeddings=vectors(1), documents=["old needle"])
    conn = sqlite3.connect(path / "ragstore.sqlite3", isolation_level=None)
    conn.execute("INSERT INTO documents_fts (rowid, document) SELECT rowid, document FROM records")  # what version 2 had done
    conn.execute("ALTER TABLE collections DROP COLUMN text_indexed")
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with ragstore.PersistentClient(path) as client:
        assert indexed_documents(client) == 1
        col = client.get_collection("docs", embedding_function=None)
        col.upsert(ids=["x"], embeddings=vectors(1), documents=["new text"])
        assert contains(col, "needle") == [] and contains(col, "new") == ["x"]
        assert_text_index_matches_records(client)
