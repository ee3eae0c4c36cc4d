"""Open ragstore clients and collections for the vector store.

A :class:`CollectionTarget` is the collection a store opens: its name, the store it lives in and
the ``get_or_create_collection`` arguments of a new one, built once from the store's parameters
and opened sync (:meth:`CollectionTarget.open`) or async (:class:`RemoteAsyncCollection`).
:func:`store_address` picks the client mode from the parameters, as the chroma
integration's ``from_params`` does, but never silently ignores one: the parameters become a
:class:`ragstore.StoreAddress` (a directory, a host, or neither for memory), which refuses
contradictions (both, or ``port``/``ssl``/``headers`` without a host); the refusal is raised
here as :class:`InvalidConfigurationError`. New collections are created without an embedding function (LlamaIndex
embeds) and, unless ``collection_kwargs`` says otherwise, in the ``cosine`` space, the
similarity LlamaIndex's embedding models are made for. Given a ragstore embedding function
(the store's ``embed_model=RagstoreEmbedding(...)``, or ``embedding_function`` in ``collection_kwargs``),
a new collection records it, and its space is the function's ``default_space()``, exactly as
``create_collection(name, embedding_function=...)`` would make it (``l2`` for the default model,
as the collections ``ragstore ingest`` creates), so the CLI and ``get_collection`` embed queries
with the same function. Either way it gets a BM25 index on the node texts
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
    >>> opened = CollectionTarget("conn-example", store_address(), creation_kwargs(None)).open()
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


def creation_kwargs(collection_kwargs: dict[str, Any] | None, hybrid: bool = True, embedding_function: Any | None = None) -> dict[str, Any]:
    """``get_or_create_collection`` arguments: the caller's, defaulting to no embedding function, cosine space and a BM25 index.

    An ``embedding_function`` (the store's adapter's) is recorded, and then the space is left to it.

    Raises:
        InvalidConfigurationError: ``embedding_function`` given and ``collection_kwargs`` names another.

    Example:
        >>> creation_kwargs(None, hybrid=False)
        {'embedding_function': None, 'configuration': {'hnsw': {'space': 'cosine'}}}
        >>> sorted(creation_kwargs(None))
        ['configuration', 'embedding_function', 'schema']
        >>> from ragstore.embeddings import HashingEmbeddingFunction
        >>> sorted(creation_kwargs(None, embedding_function=HashingEmbeddingFunction()))  # the function's space
        ['embedding_function', 'schema']

    """
    kwargs: dict[str, Any] = {"embedding_function": None, **(collection_kwargs or {})}
    if embedding_function is not None:
        if kwargs["embedding_function"] not in (None, embedding_function):
            raise InvalidConfigurationError("Give the embedding function as embed_model or in collection_kwargs, not both")
        kwargs["embedding_function"] = embedding_function
    if hybrid and "schema" not in kwargs:
        kwargs["schema"] = ragstore.bm25_schema()
    legacy_space = "hnsw:space" in (kwargs.get("metadata") or {})
    if "configuration" not in kwargs and not legacy_space and kwargs["embedding_function"] is None:
        kwargs["configuration"] = DEFAULT_CONFIGURATION
    return kwargs


def store_address(
    persist_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
) -> ragstore.StoreAddress:
    """The store the parameters describe, as a :class:`ragstore.StoreAddress` (see the module docstring).

    Raises:
        InvalidConfigurationError: both ``persist_dir`` and ``host`` given, or ``port``, ``ssl`` or ``headers`` without ``host``.

    Example:
        >>> try:
        ...     store_address(port=8000)
        ... except InvalidConfigurationError as exc:
        ...     print(exc)
        port given without a host: port, ssl, headers and auth_token need a host (a server)

    """
    try:
        return ragstore.StoreAddress(path=persist_dir, host=host, port=port, ssl=ssl, headers=headers)
    except ragstore.InvalidArgumentError as exc:
        raise InvalidConfigurationError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class CollectionTarget:
    """The collection a store opens, creating it if needed (sync here, async in :class:`RemoteAsyncCollection`).

    Attributes:
        name: The collection's name.
        address: The store it lives in.
        create_kwargs: The ``get_or_create_collection`` arguments (:func:`creation_kwargs`).

    Example:
        >>> target = CollectionTarget("target-example", store_address(), creation_kwargs(None))
        >>> target.address.kind, target.open().collection.name
        ('memory', 'target-example')

    """

    name: str
    address: ragstore.StoreAddress
    create_kwargs: dict[str, Any]

    def open(self) -> OpenedCollection:
        """Open the collection (with a sync client of its own, closed again if opening fails)."""
        client = self.address.client()
        try:
            collection = client.get_or_create_collection(self.name, **self.create_kwargs)
            return OpenedCollection(client, collection, client.get_max_batch_size())
        except BaseException:
            client.close()
            raise


class RemoteAsyncCollection:
    """The async collection of a remote store, opened lazily once per event loop.

    Example::

        remote = RemoteAsyncCollection(CollectionTarget("docs", store_address(host="localhost", port=8000), creation_kwargs(None)))
        collection, max_batch_size = await remote.get()

    """

    def __init__(self, target: CollectionTarget) -> None:
        self._target = target
        self._per_loop: PerEventLoop[tuple[ragstore.AsyncClientAPI, ragstore.AsyncCollection, int]] = PerEventLoop(self._open, self._close)

    async def _open(self) -> tuple[ragstore.AsyncClientAPI, ragstore.AsyncCollection, int]:
        client = await self._target.address.async_client()
        try:
            collection = await client.get_or_create_collection(self._target.name, **self._target.create_kwargs)
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
