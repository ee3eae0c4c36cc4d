"""The one seam between the user-facing clients and an engine.

:class:`API` is the whole contract an engine offers: system calls, tenants and
databases, collections and records. ``Client``, ``Collection`` and ``AdminClient``
call it with input already normalised and embedded. Two classes implement it
today: ``LocalAPI`` (in-process, ephemeral or persistent) and ``HttpAPI`` (a
ragstore server over the wire). The server wraps any ``API`` (in practice the
``LocalAPI`` that ``ragstore run`` opens). Record reads and deletes cross it as
request objects (:mod:`ragstore.record_requests`), checked when they are built, so
a server builds them from untrusted bodies with the same rules; record sets and
other arguments are checked again by the engine.

Example:
    >>> from ragstore.local import LocalAPI
    >>> api: API = LocalAPI(None)
    >>> api.create_database("notes")
    >>> model = api.create_collection(CreateCollectionRequest("docs", database="notes"))
    >>> api.count(model.id)
    0

"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Literal, Protocol, Self, cast, get_args

from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import InvalidArgumentError
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

WriteOp = Literal["add", "upsert", "update"]
"""The three record writes, one engine method (:meth:`API.write`): chromadb's ``Collection.add`` / ``upsert`` / ``update``."""


def write_op(op: str) -> WriteOp:
    """``op`` if it names a write, else :class:`~ragstore.errors.InvalidArgumentError`.

    ``op`` is only a string at run time: unchecked, ``"delete"`` would be written as an upsert
    by the engine and posted to the delete route by the HTTP clients.

    Example:
        >>> write_op("upsert")
        'upsert'
        >>> write_op("delete")
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected op to be one of add, upsert, update, got 'delete'

    """
    if op not in get_args(WriteOp):
        raise InvalidArgumentError(f"Expected op to be one of {', '.join(get_args(WriteOp))}, got {op!r}")
    return cast(WriteOp, op)


class API(Protocol):
    """Operations every engine provides (all names and results as chromadb's)."""

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch; raises when the engine is unreachable."""
        ...

    def get_version(self) -> str:
        """The engine's version string."""
        ...

    def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        ...

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> None:
        """Create a tenant; ``UniqueConstraintError`` if it exists."""
        ...

    def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        ...

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``; ``UniqueConstraintError`` if it exists."""
        ...

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when the tenant or database is missing."""
        ...

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """The tenant's databases in creation order."""
        ...

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database with all its collections and their files."""
        ...

    # ------------------------------------------------------------------ collections

    def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection (or return the existing one when ``request.get_or_create``)."""
        ...

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name; ``NotFoundError`` when missing."""
        ...

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id; ``NotFoundError`` when missing."""
        ...

    def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        ...

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds."""
        ...

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection and everything in it."""
        ...

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        ...

    # ------------------------------------------------------------------ records

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Write records as ``op`` says: ``add`` inserts (ids that exist are skipped), ``update`` changes existing ones.

        ``update`` ignores missing ids; ``upsert`` inserts those and updates the rest. An updated record keeps what the
        write leaves out, and its metadata is merged key by key (``None`` deletes a key).
        """
        ...

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete the records ``request`` selects; returns how many were really deleted."""
        ...

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """The records ``request`` selects, in insertion order."""
        ...

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """The ``request.n_results`` nearest records for each of its query embeddings."""
        ...

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Search API searches (filter, dense and sparse Knn, fusion, grouping, paging), one answer column each."""
        ...

    def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        ...

    def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """How far the vector index has taken in the collection's writes (see :class:`~ragstore.types.IndexingStatus`)."""
        ...

    def reset(self) -> bool:
        """Delete everything (only when the settings allow it)."""
        ...

    def close(self) -> None:
        """Release files and connections; the API is unusable afterwards."""
        ...


class ClosesApi:
    """What a synchronous handle on an engine does on ``close()`` and at the end of a ``with`` block: closes the engine.

    :class:`ragstore.Client` and :class:`ragstore.AdminClient` share it.

    Example:
        >>> import ragstore
        >>> with ragstore.EphemeralClient() as client:
        ...     _ = client.heartbeat()

    """

    _api: API

    def close(self) -> None:
        """Save caches and release the files or the connection; the handle is unusable afterwards."""
        self._api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
