"""Open ragstore clients and collections for the vector store.

``open_collection`` picks the client mode from the parameters, as the chroma
integration's ``from_params`` does, but never silently ignores one: a directory gives a
``PersistentClient``, a host an ``HttpClient``, neither an in-memory ``EphemeralClient``,
and both raise. New collections are created without an embedding function (LlamaIndex
embeds) and, unless ``collection_kwargs`` says otherwise, in the ``cosine`` space, the
similarity LlamaIndex's embedding models are made for.

:class:`RemoteAsyncCollection` gives the ``AsyncHttpClient`` collection of a remote
store, one per event loop (an httpx async connection pool belongs to the loop that
opened it).

Example:
    >>> opened = open_collection("conn-example")
    >>> opened.collection.configuration["hnsw"]["space"], opened.max_batch_size > 0
    ('cosine', True)

"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import ragstore
from llama_index.vector_stores.ragstore.errors import RagstoreVectorStoreError

DEFAULT_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine"}}


class InvalidConfigurationError(RagstoreVectorStoreError, ValueError):
    """Contradictory connection parameters (e.g. both a directory and a host)."""


@dataclasses.dataclass(frozen=True)
class OpenedCollection:
    """A collection with the client that owns it and the client's batch limit."""

    client: ragstore.ClientAPI
    collection: ragstore.Collection
    max_batch_size: int


def creation_kwargs(collection_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """``get_or_create_collection`` arguments: the caller's, defaulting to no embedding function and cosine space.

    Example:
        >>> creation_kwargs(None)
        {'embedding_function': None, 'configuration': {'hnsw': {'space': 'cosine'}}}

    """
    kwargs: dict[str, Any] = {"embedding_function": None, **(collection_kwargs or {})}
    legacy_space = "hnsw:space" in (kwargs.get("metadata") or {})
    if "configuration" not in kwargs and not legacy_space:
        kwargs["configuration"] = DEFAULT_CONFIGURATION
    return kwargs


def open_client(
    persist_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
) -> ragstore.ClientAPI:
    """A client for the store the parameters describe (see the module docstring).

    Raises:
        InvalidConfigurationError: both ``persist_dir`` and ``host`` given, or ``port`` without ``host``.

    """
    if persist_dir is not None and host is not None:
        raise InvalidConfigurationError("Give persist_dir (an embedded store) or host/port (a server), not both")
    if host is None and (port is not None or headers):
        raise InvalidConfigurationError("port, ssl and headers need a host")
    if persist_dir is not None:
        return ragstore.PersistentClient(path=persist_dir)
    if host is not None:
        return ragstore.HttpClient(host=host, port=port or 8000, ssl=ssl, headers=headers)
    return ragstore.EphemeralClient()


def open_collection(
    collection_name: str,
    persist_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    collection_kwargs: dict[str, Any] | None = None,
) -> OpenedCollection:
    """Open (creating if needed) ``collection_name`` in the store the parameters describe."""
    client = open_client(persist_dir, host, port, ssl, headers)
    try:
        collection = client.get_or_create_collection(collection_name, **creation_kwargs(collection_kwargs))
        return OpenedCollection(client, collection, client.get_max_batch_size())
    except BaseException:
        client.close()
        raise


class RemoteAsyncCollection:
    """The ``AsyncHttpClient`` collection of a remote store, opened lazily once per event loop.

    Example::

        remote = RemoteAsyncCollection("docs", host="localhost", port=8000)
        collection, max_batch_size = await remote.get()

    """

    def __init__(
        self,
        collection_name: str,
        host: str,
        port: int | None = None,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        collection_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._name = collection_name
        self._connection: dict[str, Any] = {"host": host, "port": port or 8000, "ssl": ssl, "headers": headers}
        self._create = creation_kwargs(collection_kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: ragstore.AsyncClientAPI | None = None
        self._collection: ragstore.AsyncCollection | None = None
        self._max_batch_size = 0

    async def get(self) -> tuple[ragstore.AsyncCollection, int]:
        """The collection for the running loop and the server's batch limit."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._collection is not None:
            return self._collection, self._max_batch_size
        client = await ragstore.AsyncHttpClient(**self._connection)
        try:
            collection = await client.get_or_create_collection(self._name, **self._create)
            max_batch_size = await client.get_max_batch_size()
        except BaseException:
            await client.close()
            raise
        if self._loop is loop and self._collection is not None:  # another task of this loop won the race
            await client.close()
            return self._collection, self._max_batch_size
        # A client of an earlier loop cannot be closed from this one; dropping it releases its pool.
        self._loop, self._client, self._collection, self._max_batch_size = loop, client, collection, max_batch_size
        return collection, max_batch_size

    async def aclose(self) -> None:
        """Close the client of the running loop, if it opened one."""
        client, self._client, self._collection, self._loop = self._client, None, None, None
        if client is not None:
            await client.close()
