"""The clients and the collection behind a :class:`~langchain_ragstore.RagstoreVectorStore`, opened on first use.

A store has one source (:mod:`langchain_ragstore.sources`). Sync calls use one sync client and
collection, opened lazily, so a ``host=`` store opens no socket until it is used. Async calls on a
remote store use an ``AsyncClientAPI`` per event loop (an httpx connection pool belongs to the loop
that opened it: :class:`ragstore.event_loops.PerEventLoop`), also opened on first use. Clients are
opened by ragstore's one opener, :class:`ragstore.StoreAddress`. A client the caller gave is used
and never closed; a client the connection opened is closed by :meth:`StoreConnection.close` /
:meth:`StoreConnection.aclose`.

Example:
    >>> from langchain_ragstore.sources import resolve_source
    >>> connection = StoreConnection(resolve_source(), CollectionSpec("conn-example"))
    >>> connection.collection().name, connection.max_batch_size() > 0
    ('conn-example', True)
    >>> connection.close()

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import ragstore
from ragstore.event_loops import PerEventLoop

from langchain_ragstore.hybrid import bm25_key, bm25_schema, missing_bm25_index
from langchain_ragstore.relevance import collection_space
from langchain_ragstore.sources import ConflictingSourcesError, StoreSource

DEFAULT_COLLECTION_NAME = "langchain"
DEFAULT_MAX_BATCH_SIZE = 16384
"""ragstore's write limit, used when only a collection was given (a collection does not expose its client's limit)."""


class AsyncOnlyStoreError(TypeError):
    """A sync method was called on a store built on an async client or collection: use the ``a*`` methods."""


@dataclass(frozen=True)
class CollectionSpec:
    """Which collection a store uses and how to open it.

    Attributes:
        name: The collection's name.
        embeds_itself: LangChain embeds (an ``embedding_function`` was given), so the collection records no function.
        configuration: The configuration of a new collection.
        metadata: The metadata of a new collection.
        create_if_missing: ``get_or_create_collection`` (else ``get_collection``, which requires it to exist).
        bm25_index: A new collection gets a BM25 index on its documents (:func:`langchain_ragstore.hybrid.bm25_schema`).

    Example:
        >>> CollectionSpec("docs", embeds_itself=True).open_kwargs()
        {'embedding_function': None, 'configuration': None, 'metadata': None, 'schema': None}

    """

    name: str
    embeds_itself: bool = False
    configuration: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    create_if_missing: bool = True
    bm25_index: bool = False

    def open_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the opening call (settings of a new collection only when one may be created)."""
        kwargs: dict[str, Any] = {"embedding_function": None} if self.embeds_itself else {}
        if self.create_if_missing:
            kwargs.update(configuration=self.configuration, metadata=self.metadata, schema=bm25_schema() if self.bm25_index else None)
        return kwargs

    def for_source(self, source: StoreSource) -> CollectionSpec:
        """This spec on ``source``: a given ``collection=`` fixes the name and takes no settings of a new one.

        Raises:
            ConflictingSourcesError: ``configuration``/``metadata``/``bm25_index`` or another name (than the default)
                with a given collection.

        Example:
            >>> from langchain_ragstore.sources import resolve_source
            >>> collection = ragstore.EphemeralClient().create_collection("given-one")
            >>> CollectionSpec(DEFAULT_COLLECTION_NAME).for_source(resolve_source(collection=collection)).name
            'given-one'

        """
        collection = source.collection
        if collection is None:
            return self
        if self.metadata is not None or self.configuration is not None or self.bm25_index:
            raise ConflictingSourcesError(
                "collection_metadata=, collection_configuration= and bm25_index= apply to a new collection, not to collection="
            )
        if self.name not in (DEFAULT_COLLECTION_NAME, collection.name):
            raise ConflictingSourcesError(f"collection_name={self.name!r} differs from the given collection {collection.name!r}")
        return replace(self, name=collection.name)

    def opener(self, client: Any) -> Callable[..., Any]:
        """The bound ``get_or_create_collection`` / ``get_collection`` of a sync or async ``client``."""
        return client.get_or_create_collection if self.create_if_missing else client.get_collection  # type: ignore[no-any-return]


@dataclass
class _LoopClient:
    """The async client and collection a remote store uses inside one event loop."""

    client: Any
    owned: bool
    collection: Any = None


class StoreConnection:
    """The sync client and collection of a store, and its async ones per event loop.

    Args:
        source: Where the records live.
        spec: The collection to open.

    Example:
        >>> from langchain_ragstore.sources import resolve_source
        >>> StoreConnection(resolve_source(), CollectionSpec("unopened")).client().count_collections()
        0

    """

    def __init__(self, source: StoreSource, spec: CollectionSpec) -> None:
        self.source = source
        self.spec = spec
        self._client: ragstore.ClientAPI | None = source.client if source.kind == "client" else None
        self._owns_client = False
        self._collection: ragstore.Collection | None = source.collection if source.kind == "collection" else None
        self._space: str | None = None
        self._bm25_key: str | None = None  # known once read: a collection's indexes never change
        self._per_loop: PerEventLoop[_LoopClient] = PerEventLoop(self._open_loop_client, self._close_loop_client)

    # ------------------------------------------------------------------ sync

    def client(self) -> ragstore.ClientAPI | None:
        """The sync client, opened on first use (``None`` when only a collection was given).

        Raises:
            AsyncOnlyStoreError: The source is an async client or collection.

        """
        if self.source.is_async_only:
            raise AsyncOnlyStoreError(
                "This store was built on an async ragstore client or collection: "
                "use the async methods (aadd_texts, asimilarity_search, ...)"
            )
        if self._client is None and self.source.kind != "collection":
            self._client = self.source.open_client()
            self._owns_client = True
        return self._client

    def collection(self) -> ragstore.Collection:
        """The sync collection, opened (and created, unless the spec forbids it) on first use."""
        if self._collection is None:
            client = self.client()
            assert client is not None  # only collection sources have no client, and they have a collection
            self._collection = self.spec.opener(client)(self.spec.name, **self.spec.open_kwargs())
        return self._collection

    def max_batch_size(self) -> int:
        """The client's write limit (:data:`DEFAULT_MAX_BATCH_SIZE` for a given collection)."""
        client = self.client()
        return client.get_max_batch_size() if client is not None else DEFAULT_MAX_BATCH_SIZE

    def space(self) -> str:
        """The collection's distance space (``l2``, ``cosine`` or ``ip``), read once.

        Example:
            >>> from langchain_ragstore.sources import resolve_source
            >>> StoreConnection(resolve_source(), CollectionSpec("space-example", configuration={"hnsw": {"space": "ip"}})).space()
            'ip'

        """
        if self._space is None:
            collection = self.collection()
            self._space = collection_space(collection.configuration, collection.metadata)
        return self._space

    def bm25_key(self) -> str:
        """The key of the collection's BM25 index, read once.

        Raises:
            MissingBm25IndexError: The collection has none.

        Example:
            >>> from langchain_ragstore.sources import resolve_source
            >>> StoreConnection(resolve_source(), CollectionSpec("bm25-example", bm25_index=True)).bm25_key()
            'bm25'

        """
        if self._bm25_key is None:
            self._bm25_key = self._checked_bm25_key(self.collection())
        return self._bm25_key

    def _checked_bm25_key(self, collection: Any) -> str:
        key = bm25_key(collection.schema)
        if key is None:
            raise missing_bm25_index(self.spec.name)
        return key

    def delete_collection(self) -> None:
        """Delete the collection; the next use creates it again.

        Raises:
            TypeError: Only a collection was given (there is no client to delete it with).

        """
        client = self.client()
        if client is None:
            raise TypeError("delete_collection() needs a client; this store was given only a collection (use delete() to empty it)")
        client.delete_collection(self.spec.name)
        self._collection, self._space, self._bm25_key = None, None, None

    def close(self) -> None:
        """Close the sync client this connection opened (a given client stays open); the next use opens a new one."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client, self._collection, self._owns_client = None, None, False

    # ------------------------------------------------------------------ async (remote sources only)

    async def _open_loop_client(self) -> _LoopClient:
        """The client and collection for a new loop, both opened under :class:`PerEventLoop`'s lock (one creation)."""
        source = self.source
        if source.kind == "async_collection":
            return _LoopClient(None, owned=False, collection=source.collection)
        if source.kind == "async_client":
            opened = _LoopClient(source.client, owned=False)
        else:
            opened = _LoopClient(await source.open_async_client(), owned=True)
        try:
            await self._open_async_collection(opened)
        except BaseException:
            await self._close_loop_client(opened)
            raise
        return opened

    async def _open_async_collection(self, opened: _LoopClient) -> Any:
        opened.collection = await self.spec.opener(opened.client)(self.spec.name, **self.spec.open_kwargs())
        return opened.collection

    async def _close_loop_client(self, opened: _LoopClient) -> None:
        if opened.owned:
            await opened.client.close()

    async def acollection(self) -> ragstore.AsyncCollection:
        """The running loop's async collection, opened on first use (again after :meth:`adelete_collection`)."""
        opened = await self._per_loop.get()
        collection: ragstore.AsyncCollection = (
            opened.collection if opened.collection is not None else await self._open_async_collection(opened)
        )
        return collection

    async def aspace(self) -> str:
        """:meth:`space` read through the running loop's async collection (no sync client is opened)."""
        if self._space is None:
            collection = await self.acollection()
            self._space = collection_space(collection.configuration, collection.metadata)
        return self._space

    async def abm25_key(self) -> str:
        """:meth:`bm25_key` read through the running loop's async collection (no sync client is opened)."""
        if self._bm25_key is None:
            self._bm25_key = self._checked_bm25_key(await self.acollection())
        return self._bm25_key

    async def amax_batch_size(self) -> int:
        """The async client's write limit (:data:`DEFAULT_MAX_BATCH_SIZE` for a given collection)."""
        opened = await self._per_loop.get()
        return int(await opened.client.get_max_batch_size()) if opened.client is not None else DEFAULT_MAX_BATCH_SIZE

    async def adelete_collection(self) -> None:
        """Delete the collection through the running loop's async client; the next use creates it again."""
        opened = await self._per_loop.get()
        if opened.client is None:
            raise TypeError("adelete_collection() needs a client; this store was given only a collection (use adelete() to empty it)")
        await opened.client.delete_collection(self.spec.name)
        opened.collection, self._space, self._bm25_key = None, None, None

    async def aclose(self) -> None:
        """Close the async client opened in the running loop, then the sync client."""
        await self._per_loop.aclose()
        self.close()
