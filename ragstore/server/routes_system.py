"""System routes (heartbeat, version, pre-flight checks, reset) plus tenants and databases.

Shapes follow ``chroma run`` 1.5.9 so chromadb's own clients work unchanged.
Every engine call runs through :func:`~ragstore.server.handlers.call`: the app
wraps any :class:`~ragstore.api.API`, and one that does I/O (an ``HttpAPI``)
must not block the event loop.

Example:
    >>> sorted(r.path for r in router.routes)[:2]
    ['/api/v2/auth/identity', '/api/v2/healthcheck']

"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ragstore.errors import InvalidArgumentError
from ragstore.http.wire import API_PREFIX
from ragstore.server import schemas
from ragstore.server.handlers import call, engine, json_response, read_object

router = APIRouter(prefix=API_PREFIX)
_ERRORS: dict[int | str, dict[str, Any]] = {"4XX": {"model": schemas.Error}}


@router.get("/heartbeat", tags=["system"], summary="Nanoseconds since the epoch")
async def heartbeat(request: Request) -> Response:
    """Answer as long as the server (and its store) is alive."""
    return json_response({"nanosecond heartbeat": await call(engine(request).heartbeat)})


@router.get("/version", tags=["system"], summary="The server's version")
async def version(request: Request) -> Response:
    """Ragstore's version as a JSON string."""
    return json_response(await call(engine(request).get_version))


@router.get("/healthcheck", tags=["system"], summary="Readiness")
async def healthcheck(request: Request) -> Response:
    """Ready when the store answers."""
    await call(engine(request).heartbeat)
    return json_response({"is_executor_ready": True, "is_log_client_ready": True})


@router.get("/pre-flight-checks", tags=["system"], summary="Limits clients must respect")
async def pre_flight_checks(request: Request) -> Response:
    """Largest batch, base64 support and the request body limit."""
    return json_response(
        {
            "max_batch_size": await call(engine(request).get_max_batch_size),
            "supports_base64_encoding": True,
            "max_payload_size_bytes": request.app.state.config.max_body_size,
        }
    )


@router.get("/auth/identity", tags=["system"], summary="Who the caller is")
async def identity(request: Request) -> Response:
    """A token grants everything; the default scope is reported as chromadb does."""
    return json_response({"user_id": "", "tenant": "default_tenant", "databases": ["default_database"]})


@router.post("/reset", tags=["system"], summary="Delete everything (only with --allow-reset)", responses=_ERRORS)
async def reset(request: Request) -> Response:
    """Delete every collection, database and tenant."""
    return json_response(await call(engine(request).reset))


# ---------------------------------------------------------------------- tenants


def _name(data: dict[str, Any], what: str) -> str:
    name = data.get("name")
    if not isinstance(name, str):
        raise InvalidArgumentError(f"Expected the {what} name to be a string, got {type(name).__name__}")
    return name


@router.post("/tenants", tags=["tenants"], openapi_extra=schemas.body(schemas.CreateNamed), responses=_ERRORS)
async def create_tenant(request: Request) -> Response:
    """Create a tenant (409 if it exists)."""
    data = await read_object(request, "create_tenant")
    await call(engine(request).create_tenant, _name(data, "tenant"))
    return json_response({})


@router.get("/tenants/{tenant}", tags=["tenants"], responses=_ERRORS)
async def get_tenant(request: Request, tenant: str) -> Response:
    """A tenant by name (404 if missing)."""
    return json_response({"name": await call(engine(request).get_tenant, tenant), "resource_name": None})


# ---------------------------------------------------------------------- databases


@router.get("/tenants/{tenant}/databases", tags=["databases"], responses={200: {"model": list[schemas.Database]}, **_ERRORS})
async def list_databases(request: Request, tenant: str, limit: schemas.LimitQuery = None, offset: schemas.OffsetQuery = None) -> Response:
    """A tenant's databases in creation order."""
    api = engine(request)
    await call(api.get_tenant, tenant)
    return json_response(await call(api.list_databases, limit, offset, tenant))


@router.post("/tenants/{tenant}/databases", tags=["databases"], openapi_extra=schemas.body(schemas.CreateNamed), responses=_ERRORS)
async def create_database(request: Request, tenant: str) -> Response:
    """Create a database in a tenant (409 if it exists)."""
    data = await read_object(request, "create_database")
    await call(engine(request).create_database, _name(data, "database"), tenant)
    return json_response({})


@router.get("/tenants/{tenant}/databases/{database}", tags=["databases"], responses={200: {"model": schemas.Database}, **_ERRORS})
async def get_database(request: Request, tenant: str, database: str) -> Response:
    """A database by name (404 if missing)."""
    return json_response(await call(engine(request).get_database, database, tenant))


@router.delete("/tenants/{tenant}/databases/{database}", tags=["databases"], responses=_ERRORS)
async def delete_database(request: Request, tenant: str, database: str) -> Response:
    """Delete a database with all its collections."""
    await call(engine(request).delete_database, database, tenant)
    return json_response({})
