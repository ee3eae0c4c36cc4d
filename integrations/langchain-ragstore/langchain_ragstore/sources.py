"""Decide where a :class:`~langchain_ragstore.RagstoreVectorStore` keeps its records, without surprises.

langchain-chroma's source arguments mean the same here, and one source is used: giving two is an
error (chroma silently lets ``client`` win over ``persist_directory``):

===========================================  ===========================================================
arguments                                    source
===========================================  ===========================================================
``collection=``                              that ragstore ``Collection`` / ``AsyncCollection``
``client=``                                  that ``ClientAPI`` (sync) or ``AsyncClientAPI`` (async)
``persist_directory=``                       ``ragstore.PersistentClient(persist_directory)``
``host=`` (``port=``, ``ssl=``, ``headers=``)  a ``ragstore run`` server, reached lazily through
                                             ``HttpClient`` (sync calls) / ``AsyncHttpClient`` (async)
``port=``, ``ssl=`` or ``headers=`` alone      the server on ``localhost`` (``HttpClient``'s default host)
``client_settings=`` alone                   the store the settings name, as ``chromadb.Client(settings)``:
                                             ``chroma_server_host`` a server, ``is_persistent`` its
                                             ``persist_directory``, else memory
nothing                                      ``ragstore.EphemeralClient()`` (in memory)
===========================================  ===========================================================

``tenant=``, ``database=`` and ``client_settings=`` configure the client the store opens (every
source but ``client=`` and ``collection=``, which bring their own). ``chroma_cloud_api_key=`` is
refused: ragstore has no cloud. No network client is opened unless a server is named.

Example:
    >>> resolve_source().kind
    'ephemeral'
    >>> resolve_source(host="127.0.0.1", port=8000).kind
    'http'
    >>> resolve_source(headers={"Authorization": "Bearer t0k"}).address.describe()
    'http://localhost:8000'
    >>> resolve_source(persist_directory="/tmp/x", host="localhost")
    Traceback (most recent call last):
    ...
    langchain_ragstore.sources.ConflictingSourcesError: Give only one store source, got persist_directory= and host=

"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ragstore
from ragstore.store_address import StoreAddress

SourceKind = Literal["collection", "async_collection", "client", "async_client", "persistent", "http", "ephemeral"]


class ConflictingSourcesError(ValueError):
    """More than one store source was given (for instance ``client=`` and ``persist_directory=``)."""


class InvalidSourceError(TypeError):
    """A source argument of the wrong type (an un-awaited ``AsyncHttpClient(...)``, a chromadb client, ...)."""


@dataclass(frozen=True)
class StoreSource:
    """The one place a store's records live, and how the store opens its clients there.

    Attributes:
        kind: Which of the sources in the module table it is.
        client: The sync or async ragstore client, for ``client`` sources.
        collection: The sync or async collection, for ``collection`` sources.
        address: Where the store opens its clients, for ``ephemeral``, ``persistent`` and ``http`` sources.
        settings: The settings of the clients the store opens (``client_settings=``).
        tenant: The tenant of the clients the store opens.
        database: The database of the clients the store opens.

    Example:
        >>> StoreSource("persistent", address=StoreAddress(path="/data")).is_remote
        False

    """

    kind: SourceKind
    client: Any = None
    collection: Any = None
    address: StoreAddress | None = None
    settings: ragstore.Settings | None = None
    tenant: str = ragstore.DEFAULT_TENANT
    database: str = ragstore.DEFAULT_DATABASE

    @property
    def is_remote(self) -> bool:
        """Whether async calls go to a server through ``ragstore.AsyncHttpClient`` (no executor).

        Example:
            >>> StoreSource("http", address=StoreAddress(host="localhost")).is_remote
            True

        """
        return self.kind in ("http", "async_client", "async_collection")

    @property
    def is_async_only(self) -> bool:
        """Whether only the ``a*`` methods can be used (an async client or collection was given).

        Example:
            >>> StoreSource("ephemeral", address=StoreAddress()).is_async_only
            False

        """
        return self.kind in ("async_client", "async_collection")

    def _address(self) -> StoreAddress:
        if self.address is None:
            raise InvalidSourceError(f"A {self.kind} source has no address: the store uses the given {self.kind.replace('_', ' ')}")
        return self.address

    def open_client(self) -> ragstore.ClientAPI:
        """A new sync client of an ``ephemeral``, ``persistent`` or ``http`` source, in its tenant and database.

        Raises:
            InvalidSourceError: A source given as a client or collection (its clients are the caller's).

        Example:
            >>> client = resolve_source().open_client()
            >>> client.tenant, client.database
            ('default_tenant', 'default_database')
            >>> client.close()

        """
        return self._address().client(self.settings, self.tenant, self.database)

    async def open_async_client(self) -> ragstore.AsyncClientAPI:
        """A new async client of an ``http`` source, in its tenant and database (:meth:`open_client`'s twin)."""
        return await self._address().async_client(self.tenant, self.database, settings=self.settings)


def _check_type(name: str, value: Any, types: tuple[type, ...]) -> None:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited: close it so Python does not warn about it
        raise InvalidSourceError(f"{name}= got an awaitable: await ragstore.AsyncHttpClient(...) first, then pass the client")
    if not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in types)
        raise InvalidSourceError(f"Expected {name}= to be a ragstore {expected}, got {type(value).__name__}")


def client_settings(settings: Any) -> ragstore.Settings | None:
    """``settings`` as ragstore ``Settings``: a ``chromadb.config.Settings`` is copied field by field.

    ragstore's ``Settings`` holds the chromadb fields ragstore honours; chromadb's other fields (its
    server's, its telemetry's) do not describe a client and are left out.

    Raises:
        InvalidSourceError: ``settings`` is neither.

    Example:
        >>> client_settings(ragstore.Settings(allow_reset=True)).allow_reset
        True
        >>> client_settings({"allow_reset": True})
        Traceback (most recent call last):
        ...
        langchain_ragstore.sources.InvalidSourceError: Expected client_settings= to be a ragstore or chromadb Settings, got dict

    """
    if settings is None or isinstance(settings, ragstore.Settings):
        return settings
    if type(settings).__name__ != "Settings" or not hasattr(settings, "chroma_server_host"):
        raise InvalidSourceError(f"Expected client_settings= to be a ragstore or chromadb Settings, got {type(settings).__name__}")
    fields = [field.name for field in dataclasses.fields(ragstore.Settings)]
    return ragstore.Settings(**{name: getattr(settings, name) for name in fields if hasattr(settings, name)})


def _named(names: list[str], verb: tuple[str, str] | None = None) -> str:
    """``a= and b=``, followed by the singular or plural ``verb`` when one is given."""
    listed = "= and ".join(names) + "="
    return listed if verb is None else f"{listed} {verb[0] if len(names) == 1 else verb[1]}"


def resolve_source(
    *,
    client: Any = None,
    collection: Any = None,
    persist_directory: str | Path | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Any = None,
    tenant: str | None = None,
    database: str | None = None,
    chroma_cloud_api_key: str | None = None,
) -> StoreSource:
    """Check the source arguments of a store (langchain-chroma's) and say which source they name.

    Args:
        client: A ragstore client (sync or async).
        collection: A ragstore collection (sync or async).
        persist_directory: A directory for a ``PersistentClient``.
        host: A ``ragstore run`` server's host (or ``http(s)://host:port`` URL).
        port: The server's port (default 8000).
        ssl: Reach the server over HTTPS.
        headers: Extra HTTP headers for the server (e.g. ``{"Authorization": "Bearer <token>"}``).
        settings: ``client_settings=``: ragstore (or chromadb) ``Settings`` of the clients the store opens.
        tenant: The tenant of the clients the store opens (default ``default_tenant``; it must exist).
        database: The database of the clients the store opens (default ``default_database``; it must exist).
        chroma_cloud_api_key: Refused (Chroma Cloud is not a ragstore store).

    Returns:
        The chosen :class:`StoreSource`.

    Raises:
        ConflictingSourcesError: Two sources were given, server options (``port``, ``ssl``, ``headers``) with a local
            source, or client options (``tenant``, ``database``, ``client_settings``) with a given client or collection.
        InvalidSourceError: ``client``, ``collection`` or ``settings`` of the wrong type.
        NotImplementedError: ``chroma_cloud_api_key`` was given.

    Example:
        >>> resolve_source(port=9000).address.describe()
        'http://localhost:9000'
        >>> resolve_source(persist_directory="./data", tenant="team").tenant
        'team'
        >>> resolve_source(client=ragstore.EphemeralClient(), tenant="team")
        Traceback (most recent call last):
        ...
        langchain_ragstore.sources.ConflictingSourcesError: tenant= is for a client the store opens; the given client= brings its own

    """
    if chroma_cloud_api_key is not None:
        raise NotImplementedError(
            "chroma_cloud_api_key= (Chroma Cloud) is not supported: ragstore has no cloud. Run `ragstore run` and pass host= (and headers=)"
        )
    given = [
        name
        for name, value in (("collection", collection), ("client", client), ("persist_directory", persist_directory), ("host", host))
        if value is not None
    ]
    if len(given) > 1:
        raise ConflictingSourcesError(f"Give only one store source, got {_named(given)}")
    server_options = [name for name, value in (("port", port is not None), ("ssl", ssl), ("headers", headers is not None)) if value]
    local = [name for name in given if name != "host"]
    if server_options and local:
        raise ConflictingSourcesError(f"{_named(server_options, ('is', 'are'))} for a server (host=), not for {local[0]}=")
    client_options = [
        name for name, value in (("tenant", tenant), ("database", database), ("client_settings", settings)) if value is not None
    ]
    if client_options and local and local[0] in ("client", "collection"):
        raise ConflictingSourcesError(
            f"{_named(client_options, ('is', 'are'))} for a client the store opens; the given {local[0]}= brings its own"
        )
    if collection is not None:
        _check_type("collection", collection, (ragstore.Collection, ragstore.AsyncCollection))
        kind: SourceKind = "async_collection" if isinstance(collection, ragstore.AsyncCollection) else "collection"
        return StoreSource(kind, collection=collection)
    if client is not None:
        _check_type("client", client, (ragstore.ClientAPI, ragstore.AsyncClientAPI))
        return StoreSource("async_client" if isinstance(client, ragstore.AsyncClientAPI) else "client", client=client)
    if host is not None and (not isinstance(host, str) or not host):
        raise InvalidSourceError(f"Expected host= to be a non-empty str, got {host!r}")
    checked = client_settings(settings)
    opened = StoreSource(
        "ephemeral", settings=checked, tenant=tenant or ragstore.DEFAULT_TENANT, database=database or ragstore.DEFAULT_DATABASE
    )
    if persist_directory is not None:
        return dataclasses.replace(opened, kind="persistent", address=StoreAddress(path=str(persist_directory)))
    named = StoreAddress.from_settings(checked) if checked is not None else StoreAddress()
    if host is not None or server_options or named.kind == "http":
        # chromadb's HttpClient defaults: localhost, 8000; settings that name a server fill what the arguments leave out.
        address = StoreAddress(
            host=host if host is not None else named.host or "localhost",
            port=int(port) if port is not None else named.port,
            ssl=ssl or named.ssl,
            headers=headers,
        )
        return dataclasses.replace(opened, kind="http", address=address)
    return dataclasses.replace(opened, kind="persistent" if named.kind == "persistent" else "ephemeral", address=named)
