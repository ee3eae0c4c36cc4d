"""The catalog: tenants, databases and collections rows in SQLite.

Functions take an open connection inside the caller's transaction.

Example:
    >>> from ragstore.local.database import Database
    >>> db = Database(None)
    >>> with db.write() as conn:
    ...     row = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
    >>> row.name
    'docs'

"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import sqlite3
import threading
import uuid
from typing import Any

import orjson

from ragstore.collection_schema.reconcile import split_stored
from ragstore.collection_schema.sparse_indexes import SparseIndexSpec, sparse_indexes
from ragstore.configuration import HnswSettings, hnsw_settings
from ragstore.errors import NotFoundError, UniqueConstraintError
from ragstore.local import text_index
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel

_COLUMNS = (
    "c.pk, c.id, c.name, c.dimension, c.metadata_json, c.configuration_json, c.last_seq, c.tombstone_floor, "
    "d.tenant, d.name, c.text_indexed"
)
_FROM = "collections c JOIN databases d ON d.id = c.database_id"


@dataclasses.dataclass(frozen=True)
class CollectionRow:
    """A collection as stored, with the engine's bookkeeping."""

    pk: int
    id: uuid.UUID
    name: str
    dimension: int | None
    metadata: dict[str, Any] | None
    configuration: dict[str, Any]
    """As stored: the public configuration plus, when the collection was created with one, its ``"schema"``."""
    last_seq: int
    tombstone_floor: int
    tenant: str
    database: str
    text_indexed: bool = False
    """Whether the full-text index holds the collection's documents (built at its first document filter)."""
    parsed_hnsw: HnswSettings | None = dataclasses.field(default=None, repr=False, compare=False)
    """The settings parsed with ``configuration`` (by :func:`_parsed`, once per distinct text); ``None``: read them on use."""
    parsed_view: tuple[bytes, bytes] | None = dataclasses.field(default=None, repr=False, compare=False)
    """The public configuration and the rendered schema as JSON (by :func:`_parsed`); ``None``: render them on use.

    Every record request over HTTP reads its collection's model; rendering the schema each
    time (a deep copy of about 40 small dicts) made a model cost 35 us; parsing this JSON, 9 us.
    """

    @property
    def hnsw(self) -> HnswSettings:
        """The collection's typed HNSW settings."""
        return self.parsed_hnsw if self.parsed_hnsw is not None else hnsw_settings(self.configuration)

    @property
    def sparse_indexes(self) -> tuple[SparseIndexSpec, ...]:
        """The sparse indexes its schema declares (none without a schema), parsed once per distinct schema."""
        if self.parsed_view is not None:
            return _sparse_indexes(self.parsed_view[1])
        return tuple(sparse_indexes(split_stored(self.configuration)[1]))

    def model(self) -> CollectionModel:
        """The public description (its dictionaries are the caller's own copies), with its whole schema."""
        metadata = copy.deepcopy(self.metadata)
        if self.parsed_view is not None:  # copies by parsing JSON: 9 us a model instead of 35 us
            configuration, schema = orjson.loads(self.parsed_view[0]), orjson.loads(self.parsed_view[1])
        else:
            configuration, schema = split_stored(self.configuration)
            configuration = copy.deepcopy(configuration)
        return CollectionModel(self.id, self.name, metadata, configuration, self.dimension, self.tenant, self.database, schema)


@functools.lru_cache(maxsize=1024)
def _sparse_indexes(schema_json: bytes) -> tuple[SparseIndexSpec, ...]:
    return tuple(sparse_indexes(orjson.loads(schema_json)))


@functools.lru_cache(maxsize=1024)
def _parsed(
    id_: str, meta: str | None, config: str
) -> tuple[uuid.UUID, dict[str, Any] | None, dict[str, Any], HnswSettings, tuple[bytes, bytes]]:
    """The id, metadata, configuration, typed HNSW settings and public view of a row, parsed once per distinct text.

    Every query reads its collection's row; parsing it again each time cost more than the
    SQL. The dictionaries are shared between rows, so nothing may change them in place:
    :meth:`CollectionRow.model` hands out copies, and the engine only reads them.
    """
    configuration = json.loads(config)
    public, schema = split_stored(configuration)
    view = (orjson.dumps(public), orjson.dumps(schema))
    return uuid.UUID(id_), json.loads(meta) if meta else None, configuration, hnsw_settings(configuration), view


def _row(values: tuple[Any, ...]) -> CollectionRow:
    pk, id_, name, dim, meta, config, last_seq, floor, tenant, database, text_indexed = values
    collection_id, metadata, configuration, hnsw, view = _parsed(id_, meta, config)
    return CollectionRow(
        pk, collection_id, name, dim, metadata, configuration, last_seq, floor, tenant, database, bool(text_indexed), hnsw, view
    )


def database_id(conn: sqlite3.Connection, tenant: str, database: str) -> str:
    """The id of ``tenant/database``; ``NotFoundError`` when either is missing."""
    row = conn.execute("SELECT id FROM databases WHERE tenant = ? AND name = ?", (tenant, database)).fetchone()
    if row is None:
        if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone() is None:
            raise NotFoundError(f"Tenant [{tenant}] not found")
        raise NotFoundError(f"Database [{database}] not found. Are you sure it exists?")
    return str(row[0])


def find_by_name(conn: sqlite3.Connection, name: str, tenant: str, database: str) -> CollectionRow | None:
    """The collection called ``name``, or ``None``."""
    db_id = database_id(conn, tenant, database)
    row = conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.database_id = ? AND c.name = ?", (db_id, name)).fetchone()
    return _row(row) if row else None


def get_by_name(conn: sqlite3.Connection, name: str, tenant: str, database: str) -> CollectionRow:
    """The collection called ``name``; ``NotFoundError`` when missing."""
    row = find_by_name(conn, name, tenant, database)
    if row is None:
        raise NotFoundError(f"Collection [{name}] does not exist")
    return row


def get_by_id(conn: sqlite3.Connection, collection_id: uuid.UUID) -> CollectionRow:
    """The collection with ``collection_id``; ``NotFoundError`` when missing (or deleted)."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.id = ?", (str(collection_id),)).fetchone()
    if row is None:
        raise NotFoundError(f"Collection [{collection_id}] does not exist")
    return _row(row)


class RowCache:
    """Collection rows read once and reused until the store changes: the read paths' :func:`get_by_id`.

    Every query reads its collection's row, and reading it (a join, a parse) was the largest
    cost ragstore adds to a single query after the result rows. A cached row is reused while
    its connection sees the same ``(PRAGMA data_version, total_changes)``: SQLite changes the
    first when any other connection commits (another thread's, or another process's), the
    second when this connection writes, so a row is never reused across a change, whoever made
    it. Asking costs one statement instead of the join (3 us instead of 8 us CPU on a warm
    store, 15 instead of 35 us in a query's cold caches). Each thread keeps its own rows, as it
    has its own connection; a read-only store's unchanging files keep them for good.

    Example:
        >>> from ragstore.local.database import Database
        >>> db, rows = Database(None), RowCache()
        >>> with db.write() as conn:
        ...     row = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
        >>> with db.read() as conn:
        ...     rows.get_by_id(conn, row.id) is rows.get_by_id(conn, row.id)
        True
        >>> with db.write() as conn:
        ...     advance(conn, row.pk, 1, 0, 3)
        >>> with db.read() as conn:
        ...     rows.get_by_id(conn, row.id).last_seq
        1

    """

    MAX_ROWS = 1024  # rows a thread keeps (past it, it starts over): a store with more collections reads the rest each time

    def __init__(self) -> None:
        self._local = threading.local()

    def get_by_id(self, conn: sqlite3.Connection, collection_id: uuid.UUID) -> CollectionRow:
        """The collection with ``collection_id`` as ``conn`` sees it now; ``NotFoundError`` when missing (or deleted)."""
        # Read before the row: a commit landing in between makes the row newer than its stamp
        # (the next call reads again), never older.
        stamp = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        rows: dict[uuid.UUID, tuple[sqlite3.Connection, tuple[int, int], CollectionRow]] = self._local.__dict__.setdefault("rows", {})
        cached = rows.get(collection_id)
        if cached is not None and cached[0] is conn and cached[1] == stamp:
            return cached[2]
        row = get_by_id(conn, collection_id)
        if len(rows) >= self.MAX_ROWS:
            rows.clear()
        rows[collection_id] = (conn, stamp, row)
        return row


def list_rows(conn: sqlite3.Connection, tenant: str, database: str, limit: int | None, offset: int | None) -> list[CollectionRow]:
    """Collections in creation order, paged."""
    db_id = database_id(conn, tenant, database)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.database_id = ? ORDER BY c.pk LIMIT ? OFFSET ?",
        (db_id, -1 if limit is None else limit, offset or 0),
    )
    return [_row(r) for r in rows]


def count_rows(conn: sqlite3.Connection, tenant: str, database: str) -> int:
    """How many collections ``tenant/database`` holds."""
    db_id = database_id(conn, tenant, database)
    return int(conn.execute("SELECT count(*) FROM collections WHERE database_id = ?", (db_id,)).fetchone()[0])


def create_collection_row(
    conn: sqlite3.Connection, name: str, metadata: dict[str, Any] | None, configuration: dict[str, Any], tenant: str, database: str
) -> CollectionRow:
    """Insert a new collection; ``UniqueConstraintError`` if the name is taken."""
    db_id = database_id(conn, tenant, database)
    if conn.execute("SELECT 1 FROM collections WHERE database_id = ? AND name = ?", (db_id, name)).fetchone():
        raise UniqueConstraintError(f"Collection [{name}] already exists")
    conn.execute(
        "INSERT INTO collections (id, name, database_id, metadata_json, configuration_json) VALUES (?, ?, ?, ?, ?)",
        (str(uuid.uuid4()), name, db_id, json.dumps(metadata) if metadata else None, json.dumps(configuration)),
    )
    return get_by_name(conn, name, tenant, database)


def update_collection_row(
    conn: sqlite3.Connection, row: CollectionRow, name: str | None, metadata: dict[str, Any] | None, configuration: dict[str, Any] | None
) -> None:
    """Rename, replace metadata and/or configuration of an existing collection."""
    if name is not None and name != row.name:
        db_id = database_id(conn, row.tenant, row.database)
        if conn.execute("SELECT 1 FROM collections WHERE database_id = ? AND name = ?", (db_id, name)).fetchone():
            raise UniqueConstraintError(f"Collection [{name}] already exists")
        conn.execute("UPDATE collections SET name = ? WHERE pk = ?", (name, row.pk))
    if metadata is not None:
        conn.execute("UPDATE collections SET metadata_json = ? WHERE pk = ?", (json.dumps(metadata), row.pk))
    if configuration is not None:
        conn.execute("UPDATE collections SET configuration_json = ? WHERE pk = ?", (json.dumps(configuration), row.pk))


def delete_collection_row(conn: sqlite3.Connection, collection_pk: int) -> None:
    """Delete a collection; its records, their metadata and tombstones go with it (``ON DELETE CASCADE``).

    Its documents leave the full-text index first: the index is told the text it holds,
    so that must happen while the records still exist (see :mod:`ragstore.local.text_index`).
    The index files are the caller's business (they live outside SQLite).

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).write() as conn:
        ...     row = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
        ...     delete_collection_row(conn, row.pk)
        ...     find_by_name(conn, "docs", "default_tenant", "default_database") is None
        True

    """
    text_index.unindex(conn, "collection_pk = ?", [collection_pk])
    conn.execute("DELETE FROM collections WHERE pk = ?", (collection_pk,))


def advance(conn: sqlite3.Connection, collection_pk: int, seq: int, tombstone_floor: int, dimension: int | None) -> None:
    """Make ``seq`` the collection's last sequence, with its tombstone floor, and its dimension if it has none yet.

    Called once by every write that changed vectors or metadata: the in-memory mirrors
    (index, columns) compare ``last_seq`` with what they applied to know they must catch
    up, and a mirror older than ``tombstone_floor`` must rebuild instead (the deletes it
    lacks are forgotten). The first write with vectors fixes the dimension; later ones keep it.

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).write() as conn:
        ...     row = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
        ...     advance(conn, row.pk, 1, 0, 3)
        ...     advance(conn, row.pk, 2, 0, 5)
        ...     row = get_by_id(conn, row.id)
        >>> row.last_seq, row.dimension
        (2, 3)

    """
    conn.execute(
        "UPDATE collections SET last_seq = ?, tombstone_floor = ?, dimension = coalesce(dimension, ?) WHERE pk = ?",
        (seq, tombstone_floor, dimension, collection_pk),
    )


def create_tenant(conn: sqlite3.Connection, name: str) -> None:
    """Add a tenant; ``UniqueConstraintError`` if it exists."""
    if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone():
        raise UniqueConstraintError(f"Tenant [{name}] already exists")
    conn.execute("INSERT INTO tenants (name) VALUES (?)", (name,))


def get_tenant(conn: sqlite3.Connection, name: str) -> str:
    """The tenant's name; ``NotFoundError`` when missing."""
    if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone() is None:
        raise NotFoundError(f"Tenant [{name}] not found")
    return name


def create_database(conn: sqlite3.Connection, name: str, tenant: str) -> None:
    """Add a database to a tenant."""
    get_tenant(conn, tenant)
    if conn.execute("SELECT 1 FROM databases WHERE tenant = ? AND name = ?", (tenant, name)).fetchone():
        raise UniqueConstraintError(f"Database [{name}] already exists for tenant [{tenant}]")
    conn.execute("INSERT INTO databases (id, name, tenant) VALUES (?, ?, ?)", (str(uuid.uuid4()), name, tenant))


def list_databases(conn: sqlite3.Connection, tenant: str, limit: int | None, offset: int | None) -> list[dict[str, str]]:
    """A tenant's databases as ``{"id", "name", "tenant"}`` dicts."""
    get_tenant(conn, tenant)
    rows = conn.execute(
        "SELECT id, name, tenant FROM databases WHERE tenant = ? ORDER BY rowid LIMIT ? OFFSET ?",
        (tenant, -1 if limit is None else limit, offset or 0),
    )
    return [{"id": r[0], "name": r[1], "tenant": r[2]} for r in rows]


def delete_database(conn: sqlite3.Connection, name: str, tenant: str) -> list[str]:
    """Delete ``tenant/name`` with its collections and their records; the ids of the collections that went.

    ``NotFoundError`` when the tenant or the database is missing. The documents leave the
    full-text index while their records still exist (see :func:`delete_collection_row`);
    the returned ids tell the caller whose index files to remove.

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).write() as conn:
        ...     create_database(conn, "scratch", "default_tenant")
        ...     row = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "scratch")
        ...     delete_database(conn, "scratch", "default_tenant") == [str(row.id)]
        True

    """
    db_id = database_id(conn, tenant, name)
    ids = [str(r[0]) for r in conn.execute("SELECT id FROM collections WHERE database_id = ?", (db_id,))]
    text_index.unindex(conn, "collection_pk IN (SELECT pk FROM collections WHERE database_id = ?)", [db_id])
    conn.execute("DELETE FROM databases WHERE id = ?", (db_id,))  # records go with it (ON DELETE CASCADE)
    return ids


def delete_everything(conn: sqlite3.Connection) -> None:
    """Delete every collection with its records, and every tenant and database but the default ones (a reset).

    The full-text index is emptied first, in one command, rather than told about each record.

    Example:
        >>> from ragstore.local.database import Database
        >>> with Database(None).write() as conn:
        ...     create_tenant(conn, "acme")
        ...     _ = create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
        ...     delete_everything(conn)
        ...     count_rows(conn, "default_tenant", "default_database"), list_databases(conn, "default_tenant", None, None)[0]["name"]
        (0, 'default_database')

    """
    text_index.clear(conn)
    conn.execute("DELETE FROM collections")
    conn.execute("DELETE FROM databases WHERE NOT (tenant = ? AND name = ?)", (DEFAULT_TENANT, DEFAULT_DATABASE))
    conn.execute("DELETE FROM tenants WHERE name != ?", (DEFAULT_TENANT,))
