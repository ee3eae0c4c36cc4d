"""Open ragstore clients and collections for the vector store.

``open_collection`` picks the client mode from the parameters, as the chroma
integration's ``from_params`` does, but never silently ignores one: the parameters become a
:class:`ragstore.StoreAddress` (a directory, a host, or neither for memory), which refuses
contradictions (both, or ``port``/``ssl``/``headers`` without a host); the refusal is raised
here as :class:`InvalidConfigurationError`. New collections are created without an embedding function (LlamaIndex
embeds) and, unless ``collection_kwargs`` says otherwise, in the ``cosine`` space, the
similarity LlamaIndex's embedding models are made for, and with a BM25 index on the node texts
(``ragstore.bm25_schema()``), which the ``hybrid``, ``sparse`` and ``text_search`` query modes
search. The index is on by default because, unlike Qdrant's or Milvus's sparse vectors, it needs
no model and no extra dependency (the engine counts the terms), so ``vector_store_query_mode="hybrid"``
works on a new store as it does on Weaviate; ``hybrid=False`` (the store's ``enable_hybrid=False``)
or a ``schema`` in ``collection_kwargs`` leaves it out. An existing collection is opened as it is:
``get_or_create_collection`` ignores a schema for a collection that exists.

:class:`RemoteAsyncCollection` gives the async collection of a remote store, one per
event loop (:class:`ragstore.event_loops.PerEventLoop`: an httpx async connection pool belongs
to the loop that opened it).

Example:
    >>> opened = open_collection("conn-example")
    >>> opened.collection.configuration["hnsw"]["space"], opened.max_batch_size > 0
    ('cosine', True)

"""

from __future__ import annotations

import dataclasses
from typing import Any

import ragstore
from llama_index.vector_stores.ragstore.errors import RagstoreVectorStoreError
from ragstore.event_loops import PerEventLoop

DEFAULT_CONFIGURATION: dict[str, Any] = {"hnsw": {"space": "cosine"}}


class InvalidConfigurationError(RagstoreVectorStoreError, ValueError):
    """Contradictory connection parameters (e.g. both a directory and a host)."""


@dataclasses.dataclass(frozen=True)
class OpenedCollection:
    """A collection with the client that owns it and the client's batch limit."""

    client: ragstore.ClientAPI
    collection: ragstore.Collection
    max_batch_size: int


def creation_kwargs(collection_kwargs: dict[str, Any] | None, hybrid: bool = True) -> dict[str, Any]:
    """``get_or_create_collection`` arguments: the caller's, defaulting to no embedding function, cosine space and a BM25 index.

    Example:
        >>> creation_kwargs(None, hybrid=False)
        {'embedding_function': None, 'configuration': {'hnsw': {'space': 'cosine'}}}
        >>> sorted(creation_kwargs(None))
        ['configuration', 'embedding_function', 'schema']

    """
    kwargs: dict[str, Any] = {"embedding_function": None, **(collection_kwargs or {})}
    if hybrid and "schema" not in kwargs:
        kwargs["schema"] = ragstore.bm25_schema()
    legacy_space = "hnsw:space" in (kwargs.get("metadata") or {})
    if "configuration" not in kwargs and not legacy_space:
        kwargs["configuration"] = DEFAULT_CONFIGURATION
    return kwargs


def _address(
    persist_dir: str | None, host: str | None, port: int | None, ssl: bool, headers: dict[str, str] | None
) -> ragstore.StoreAddress:
    """The parameters as a :class:`ragstore.StoreAddress`; its refusal as :class:`InvalidConfigurationError`."""
    try:
        return ragstore.StoreAddress(path=persist_dir, host=host, port=port, ssl=ssl, headers=headers)
    except ragstore.InvalidArgumentError as exc:
        raise InvalidConfigurationError(str(exc)) from None


def open_client(
    persist_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
) -> ragstore.ClientAPI:
    """A client for the store the parameters describe (see the module docstring).

    Raises:
        InvalidConfigurationError: both ``persist_dir`` and ``host`` given, or ``port``, ``ssl`` or ``headers`` without ``host``.

    Example:
        >>> try:
        ...     open_client(port=8000)
        ... except InvalidConfigurationError as exc:
        ...     print(exc)
        port given without a host: port, ssl, headers and auth_token need a host (a server)

    """
    return _address(persist_dir, host, port, ssl, headers).client()


def open_collection(
    collection_name: str,
    persist_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    collection_kwargs: dict[str, Any] | None = None,
    hybrid: bool = True,
) -> OpenedCollection:
    """Open (creating if needed, with a BM25 index when ``hybrid``) ``collection_name`` in the store the parameters describe."""
    client = open_client(persist_dir, host, port, ssl, headers)
    try:
        collection = client.get_or_create_collection(collection_name, **creation_kwargs(collection_kwargs, hybrid))
        return OpenedCollection(client, collection, client.get_max_batch_size())
    except BaseException:
        client.close()
        raise


class RemoteAsyncCollection:
    """The async collection of a remote store, opened lazily once per event loop.

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
        hybrid: bool = True,
    ) -> None:
        self._name = collection_name
        self._address = _address(None, host, port, ssl, headers)
        self._create = creation_kwargs(collection_kwargs, hybrid)
        self._per_loop: PerEventLoop[tuple[ragstore.AsyncClientAPI, ragstore.AsyncCollection, int]] = PerEventLoop(self._open, self._close)

    async def _open(self) -> tuple[ragstore.AsyncClientAPI, ragstore.AsyncCollection, int]:
        client = await self._address.async_client()
        try:
            collection = await client.get_or_create_collection(self._name, **self._create)
            return client, collection, await client.get_max_batch_size()
        except BaseException:
            await client.close()
            raise

    @staticmethod
    async def _close(opened: tuple[ragstore.AsyncClientAPI, ragstore.AsyncCollection, int]) -> None:
        await opened[0].close()

    async def get(self) -> tuple[ragstore.AsyncCollection, int]:
        """The collection for the running loop and the server's batch limit."""
        _, collection, max_batch_size = await self._per_loop.get()
        return collection, max_batch_size

    async def aclose(self) -> None:
        """Close the client of the running loop, if it opened one."""
        await self._per_loop.aclose()
