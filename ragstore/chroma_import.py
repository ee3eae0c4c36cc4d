"""Move in from chromadb: copy a chromadb 1.x persistent directory into a ragstore store.

Every tenant, database and collection is created with the same names, collection metadata and
configuration (chromadb's Schema JSON is given to ragstore as is: the space, the HNSW parameters and
the embedding function's name and config), and every record with its id, document, metadata and
vector. The chromadb directory is only read (:mod:`ragstore.chroma_store`); chromadb is not imported.

Everything is read and checked before the first write, and a collection name the target already
holds is refused up front, so a bad source or a clash changes nothing.

Example:
    >>> import tempfile
    >>> import_chroma(tempfile.mkdtemp(), tempfile.mkdtemp())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: ... is not a chromadb persistent directory: it has no chroma.sqlite3

"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragstore.api import API
from ragstore.chroma_store import ChromaCollection, ChromaRecord, ChromaStore
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import NotFoundError, UniqueConstraintError
from ragstore.store_address import StoreAddress


@dataclass
class ImportSummary:
    """What an import created: ``collections`` maps ``tenant/database/name`` to its record count."""

    tenants: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    collections: dict[str, int] = field(default_factory=dict)


def import_chroma(chroma_path: str | Path, into: str | Path) -> ImportSummary:
    """Copy the chromadb store at ``chroma_path`` into the ragstore store at ``into`` (created if missing).

    Args:
        chroma_path: A chromadb 1.x persistent directory (the folder holding ``chroma.sqlite3``).
        into: The ragstore store's directory.

    Raises:
        InvalidArgumentError: ``chroma_path`` is not a chromadb 1.x directory, or it is damaged.
        UniqueConstraintError: ``into`` already holds a collection of the same name in the same
            tenant and database; nothing was written.

    A write that fails part way (a full disk, a record ragstore refuses) deletes the collections and
    databases this call made before the error propagates.

    """
    with ChromaStore(chroma_path) as source:
        collections = source.collections()
        records = {collection.id: list(source.records(collection)) for collection in collections}  # all read before any write
        tenants, databases = source.tenants(), source.databases()
    summary = ImportSummary()
    api = StoreAddress(path=into).api()
    try:
        _refuse_clashes(api, collections)
        for tenant in tenants:
            if not _has_tenant(api, tenant):
                api.create_tenant(tenant)
                summary.tenants.append(tenant)
        for tenant, database in databases:
            if not _has_database(api, tenant, database):
                api.create_database(database, tenant)
                summary.databases.append(f"{tenant}/{database}")
        created: list[ChromaCollection] = []
        try:
            for collection in collections:
                created.append(collection)
                label = f"{collection.tenant}/{collection.database}/{collection.name}"
                summary.collections[label] = _copy(api, collection, records[collection.id])
        except BaseException:
            _undo(api, created, summary)
            raise
    finally:
        api.close()
    return summary


def _undo(api: API, created: list[ChromaCollection], summary: ImportSummary) -> None:
    """Remove what a failed import made (a tenant stays: ragstore cannot delete one, and an empty one holds nothing)."""
    for collection in created:
        with contextlib.suppress(NotFoundError):  # its creation was what failed
            api.delete_collection(collection.name, collection.tenant, collection.database)
    for scope in summary.databases:
        tenant, database = scope.split("/", 1)
        api.delete_database(database, tenant)


def _refuse_clashes(api: API, collections: list[ChromaCollection]) -> None:
    for collection in collections:
        try:
            api.get_collection(collection.name, collection.tenant, collection.database)
        except NotFoundError:
            continue
        raise UniqueConstraintError(
            f"Collection [{collection.name}] already exists in {collection.tenant}/{collection.database} of the target store: "
            "nothing was imported; import into a new --into store"
        )


def _has_tenant(api: API, tenant: str) -> bool:
    try:
        api.get_tenant(tenant)
    except NotFoundError:
        return False
    return True


def _has_database(api: API, tenant: str, database: str) -> bool:
    try:
        api.get_database(database, tenant)
    except NotFoundError:
        return False
    return True


def _copy(api: API, collection: ChromaCollection, records: list[ChromaRecord]) -> int:
    from ragstore.client import Client  # the client validates records exactly as a user's add does
    from ragstore.settings import Settings

    metadata = collection.metadata
    legacy = bool(collection.schema and metadata and any(key.startswith("hnsw:") for key in metadata))
    request = CreateCollectionRequest(
        collection.name,
        None,
        {key: value for key, value in metadata.items() if not key.startswith("hnsw:")} or None if legacy and metadata else metadata,
        tenant=collection.tenant,
        database=collection.database,
        schema=collection.schema,
    )
    created = api.create_collection(request)
    if legacy:
        # chromadb 1.x keeps legacy hnsw:* keys in the metadata and folds them into the schema too; ragstore refuses a
        # creation that sets the vector index twice, so the schema creates and the metadata is restored whole after.
        api.modify_collection(created.id, ModifyCollectionRequest(new_metadata=metadata))
    target = Client(api, Settings(), collection.tenant, collection.database).get_collection(collection.name, embedding_function=None)
    batch = api.get_max_batch_size()
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        target.add(
            ids=[record.id for record in chunk],
            embeddings=np.stack([record.embedding for record in chunk]),
            documents=[record.document for record in chunk],
            metadatas=[record.metadata for record in chunk],
            uris=[record.uri for record in chunk] if any(record.uri for record in chunk) else None,
        )
    return len(records)
