"""``HttpAPI``: the engine seam (:class:`ragstore.api.API`) over Chroma's REST v2, with httpx.

``Client`` and ``Collection`` validate and embed exactly as in the embedded
modes, then call this class, which encodes the call (embeddings as base64
float32), sends it over a pooled connection, and turns an error answer back
into the same error class the server raised.

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

import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ragstore.errors import ClosedError, RequestTooLargeError, ServerConnectionError
from ragstore.http import wire
from ragstore.http.transport import DEFAULT_TIMEOUT, connection_error, request_headers
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, QueryResult, RecordSet


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class HttpAPI:
    """A ragstore (or chroma) server reached over HTTP.

    Args:
        base_url: ``http(s)://host:port`` of the server.
        headers: Extra headers on every request (for example ``Authorization``).
        timeout: Seconds, or an ``httpx.Timeout``.
        verify: TLS verification (``False``, or a CA bundle path).
        session: A ready ``httpx.Client`` to use instead (tests pass an in-process transport).

    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        session: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=40.0),
            transport=httpx.HTTPTransport(retries=1, verify=verify),
        )
        self._headers = request_headers(headers)
        self._pre_flight: dict[str, Any] | None = None
        self._scopes: dict[uuid.UUID, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ transport

    def _request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None, limit_body: bool = False) -> Any:
        if self._closed:
            raise ClosedError("This client has been closed; create a new one.")
        content = wire.dumps(body) if body is not None else None
        if limit_body and content is not None:
            self._check_size(len(content))
        url = f"{self.base_url}{wire.API_PREFIX}{path}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._session.request(method, url, content=content, params=query, headers=self._headers)
        except httpx.TransportError as exc:
            raise connection_error(self.base_url, exc) from exc
        if response.status_code >= 400:
            raise wire.error_from_json(response.status_code, response.content)
        return wire.loads(response.content) if response.content else None

    def _check_size(self, size: int) -> None:
        limit = self.get_pre_flight_checks().get("max_payload_size_bytes")
        if isinstance(limit, int) and size > limit:
            raise RequestTooLargeError(
                f"This batch encodes to {size} bytes, above the server's request limit of {limit} bytes; send fewer records per call"
            )

    def _collection(self, data: Any) -> CollectionModel:
        model = wire.collection_from_json(data)
        with self._lock:
            self._scopes[model.id] = (model.tenant, model.database)
        return model

    def _base(self, tenant: str, database: str) -> str:
        return f"/tenants/{_segment(tenant)}/databases/{_segment(database)}"

    def _records_path(self, collection_id: uuid.UUID, action: str) -> str:
        tenant, database = self._scopes.get(collection_id, (DEFAULT_TENANT, DEFAULT_DATABASE))
        return f"{self._base(tenant, database)}/collections/{collection_id}/{action}"

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> int:
        """Server time in nanoseconds; :class:`ServerConnectionError` when no server answers."""
        return int(self._request("GET", "/heartbeat")["nanosecond heartbeat"])

    def get_version(self) -> str:
        """The server's version."""
        return str(self._request("GET", "/version"))

    def get_pre_flight_checks(self) -> dict[str, Any]:
        """The server's limits (fetched once, then cached)."""
        if self._pre_flight is None:
            self._pre_flight = dict(self._request("GET", "/pre-flight-checks"))
        return self._pre_flight

    def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return int(self.get_pre_flight_checks()["max_batch_size"])

    def reset(self) -> bool:
        """Delete everything (only when the server allows it)."""
        return bool(self._request("POST", "/reset"))

    def close(self) -> None:
        """Close the connection pool (idempotent); later calls raise :class:`ClosedError`."""
        if not self._closed:
            self._closed = True
            self._session.close()

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        self._request("POST", "/tenants", {"name": name})

    def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        return str(self._request("GET", f"/tenants/{_segment(name)}")["name"])

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``."""
        self._request("POST", f"/tenants/{_segment(tenant)}/databases", {"name": name})

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when missing."""
        return dict(self._request("GET", self._base(tenant, name)))

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """A tenant's databases."""
        return list(self._request("GET", f"/tenants/{_segment(tenant)}/databases", params={"limit": limit, "offset": offset}))

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database and all its collections."""
        self._request("DELETE", self._base(tenant, name))

    # ------------------------------------------------------------------ collections

    def create_collection(
        self,
        name: str,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        get_or_create: bool = False,
        tenant: str = DEFAULT_TENANT,
        database: str = DEFAULT_DATABASE,
    ) -> CollectionModel:
        """Create a collection, or return the existing one when ``get_or_create``."""
        body = {"name": name, "configuration": configuration, "metadata": metadata, "get_or_create": get_or_create}
        return self._collection(self._request("POST", f"{self._base(tenant, database)}/collections", body))

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name."""
        return self._collection(self._request("GET", f"{self._base(tenant, database)}/collections/{_segment(name)}"))

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id."""
        tenant, database = self._scopes.get(collection_id, (DEFAULT_TENANT, DEFAULT_DATABASE))
        return self._collection(self._request("GET", f"{self._base(tenant, database)}/collections/by-id/{collection_id}"))

    def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        found = self._request("GET", f"{self._base(tenant, database)}/collections", params={"limit": limit, "offset": offset})
        return [self._collection(item) for item in found]

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds."""
        return int(self._request("GET", f"{self._base(tenant, database)}/collections_count"))

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection and everything in it."""
        self._request("DELETE", f"{self._base(tenant, database)}/collections/{_segment(name)}")

    def modify_collection(
        self,
        collection_id: uuid.UUID,
        new_name: str | None = None,
        new_metadata: dict[str, Any] | None = None,
        new_configuration: dict[str, Any] | None = None,
    ) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        tenant, database = self._scopes.get(collection_id, (DEFAULT_TENANT, DEFAULT_DATABASE))
        body = {"new_name": new_name, "new_metadata": new_metadata, "new_configuration": new_configuration}
        answer = self._request("PUT", f"{self._base(tenant, database)}/collections/{collection_id}", body)
        if isinstance(answer, dict) and "id" in answer:
            return self._collection(answer)
        return self.get_collection_by_id(collection_id)  # chroma answers {}: ask again

    # ------------------------------------------------------------------ records

    def _write(self, action: str, collection_id: uuid.UUID, records: RecordSet) -> None:
        body = wire.records_to_json(records)
        if not self.get_pre_flight_checks().get("supports_base64_encoding") and records.embeddings is not None:
            body["embeddings"] = records.embeddings
        self._request("POST", self._records_path(collection_id, action), body, limit_body=True)

    def add(self, collection_id: uuid.UUID, records: RecordSet) -> None:
        """Insert records; ids that already exist are skipped."""
        self._write("add", collection_id, records)

    def upsert(self, collection_id: uuid.UUID, records: RecordSet) -> None:
        """Insert new records, update existing ones."""
        self._write("upsert", collection_id, records)

    def update(self, collection_id: uuid.UUID, records: RecordSet) -> None:
        """Update existing records; missing ids are ignored."""
        self._write("update", collection_id, records)

    def delete(
        self,
        collection_id: uuid.UUID,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> int:
        """Delete matching records; returns how many were really deleted."""
        body = {"ids": ids, "where": where, "where_document": where_document, "limit": limit}
        answer = self._request("POST", self._records_path(collection_id, "delete"), body)
        return int(answer.get("deleted", 0)) if isinstance(answer, dict) else 0

    def get(
        self,
        collection_id: uuid.UUID,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        include: Sequence[str] = ("metadatas", "documents"),
    ) -> GetResult:
        """Matching records in insertion order."""
        body = {"ids": ids, "where": where, "where_document": where_document, "limit": limit, "offset": offset, "include": list(include)}
        return wire.get_result_from_json(self._request("POST", self._records_path(collection_id, "get"), body), include)

    def query(
        self,
        collection_id: uuid.UUID,
        query_embeddings: Any,
        n_results: int = 10,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        include: Sequence[str] = ("metadatas", "documents", "distances"),
    ) -> QueryResult:
        """The ``n_results`` nearest matching records for each query embedding."""
        body = {
            "query_embeddings": query_embeddings,
            "n_results": n_results,
            "ids": ids,
            "where": where,
            "where_document": where_document,
            "include": list(include),
        }
        return wire.query_result_from_json(
            self._request("POST", self._records_path(collection_id, "query"), body, limit_body=True), include
        )

    def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        return int(self._request("GET", self._records_path(collection_id, "count")))


__all__ = ["HttpAPI", "ServerConnectionError"]
