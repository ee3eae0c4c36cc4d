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
import uuid
from typing import Any

from ragstore.configuration import HnswSettings, hnsw_settings
from ragstore.errors import NotFoundError, UniqueConstraintError
from ragstore.types import CollectionModel

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
    last_seq: int
    tombstone_floor: int
    tenant: str
    database: str
    text_indexed: bool = False
    """Whether the full-text index holds the collection's documents (built at its first document filter)."""
    parsed_hnsw: HnswSettings | None = dataclasses.field(default=None, repr=False, compare=False)
    """The settings parsed with ``configuration`` (by :func:`_parsed`, once per distinct text); ``None``: read them on use."""

    @property
    def hnsw(self) -> HnswSettings:
        """The collection's typed HNSW settings."""
        return self.parsed_hnsw if self.parsed_hnsw is not None else hnsw_settings(self.configuration)

    def model(self) -> CollectionModel:
        """The public description (its dictionaries are the caller's own copies)."""
        metadata, configuration = copy.deepcopy((self.metadata, self.configuration))
        return CollectionModel(self.id, self.name, metadata, configuration, self.dimension, self.tenant, self.database)


@functools.lru_cache(maxsize=1024)
def _parsed(id_: str, meta: str | None, config: str) -> tuple[uuid.UUID, dict[str, Any] | None, dict[str, Any], HnswSettings]:
    """The id, metadata, configuration and typed HNSW settings of a row, parsed once per distinct text.

    Every query reads its collection's row; parsing it again each time cost more than the
    SQL. The dictionaries are shared between rows, so nothing may change them in place:
    :meth:`CollectionRow.model` hands out copies, and the engine only reads them.
    """
    configuration = json.loads(config)
    return uuid.UUID(id_), json.loads(meta) if meta else None, configuration, hnsw_settings(configuration)


def _row(values: tuple[Any, ...]) -> CollectionRow:
    pk, id_, name, dim, meta, config, last_seq, floor, tenant, database, text_indexed = values
    collection_id, metadata, configuration, hnsw = _parsed(id_, meta, config)
    return CollectionRow(pk, collection_id, name, dim, metadata, configuration, last_seq, floor, tenant, database, bool(text_indexed), hnsw)


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
