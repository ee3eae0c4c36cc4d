"""Collection and record routes under ``/api/v2/tenants/{tenant}/databases/{database}``.

As in ``chroma run``: collections are read and deleted **by name**
(``/collections/{name}``), modified and written **by id**
(``/collections/{uuid}/add`` ...), and ``/collections/by-id/{uuid}`` reads by id.
Bodies are parsed here into the request objects of :mod:`ragstore.record_requests`,
which check them with the same rules a local call meets.

Example:
    >>> any(r.path.endswith("/query") for r in router.routes)
    True

"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ragstore.api import API, WriteOp
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import NotFoundError
from ragstore.http.wire import API_PREFIX, json_object, records_from_json
from ragstore.http.wire_answers import (
    collection_to_json,
    get_result_to_json,
    indexing_status_to_json,
    parse_collection_id,
    query_result_to_json,
)
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.server import schemas
from ragstore.server.handlers import call, engine, json_response, read_object
from ragstore.types import CollectionModel

router = APIRouter(prefix=f"{API_PREFIX}/tenants/{{tenant}}/databases/{{database}}")
_ERRORS: dict[int | str, dict[str, Any]] = {"4XX": {"model": schemas.Error}}


def _scoped(api: API, collection_id: str, tenant: str, database: str) -> CollectionModel:
    """The collection ``collection_id``, which must live in ``tenant``/``database``."""
    model = api.get_collection_by_id(parse_collection_id(collection_id))
    if (model.tenant, model.database) != (tenant, database):
        raise NotFoundError(f"Collection [{collection_id}] does not exist")
    return model


# ---------------------------------------------------------------------- collections


@router.get("/collections", tags=["collections"], responses={200: {"model": list[schemas.Collection]}, **_ERRORS})
async def list_collections(
    request: Request, tenant: str, database: str, limit: schemas.LimitQuery = None, offset: schemas.OffsetQuery = None
) -> Response:
    """Collections in creation order."""
    models = await call(engine(request).list_collections, limit, offset, tenant, database)
    return json_response([collection_to_json(m) for m in models])


@router.post(
    "/collections",
    tags=["collections"],
    openapi_extra=schemas.body(schemas.CreateCollection),
    responses={200: {"model": schemas.Collection}, **_ERRORS},
)
async def create_collection(request: Request, tenant: str, database: str) -> Response:
    """Create a collection; 409 if the name is taken, unless ``get_or_create``."""
    data = await read_object(request, "create_collection")
    model = await call(engine(request).create_collection, CreateCollectionRequest.from_json(data, tenant, database))
    return json_response(collection_to_json(model))


@router.get("/collections_count", tags=["collections"], responses=_ERRORS)
async def count_collections(request: Request, tenant: str, database: str) -> Response:
    """How many collections the database holds."""
    return json_response(await call(engine(request).count_collections, tenant, database))


@router.get("/collections/by-id/{collection_id}", tags=["collections"], responses={200: {"model": schemas.Collection}, **_ERRORS})
async def get_collection_by_id(request: Request, tenant: str, database: str, collection_id: schemas.CollectionIdPath) -> Response:
    """A collection by its UUID."""
    return json_response(collection_to_json(await call(_scoped, engine(request), collection_id, tenant, database)))


@router.get("/collections/{name}", tags=["collections"], responses={200: {"model": schemas.Collection}, **_ERRORS})
async def get_collection(request: Request, tenant: str, database: str, name: schemas.CollectionNamePath) -> Response:
    """A collection by name."""
    return json_response(collection_to_json(await call(engine(request).get_collection, name, tenant, database)))


@router.put(
    "/collections/{collection_id}",
    tags=["collections"],
    openapi_extra=schemas.body(schemas.UpdateCollection),
    responses={200: {"model": schemas.Collection}, **_ERRORS},
)
async def modify_collection(request: Request, tenant: str, database: str, collection_id: schemas.CollectionIdPath) -> Response:
    """Rename, replace metadata or change search-time configuration; answers the updated collection."""
    data = await read_object(request, "modify_collection")
    api = engine(request)

    def modify() -> CollectionModel:
        changes = ModifyCollectionRequest.from_json(data)
        return api.modify_collection(_scoped(api, collection_id, tenant, database).id, changes)

    return json_response(collection_to_json(await call(modify)))


@router.delete("/collections/{name}", tags=["collections"], responses=_ERRORS)
async def delete_collection(request: Request, tenant: str, database: str, name: schemas.CollectionNamePath) -> Response:
    """Delete a collection by name, with all its records and files."""
    await call(engine(request).delete_collection, name, tenant, database)
    return json_response({})


# ---------------------------------------------------------------------- records

T = TypeVar("T")
Body = dict[str, Any]


async def _on_collection(
    request: Request, op: str, tenant: str, database: str, collection_id: str, work: Callable[[API, uuid.UUID, Body], T]
) -> T:
    """Parse the body, then run ``work`` on the scoped collection in the thread pool."""
    body = await request.body()
    api = engine(request)

    def run() -> T:  # one trip to the thread pool: parsing a large body must not block the event loop either
        data = json_object(body, op)
        return work(api, _scoped(api, collection_id, tenant, database).id, data)

    return await call(run)


def _writer(op: WriteOp) -> Callable[[API, uuid.UUID, Body], dict[str, Any]]:
    def write(api: API, cid: uuid.UUID, data: Body) -> dict[str, Any]:
        api.write(cid, op, records_from_json(data, op))
        return {}

    return write


def _delete(api: API, cid: uuid.UUID, data: Body) -> dict[str, int]:
    return {"deleted": api.delete(cid, DeleteRequest.from_json(data))}


def _get(api: API, cid: uuid.UUID, data: Body) -> dict[str, Any]:
    return get_result_to_json(api.get(cid, GetRequest.from_json(data)))


def _search(api: API, cid: uuid.UUID, data: Body) -> dict[str, Any]:
    return api.search(cid, SearchRequest.from_json(data))


def _query(api: API, cid: uuid.UUID, data: Body) -> dict[str, Any]:
    return query_result_to_json(api.query(cid, QueryRequest.from_json(data)))


Handler = Callable[[Request, str, str, str], Awaitable[Response]]


def _record_route(
    op: str, work: Callable[[API, uuid.UUID, Body], Any], body: type[BaseModel], answer: Any, summary: str, status: int = 200
) -> Handler:
    """Declare ``POST .../collections/{collection_id}/{op}``: parse the body, run ``work``, answer its JSON."""

    async def handler(request: Request, tenant: str, database: str, collection_id: schemas.CollectionIdPath) -> Response:
        return json_response(await _on_collection(request, op, tenant, database, collection_id, work), status)

    handler.__name__ = handler.__qualname__ = op  # FastAPI names the OpenAPI operation after the function
    handler.__doc__ = summary
    responses = {200: {"model": answer}, **_ERRORS} if answer is not None else _ERRORS
    router.add_api_route(
        f"/collections/{{collection_id}}/{op}",
        handler,
        methods=["POST"],
        tags=["records"],
        status_code=status,
        openapi_extra=schemas.body(body),
        responses=responses,
    )
    return handler


add = _record_route("add", _writer("add"), schemas.AddRecords, None, "Add records; ids that already exist are skipped.", 201)
upsert = _record_route("upsert", _writer("upsert"), schemas.AddRecords, None, "Insert new records and update existing ones.")
update = _record_route("update", _writer("update"), schemas.UpdateRecords, None, "Update existing records; missing ids are ignored.")
delete = _record_route(
    "delete", _delete, schemas.DeleteRecords, schemas.DeleteResponse, "Delete by id and/or filter; answers how many went."
)
get = _record_route("get", _get, schemas.GetRecords, schemas.GetResponse, "Records by id and/or filter, in insertion order.")
query = _record_route("query", _query, schemas.QueryRecords, schemas.QueryResponse, "The nearest records to each query embedding.")
search = _record_route(
    "search", _search, schemas.SearchRecords, schemas.SearchResponse, "chromadb's Search API: filter, dense and sparse (BM25) Knn, fusion."
)


@router.get("/collections/{collection_id}/count", tags=["records"], responses=_ERRORS)
async def count(request: Request, tenant: str, database: str, collection_id: schemas.CollectionIdPath) -> Response:
    """How many records the collection holds."""
    api = engine(request)
    return json_response(await call(lambda: api.count(_scoped(api, collection_id, tenant, database).id)))


@router.get("/collections/{collection_id}/indexing_status", tags=["records"], responses={200: {"model": schemas.IndexingStatus}, **_ERRORS})
async def indexing_status(request: Request, tenant: str, database: str, collection_id: schemas.CollectionIdPath) -> Response:
    """How far the vector index has taken in the collection's writes (chromadb's ``get_indexing_status``)."""
    api = engine(request)
    status = await call(lambda: api.get_indexing_status(_scoped(api, collection_id, tenant, database).id))
    return json_response(indexing_status_to_json(status))
