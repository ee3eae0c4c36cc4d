"""The SQLite schema and its migrations.

SQLite is the source of truth, vectors included. Tables:

- ``tenants``, ``databases``, ``collections``: the catalog. ``collections.last_seq``
  counts the writes that changed vectors or metadata; ``tombstone_floor`` is the newest
  sequence whose tombstones were pruned (an index older than it must rebuild).
  ``text_indexed`` says whether the collection's documents are in ``documents_fts``.
- ``records``: one row per record. ``rowid`` (AUTOINCREMENT, never reused) is
  the insertion order. ``label`` names the record's current vector in the HNSW
  index: every new vector gets a fresh label (from ``label_counter``) and the
  old one is tombstoned, so hnswlib never updates a point in place (which can
  cut other points off the graph). ``seq`` is the last write that changed its
  vector or metadata (what the in-memory index and columns catch up on).
- ``record_metadata``: typed key/value rows for filtering. ``value`` has no
  type affinity so SQLite compares ints and floats numerically, while ``type``
  (``s``, ``i``, ``f``, ``b``) keeps bools apart from numbers; ``in_array``
  marks elements of list values.
- ``tombstones``: labels of deleted records with the sequence that deleted them.
- ``documents_fts``: FTS5 trigram index (case-sensitive) over ``records.document``
  for substring filters, built per collection on first use and kept in step by
  :mod:`ragstore.local.text_index`.
- ``sparse_terms``: a record's value for its collection's sparse key (BM25 term counts
  or a sparse vector; one key per collection, as chroma allows one sparse index), keyed
  by the record's rowid: term ids and weights as BLOBs, written in the record's
  transaction by :mod:`ragstore.local.sparse_index`, deleted with the record (``ON DELETE CASCADE``).
  ``records_by_collection_label`` lets the in-memory sparse index learn every record's
  label without reading record rows.

Migrations are numbered; ``PRAGMA user_version`` records the last one applied.

Example:
    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:", isolation_level=None)
    >>> migrate(conn)
    >>> conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    True

"""

from __future__ import annotations

import sqlite3

_V1 = """
CREATE TABLE tenants (
    name TEXT PRIMARY KEY
);
CREATE TABLE databases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    UNIQUE (tenant, name)
);
CREATE TABLE collections (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    dimension INTEGER,
    metadata_json TEXT,
    configuration_json TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    tombstone_floor INTEGER NOT NULL DEFAULT 0,
    UNIQUE (database_id, name)
);
CREATE TABLE records (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    document TEXT,
    uri TEXT,
    metadata_json TEXT,
    label INTEGER NOT NULL,
    UNIQUE (collection_pk, id)
);
CREATE INDEX records_by_seq ON records (collection_pk, seq);
CREATE UNIQUE INDEX records_by_label ON records (label);
CREATE TABLE label_counter (
    next INTEGER NOT NULL
);
INSERT INTO label_counter (next) VALUES (1);
CREATE TABLE record_metadata (
    collection_pk INTEGER NOT NULL,
    record_rowid INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    in_array INTEGER NOT NULL,
    value
);
CREATE INDEX record_metadata_by_value ON record_metadata (collection_pk, key, value);
CREATE INDEX record_metadata_by_record ON record_metadata (record_rowid);
CREATE TABLE tombstones (
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    label INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX tombstones_by_seq ON tombstones (collection_pk, seq);
CREATE VIRTUAL TABLE documents_fts USING fts5(
    document, content='records', content_rowid='rowid', tokenize='trigram case_sensitive 1'
);
CREATE TRIGGER records_fts_insert AFTER INSERT ON records WHEN new.document IS NOT NULL BEGIN
    INSERT INTO documents_fts (rowid, document) VALUES (new.rowid, new.document);
END;
CREATE TRIGGER records_fts_delete AFTER DELETE ON records WHEN old.document IS NOT NULL BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, document) VALUES ('delete', old.rowid, old.document);
END;
-- One trigger, delete before insert: SQLite fires the triggers of one event newest
-- first, so two separate triggers would insert the new trigrams and then delete the
-- ones the old and new documents share.
CREATE TRIGGER records_fts_update AFTER UPDATE OF document ON records BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, document) SELECT 'delete', old.rowid, old.document WHERE old.document IS NOT NULL;
    INSERT INTO documents_fts (rowid, document) SELECT new.rowid, new.document WHERE new.document IS NOT NULL;
END;
INSERT INTO tenants (name) VALUES ('default_tenant');
INSERT INTO databases (id, name, tenant) VALUES ('00000000-0000-0000-0000-000000000000', 'default_database', 'default_tenant');
"""

# The full-text index is kept in step by explicit statements (ragstore.local.text_index):
# triggers made FTS5 flush a segment per row, which cost more than the rest of an insert.
_V2 = """
DROP TRIGGER records_fts_insert;
DROP TRIGGER records_fts_delete;
DROP TRIGGER records_fts_update;
"""

# Collections get their full-text index on first use (ragstore.local.text_index); those
# that exist already are indexed.
_V3 = """
ALTER TABLE collections ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 0;
UPDATE collections SET text_indexed = 1;
"""

# Sparse indexes (ragstore.local.sparse_index). IF NOT EXISTS: a store whose user_version was
# lowered by hand (as tests do to replay older migrations) may hold these already.
_V4 = """
CREATE TABLE IF NOT EXISTS sparse_terms (
    record_rowid INTEGER PRIMARY KEY REFERENCES records(rowid) ON DELETE CASCADE,
    collection_pk INTEGER NOT NULL,
    key TEXT NOT NULL,
    terms BLOB NOT NULL,
    weights BLOB NOT NULL,
    length REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sparse_terms_by_collection ON sparse_terms (collection_pk);
CREATE INDEX IF NOT EXISTS records_by_collection_label ON records (collection_pk, label);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this database lacks, each in its own transaction.

    Safe when several processes open a new database at once: the version is
    read again under the write lock.
    """
    for version, script in enumerate(MIGRATIONS, start=1):
        if conn.execute("PRAGMA user_version").fetchone()[0] >= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < version:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit on its own)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
