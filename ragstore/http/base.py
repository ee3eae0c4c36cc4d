"""The half of the HTTP clients that does no I/O: each engine call as a :class:`Call`.

``HttpAPI`` (sync) and ``AsyncHttpAPI`` share :class:`BaseHttpAPI`, which builds
every request (path, body, query parameters) and knows how to read its answer,
so the two clients only differ in how they send it (as httpx's ``Client`` and
``AsyncClient`` share ``BaseClient``).

Example:
    >>> from ragstore.http.client import HttpAPI
    >>> api = HttpAPI("http://localhost:8000/")  # connects on its first send, not here
    >>> call = api.calls.count_collections("default_tenant", "default_database")
    >>> call.method, api.url(call)
    ('GET', 'http://localhost:8000/api/v2/tenants/default_tenant/databases/default_database/collections_count')
    >>> call.result(200, b"3")
    3
    >>> api.close()

"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ragstore.api import WriteOp, write_op
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import ClosedError, RequestTooLargeError
from ragstore.http import wire, wire_answers
from ragstore.http.transport import DEFAULT_TIMEOUT, request_headers
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import SearchResult
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet

T = TypeVar("T")
S = TypeVar("S", httpx.Client, httpx.AsyncClient)  # the session a client sends with

# One pool per client: enough connections for many concurrent requests, kept alive as chromadb does.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=40.0)
RETRIES = 1  # httpx retries a failed connect once (not a request that reached the server)


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _ignore(data: Any) -> None:
    return None


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    """One request to the server and how to read its answer.

    Attributes:
        method: HTTP method.
        path: Path below ``/api/v2``.
        decode: Turns the parsed JSON answer into the call's result.
        body: JSON body (``None`` for none).
        params: Query parameters (``None`` values are left out).
        limit_body: Check the encoded body against the server's ``max_payload_size_bytes`` first.

    """

    method: str
    path: str
    decode: Callable[[Any], T]
    body: Any = None
    params: Mapping[str, Any] | None = None
    limit_body: bool = False

    def content(self) -> bytes | None:
        """The encoded body."""
        return wire.dumps(self.body) if self.body is not None else None

    def query(self) -> dict[str, Any]:
        """The query parameters that have a value."""
        return {k: v for k, v in (self.params or {}).items() if v is not None}

    def result(self, status: int, content: bytes, trace_id: str | None = None) -> T:
        """The decoded answer, or the server's error raised as the class it was raised as, carrying ``trace_id``."""
        if status >= 400:
            error = wire_answers.error_from_json(status, content)
            error.trace_id = trace_id
            raise error
        return self.decode(wire.loads(content) if content else None)


class Calls:
    """Chroma's REST v2 routes; remembers each collection's tenant and database (thread-safe)."""

    def __init__(self) -> None:
        self._scopes: dict[uuid.UUID, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def _collection(self, data: Any) -> CollectionModel:
        model = wire_answers.collection_from_json(data)
        with self._lock:
            self._scopes[model.id] = (model.tenant, model.database)
        return model

    def _collections(self, data: Any) -> list[CollectionModel]:
        return [self._collection(item) for item in data]

    @staticmethod
    def _base(tenant: str, database: str) -> str:
        return f"/tenants/{_segment(tenant)}/databases/{_segment(database)}"

    def _scope_of(self, collection_id: uuid.UUID) -> str:
        with self._lock:
            tenant, database = self._scopes.get(collection_id, (DEFAULT_TENANT, DEFAULT_DATABASE))
        return self._base(tenant, database)

    def _collection_path(self, collection_id: uuid.UUID) -> str:
        return f"{self._scope_of(collection_id)}/collections/{collection_id}"

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> Call[int]:
        """``GET /heartbeat``: server time in nanoseconds."""
        return Call("GET", "/heartbeat", lambda data: int(data["nanosecond heartbeat"]))

    def get_version(self) -> Call[str]:
        """``GET /version``."""
        return Call("GET", "/version", str)

    def get_pre_flight_checks(self) -> Call[dict[str, Any]]:
        """``GET /pre-flight-checks``: the server's limits."""
        return Call("GET", "/pre-flight-checks", dict)

    def reset(self) -> Call[bool]:
        """``POST /reset``."""
        return Call("POST", "/reset", bool)

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> Call[None]:
        """``POST /tenants``."""
        return Call("POST", "/tenants", _ignore, {"name": name})

    def get_tenant(self, name: str) -> Call[str]:
        """``GET /tenants/{name}``: the tenant's name."""
        return Call("GET", f"/tenants/{_segment(name)}", lambda data: str(data["name"]))

    def create_database(self, name: str, tenant: str) -> Call[None]:
        """``POST /tenants/{tenant}/databases``."""
        return Call("POST", f"/tenants/{_segment(tenant)}/databases", _ignore, {"name": name})

    def get_database(self, name: str, tenant: str) -> Call[dict[str, str]]:
        """``GET`` a database: ``{"id", "name", "tenant"}``."""
        return Call("GET", self._base(tenant, name), dict)

    def list_databases(self, limit: int | None, offset: int | None, tenant: str) -> Call[list[dict[str, str]]]:
        """``GET /tenants/{tenant}/databases``."""
        return Call("GET", f"/tenants/{_segment(tenant)}/databases", list, params={"limit": limit, "offset": offset})

    def delete_database(self, name: str, tenant: str) -> Call[None]:
        """``DELETE`` a database."""
        return Call("DELETE", self._base(tenant, name), _ignore)

    # ------------------------------------------------------------------ collections

    def create_collection(self, request: CreateCollectionRequest) -> Call[CollectionModel]:
        """``POST .../collections``."""
        return Call("POST", f"{self._base(request.tenant, request.database)}/collections", self._collection, request.to_json())

    def get_collection(self, name: str, tenant: str, database: str) -> Call[CollectionModel]:
        """``GET .../collections/{name}``."""
        return Call("GET", f"{self._base(tenant, database)}/collections/{_segment(name)}", self._collection)

    def get_collection_by_id(self, collection_id: uuid.UUID) -> Call[CollectionModel]:
        """``GET .../collections/by-id/{id}``."""
        return Call("GET", f"{self._scope_of(collection_id)}/collections/by-id/{collection_id}", self._collection)

    def list_collections(self, limit: int | None, offset: int | None, tenant: str, database: str) -> Call[list[CollectionModel]]:
        """``GET .../collections``."""
        params = {"limit": limit, "offset": offset}
        return Call("GET", f"{self._base(tenant, database)}/collections", self._collections, params=params)

    def count_collections(self, tenant: str, database: str) -> Call[int]:
        """``GET .../collections_count``."""
        return Call("GET", f"{self._base(tenant, database)}/collections_count", int)

    def delete_collection(self, name: str, tenant: str, database: str) -> Call[None]:
        """``DELETE .../collections/{name}``."""
        return Call("DELETE", f"{self._base(tenant, database)}/collections/{_segment(name)}", _ignore)

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> Call[CollectionModel | None]:
        """``PUT .../collections/{id}``: the new collection, or ``None`` when the server answers ``{}`` (chroma)."""

        def decode(answer: Any) -> CollectionModel | None:
            return self._collection(answer) if isinstance(answer, dict) and "id" in answer else None

        return Call("PUT", self._collection_path(collection_id), decode, request.to_json())

    # ------------------------------------------------------------------ records

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet, base64: bool) -> Call[None]:
        """``POST .../{add,upsert,update}``; embeddings as base64 when the server supports it."""
        body = wire.records_to_json(records)
        if not base64 and records.embeddings is not None:
            body["embeddings"] = records.embeddings
        return Call("POST", f"{self._collection_path(collection_id)}/{write_op(op)}", _ignore, body, limit_body=True)

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> Call[int]:
        """``POST .../delete``: how many records were really deleted."""

        def decode(answer: Any) -> int:
            return int(answer.get("deleted", 0)) if isinstance(answer, dict) else 0

        return Call("POST", f"{self._collection_path(collection_id)}/delete", decode, request.to_json())

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> Call[GetResult]:
        """``POST .../get``."""

        def decode(answer: Any) -> GetResult:
            return wire_answers.get_result_from_json(answer, request.include)

        return Call("POST", f"{self._collection_path(collection_id)}/get", decode, request.to_json())

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> Call[QueryResult]:
        """``POST .../query``."""

        def decode(answer: Any) -> QueryResult:
            return wire_answers.query_result_from_json(answer, request.include)

        return Call("POST", f"{self._collection_path(collection_id)}/query", decode, request.to_json(), limit_body=True)

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> Call[SearchResult]:
        """``POST .../search`` (chroma's Search API route)."""
        return Call(
            "POST",
            f"{self._collection_path(collection_id)}/search",
            wire_answers.search_result_from_json,
            request.to_json(),
            limit_body=True,
        )

    def count(self, collection_id: uuid.UUID) -> Call[int]:
        """``GET .../count``."""
        return Call("GET", f"{self._collection_path(collection_id)}/count", int)

    def get_indexing_status(self, collection_id: uuid.UUID) -> Call[IndexingStatus]:
        """``GET .../indexing_status`` (chromadb's route and fields)."""
        return Call("GET", f"{self._collection_path(collection_id)}/indexing_status", wire_answers.indexing_status_from_json)


class BaseHttpAPI(Generic[S]):
    """State and checks shared by ``HttpAPI`` and ``AsyncHttpAPI``; subclasses add the sending and their kind of session.

    Args:
        base_url: ``http(s)://host:port`` of the server.
        headers: Extra headers on every request (for example ``Authorization``).
        timeout: Seconds, or an ``httpx.Timeout``.
        verify: TLS verification (``False``, or a CA bundle path).
        session: A ready session to use instead (``httpx.Client`` for ``HttpAPI``, ``httpx.AsyncClient`` for ``AsyncHttpAPI``;
            tests pass one over an in-process transport).

    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        session: S | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.calls = Calls()
        self._headers = request_headers(headers)
        self._pre_flight: dict[str, Any] | None = None
        self._closed = False
        self._session: S = session if session is not None else self._open_session(timeout, verify)

    def _open_session(self, timeout: float | httpx.Timeout | None, verify: bool | str) -> S:
        """A new session with :data:`POOL_LIMITS` and :data:`RETRIES` (the sync or asyncio kind: each subclass says which)."""
        raise NotImplementedError

    def url(self, call: Call[Any]) -> str:
        """The full URL of ``call`` on this server."""
        return f"{self.base_url}{wire.API_PREFIX}{call.path}"

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("This client has been closed; create a new one.")

    @staticmethod
    def _check_size(size: int, pre_flight: Mapping[str, Any]) -> None:
        limit = pre_flight.get("max_payload_size_bytes")
        if isinstance(limit, int) and size > limit:
            raise RequestTooLargeError(
                f"This batch encodes to {size} bytes, above the server's request limit of {limit} bytes; send fewer records per call"
            )
