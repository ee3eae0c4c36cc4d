"""The server's guards, request by request: auth first, body and batch limits, re-validation, error round trips.

Each test talks to ``create_app`` in-process (Starlette's ``TestClient``) with raw HTTP
requests, so the bytes on the wire are exactly the test's and no client-side check can
hide a missing server-side one. "Touches nothing" is checked through the engine itself
(:func:`store_state`). ``tests/test_cli.py`` covers the real ``ragstore run`` process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

import ragstore
from ragstore.collection_requests import CreateCollectionRequest
from ragstore.errors import (
    AuthenticationError,
    AuthorizationError,
    BatchSizeExceededError,
    ClosedError,
    DuplicateIDError,
    InternalError,
    InvalidArgumentError,
    InvalidDimensionException,
    NotFoundError,
    RagstoreError,
    RequestTooLargeError,
    ResponseTooLargeError,
    ServerConnectionError,
    StorageError,
    UnimplementedError,
    UniqueConstraintError,
    error_classes,
)
from ragstore.filters import MAX_FILTER_DEPTH, MAX_FILTER_SIZE, MAX_REGEX_LENGTH
from ragstore.http.client import HttpAPI
from ragstore.http.wire import API_PREFIX, dumps
from ragstore.http.wire_answers import error_from_json
from ragstore.local import LocalAPI
from ragstore.local.engine import MAX_BATCH_SIZE
from ragstore.record_requests import GetRequest, QueryRequest
from ragstore.server import ServerConfig, create_app
from ragstore.server.app import DEFAULT_MAX_BODY_SIZE
from ragstore.server.errors import error_response
from ragstore.server.security import OPEN_PATHS
from ragstore.types import CollectionModel, RecordSet

TOKEN = "s3cret-token"
COLLECTION = "docs"
DIM = 3
SMALL_LIMIT = 4096  # bytes: the body limit of the tests about --max-body-size
BASE = f"{API_PREFIX}/tenants/default_tenant/databases/default_database"
OTHER_TENANT, OTHER_DATABASE = "other_tenant", "other_db"
INTRUDER = "intruder"  # every name a write that slipped through auth would create
PROBED_TENANTS = ("default_tenant", OTHER_TENANT, INTRUDER)


# ---------------------------------------------------------------------------------- helpers


def seed(api: LocalAPI) -> CollectionModel:
    """Three records in ``docs`` (default scope), plus one collection in another tenant and database."""
    col = api.create_collection(CreateCollectionRequest(COLLECTION))
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    api.write(col.id, "add", RecordSet(["a", "b", "c"], vectors, [{"k": 1}, None, {"k": 3}], ["alpha", None, "gamma"], None))
    api.create_tenant(OTHER_TENANT)
    api.create_database(OTHER_DATABASE, OTHER_TENANT)
    elsewhere = api.create_collection(CreateCollectionRequest("elsewhere", tenant=OTHER_TENANT, database=OTHER_DATABASE))
    api.write(elsewhere.id, "add", RecordSet(["z"], np.ones((1, 2), dtype=np.float32), None, ["zeta"], None))
    return col


def store_state(api: LocalAPI) -> Any:
    """Everything the engine can tell about the store: tenants, databases, collections, records, search."""
    tenants = []
    for tenant in PROBED_TENANTS:
        try:
            api.get_tenant(tenant)
        except NotFoundError:
            tenants.append((tenant, None))
            continue
        databases = []
        for database in api.list_databases(tenant=tenant):
            collections = []
            for m in api.list_collections(tenant=tenant, database=database["name"]):
                got = api.get(m.id, GetRequest(include=["embeddings", "documents", "metadatas", "uris"]))
                assert got["embeddings"] is not None
                near = api.query(m.id, QueryRequest(np.ones((1, m.dimension)), 10, include=["distances"]))["ids"] if m.dimension else None
                records = (got["ids"], got["embeddings"].tolist(), got["documents"], got["metadatas"], got["uris"])
                collections.append((str(m.id), m.name, m.metadata, m.configuration_json, m.dimension, *records, near))
            databases.append((database["name"], collections))
        tenants.append((tenant, databases))
    return tenants


@dataclass
class Server:
    """An app around a seeded engine, and a raw HTTP client of it."""

    api: LocalAPI
    app: FastAPI
    http: TestClient
    col: CollectionModel

    def records(self, action: str) -> str:
        """The URL of a record route of the seeded collection."""
        return f"{BASE}/collections/{self.col.id}/{action}"

    def client_api(self, headers: Mapping[str, str] | None = None) -> HttpAPI:
        """ragstore's own HTTP engine seam, over this in-process server."""
        return HttpAPI("http://testserver", headers=headers, session=self.http)


@contextlib.contextmanager
def serving(
    path: Path,
    *,
    token: str | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    allow_reset: bool = False,
    raise_server_exceptions: bool = True,
    prepare: Callable[[FastAPI], None] | None = None,
) -> Iterator[Server]:
    """A seeded store served in-process (the token is always explicit: the environment never decides)."""
    api = LocalAPI(path, ragstore.Settings(allow_reset=allow_reset))
    col = seed(api)
    app = create_app(api, ServerConfig(auth_token=token, max_body_size=max_body_size))
    if prepare is not None:
        prepare(app)
    json = {"Content-Type": "application/json"}  # as every client sends; the server refuses other bodies (415)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=raise_server_exceptions, headers=json) as http:
        yield Server(api, app, http, col)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """No auth, default limits."""
    with serving(tmp_path / "store") as s:
        yield s


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Server]:
    """A token is required; reset is allowed, so only auth stands between a request and the data."""
    with serving(tmp_path / "store", token=TOKEN, allow_reset=True) as s:
        yield s


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Server]:
    """Request bodies above SMALL_LIMIT bytes are refused."""
    with serving(tmp_path / "store", max_body_size=SMALL_LIMIT) as s:
        yield s


def assert_error(response: httpx.Response, status: int, name: str, match: str | None = None) -> str:
    """The response is Chroma's error shape with ``status`` and ragstore's error ``name``; returns the message.

    A few errors travel under Chroma's name with ragstore's own in ``ragstore_error`` (see ``wire_answers.error_to_json``).
    """
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and {"error", "message"} <= set(body) <= {"error", "message", "ragstore_error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body.get("ragstore_error", body["error"]) == name, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if match is not None:
        assert re.search(match, body["message"]), body["message"]
    return str(body["message"])


def b64(*rows: tuple[float, ...]) -> list[str]:
    """Embeddings as the wire's base64 little-endian float32 strings."""
    return [base64.b64encode(struct.pack(f"<{len(row)}f", *row)).decode("ascii") for row in rows]


def add_body(n: int, prefix: str = "new") -> bytes:
    """A valid add body of ``n`` records (so if a guard let it through, the store would change)."""
    return orjson.dumps({"ids": [f"{prefix}{i}" for i in range(n)], "embeddings": b64(*[(0.5, 0.5, float(i)) for i in range(n)])})


# ---- the app's routes


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the app serves, ``HEAD`` aside, included routers flattened."""

    def walk(routes: list[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            nested = getattr(route, "effective_candidates", None)  # FastAPI >= 0.16x keeps included routers as branches
            if nested is not None:
                yield from walk(nested())
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, route.path

    return list(walk(app.routes))


def fill(template: str, col: CollectionModel) -> str:
    """A concrete path for a route template, pointing at the seeded data."""
    values = {"tenant": "default_tenant", "database": "default_database", "collection_id": str(col.id), "name": COLLECTION}
    values["rest"] = "heartbeat"  # /api/v1/{rest:path}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m[1]], template)  # an unknown parameter fails here: name it above


# A body every write route would act on: it creates tenant/database/collection INTRUDER, renames,
# adds "zzz" and changes or deletes "a" (ids and embeddings are parallel).
ATTACK_BODY = orjson.dumps(
    {
        "name": INTRUDER,
        "new_name": "renamed",
        "new_metadata": {"owned": True},
        "ids": ["a", "zzz"],
        "embeddings": [[0.5, 0.5, 0.5], [0.25, 0.25, 0.25]],
        "query_embeddings": [[1.0, 0.0, 0.0]],
    }
)


def send(http: TestClient, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None) -> httpx.Response:
    content = body if method in ("POST", "PUT", "PATCH") else None
    return http.request(method, path, content=content, headers=dict(headers or {}))


def call_asgi(app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, int]:
    """Call the ASGI app directly: (status, body, how many times it asked for the request body)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send_message(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send_message))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body, reads


# ---------------------------------------------------------------------------------- auth

BAD_CREDENTIALS = [
    pytest.param({}, 401, id="none"),
    pytest.param({"Authorization": "Bearer wrong-token"}, 403, id="bearer-wrong"),
    pytest.param({"X-Chroma-Token": "wrong-token"}, 403, id="x-chroma-token-wrong"),
    pytest.param({"Authorization": f"Bearer {TOKEN}x"}, 403, id="bearer-longer"),
    pytest.param({"Authorization": f"Bearer {TOKEN[:-1]}"}, 403, id="bearer-prefix"),
    pytest.param({"Authorization": f"Bearer {TOKEN.upper()}"}, 403, id="bearer-other-case"),
    # The right token in a scheme the server does not take is no usable credential: 401, "send Bearer".
    pytest.param({"Authorization": f"Basic {TOKEN}"}, 401, id="wrong-scheme"),
    pytest.param({"Authorization": TOKEN}, 401, id="no-scheme"),
    pytest.param({"Authorization": "Bearer "}, 401, id="bearer-empty"),
    pytest.param({"X-Chroma-Token": ""}, 401, id="x-chroma-token-empty"),
    pytest.param({"X-Token": TOKEN}, 401, id="other-header"),
]
RIGHT_CREDENTIALS = [
    pytest.param({"Authorization": f"Bearer {TOKEN}"}, id="bearer"),
    pytest.param({"Authorization": f"bearer {TOKEN}"}, id="bearer-lowercase-scheme"),
    pytest.param({"X-Chroma-Token": TOKEN}, id="x-chroma-token"),
]


def guarded_routes(server: Server) -> list[tuple[str, str]]:
    """(method, concrete path) of every route outside the open paths."""
    routes = [(method, fill(template, server.col)) for method, template in app_routes(server.app)]
    return [(method, path) for method, path in routes if path not in OPEN_PATHS]


def test_the_route_walk_sees_every_route(guarded: Server) -> None:
    routes = guarded_routes(guarded)
    paths = {path for _, path in routes}
    assert len(routes) >= 25
    assert f"{BASE}/collections/{guarded.col.id}/add" in paths and f"{API_PREFIX}/reset" in paths
    assert {fill(t, guarded.col) for _, t in app_routes(guarded.app)} >= OPEN_PATHS, "an open path names no route"


@pytest.mark.parametrize(("headers", "status"), BAD_CREDENTIALS)
def test_every_guarded_route_refuses_bad_credentials_and_touches_nothing(guarded: Server, headers: dict[str, str], status: int) -> None:
    before = store_state(guarded.api)
    for method, path in guarded_routes(guarded):
        response = send(guarded.http, method, path, headers, ATTACK_BODY)
        assert_error(response, status, "AuthError")
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
        assert store_state(guarded.api) == before, f"{method} {path} changed the store"


@pytest.mark.parametrize("headers", RIGHT_CREDENTIALS)
def test_the_right_token_opens_every_guarded_route(guarded: Server, headers: dict[str, str]) -> None:
    before = store_state(guarded.api)
    for method, path in guarded_routes(guarded):
        response = send(guarded.http, method, path, headers, ATTACK_BODY)
        answer = response.json() if response.headers["content-type"].startswith("application/json") else response.text  # /metrics: text
        assert response.status_code != 401 and not (isinstance(answer, dict) and answer.get("error") == "AuthError"), (method, path, answer)
    assert store_state(guarded.api) != before  # the same requests do act once authenticated


def test_open_paths_answer_without_credentials(guarded: Server) -> None:
    for path in sorted(OPEN_PATHS):
        assert guarded.http.get(path).status_code == 200, path
    assert isinstance(guarded.http.get(f"{API_PREFIX}/heartbeat").json()["nanosecond heartbeat"], int)


def test_unknown_paths_need_credentials_too(guarded: Server) -> None:
    # Nothing leaks whether a path exists; near-misses of open paths are not open.
    for path in (f"{API_PREFIX}/nope", f"{API_PREFIX}/heartbeat/", f"{API_PREFIX}//heartbeat", "/openapi.json/x"):
        assert_error(guarded.http.get(path), 401, "AuthError")


@pytest.mark.parametrize(("headers", "status"), [([], 401), ([(b"authorization", b"Bearer wrong")], 403)])
def test_auth_is_decided_before_the_body_is_read(guarded: Server, headers: list[tuple[bytes, bytes]], status: int) -> None:
    declared = [(b"content-type", b"application/json"), (b"content-length", str(10**12).encode())]  # a terabyte, never sent
    code, body, reads = call_asgi(guarded.app, "POST", guarded.records("add"), [*declared, *headers])
    assert (code, orjson.loads(body)["error"], reads) == (status, "AuthError", 0)


def test_with_the_right_token_an_oversized_declared_body_is_refused_unread(guarded: Server) -> None:
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-length", str(10**12).encode())]
    code, body, reads = call_asgi(guarded.app, "POST", guarded.records("add"), headers)
    assert (code, orjson.loads(body)["error"], reads) == (413, "RequestTooLarge", 0)


def test_http_api_with_a_wrong_or_missing_token_raises_authentication_error(guarded: Server) -> None:
    for headers, message in (({"Authorization": "Bearer nope"}, "^Forbidden$"), ({}, "^Missing credentials")):
        with pytest.raises(AuthenticationError, match=message) as info:
            guarded.client_api(headers).count_collections()
        assert type(info.value) is AuthenticationError
    assert guarded.client_api({"X-Chroma-Token": TOKEN}).count_collections() == 1


# ---------------------------------------------------------------------------------- body and batch limits


def test_a_body_over_the_limit_is_refused_by_its_content_length(limited: Server) -> None:
    before = store_state(limited.api)
    body = add_body(400)
    assert len(body) > SMALL_LIMIT
    response = limited.http.post(limited.records("add"), content=body)
    assert_error(response, 413, "RequestTooLarge", rf"^Request body of {len(body)} bytes exceeds the server's limit of {SMALL_LIMIT} bytes")
    assert store_state(limited.api) == before


def test_a_streamed_body_over_the_limit_is_refused(limited: Server) -> None:
    before = store_state(limited.api)
    body = add_body(400)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    response = limited.http.post(limited.records("add"), content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.request.headers
    assert_error(response, 413, "RequestTooLarge", rf"^Request body exceeds the server's limit of {SMALL_LIMIT} bytes")
    assert store_state(limited.api) == before


def test_a_streamed_body_under_the_limit_is_served(limited: Server) -> None:
    body = add_body(2)
    response = limited.http.post(limited.records("add"), content=iter([body[:10], body[10:]]))
    assert response.status_code == 201, response.text
    assert limited.api.count(limited.col.id) == 5


def test_pre_flight_reports_the_limits(limited: Server) -> None:
    checks = limited.http.get(f"{API_PREFIX}/pre-flight-checks").json()
    assert checks == {"max_batch_size": MAX_BATCH_SIZE, "supports_base64_encoding": True, "max_payload_size_bytes": SMALL_LIMIT}


@pytest.mark.parametrize("op", ["add", "upsert", "update", "query"])
def test_the_client_refuses_an_oversized_request_before_sending_it(limited: Server, op: str) -> None:
    sent: list[str] = []
    limited.http.event_hooks = {"request": [lambda request: sent.append(f"{request.method} {request.url.path}")]}
    col = ragstore.ClientAPI(limited.client_api(), ragstore.Settings()).get_collection(COLLECTION, embedding_function=None)
    before = store_state(limited.api)
    vectors = np.random.default_rng(0).random((400, DIM), dtype=np.float32)
    ids = [f"id{i}" for i in range(400)]
    with pytest.raises(RequestTooLargeError, match=rf"above the server's request limit of {SMALL_LIMIT} bytes") as info:
        if op == "query":
            col.query(query_embeddings=vectors, n_results=1)
        else:
            getattr(col, op)(ids=ids, embeddings=vectors)
    assert type(info.value) is RequestTooLargeError
    assert not [line for line in sent if line.endswith(f"/{op}")], sent
    assert store_state(limited.api) == before


def test_a_batch_over_the_maximum_is_refused_by_the_server(server: Server) -> None:
    before = store_state(server.api)
    response = server.http.post(server.records("add"), content=add_body(MAX_BATCH_SIZE + 1))
    message = f"^Batch size {MAX_BATCH_SIZE + 1} exceeds maximum batch size {MAX_BATCH_SIZE}$"
    assert_error(response, 400, "BatchSizeExceededError", message)
    assert store_state(server.api) == before


def test_a_batch_at_the_maximum_is_accepted(server: Server) -> None:
    response = server.http.post(server.records("upsert"), content=add_body(MAX_BATCH_SIZE))
    assert response.status_code == 200, response.text
    assert server.api.count(server.col.id) == 3 + MAX_BATCH_SIZE


def nested_where(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"k": {"$eq": 1}}
    for _ in range(levels):
        where = {"$and": [where, {"k": {"$gte": 0}}]}
    return where


def nested_where_document(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"$contains": "a"}
    for _ in range(levels):
        where = {"$or": [where, {"$contains": "b"}]}
    return where


OVER_LIMIT_FILTERS = [
    pytest.param({"where": nested_where(MAX_FILTER_DEPTH + 1)}, rf"nested at most {MAX_FILTER_DEPTH} levels deep", id="where-depth"),
    pytest.param(
        {"where_document": nested_where_document(MAX_FILTER_DEPTH + 1)},
        rf"nested at most {MAX_FILTER_DEPTH} levels deep",
        id="where-document-depth",
    ),
    pytest.param(
        {"where": {"k": {"$in": list(range(MAX_FILTER_SIZE + 1))}}},
        rf"at most {MAX_FILTER_SIZE} conditions and \$in/\$nin values, got \d+",  # the values and the condition
        id="where-size",
    ),
    pytest.param(
        {"where_document": {"$regex": "a" * (MAX_REGEX_LENGTH + 1)}},
        rf"regex to be at most {MAX_REGEX_LENGTH} characters, got {MAX_REGEX_LENGTH + 1}",
        id="regex-length",
    ),
    # Short, but its compiled program exceeds RE2's memory cap (\pL is every letter of Unicode).
    pytest.param({"where_document": {"$regex": r"\pL{1000}"}}, "pattern too large", id="regex-cost"),
    pytest.param({"where_document": {"$regex": "(unclosed"}}, "Regex syntax error", id="regex-syntax"),
]


@pytest.mark.parametrize("op", ["get", "delete", "query"])
@pytest.mark.parametrize(("filters", "message"), OVER_LIMIT_FILTERS)
def test_filters_over_the_limits_are_refused_by_the_server(server: Server, op: str, filters: dict[str, Any], message: str) -> None:
    before = store_state(server.api)
    body = {**filters, "query_embeddings": [[1.0, 0.0, 0.0]]} if op == "query" else filters
    assert_error(server.http.post(server.records(op), content=orjson.dumps(body)), 400, "InvalidArgumentError", message)
    assert store_state(server.api) == before


def test_filters_at_the_limits_are_served(server: Server) -> None:
    where = nested_where(MAX_FILTER_DEPTH - 1)  # the leaf condition is one more level
    response = server.http.post(server.records("get"), content=orjson.dumps({"where": where}))
    assert response.status_code == 200, response.text
    assert response.json()["ids"] == ["a"]
    regex = {"where_document": {"$regex": "(a+)+" + "a" * (MAX_REGEX_LENGTH - 5)}}
    assert server.http.post(server.records("get"), content=orjson.dumps(regex)).json()["ids"] == []


# ---------------------------------------------------------------------------------- raw bodies the client would never send

NAN = b64((float("nan"), 0.0, 0.0))
INF = b64((float("inf"), 0.0, 0.0))
INVALID = "InvalidArgumentError"
RAW_CASES = [
    pytest.param("POST", "add", b"{not json", 400, INVALID, "^Failed to parse the request body as JSON", id="malformed-json"),
    pytest.param("POST", "add", b"[1, 2]", 400, INVALID, "to be a JSON object, got list", id="array-body"),
    pytest.param("POST", "get", b'"ids"', 400, INVALID, "to be a JSON object, got str", id="string-body"),
    pytest.param("POST", "add", b"[" * 5000, 400, INVALID, "depth limit exceeded", id="deeply-nested-json"),
    pytest.param("POST", "add", b"", 400, INVALID, "^Expected ids in the add request body", id="empty-body"),
    pytest.param("POST", "add", {"ids": [1, 2], "embeddings": [[1, 2, 3]] * 2}, 400, INVALID, "Expected ID to be a str", id="int-ids"),
    pytest.param("POST", "add", {"ids": ["x"], "embeddings": None}, 400, INVALID, "Expected embeddings", id="no-embeddings"),
    pytest.param(
        "POST", "add", {"ids": ["x", "y"], "embeddings": [[1, 2, 3], *b64((1, 2, 3))]}, 400, INVALID, "not a mix", id="mixed-embeddings"
    ),
    pytest.param("POST", "add", {"ids": ["x"], "embeddings": ["***="]}, 400, INVALID, "base64", id="bad-base64"),
    pytest.param("POST", "add", {"ids": ["x"], "embeddings": ["AAA="]}, 400, INVALID, "multiple of 4 bytes", id="base64-not-float32"),
    pytest.param(
        "POST", "add", {"ids": ["x", "y"], "embeddings": [*b64((1, 2, 3)), *b64((1, 2))]}, 400, INVALID, "equal length", id="ragged-base64"
    ),
    pytest.param("POST", "add", {"ids": ["x", "y"], "embeddings": [[1, 2, 3], [1, 2]]}, 400, INVALID, "same dimension", id="ragged-floats"),
    pytest.param("POST", "add", {"ids": ["x"], "embeddings": NAN}, 400, INVALID, "NaN or Infinity", id="nan-in-base64"),
    pytest.param("POST", "upsert", {"ids": ["a"], "embeddings": INF}, 400, INVALID, "NaN or Infinity", id="inf-in-base64"),
    pytest.param("POST", "update", {"ids": ["a"], "embeddings": NAN}, 400, INVALID, "NaN or Infinity", id="nan-in-update"),
    pytest.param("POST", "query", {"query_embeddings": NAN}, 400, INVALID, "NaN or Infinity", id="nan-in-query"),
    pytest.param("POST", "add", b'{"ids": ["x"], "embeddings": [[NaN, 0, 0]]}', 400, INVALID, "parse", id="nan-literal"),
    pytest.param("POST", "add", b'{"ids": ["x"], "embeddings": [[1e999, 0, 0]]}', 400, INVALID, "infinity", id="infinite-literal"),
    pytest.param("POST", "add", b'{"ids": ["x"], "embeddings": [[1e39, 0, 0]]}', 400, INVALID, "fit in float32", id="float32-overflow"),
    pytest.param(
        "POST",
        "add",
        {"ids": ["x"], "embeddings": [[1, 2, 3]], "metadatas": [{"k": {"nested": 1}}]},
        400,
        INVALID,
        "Expected metadata value to be",
        id="metadata-dict-value",
    ),
    pytest.param(
        "POST",
        "upsert",
        {"ids": ["a"], "embeddings": [[1, 2, 3]], "metadatas": [{"k": [1, "x"]}]},
        400,
        INVALID,
        "same type",
        id="metadata-mixed-list",
    ),
    pytest.param("POST", "update", {"ids": ["a"], "metadatas": [{"": 1}]}, 400, INVALID, "metadata", id="metadata-empty-key"),
    pytest.param(
        "POST", "add", {"ids": ["x"], "embeddings": [[1, 2, 3]], "documents": [5]}, 400, INVALID, "document to be a str", id="int-document"
    ),
    pytest.param("POST", "add", {"ids": ["x"], "embeddings": [[1, 2]]}, 400, "InvalidDimension", "dimension of 3, got 2", id="dimension"),
    pytest.param("POST", "add", {"ids": ["x", "x"], "embeddings": [[1, 2, 3]] * 2}, 400, "DuplicateID", "duplicate", id="duplicate-ids"),
    pytest.param(
        "POST", "update", {"ids": ["a", "b"], "embeddings": [[1, 2, 3], None]}, 400, INVALID, "every embedding or none", id="partial-update"
    ),
    pytest.param("POST", "get", {"include": ["bogus"]}, 400, INVALID, "Expected include item to be one of", id="unknown-include"),
    pytest.param("POST", "get", {"include": ["distances"]}, 400, INVALID, "distances", id="distances-in-get"),
    pytest.param("POST", "get", {"include": "documents"}, 400, INVALID, "include to be a list", id="include-not-list"),
    pytest.param("POST", "get", {"limit": -1}, 400, INVALID, "limit to be a non-negative int, got -1", id="negative-limit"),
    pytest.param("POST", "get", {"offset": -3}, 400, INVALID, "offset to be a non-negative int", id="negative-offset"),
    pytest.param("POST", "get", {"limit": "5"}, 400, INVALID, "limit to be a non-negative int", id="string-limit"),
    pytest.param("POST", "get", {"where": "k"}, 400, INVALID, "where to be a dict", id="where-not-dict"),
    pytest.param("POST", "get", {"where": {"k": {"$bogus": 1}}}, 400, INVALID, r"\$bogus", id="unknown-operator"),
    pytest.param("POST", "delete", {"ids": ["a"], "limit": -1}, 400, INVALID, "limit to be a non-negative int", id="negative-delete-limit"),
    pytest.param("POST", "delete", {}, 400, INVALID, "At least one of ids, where, or where_document", id="delete-everything"),
    pytest.param("POST", "delete", {"ids": ["a"], "limit": 1}, 400, INVALID, "limit can only be specified", id="delete-limit-no-filter"),
    pytest.param("POST", "query", {}, 400, INVALID, "Expected query_embeddings", id="no-query-embeddings"),
    pytest.param(
        "POST", "query", {"query_embeddings": [[1, 0, 0]], "n_results": -1}, 400, INVALID, "cannot be negative", id="negative-n-results"
    ),
    pytest.param("PUT", "", {"new_name": 5}, 400, INVALID, "name to be a str", id="rename-to-int"),
    pytest.param("PUT", "", {"new_metadata": "x"}, 400, INVALID, "metadata", id="metadata-not-dict"),
]


def raw_path(server: Server, action: str) -> str:
    return f"{BASE}/collections/{server.col.id}" + (f"/{action}" if action else "")


@pytest.mark.parametrize(("method", "action", "body", "status", "error", "message"), RAW_CASES)
def test_the_server_validates_raw_bodies(
    server: Server, method: str, action: str, body: Any, status: int, error: str, message: str
) -> None:
    before = store_state(server.api)
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    assert_error(server.http.request(method, raw_path(server, action), content=content), status, error, message)
    assert store_state(server.api) == before


FOREIGN = "{base}/collections/{foreign}"  # the seeded default-scope collection, addressed through another scope
PATH_CASES = [
    pytest.param("POST", f"{BASE}/collections/not-a-uuid/add", 400, INVALID, "expected UUID, got 'not-a-uuid'", id="add-non-uuid"),
    pytest.param("GET", f"{BASE}/collections/not-a-uuid/count", 400, INVALID, "expected UUID", id="count-non-uuid"),
    pytest.param("GET", f"{BASE}/collections/by-id/12345", 400, INVALID, "expected UUID", id="by-id-non-uuid"),
    pytest.param("PUT", f"{BASE}/collections/{'x' * 5000}", 400, INVALID, "expected UUID, got 'x{100}'$", id="long-non-uuid"),
    pytest.param("POST", FOREIGN + "/add", 404, "NotFoundError", "does not exist", id="add-other-scope"),
    pytest.param("POST", FOREIGN + "/upsert", 404, "NotFoundError", "does not exist", id="upsert-other-scope"),
    pytest.param("POST", FOREIGN + "/update", 404, "NotFoundError", "does not exist", id="update-other-scope"),
    pytest.param("POST", FOREIGN + "/delete", 404, "NotFoundError", "does not exist", id="delete-other-scope"),
    pytest.param("POST", FOREIGN + "/get", 404, "NotFoundError", "does not exist", id="get-other-scope"),
    pytest.param("POST", FOREIGN + "/query", 404, "NotFoundError", "does not exist", id="query-other-scope"),
    pytest.param("GET", FOREIGN + "/count", 404, "NotFoundError", "does not exist", id="count-other-scope"),
    pytest.param("PUT", FOREIGN, 404, "NotFoundError", "does not exist", id="modify-other-scope"),
    pytest.param("GET", "{other_base}/collections/by-id/{foreign}", 404, "NotFoundError", "does not exist", id="by-id-other-scope"),
    pytest.param(
        "DELETE",
        f"{API_PREFIX}/tenants/{OTHER_TENANT}/databases/{OTHER_DATABASE}/collections/{COLLECTION}",
        404,
        "NotFoundError",
        "",
        id="delete-by-name-other-scope",
    ),
    pytest.param(
        "GET", f"{API_PREFIX}/tenants/no_such_tenant/databases/default_database/collections", 404, "NotFoundError", "", id="no-tenant"
    ),
    pytest.param("GET", f"{API_PREFIX}/nope", 404, "NotFoundError", "^No such endpoint: GET /api/v2/nope$", id="unknown-endpoint"),
    pytest.param("POST", FOREIGN + "/search", 404, "NotFoundError", "does not exist", id="search-other-scope"),
    pytest.param("POST", FOREIGN.replace("{base}", BASE) + "/search", 400, INVALID, "Expected searches", id="search-without-searches"),
    pytest.param("GET", "/", 404, "NotFoundError", "No such endpoint", id="root"),
    pytest.param(
        "GET",
        f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections?limit=-1",
        400,
        INVALID,
        "limit",
        id="query-limit-negative",
    ),
    pytest.param("GET", f"{API_PREFIX}/tenants/default_tenant/databases?limit=abc", 400, INVALID, "limit", id="query-limit-not-int"),
    pytest.param("GET", "/api/v1/heartbeat", 410, "Unimplemented", "^The v1 API is deprecated. Please use /v2 apis$", id="v1-get"),
    pytest.param("POST", "/api/v1/collections", 410, "Unimplemented", "v2", id="v1-post"),
    pytest.param("DELETE", f"{API_PREFIX}/heartbeat", 405, "HTTPError", "Method Not Allowed", id="wrong-method"),
]


@pytest.mark.parametrize(("method", "template", "status", "error", "message"), PATH_CASES)
def test_the_server_validates_paths(server: Server, method: str, template: str, status: int, error: str, message: str) -> None:
    before = store_state(server.api)
    other_base = f"{API_PREFIX}/tenants/{OTHER_TENANT}/databases/{OTHER_DATABASE}"
    path = template.format(base=other_base, other_base=other_base, foreign=server.col.id)
    body = ATTACK_BODY if method in ("POST", "PUT") else None
    assert_error(server.http.request(method, path, content=body), status, error, message or None)
    assert store_state(server.api) == before


# ---------------------------------------------------------------------------------- errors travel as their own class

# Calls that make the engine raise each class; through HttpAPI the same call must raise the same class
# with the same message.
ENGINE_TRIGGERS: dict[type[RagstoreError], Callable[[Any, CollectionModel], object]] = {
    InvalidArgumentError: lambda api, col: api.create_collection(CreateCollectionRequest("x")),
    DuplicateIDError: lambda api, col: api.write(col.id, "add", RecordSet(["q", "q"], np.zeros((2, DIM), np.float32), None, None, None)),
    InvalidDimensionException: lambda api, col: api.write(col.id, "add", RecordSet(["q"], np.zeros((1, 2), np.float32), None, None, None)),
    BatchSizeExceededError: lambda api, col: api.write(
        col.id,
        "add",
        RecordSet([f"q{i}" for i in range(MAX_BATCH_SIZE + 1)], np.zeros((MAX_BATCH_SIZE + 1, DIM), np.float32), None, None, None),
    ),
    NotFoundError: lambda api, col: api.get_collection("missing"),
    UniqueConstraintError: lambda api, col: api.create_collection(CreateCollectionRequest(COLLECTION)),
    AuthorizationError: lambda api, col: api.reset(),
}
# Raised by the HTTP layer (or the client itself), each with its own test below; StorageError needs a
# full or read-only disk, so tests/test_disk_faults.py triggers it in every mode; ResponseTooLargeError
# needs a store holding more than a server's response budget, so tests/test_limits.py triggers it over HTTP.
HTTP_TRIGGERS = {
    RequestTooLargeError,
    AuthenticationError,
    InternalError,
    ClosedError,
    RagstoreError,
    ServerConnectionError,
    StorageError,
    ResponseTooLargeError,
    UnimplementedError,  # any /api/v1 route: test_the_server_validates_paths (v1-get, v1-post)
}


def test_every_error_class_has_a_real_trigger() -> None:
    assert set(ENGINE_TRIGGERS) | HTTP_TRIGGERS == set(error_classes())


@pytest.mark.parametrize("cls", ENGINE_TRIGGERS, ids=lambda cls: cls.__name__)
def test_engine_errors_come_back_as_the_same_class_and_message(server: Server, cls: type[RagstoreError]) -> None:
    trigger = ENGINE_TRIGGERS[cls]
    before = store_state(server.api)
    with pytest.raises(RagstoreError) as local:
        trigger(server.api, server.col)
    with pytest.raises(RagstoreError) as remote:
        trigger(server.client_api(), server.col)
    assert type(local.value) is cls and type(remote.value) is cls
    assert remote.value.message == local.value.message and remote.value.message
    assert store_state(server.api) == before


def test_a_write_op_that_is_no_write_is_refused_by_both_engines(server: Server) -> None:
    """``op`` is a string at run time: ``"delete"`` must neither upsert (engine) nor reach the delete route (HTTP)."""
    before = store_state(server.api)
    records = RecordSet(["a"], np.zeros((1, DIM), np.float32), None, None, None)
    for api in (server.api, server.client_api()):
        with pytest.raises(InvalidArgumentError, match=r"^Expected op to be one of add, upsert, update, got 'delete'$"):
            api.write(server.col.id, "delete", records)  # type: ignore[arg-type]
    assert store_state(server.api) == before


MESSAGE = "a message with ünïcode, quotes \" and ' and a newline\nhere"


def _add_raising_routes(app: FastAPI) -> None:
    """Test-only routes below ``/test-only/...``, each a whole fake server (HttpAPI's base URL may have a path)."""
    classes = {cls.__name__: cls for cls in error_classes()}

    async def raise_error(name: str) -> None:
        raise classes[name](MESSAGE)

    async def crash() -> None:
        raise RuntimeError("crashed outside the engine")

    app.add_api_route(f"/test-only/raise/{{name}}{API_PREFIX}/heartbeat", raise_error, methods=["GET"])
    app.add_api_route(f"/test-only/crash{API_PREFIX}/heartbeat", crash, methods=["GET"])


@pytest.fixture
def raising(tmp_path: Path) -> Iterator[Server]:
    """A server with test-only routes that raise any error class (and a plain exception)."""
    with serving(tmp_path / "store", raise_server_exceptions=False, prepare=_add_raising_routes) as s:
        yield s


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_round_trips(raising: Server, cls: type[RagstoreError]) -> None:
    response = raising.http.get(f"/test-only/raise/{cls.__name__}{API_PREFIX}/heartbeat")
    assert assert_error(response, cls.status_code, cls.wire_name) == MESSAGE
    with pytest.raises(RagstoreError) as info:
        HttpAPI(f"http://testserver/test-only/raise/{cls.__name__}", session=raising.http).heartbeat()
    assert type(info.value) is cls
    assert info.value.message == MESSAGE


# ---------------------------------------------------------------------------------- one error path


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_the_one_error_function_takes_status_and_wire_name_from_the_class(cls: type[RagstoreError]) -> None:
    response = error_response(cls(MESSAGE))
    body = orjson.loads(response.body)
    assert response.status_code == cls.status_code
    assert body.get("ragstore_error", body["error"]) == cls.wire_name and body["message"] == MESSAGE
    assert response.headers["content-type"] == "application/json" and int(response.headers["content-length"]) == len(response.body)
    assert type(error_from_json(response.status_code, bytes(response.body))) is cls
    # Where HTTP has a more precise status, or the answer needs a header, the body stays the class's own.
    precise = error_response(cls(MESSAGE), status=421, headers={"Retry-After": "1"})
    assert (precise.status_code, precise.body, precise.headers["retry-after"]) == (421, response.body, "1")


def test_the_one_error_function_hides_unexpected_failures_and_keeps_http_errors(caplog: pytest.LogCaptureFixture) -> None:
    response = error_response(OSError(28, "No space left on device", "/srv/store/x"), where="POST /add")
    body = orjson.loads(response.body)
    assert response.status_code == 500 and body["error"] == "InternalError" and re.search(INCIDENT, body["message"])
    assert "/srv" not in body["message"] and "POST /add" in caplog.text and body["message"][19:27] in caplog.text  # the incident id
    refused = error_response(HTTPException(405, "Method Not Allowed", headers={"Allow": "GET"}), headers={"Allow": "GET, HEAD"})
    assert (refused.status_code, refused.body, refused.headers["allow"]) == (
        405,
        b'{"error":"HTTPError","message":"Method Not Allowed"}',
        "GET, HEAD",
    )


def test_one_error_has_one_body_on_every_server_path(raising: Server) -> None:
    json = (b"content-type", b"application/json")
    route = raising.http.get(f"/test-only/raise/InvalidArgumentError{API_PREFIX}/heartbeat")  # FastAPI's exception handler
    dispatched = raising.http.post(raising.records("get"), content=b'{"limit": -1}')  # the record dispatcher
    status, guarded, _ = call_asgi(raising.app, "POST", raising.records("get"), [json, (b"content-length", b"abc")])  # BodyLimit
    answers = [(route.status_code, route.content), (dispatched.status_code, dispatched.content), (status, guarded)]
    # Byte for byte the same once the message is cut out, and that is the one function's own body.
    templates = {(code, body.replace(dumps(orjson.loads(body)["message"]), b'"*"')) for code, body in answers}
    assert templates == {(400, error_response(InvalidArgumentError("*")).body)}
    assert [orjson.loads(body)["message"] for _, body in answers] == [
        MESSAGE,
        "Expected limit to be a non-negative int, got -1 in get.",
        "Malformed Content-Length header",
    ]


INCIDENT = r"^Internal error \(id [0-9a-f]{8}\); see the server log$"


def test_an_unexpected_engine_failure_is_an_internal_error_and_the_server_keeps_serving(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.api, "count", broken)
    # The answer names an incident id, not the exception's text (it may carry host paths).
    assert_error(server.http.get(server.records("count")), 500, "InternalError", INCIDENT)
    with pytest.raises(InternalError, match=INCIDENT) as info:
        server.client_api().count(server.col.id)
    assert type(info.value) is InternalError
    monkeypatch.undo()
    assert server.client_api().count(server.col.id) == 3
    assert server.http.get(f"{API_PREFIX}/heartbeat").status_code == 200


def test_a_failure_outside_the_engine_is_an_internal_error_too(raising: Server) -> None:
    response = raising.http.get(f"/test-only/crash{API_PREFIX}/heartbeat")
    assert_error(response, 500, "InternalError", INCIDENT)
    with pytest.raises(InternalError, match=INCIDENT):
        HttpAPI("http://testserver/test-only/crash", session=raising.http).heartbeat()
    assert raising.client_api().heartbeat() > 0


def test_a_closed_engine_is_a_closed_error(server: Server) -> None:
    server.api.close()
    with pytest.raises(ClosedError) as local:
        server.api.heartbeat()
    with pytest.raises(ClosedError) as remote:
        server.client_api().heartbeat()
    assert type(remote.value) is ClosedError and remote.value.message == local.value.message
    assert_error(server.http.get(server.records("count")), 500, "ClosedError", "closed")


def test_a_body_the_server_refuses_as_too_large_is_request_too_large(limited: Server) -> None:
    # get() is not size-checked client-side, so the server's 413 is what the client sees.
    with pytest.raises(RequestTooLargeError, match=f"exceeds the server's limit of {SMALL_LIMIT} bytes") as info:
        limited.client_api().get(limited.col.id, GetRequest(ids=[f"id{i}" for i in range(1000)]))
    assert type(info.value) is RequestTooLargeError


def test_unknown_error_names_and_non_json_errors_become_the_root_class(server: Server) -> None:
    with pytest.raises(UnimplementedError, match=r"^The v1 API is deprecated"):  # a known name comes back as its class
        HttpAPI("http://testserver/api/v1/old-prefix", session=server.http).heartbeat()  # .../api/v1/old-prefix/api/v2/heartbeat

    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.host == "new-server":
            return httpx.Response(418, json={"error": "SomethingNew", "message": "from the future"})
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    mock = httpx.Client(transport=httpx.MockTransport(reply))
    with pytest.raises(RagstoreError, match=r"^from the future$") as unknown:
        HttpAPI("http://new-server", session=mock).heartbeat()
    with pytest.raises(RagstoreError, match=r"^HTTP 502 from the server: <html>Bad Gateway</html>$") as proxy:
        HttpAPI("http://proxy", session=mock).heartbeat()
    assert type(unknown.value) is RagstoreError and type(proxy.value) is RagstoreError
    mock.close()
