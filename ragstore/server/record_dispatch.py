"""The record routes (``add``, ``query``, ``get`` ...) dispatched without FastAPI's router.

These routes carry nearly all of a server's traffic, and for a query FastAPI's
routing, dependency and middleware layers cost several times what the engine
does (profiled: about 40% of the server's time against 6% for the engine). So
:class:`RecordDispatch` sits between the guards (auth, body limit) and FastAPI,
matches the record paths with one regular expression, and calls the very
handlers the FastAPI routes use (:mod:`ragstore.server.routes_collections`);
anything else goes on to FastAPI, which still declares these routes for the
OpenAPI document. Errors are answered as FastAPI's exception handlers would.

Example:
    >>> match_record_route("POST", "/api/v2/tenants/t/databases/d/collections/abc/query")
    ('t', 'd', 'abc', 'query')
    >>> match_record_route("GET", "/api/v2/tenants/t/databases/d/collections/abc/query") is None
    True

"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ragstore.http.wire import API_PREFIX
from ragstore.server import routes_collections
from ragstore.server.errors import error_response
from ragstore.server.security import ASGIApp, Receive, Scope, Send

_RECORD_PATH = re.compile(
    rf"^{re.escape(API_PREFIX)}/tenants/(?P<tenant>[^/]+)/databases/(?P<database>[^/]+)"
    r"/collections/(?P<collection>[^/]+)/(?P<op>add|upsert|update|delete|get|query|count)$"
)
_HANDLERS = {
    ("POST", "add"): routes_collections.add,
    ("POST", "upsert"): routes_collections.upsert,
    ("POST", "update"): routes_collections.update,
    ("POST", "delete"): routes_collections.delete,
    ("POST", "get"): routes_collections.get,
    ("POST", "query"): routes_collections.query,
    ("GET", "count"): routes_collections.count,
}


def match_record_route(method: str, path: str) -> tuple[str, str, str, str] | None:
    """``(tenant, database, collection id, operation)`` if ``method path`` is a record route."""
    match = _RECORD_PATH.match(path)
    if match is None or (method, match["op"]) not in _HANDLERS:
        return None
    return match["tenant"], match["database"], match["collection"], match["op"]


class RecordDispatch:
    """ASGI middleware answering the record routes itself (see the module docstring).

    Args:
        app: Where every other request goes (FastAPI's own ``__call__``).
        owner: The application whose ``state`` holds the engine (the handlers' ``request.app``).

    """

    def __init__(self, app: ASGIApp, owner: Any) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        route = match_record_route(scope.get("method", ""), scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        tenant, database, collection_id, op = route
        # Route handlers reach the engine through request.app.state, as under FastAPI.
        request = Request({**scope, "app": self.owner}, receive)
        handler: Any = _HANDLERS[(scope["method"], op)]
        try:
            response: Response = await handler(request, tenant, database, collection_id)
        except Exception as exc:  # as FastAPI's handlers: a ragstore error as itself, anything else logged with an incident id
            response = error_response(exc, where=f"{scope['method']} {scope['path']}")
        await response(scope, receive, send)
