"""The protocols are the whole contract: every engine has every method of its protocol, with the same parameters.

Two checks. mypy (``mypy tests/test_protocols.py``) checks the assignments in
:func:`_structural` (each implementation satisfies its protocol, parameter types
and results included). At run time, :func:`mismatches` compares each protocol
method with the implementation's by ``inspect.signature`` (names, kinds, defaults,
sync or async), and lists public methods an implementation has beyond its
protocol, so a method added to one and not the other fails here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

import ragstore
from ragstore.api import API
from ragstore.async_api import AsyncAPI
from ragstore.http.async_client import AsyncHttpAPI
from ragstore.http.client import HttpAPI
from ragstore.local import LocalAPI
from ragstore.server import create_app

# What an implementation may offer beyond its protocol, and why.
EXTRAS: dict[type, set[str]] = {
    LocalAPI: {"path"},  # the store's directory, for the CLI and tests
    HttpAPI: {"get_pre_flight_checks", "url"},  # the server's limits; the address of a call (BaseHttpAPI)
    AsyncHttpAPI: {"get_pre_flight_checks", "url"},
}
IMPLEMENTATIONS: list[tuple[type, type]] = [(API, LocalAPI), (API, HttpAPI), (AsyncAPI, AsyncHttpAPI)]


def _structural(local: LocalAPI, http: HttpAPI, async_http: AsyncHttpAPI) -> None:
    """Never called: mypy checks these assignments (an implementation that drifts from its protocol fails them)."""
    apis: list[API] = [local, http]
    async_api: AsyncAPI = async_http
    del apis, async_api


def protocol_methods(protocol: type) -> dict[str, Any]:
    """The public methods a protocol declares (its own body, not ``Protocol``'s machinery)."""
    return {name: value for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")}


def public_names(cls: type) -> set[str]:
    """Public attributes an implementation defines itself or inherits from a ragstore base (not ``object``'s)."""
    return {name for klass in cls.__mro__ if klass is not object for name in vars(klass) if not name.startswith("_")}


def parameters(method: Callable[..., Any]) -> str:
    """A method's parameters as written, without annotations: ``(self, name, tenant='default_tenant')``."""
    signature = inspect.signature(method)
    bare = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def mismatches(protocol: type, cls: type, extras: AbstractSet[str] = frozenset()) -> list[str]:
    """Every way ``cls`` differs from ``protocol``, one line each (empty when they agree)."""
    problems = []
    for name, method in protocol_methods(protocol).items():
        found = getattr(cls, name, None)
        if found is None:
            problems.append(f"{cls.__name__} lacks {name}")
            continue
        if inspect.iscoroutinefunction(method) != inspect.iscoroutinefunction(found):
            problems.append(f"{cls.__name__}.{name} is {'not ' if inspect.iscoroutinefunction(method) else ''}a coroutine function")
        if parameters(found) != parameters(method):
            problems.append(f"{cls.__name__}.{name}{parameters(found)}, but {protocol.__name__}.{name}{parameters(method)}")
    problems += [
        f"{cls.__name__}.{name} is not in {protocol.__name__}"
        for name in sorted(public_names(cls) - set(protocol_methods(protocol)) - extras)
    ]
    return problems


@pytest.mark.parametrize(("protocol", "cls"), IMPLEMENTATIONS, ids=lambda t: t.__name__)
def test_implementation_matches_its_protocol(protocol: type, cls: type) -> None:
    assert mismatches(protocol, cls, EXTRAS[cls]) == []


def test_the_async_protocol_is_the_sync_one_as_coroutines() -> None:
    sync, asynchronous = protocol_methods(API), protocol_methods(AsyncAPI)
    assert sorted(sync) == sorted(asynchronous)
    assert "get_database" in sync and "query" in sync  # tenants and databases are part of the contract, as are records
    for name in sync:
        assert inspect.signature(sync[name]) == inspect.signature(asynchronous[name]), name
        assert not inspect.iscoroutinefunction(sync[name]) and inspect.iscoroutinefunction(asynchronous[name]), name


def test_a_drifting_implementation_is_reported() -> None:
    class Drifted(LocalAPI):
        def get_database(self, database: str, tenant: str = "default_tenant") -> dict[str, str]:
            return super().get_database(database, tenant)

        async def count(self, collection_id: Any) -> int:  # type: ignore[override]
            return 0

        def compact(self) -> None:
            """A method the protocol does not have."""

    assert mismatches(API, Drifted, EXTRAS[LocalAPI]) == [
        "Drifted.get_database(self, database, tenant='default_tenant'), but API.get_database(self, name, tenant='default_tenant')",
        "Drifted.count is a coroutine function",
        "Drifted.compact is not in API",
    ]
    assert mismatches(API, object) == [f"object lacks {name}" for name in protocol_methods(API)]


def in_process(api: API) -> httpx.Client:
    """A session that calls a server app on ``api`` in process (starlette's ``TestClient`` speaks httpx's interface)."""
    return cast(httpx.Client, TestClient(create_app(api)))


def test_the_server_serves_any_api() -> None:
    # A server whose engine is an HttpAPI to a second, in-process server: the app relies on the protocol only.
    engine = LocalAPI(None)
    inner = in_process(engine)
    outer = in_process(HttpAPI("http://testserver", session=inner))
    client = ragstore.ClientAPI(HttpAPI("http://testserver", session=outer), ragstore.Settings())
    assert client.heartbeat() > 0
    assert client.get_max_batch_size() == engine.get_max_batch_size()
    admin = ragstore.AdminClientAPI(HttpAPI("http://testserver", session=outer), ragstore.Settings())
    admin.create_tenant("acme")
    admin.create_database("docs", tenant="acme")
    client.set_tenant("acme", "docs")
    client.create_collection("proxied", embedding_function=None)
    assert [c.name for c in client.list_collections()] == ["proxied"]
    # The collection really lives in the inner server's engine.
    inner_view = ragstore.ClientAPI(HttpAPI("http://testserver", session=inner), ragstore.Settings(), "acme", "docs")
    assert inner_view.get_collection("proxied", embedding_function=None).count() == 0
    with pytest.raises(ragstore.NotFoundError):
        client.set_database("missing")  # the inner engine's error crosses both servers as itself
    engine.close()


def test_the_async_http_factory_takes_the_sync_factorys_arguments() -> None:
    # Both are declared by hand (chromadb's eight parameters, positions included); this keeps them in step.
    sync, asynchronous = inspect.signature(ragstore.HttpClient), inspect.signature(ragstore.AsyncHttpClient)
    assert list(sync.parameters.values()) == list(asynchronous.parameters.values())
    assert inspect.iscoroutinefunction(ragstore.AsyncHttpClient)
