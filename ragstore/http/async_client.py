"""``AsyncHttpAPI``: :class:`~ragstore.http.client.HttpAPI`'s calls as coroutines, over ``httpx.AsyncClient``.

Requests are built and answers read by the same code as the sync client
(:class:`~ragstore.http.base.BaseHttpAPI`); only the sending differs. Timeouts,
connection retries, pool limits and errors are the same: a refused connection
is a :class:`ServerConnectionError` naming the address, an error answer is
raised as the class the server raised, and calls after :meth:`AsyncHttpAPI.close`
raise :class:`~ragstore.errors.ClosedError`.

Example:
    >>> import asyncio
    >>> async def main() -> None:
    ...     api = AsyncHttpAPI("http://127.0.0.1:9")  # nothing listens on port 9
    ...     try:
    ...         await api.heartbeat()
    ...     except ServerConnectionError as exc:
    ...         print(str(exc).split(":")[0])
    ...     finally:
    ...         await api.close()
    >>> asyncio.run(main())
    Could not connect to a ragstore server at http

"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, TypeVar

import httpx

from ragstore.api import WriteOp
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import ServerConnectionError
from ragstore.http.base import POOL_LIMITS, RETRIES, BaseHttpAPI, Call
from ragstore.http.transport import connection_error
from ragstore.http.wire import TRACE_HEADER
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import SearchResult
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet

T = TypeVar("T")


class AsyncHttpAPI(BaseHttpAPI[httpx.AsyncClient]):
    """A ragstore (or chroma) server reached over HTTP from asyncio code.

    Use it from one event loop (httpx's connection pool belongs to the loop that opened it).

    Args:
        base_url: ``http(s)://host:port`` of the server.
        headers: Extra headers on every request (for example ``Authorization``).
        timeout: Seconds, or an ``httpx.Timeout``.
        verify: TLS verification (``False``, or a CA bundle path).
        session: A ready ``httpx.AsyncClient`` to use instead (for example over ``httpx.ASGITransport``).

    """

    def _open_session(self, timeout: float | httpx.Timeout | None, verify: bool | str) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, limits=POOL_LIMITS, transport=httpx.AsyncHTTPTransport(retries=RETRIES, verify=verify))

    async def __aenter__(self) -> AsyncHttpAPI:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # ------------------------------------------------------------------ transport

    async def _send(self, call: Call[T]) -> T:
        self._check_open()
        content = call.content()
        if call.limit_body and content is not None:
            self._check_size(len(content), await self.get_pre_flight_checks())
        try:
            response = await self._session.request(call.method, self.url(call), content=content, params=call.query(), headers=self._headers)
        except httpx.TransportError as exc:
            raise connection_error(self.base_url, exc) from exc
        return call.result(response.status_code, response.content, response.headers.get(TRACE_HEADER))

    # ------------------------------------------------------------------ system

    async def heartbeat(self) -> int:
        """Server time in nanoseconds; :class:`ServerConnectionError` when no server answers."""
        return await self._send(self.calls.heartbeat())

    async def get_version(self) -> str:
        """The server's version."""
        return await self._send(self.calls.get_version())

    async def get_pre_flight_checks(self) -> dict[str, Any]:
        """The server's limits (fetched once, then cached)."""
        if self._pre_flight is None:
            self._pre_flight = await self._send(self.calls.get_pre_flight_checks())
        return self._pre_flight

    async def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return int((await self.get_pre_flight_checks())["max_batch_size"])

    async def reset(self) -> bool:
        """Delete everything (only when the server allows it)."""
        return await self._send(self.calls.reset())

    async def close(self) -> None:
        """Close the connection pool (idempotent); later calls raise :class:`~ragstore.errors.ClosedError`."""
        if not self._closed:
            self._closed = True
            await self._session.aclose()

    # ------------------------------------------------------------------ tenants and databases

    async def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        await self._send(self.calls.create_tenant(name))

    async def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        return await self._send(self.calls.get_tenant(name))

    async def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``."""
        await self._send(self.calls.create_database(name, tenant))

    async def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when missing."""
        return await self._send(self.calls.get_database(name, tenant))

    async def list_databases(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT
    ) -> list[dict[str, str]]:
        """A tenant's databases."""
        return await self._send(self.calls.list_databases(limit, offset, tenant))

    async def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database and all its collections."""
        await self._send(self.calls.delete_database(name, tenant))

    # ------------------------------------------------------------------ collections

    async def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection, or return the existing one when ``request.get_or_create``."""
        return await self._send(self.calls.create_collection(request))

    async def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name."""
        return await self._send(self.calls.get_collection(name, tenant, database))

    async def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id."""
        return await self._send(self.calls.get_collection_by_id(collection_id))

    async def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        return await self._send(self.calls.list_collections(limit, offset, tenant, database))

    async def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds."""
        return await self._send(self.calls.count_collections(tenant, database))

    async def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection and everything in it."""
        await self._send(self.calls.delete_collection(name, tenant, database))

    async def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        model = await self._send(self.calls.modify_collection(collection_id, request))
        return model if model is not None else await self.get_collection_by_id(collection_id)  # chroma answers {}: ask again

    # ------------------------------------------------------------------ records

    async def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Send an ``add``, ``upsert`` or ``update`` (embeddings as base64 when the server supports it)."""
        base64 = bool((await self.get_pre_flight_checks()).get("supports_base64_encoding"))
        await self._send(self.calls.write(collection_id, op, records, base64))

    async def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete matching records; returns how many were really deleted."""
        return await self._send(self.calls.delete(collection_id, request))

    async def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """Matching records in insertion order."""
        return await self._send(self.calls.get(collection_id, request))

    async def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """The ``n_results`` nearest matching records for each query embedding."""
        return await self._send(self.calls.query(collection_id, request))

    async def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Search API searches, run by the server."""
        return await self._send(self.calls.search(collection_id, request))

    async def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        return await self._send(self.calls.count(collection_id))

    async def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """How far the server's vector index has taken in the collection's writes."""
        return await self._send(self.calls.get_indexing_status(collection_id))


__all__ = ["AsyncHttpAPI", "ServerConnectionError"]
