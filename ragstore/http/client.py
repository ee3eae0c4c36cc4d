"""``HttpAPI``: the engine seam (:class:`ragstore.api.API`) over Chroma's REST v2, with httpx.

``Client`` and ``Collection`` validate and embed exactly as in the embedded
modes, then call this class, which encodes the call (embeddings as base64
float32), sends it over a pooled connection, and turns an error answer back
into the same error class the server raised. Building requests and reading
answers is shared with ``AsyncHttpAPI`` (:mod:`ragstore.http.base`); only the
sending is here.

Example:
    >>> api = HttpAPI("http://127.0.0.1:9")  # nothing listens on port 9
    >>> try:
    ...     api.heartbeat()
    ... except ServerConnectionError as exc:
    ...     print(str(exc).split(":")[0])
    Could not connect to a ragstore server at http
    >>> api.close()

"""

from __future__ import annotations

import uuid
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


class HttpAPI(BaseHttpAPI[httpx.Client]):
    """A ragstore (or chroma) server reached over HTTP.

    Args:
        base_url: ``http(s)://host:port`` of the server.
        headers: Extra headers on every request (for example ``Authorization``).
        timeout: Seconds, or an ``httpx.Timeout``.
        verify: TLS verification (``False``, or a CA bundle path).
        session: A ready ``httpx.Client`` to use instead (tests pass an in-process transport).

    """

    def _open_session(self, timeout: float | httpx.Timeout | None, verify: bool | str) -> httpx.Client:
        return httpx.Client(timeout=timeout, limits=POOL_LIMITS, transport=httpx.HTTPTransport(retries=RETRIES, verify=verify))

    # ------------------------------------------------------------------ transport

    def _send(self, call: Call[T]) -> T:
        self._check_open()
        content = call.content()
        if call.limit_body and content is not None:
            self._check_size(len(content), self.get_pre_flight_checks())
        try:
            response = self._session.request(call.method, self.url(call), content=content, params=call.query(), headers=self._headers)
        except httpx.TransportError as exc:
            raise connection_error(self.base_url, exc) from exc
        return call.result(response.status_code, response.content, response.headers.get(TRACE_HEADER))

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> int:
        """Server time in nanoseconds; :class:`ServerConnectionError` when no server answers."""
        return self._send(self.calls.heartbeat())

    def get_version(self) -> str:
        """The server's version."""
        return self._send(self.calls.get_version())

    def get_pre_flight_checks(self) -> dict[str, Any]:
        """The server's limits (fetched once, then cached)."""
        if self._pre_flight is None:
            self._pre_flight = self._send(self.calls.get_pre_flight_checks())
        return self._pre_flight

    def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return int(self.get_pre_flight_checks()["max_batch_size"])

    def reset(self) -> bool:
        """Delete everything (only when the server allows it)."""
        return self._send(self.calls.reset())

    def close(self) -> None:
        """Close the connection pool (idempotent); later calls raise :class:`ClosedError`."""
        if not self._closed:
            self._closed = True
            self._session.close()

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        self._send(self.calls.create_tenant(name))

    def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        return self._send(self.calls.get_tenant(name))

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``."""
        self._send(self.calls.create_database(name, tenant))

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when missing."""
        return self._send(self.calls.get_database(name, tenant))

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """A tenant's databases."""
        return self._send(self.calls.list_databases(limit, offset, tenant))

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database and all its collections."""
        self._send(self.calls.delete_database(name, tenant))

    # ------------------------------------------------------------------ collections

    def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection, or return the existing one when ``request.get_or_create``."""
        return self._send(self.calls.create_collection(request))

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name."""
        return self._send(self.calls.get_collection(name, tenant, database))

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id."""
        return self._send(self.calls.get_collection_by_id(collection_id))

    def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        return self._send(self.calls.list_collections(limit, offset, tenant, database))

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds."""
        return self._send(self.calls.count_collections(tenant, database))

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection and everything in it."""
        self._send(self.calls.delete_collection(name, tenant, database))

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        model = self._send(self.calls.modify_collection(collection_id, request))
        return model if model is not None else self.get_collection_by_id(collection_id)  # chroma answers {}: ask again

    # ------------------------------------------------------------------ records

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Send an ``add``, ``upsert`` or ``update`` (embeddings as base64 when the server supports it)."""
        base64 = bool(self.get_pre_flight_checks().get("supports_base64_encoding"))
        self._send(self.calls.write(collection_id, op, records, base64))

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete matching records; returns how many were really deleted."""
        return self._send(self.calls.delete(collection_id, request))

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """Matching records in insertion order."""
        return self._send(self.calls.get(collection_id, request))

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """The ``n_results`` nearest matching records for each query embedding."""
        return self._send(self.calls.query(collection_id, request))

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Search API searches, run by the server."""
        return self._send(self.calls.search(collection_id, request))

    def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        return self._send(self.calls.count(collection_id))

    def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """How far the server's vector index has taken in the collection's writes."""
        return self._send(self.calls.get_indexing_status(collection_id))


__all__ = ["HttpAPI", "ServerConnectionError"]
