"""The catalog's and the records' SQL functions the engine calls: what each deletes, keeps and records.

They run on a real in-memory store (:class:`~ragstore.local.database.Database`), one write
transaction per test, and look at the tables directly: the engine's tests see only answers,
these see what is left behind (metadata rows, tombstones, full-text entries).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import numpy as np
import pytest

from ragstore.errors import NotFoundError
from ragstore.local import catalog, records, text_index
from ragstore.local.database import Database
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, RecordSet


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = Database(None)
    with db.write() as connection:
        yield connection
    db.close()


def add_collection(conn: sqlite3.Connection, name: str, database: str = DEFAULT_DATABASE, n: int = 3) -> int:
    """A collection of ``n`` records with documents and metadata, its full-text index built; its pk."""
    pk = catalog.create_collection_row(conn, name, None, {"hnsw": {}}, DEFAULT_TENANT, database).pk
    ids = [f"{name}-{i}" for i in range(n)]
    rs = RecordSet(ids, np.ones((n, 2), dtype=np.float32), [{"n": i} for i in range(n)], [f"text of {id_}" for id_ in ids], None)
    records.write_records(conn, pk, 1, "add", rs)
    text_index.ensure_indexed(conn, pk)
    return pk


def rows_of(conn: sqlite3.Connection, table: str, pk: int) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table} WHERE collection_pk = ?", (pk,)).fetchone()[0])


def text_hits(conn: sqlite3.Connection, word: str) -> list[str]:
    """The ids of the records whose documents the full-text index finds ``word`` in (``"?"`` for an entry no record has)."""
    rowids = [row[0] for row in conn.execute("SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?", (f'"{word}"',))]
    ids = dict(conn.execute("SELECT rowid, id FROM records"))
    return sorted(ids.get(rowid, "?") for rowid in rowids)


def test_deleting_a_collection_takes_its_records_metadata_tombstones_and_text_only(conn: sqlite3.Connection) -> None:
    gone, kept = add_collection(conn, "gone"), add_collection(conn, "kept")
    records.delete_rows(conn, gone, records.matching_rows(conn, "r.collection_pk = ? AND r.id = ?", [gone, "gone-0"], None), seq=2)
    assert rows_of(conn, "tombstones", gone) == 1
    catalog.delete_collection_row(conn, gone)
    for table in ("records", "record_metadata", "tombstones"):
        assert rows_of(conn, table, gone) == 0, table
    assert records.count_records(conn, kept) == 3 and rows_of(conn, "record_metadata", kept) == 3
    assert text_hits(conn, "text of") == ["kept-0", "kept-1", "kept-2"]
    assert records.count_records(conn) == 3


def test_deleting_a_database_returns_its_collections_and_spares_the_others(conn: sqlite3.Connection) -> None:
    catalog.create_database(conn, "scratch", DEFAULT_TENANT)
    first, second = add_collection(conn, "first", "scratch"), add_collection(conn, "second", "scratch")
    elsewhere = add_collection(conn, "elsewhere")
    ids = {str(catalog.get_by_name(conn, name, DEFAULT_TENANT, "scratch").id) for name in ("first", "second")}
    assert set(catalog.delete_database(conn, "scratch", DEFAULT_TENANT)) == ids
    assert records.count_records(conn, first) == records.count_records(conn, second) == 0
    assert records.count_records(conn, elsewhere) == 3
    assert text_hits(conn, "text of") == ["elsewhere-0", "elsewhere-1", "elsewhere-2"]
    with pytest.raises(NotFoundError, match="scratch"):
        catalog.delete_database(conn, "scratch", DEFAULT_TENANT)


def test_delete_everything_leaves_the_default_tenant_and_database_empty(conn: sqlite3.Connection) -> None:
    catalog.create_tenant(conn, "acme")
    catalog.create_database(conn, "other", "acme")
    catalog.create_database(conn, "more", DEFAULT_TENANT)
    add_collection(conn, "docs")
    catalog.delete_everything(conn)
    assert conn.execute("SELECT name FROM tenants").fetchall() == [(DEFAULT_TENANT,)]
    assert [d["name"] for d in catalog.list_databases(conn, DEFAULT_TENANT, None, None)] == [DEFAULT_DATABASE]
    assert records.count_records(conn) == 0
    assert conn.execute("SELECT count(*) FROM record_metadata").fetchone()[0] == 0
    assert text_hits(conn, "text of") == []


def test_matching_rows_are_the_oldest_first_up_to_the_limit(conn: sqlite3.Connection) -> None:
    pk = add_collection(conn, "docs", n=5)
    every = records.matching_rows(conn, "r.collection_pk = ?", [pk], None)
    assert [rowid for rowid, _ in every] == sorted(rowid for rowid, _ in every) and len(every) == 5
    assert records.matching_rows(conn, "r.collection_pk = ?", [pk], 2) == every[:2]
    assert records.matching_rows(conn, "r.collection_pk = ?", [pk], 0) == []


def test_tombstones_are_pruned_only_past_the_cap_and_only_up_to_the_last_sequence(conn: sqlite3.Connection) -> None:
    pk = add_collection(conn, "docs", n=0)
    conn.executemany("INSERT INTO tombstones (collection_pk, label, seq) VALUES (?, ?, ?)", [(pk, label, label) for label in range(1, 5)])
    assert records.prune_tombstones(conn, pk, last_seq=3, tombstone_floor=0, most=4) == 0  # at the cap: kept
    assert rows_of(conn, "tombstones", pk) == 4
    assert records.prune_tombstones(conn, pk, last_seq=3, tombstone_floor=0, most=3) == 3  # past it: pruned up to last_seq
    assert conn.execute("SELECT seq FROM tombstones WHERE collection_pk = ?", (pk,)).fetchall() == [(4,)]


def test_advance_moves_the_sequence_and_floor_and_fixes_the_dimension_once(conn: sqlite3.Connection) -> None:
    row = catalog.create_collection_row(conn, "docs", None, {"hnsw": {}}, DEFAULT_TENANT, DEFAULT_DATABASE)
    catalog.advance(conn, row.pk, 1, 0, None)  # a write without vectors leaves the dimension open
    assert catalog.get_by_id(conn, row.id).dimension is None
    catalog.advance(conn, row.pk, 2, 1, 4)
    catalog.advance(conn, row.pk, 3, 1, 8)
    after = catalog.get_by_id(conn, row.id)
    assert (after.last_seq, after.tombstone_floor, after.dimension) == (3, 1, 4)
