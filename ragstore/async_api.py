"""The one seam between the asyncio clients and an engine: :class:`API`'s contract as coroutines.

:class:`AsyncAPI` has every method of :class:`ragstore.api.API`, with the same
names, parameters and results, as ``async def``. ``AsyncClient`` and
``AsyncCollection`` call it; ``AsyncHttpAPI`` (a ragstore server over the wire)
implements it today. ``tests/test_protocols.py`` checks that the two protocols
and their implementations keep the same methods and parameter names.

Example:
    An in-process server answers an ``AsyncHttpAPI`` (no socket: httpx calls the app directly):

    >>> import asyncio, httpx
    >>> from ragstore.local import LocalAPI
    >>> from ragstore.server import create_app
    >>> from ragstore.http.async_client import AsyncHttpAPI
    >>> async def main() -> list[str]:
    ...     app = create_app(LocalAPI(None))
    ...     api: AsyncAPI = AsyncHttpAPI("http://ragstore", session=httpx.AsyncClient(transport=httpx.ASGITransport(app)))
    ...     await api.create_database("notes")
    ...     names = [d["name"] for d in await api.list_databases()]
    ...     await api.close()
    ...     return names
    >>> asyncio.run(main())
    ['default_database', 'notes']

"""

from __future__ import annotations

import uuid
from typing import Protocol

from ragstore.api import WriteOp
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import SearchResult
from ragstore.types import (
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    CollectionModel,
    GetResult,
    IndexingStatus,
    QueryResult,
    RecordSet,
)


class AsyncAPI(Protocol):
    """Operations every asyncio engine provides; each one means what its namesake in :class:`ragstore.api.API` means."""

    # ------------------------------------------------------------------ system

    async def heartbeat(self) -> int:
        """Nanoseconds since the epoch; raises when the engine is unreachable."""
        ...

    async def get_version(self) -> str:
        """The engine's version string."""
        ...

    async def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        ...

    async def reset(self) -> bool:
        """Delete everything (only when the engine allows it)."""
        ...

    async def close(self) -> None:
        """Release connections; the API is unusable afterwards."""
        ...

    # ------------------------------------------------------------------ tenants and databases

    async def create_tenant(self, name: str) -> None:
        """Create a tenant; ``UniqueConstraintError`` if it exists."""
        ...

    async def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        ...

    async def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``; ``UniqueConstraintError`` if it exists."""
        ...

    async def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when the tenant or database is missing."""
        ...

    async def list_databases(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT
    ) -> list[dict[str, str]]:
        """The tenant's databases in creation order."""
        ...

    async def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database with all its collections and their files."""
        ...

    # ------------------------------------------------------------------ collections

    async def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection (or return the existing one when ``request.get_or_create``)."""
        ...

    async def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name; ``NotFoundError`` when missing."""
        ...

    async def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id; ``NotFoundError`` when missing."""
        ...

    async def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        ...

    async def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds."""
        ...

    async def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection and everything in it."""
        ...

    async def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        ...

    # ------------------------------------------------------------------ records

    async def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Write records as ``op`` says: ``add`` inserts (ids that exist are skipped), ``update`` changes existing ones.

        ``update`` ignores missing ids; ``upsert`` inserts those and updates the rest. An updated record keeps what the
        write leaves out, and its metadata is merged key by key (``None`` deletes a key).
        """
        ...

    async def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete the records ``request`` selects; returns how many were really deleted."""
        ...

    async def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """The records ``request`` selects, in insertion order."""
        ...

    async def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """The ``request.n_results`` nearest records for each of its query embeddings."""
        ...

    async def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Search API searches (filter, dense and sparse Knn, fusion, grouping, paging), one answer column each."""
        ...

    async def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        ...

    async def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """How far the vector index has taken in the collection's writes (see :class:`~ragstore.types.IndexingStatus`)."""
        ...


__all__ = ["AsyncAPI"]
