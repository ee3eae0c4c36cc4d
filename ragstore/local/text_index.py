"""The full-text index of documents (``documents_fts``), kept in step with ``records``.

``documents_fts`` is an FTS5 trigram index (case-sensitive) with ``records`` as its
external content: it answers ``where_document={"$contains": ...}`` (see
:mod:`ragstore.local.sql_filters`). FTS5 cannot notice changes to ``records`` by
itself; every write that inserts, changes or deletes documents calls a function here,
in the same transaction, so the two never disagree.

A collection is indexed from its first document filter on (:func:`ensure_indexed`
sets ``collections.text_indexed``), not from its first write. A trigram index costs
more to keep than the rest of a record (a 1,500-character abstract is 1,500 trigrams),
and most collections are only ever searched by vector. Until then writes skip it; the
functions here check the flag themselves, in SQL, so callers need not know it.

Why statements and not triggers: FTS5 flushes its pending terms at every statement
savepoint, and a trigger runs once per row inside the statement that fired it, so
each document became a tiny on-disk segment that later had to be merged (measured:
65 µs per short document through a trigger, 9 µs with one ``INSERT ... SELECT`` per
batch). One statement per batch lets FTS5 buffer the whole batch.

The external-content ``'delete'`` command must be given the text that was indexed,
so un-indexing always runs *before* the row changes or goes.

Example:
    >>> import sqlite3
    >>> from ragstore.local.schema import migrate
    >>> conn = sqlite3.connect(":memory:", isolation_level=None)
    >>> migrate(conn)
    >>> _ = conn.execute("INSERT INTO collections (id, name, database_id, configuration_json) "
    ...                  "VALUES ('c', 'docs', '00000000-0000-0000-0000-000000000000', '{}')")
    >>> _ = conn.execute("INSERT INTO records (rowid, collection_pk, id, seq, embedding, document, label) "
    ...                  "VALUES (1, 1, 'a', 1, x'', 'apples are red', 1)")
    >>> ensure_indexed(conn, 1), ensure_indexed(conn, 1)
    (True, False)
    >>> conn.execute("SELECT rowid FROM documents_fts WHERE documents_fts MATCH 'red'").fetchall()
    [(1,)]
    >>> unindex(conn, "rowid = ?", [1])
    >>> conn.execute("SELECT rowid FROM documents_fts WHERE documents_fts MATCH 'red'").fetchall()
    []

"""

from __future__ import annotations

import sqlite3
from typing import Any

_INDEXED = "collection_pk IN (SELECT pk FROM collections WHERE text_indexed)"


def ensure_indexed(conn: sqlite3.Connection, collection_pk: int) -> bool:
    """Index the collection's documents if it is not indexed yet (inside a write transaction).

    Returns whether this call built the index.
    """
    if not conn.execute("UPDATE collections SET text_indexed = 1 WHERE pk = ? AND NOT text_indexed", (collection_pk,)).rowcount:
        return False
    conn.execute(
        "INSERT INTO documents_fts (rowid, document) SELECT rowid, document FROM records WHERE collection_pk = ? AND document IS NOT NULL",
        (collection_pk,),
    )
    return True


def index_rowids(conn: sqlite3.Connection, first: int, last: int) -> None:
    """Index the documents of the records with rowids ``first..last`` (just inserted or changed)."""
    conn.execute(
        "INSERT INTO documents_fts (rowid, document) SELECT rowid, document FROM records "
        f"WHERE rowid BETWEEN ? AND ? AND document IS NOT NULL AND {_INDEXED}",
        (first, last),
    )


def unindex(conn: sqlite3.Connection, condition: str, params: list[Any]) -> None:
    """Remove the documents of the records matching ``condition`` (SQL on ``records``) from the index.

    Call it before those records are deleted or their documents change.
    """
    conn.execute(
        "INSERT INTO documents_fts (documents_fts, rowid, document) "
        f"SELECT 'delete', rowid, document FROM records WHERE ({condition}) AND document IS NOT NULL AND {_INDEXED}",
        params,
    )


def clear(conn: sqlite3.Connection) -> None:
    """Empty the index (every record of the store is about to go)."""
    conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('delete-all')")
