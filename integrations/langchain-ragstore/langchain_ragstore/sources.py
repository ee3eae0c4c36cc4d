"""Decide where a :class:`~langchain_ragstore.RagstoreVectorStore` keeps its records, without surprises.

Exactly one source is used, and giving two is an error (chroma silently lets ``client``
win over ``persist_directory``):

==============================  ====================================================
arguments                       source
==============================  ====================================================
``collection=``                 that ragstore ``Collection`` / ``AsyncCollection``
``client=``                     that ``ClientAPI`` (sync) or ``AsyncClientAPI`` (async)
``persist_directory=``          ``ragstore.PersistentClient(persist_directory)``
``host=`` (and ``port=``)       a ``ragstore run`` server, reached lazily through
                                ``HttpClient`` (sync calls) / ``AsyncHttpClient`` (async)
nothing                         ``ragstore.EphemeralClient()`` (in memory)
==============================  ====================================================

No network client is ever opened unless ``host`` is given (or a network client is passed).

Example:
    >>> resolve_source().kind
    'ephemeral'
    >>> resolve_source(host="127.0.0.1", port=8000).kind
    'http'
    >>> resolve_source(persist_directory="/tmp/x", host="localhost")
    Traceback (most recent call last):
    ...
    langchain_ragstore.sources.ConflictingSourcesError: Give only one store source, got persist_directory= and host=

"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ragstore
from ragstore.store_address import DEFAULT_PORT, StoreAddress

SourceKind = Literal["collection", "async_collection", "client", "async_client", "persistent", "http", "ephemeral"]


class ConflictingSourcesError(ValueError):
    """More than one store source was given (for instance ``client=`` and ``persist_directory=``)."""


class InvalidSourceError(TypeError):
    """A source argument of the wrong type (an un-awaited ``AsyncHttpClient(...)``, a chromadb client, ...)."""


@dataclass(frozen=True)
class StoreSource:
    """The one place a store's records live.

    Attributes:
        kind: Which of the sources in the module table it is.
        client: The sync or async ragstore client, for ``client`` sources.
        collection: The sync or async collection, for ``collection`` sources.
        persist_directory: The directory, for ``persistent`` sources.
        host: The server host (or URL), for ``http`` sources.
        port: The server port, for ``http`` sources.
        headers: Extra HTTP headers (for instance a bearer token), for ``http`` sources.

    Example:
        >>> StoreSource("persistent", persist_directory="/data").is_remote
        False

    """

    kind: SourceKind
    client: Any = None
    collection: Any = None
    persist_directory: str | None = None
    host: str | None = None
    port: int = DEFAULT_PORT
    headers: dict[str, str] | None = None

    @property
    def is_remote(self) -> bool:
        """Whether async calls go to a server through ``ragstore.AsyncHttpClient`` (no executor).

        Example:
            >>> StoreSource("http", host="localhost").is_remote
            True

        """
        return self.kind in ("http", "async_client", "async_collection")

    @property
    def is_async_only(self) -> bool:
        """Whether only the ``a*`` methods can be used (an async client or collection was given).

        Example:
            >>> StoreSource("ephemeral").is_async_only
            False

        """
        return self.kind in ("async_client", "async_collection")

    def address(self) -> StoreAddress:
        """Where the clients of an ``ephemeral``, ``persistent`` or ``http`` source are opened (:mod:`ragstore.store_address`).

        Raises:
            InvalidSourceError: A source given as a client or collection (it has no address: its clients are the caller's).

        Example:
            >>> StoreSource("http", host="localhost", port=9000).address().describe()
            'http://localhost:9000'

        """
        if self.kind == "http":
            return StoreAddress(host=self.host, port=self.port, headers=self.headers)
        if self.kind in ("persistent", "ephemeral"):
            return StoreAddress(path=self.persist_directory)
        raise InvalidSourceError(f"A {self.kind} source has no address: the store uses the given {self.kind.replace('_', ' ')}")


def _check_type(name: str, value: Any, types: tuple[type, ...]) -> None:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited: close it so Python does not warn about it
        raise InvalidSourceError(f"{name}= got an awaitable: await ragstore.AsyncHttpClient(...) first, then pass the client")
    if not isinstance(value, types):
        expected = " or ".join(t.__name__ for t in types)
        raise InvalidSourceError(f"Expected {name}= to be a ragstore {expected}, got {type(value).__name__}")


def resolve_source(
    *,
    client: Any = None,
    collection: Any = None,
    persist_directory: str | Path | None = None,
    host: str | None = None,
    port: int | None = None,
    headers: dict[str, str] | None = None,
) -> StoreSource:
    """Check the source arguments of a store and say which source they name.

    Args:
        client: A ragstore client (sync or async).
        collection: A ragstore collection (sync or async).
        persist_directory: A directory for a ``PersistentClient``.
        host: A ``ragstore run`` server's host (or ``http(s)://host:port`` URL).
        port: The server's port (only with ``host``; default 8000).
        headers: Extra HTTP headers (only with ``host``).

    Returns:
        The chosen :class:`StoreSource`.

    Raises:
        ConflictingSourcesError: Two sources were given, or ``port``/``headers`` without ``host``.
        InvalidSourceError: ``client`` or ``collection`` is not a ragstore object.

    Example:
        >>> resolve_source(port=8000)
        Traceback (most recent call last):
        ...
        langchain_ragstore.sources.ConflictingSourcesError: port= and headers= need host=: no network client is opened without a host

    """
    given = [
        name
        for name, value in (("collection", collection), ("client", client), ("persist_directory", persist_directory), ("host", host))
        if value is not None
    ]
    if len(given) > 1:
        raise ConflictingSourcesError(f"Give only one store source, got {'= and '.join(given)}=")
    if host is None and (port is not None or headers is not None):
        raise ConflictingSourcesError("port= and headers= need host=: no network client is opened without a host")
    if collection is not None:
        _check_type("collection", collection, (ragstore.Collection, ragstore.AsyncCollection))
        kind: SourceKind = "async_collection" if isinstance(collection, ragstore.AsyncCollection) else "collection"
        return StoreSource(kind, collection=collection)
    if client is not None:
        _check_type("client", client, (ragstore.ClientAPI, ragstore.AsyncClientAPI))
        return StoreSource("async_client" if isinstance(client, ragstore.AsyncClientAPI) else "client", client=client)
    if persist_directory is not None:
        return StoreSource("persistent", persist_directory=str(persist_directory))
    if host is not None:
        if not isinstance(host, str) or not host:
            raise InvalidSourceError(f"Expected host= to be a non-empty str, got {host!r}")
        return StoreSource("http", host=host, port=DEFAULT_PORT if port is None else int(port), headers=headers)
    return StoreSource("ephemeral")
