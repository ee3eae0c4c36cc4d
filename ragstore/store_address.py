"""One way to open a store: a directory, a ``ragstore run`` server, or memory.

:class:`StoreAddress` says where a store is and opens clients of it; :func:`connect` is the
one-call form. Every caller that opens a store from user input (the CLI, the chatbot example,
the LangChain and LlamaIndex integrations, :func:`ragstore.AdminClient`, the test helpers) goes
through here, so a path, a host, a port, TLS and a token mean the same thing everywhere, and a
contradiction (a path *and* a host, a token without a server) is refused with one clear line
instead of one argument being silently ignored. chromadb's factories (``PersistentClient``,
``HttpClient``, ...) stay, and are written on top of it.

Async clients of a server are opened once per event loop with :class:`ragstore.event_loops.PerEventLoop`.

Example:
    >>> import tempfile
    >>> StoreAddress(path="./data").describe(), StoreAddress(host="localhost").describe(), StoreAddress().describe()
    ('./data', 'http://localhost:8000', 'memory')
    >>> with connect(tempfile.mkdtemp()) as client:
    ...     client.count_collections()
    0
    >>> StoreAddress(path="./data", host="localhost")
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: Give a path (a local store) or a host (a server), not both

"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, TypeVar

from ragstore.errors import InvalidArgumentError
from ragstore.settings import Settings
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT

if TYPE_CHECKING:
    from ragstore.api import API
    from ragstore.async_client import AsyncClient as AsyncClientAPI
    from ragstore.client import Client as ClientAPI

__all__ = ["DEFAULT_PORT", "StoreAddress", "connect"]

DEFAULT_PORT = 8000
"""The port of a server address that names none (``ragstore run``'s and chromadb's default)."""

DEFAULT_TIMEOUT_SECONDS: float | None = 300.0
"""How long an HTTP client waits for an answer by default (connecting still gives up after 10 s)."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class StoreAddress:
    """Where a store is: a directory (``path``), a server (``host``), or memory (neither).

    Attributes:
        path: Directory of a persistent store (created if missing).
        host: Server host name, or a full ``http(s)://host:port`` URL.
        port: Server port; ``8000`` when a host is given without one (ignored when ``host`` is a URL).
        ssl: Reach the server over HTTPS.
        headers: Extra headers on every request to the server.
        auth_token: The server's token, sent as ``Authorization: Bearer <token>``.
        timeout: Seconds an HTTP client waits for an answer (``None``: forever); connecting gives up after 10 s.

    Raises:
        InvalidArgumentError: a path and a host; ``port``, ``ssl``, ``headers`` or ``auth_token`` without a
            host; ``auth_token`` together with an ``Authorization`` header; a malformed host URL.

    Example:
        >>> StoreAddress(host="db.example.com", ssl=True, auth_token="t0k").request_headers()
        {'Authorization': 'Bearer t0k'}
        >>> StoreAddress(path="./data").kind, StoreAddress().kind
        ('persistent', 'memory')

    """

    path: str | os.PathLike[str] | None = None
    host: str | None = None
    port: int | None = None
    ssl: bool = False
    headers: Mapping[str, str] | None = None
    auth_token: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.path is not None and self.host is not None:
            raise InvalidArgumentError("Give a path (a local store) or a host (a server), not both")
        if self.host is None:
            given = [name for name, value in self._server_options() if value]
            if given:
                names = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
                raise InvalidArgumentError(f"{names} given without a host: port, ssl, headers and auth_token need a host (a server)")
            return
        if self.auth_token is not None and any(name.lower() == "authorization" for name in self.headers or {}):
            raise InvalidArgumentError("Give auth_token or an Authorization header, not both")
        self.url()  # a malformed host is refused now, not at the first request

    @property
    def kind(self) -> Literal["memory", "persistent", "http"]:
        """``"http"`` with a host, ``"persistent"`` with a path, else ``"memory"``.

        Example:
            >>> StoreAddress(host="http://localhost:8000").kind
            'http'

        """
        if self.host is not None:
            return "http"
        return "persistent" if self.path is not None else "memory"

    def url(self) -> str:
        """The server's origin (``http(s)://host:port``); ``InvalidArgumentError`` for a store that is not a server.

        Example:
            >>> StoreAddress(host="localhost", port=9000, ssl=True).url()
            'https://localhost:9000'

        """
        from ragstore.http.transport import server_url

        if self.host is None:
            raise InvalidArgumentError(f"This store ({self.describe()}) is not a server: it has no URL")
        return server_url(self.host, self._port(), self.ssl)

    def request_headers(self) -> dict[str, str] | None:
        """The caller's headers plus the bearer token, or ``None`` when there are neither.

        Example:
            >>> StoreAddress(host="localhost", headers={"X-Team": "a"}, auth_token="t").request_headers()
            {'X-Team': 'a', 'Authorization': 'Bearer t'}
            >>> StoreAddress(host="localhost").request_headers() is None
            True

        """
        token = {"Authorization": f"Bearer {self.auth_token}"} if self.auth_token is not None else {}
        merged = {**(self.headers or {}), **token}
        return merged or None

    def describe(self) -> str:
        """The address for people: the path as given, the server's URL, or ``"memory"``.

        Example:
            >>> StoreAddress(host="https://db.example.com/").describe()
            'https://db.example.com'

        """
        if self.host is not None:
            return self.url()
        return os.fspath(self.path) if self.path is not None else "memory"

    def settings(self, settings: Settings | None = None) -> Settings:
        """``settings`` (default ``Settings()``) as a client of this store reports them from ``get_settings()``.

        Example:
            >>> StoreAddress(path="./data").settings().persist_directory
            './data'

        """
        settings = settings or Settings()
        if self.host is not None:
            return settings.replace(chroma_server_host=self.host, chroma_server_http_port=self._port(), chroma_server_ssl_enabled=self.ssl)
        if self.path is not None:
            return settings.replace(is_persistent=True, persist_directory=os.fspath(self.path))
        return settings

    def api(self, settings: Settings | None = None) -> API:
        """The engine behind a client of this store: a ``LocalAPI`` (path or memory) or an ``HttpAPI`` (server).

        For a server, ``settings`` add their own headers and credentials (``chroma_server_headers``,
        ``chroma_client_auth_credentials``) under the address's. The caller closes the result.

        Example:
            >>> api = StoreAddress().api()
            >>> api.get_tenant("default_tenant")
            'default_tenant'
            >>> api.close()

        """
        settings = self.settings(settings)
        if self.host is None:
            from ragstore.local import LocalAPI

            return LocalAPI(os.fspath(self.path) if self.path is not None else None, settings)
        from ragstore.http.client import HttpAPI
        from ragstore.http.transport import client_timeout, request_headers

        merged = {**(settings.chroma_server_headers or {}), **(self.request_headers() or {})}
        return HttpAPI(self.url(), request_headers(merged, settings), timeout=client_timeout(self.timeout))

    def client(self, settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> ClientAPI:
        """A client of this store, scoped to ``tenant``/``database`` (``NotFoundError`` when they do not exist).

        A server that does not answer raises ``ServerConnectionError`` naming its address.

        Example:
            >>> StoreAddress().client().heartbeat() > 0
            True

        """
        from ragstore.client import Client as ClientAPI

        settings = self.settings(settings)
        api = self.api(settings)
        try:
            return ClientAPI(api, settings, tenant, database)
        except BaseException:
            api.close()
            raise

    async def async_client(
        self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE, *, settings: Settings | None = None
    ) -> AsyncClientAPI:
        """An asyncio client of this server (``InvalidArgumentError`` for a path or memory: they have no async client).

        Example:
            >>> import asyncio
            >>> asyncio.run(StoreAddress(path="./data").async_client())
            Traceback (most recent call last):
            ...
            ragstore.errors.InvalidArgumentError: An async client needs a server (host=...); ./data is a local store

        """
        if self.host is None:
            raise InvalidArgumentError(f"An async client needs a server (host=...); {self.describe()} is a local store")
        from ragstore.async_client import AsyncClient as AsyncClientAPI
        from ragstore.http.async_client import AsyncHttpAPI
        from ragstore.http.transport import client_timeout, request_headers

        settings = self.settings(settings)
        merged = {**(settings.chroma_server_headers or {}), **(self.request_headers() or {})}
        api = AsyncHttpAPI(self.url(), request_headers(merged, settings), timeout=client_timeout(self.timeout))
        try:
            return await AsyncClientAPI.create(api, settings, tenant, database)
        except BaseException:
            await api.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreAddress:
        """The store chromadb-style ``settings`` describe: ``chroma_server_host``, else ``is_persistent``, else memory.

        Credentials in ``settings`` are not copied: :meth:`api` and :meth:`client` read them from the settings they get.

        Example:
            >>> StoreAddress.from_settings(Settings(chroma_server_host="localhost", chroma_server_http_port=9000)).describe()
            'http://localhost:9000'

        """
        if settings.chroma_server_host:
            return cls(
                host=settings.chroma_server_host,
                port=settings.chroma_server_http_port,
                ssl=settings.chroma_server_ssl_enabled,
                headers=settings.chroma_server_headers,
            )
        return cls(path=settings.persist_directory if settings.is_persistent else None)

    def _server_options(self) -> list[tuple[str, bool]]:
        return [
            ("port", self.port is not None),
            ("ssl", self.ssl),
            ("headers", bool(self.headers)),
            ("auth_token", self.auth_token is not None),
        ]

    def _port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORT


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: Mapping[str, str] | None = None,
    auth_token: str | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    timeout: float | None = DEFAULT_TIMEOUT_SECONDS,
) -> ClientAPI:
    """A client of the store at ``path``, on the server at ``host``, or in memory (neither given).

    The arguments are :class:`StoreAddress`'s (which refuses contradictory ones) and :meth:`StoreAddress.client`'s.

    Example:
        >>> connect().count_collections()
        0
        >>> connect(port=8001)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: port given without a host: port, ssl, headers and auth_token need a host (a server)

    """
    address = StoreAddress(path, host, port, ssl, headers, auth_token, timeout)
    return address.client(settings, tenant, database)
