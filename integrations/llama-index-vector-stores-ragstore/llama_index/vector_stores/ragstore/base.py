"""``RagstoreVectorStore``: a LlamaIndex vector store on a ragstore collection.

Example:
    >>> from llama_index.core.schema import TextNode
    >>> from llama_index.core.vector_stores.types import VectorStoreQuery
    >>> store = RagstoreVectorStore.from_params("base-example")  # in memory; persist_dir= or host=/port= otherwise
    >>> store.add([TextNode(id_="a", text="apples", embedding=[1.0, 0.0]), TextNode(id_="b", text="sky", embedding=[0.0, 1.0])])
    ['a', 'b']
    >>> store.query(VectorStoreQuery(query_embedding=[0.9, 0.1], similarity_top_k=1)).ids
    ['a']

"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import BasePydanticVectorStore, MetadataFilters, VectorStoreQuery, VectorStoreQueryResult

import ragstore
from llama_index.vector_stores.ragstore import operations
from llama_index.vector_stores.ragstore.connections import (
    CollectionTarget,
    InvalidConfigurationError,
    RemoteAsyncCollection,
    creation_kwargs,
    store_address,
)
from llama_index.vector_stores.ragstore.driving import Operation, run_async, run_sync
from llama_index.vector_stores.ragstore.embedding import RagstoreEmbedding
from llama_index.vector_stores.ragstore.errors import MissingCollectionError
from llama_index.vector_stores.ragstore.text_modes import TEXT_MODES
from ragstore.collection_schema import has_bm25_index
from ragstore.embeddings import build_embedding_function, embedding_functions_conflict

T = TypeVar("T")
FALLBACK_MAX_BATCH_SIZE = 16384


def _engine_batch_size(collection: Any) -> Callable[[], Any] | None:
    """The batch-limit getter of the engine behind ``collection`` (ragstore exposes it on clients only)."""
    api = getattr(collection, "_api", None)
    getter = getattr(api, "get_max_batch_size", None)
    return getter if callable(getter) else None


class RagstoreVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store backed by a ragstore collection (embedded, persistent or remote).

    Nodes are stored with their text, metadata and relationships (``stores_text=True``) and
    rebuilt on reads; ``add`` upserts (re-adding a node id replaces the node). Every
    ``FilterOperator`` and ``AND``/``OR``/``NOT`` condition, nested, becomes one native ragstore
    ``where`` (see :mod:`llama_index.vector_stores.ragstore.translation` for the semantics).
    Queries run in ``default``, ``mmr``, ``hybrid`` (``alpha`` weighs vector against BM25),
    ``sparse`` and ``text_search`` (BM25 alone) mode; the last three search the collection's BM25
    index, which the collections this store creates have unless ``enable_hybrid=False`` (see
    :mod:`llama_index.vector_stores.ragstore.text_modes`). The ``a*`` methods are native coroutines on a
    remote store (``ragstore.AsyncHttpClient``) and run the sync call in a worker thread otherwise.

    Args:
        collection: A ``ragstore.Collection`` to use (any client mode).
        async_collection: A ``ragstore.AsyncCollection`` for the ``a*`` methods (alone, the store is async-only).
        collection_name: Collection to open or create when no collection is given.
        persist_dir: Store directory (``PersistentClient``).
        host: Server host (``HttpClient`` and, for the ``a*`` methods, ``AsyncHttpClient``).
        port: Server port (default 8000).
        ssl: Use HTTPS.
        headers: Extra HTTP headers, e.g. ``{"Authorization": "Bearer <token>"}``.
        collection_kwargs: ``get_or_create_collection`` arguments (default: cosine space, no embedding function).
        embed_model: The :class:`RagstoreEmbedding` the index embeds with: a new collection records its
            function (name and config) and takes the function's space, as ``create_collection`` does, so
            ``ragstore query`` and ``get_collection`` embed queries the same way. Pass the same object to
            ``VectorStoreIndex(..., embed_model=...)``; :attr:`embed_model` gives it back.
        flat_metadata: Reject metadata ragstore cannot store (nested dicts, mixed lists); ``False`` keeps
            such values in the node only, unfilterable.
        max_batch_size: Records per write; default: the client's ``get_max_batch_size()``.
        enable_hybrid: Create a new collection with a BM25 index on the node texts (for the ``hybrid``,
            ``sparse`` and ``text_search`` modes; default ``True``). An existing collection keeps its schema,
            and a ``schema`` in ``collection_kwargs`` takes precedence.

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("store-example", embedding_function=None)
        >>> RagstoreVectorStore(collection=col).client is col
        True

    """

    stores_text: bool = True
    flat_metadata: bool = True
    collection_name: str | None = None
    persist_dir: str | None = None
    host: str | None = None
    port: int | None = None
    ssl: bool = False
    headers: dict[str, str] | None = None
    collection_kwargs: dict[str, Any] = Field(default_factory=dict)
    max_batch_size: int | None = Field(default=None, ge=1)
    enable_hybrid: bool = True

    _collection: Any = PrivateAttr(default=None)
    _async_collection: Any = PrivateAttr(default=None)
    _remote: RemoteAsyncCollection | None = PrivateAttr(default=None)
    _owned_client: Any = PrivateAttr(default=None)
    _client_batch_size: int | None = PrivateAttr(default=None)
    _bm25_by_collection: dict[Any, bool] = PrivateAttr(default_factory=dict)
    _embed_model: RagstoreEmbedding | None = PrivateAttr(default=None)

    def __init__(
        self,
        collection: ragstore.Collection | None = None,
        *,
        async_collection: ragstore.AsyncCollection | None = None,
        collection_name: str | None = None,
        persist_dir: str | None = None,
        host: str | None = None,
        port: int | None = None,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        collection_kwargs: dict[str, Any] | None = None,
        flat_metadata: bool = True,
        max_batch_size: int | None = None,
        enable_hybrid: bool = True,
        embed_model: RagstoreEmbedding | None = None,
        **kwargs: Any,
    ) -> None:
        if embed_model is not None and not isinstance(embed_model, RagstoreEmbedding):
            raise InvalidConfigurationError(
                f"embed_model= takes a RagstoreEmbedding (it is recorded on the collection), got {type(embed_model).__name__}; "
                "give other LlamaIndex embedding models to the index only"
            )
        if isinstance(collection, ragstore.AsyncCollection):
            raise MissingCollectionError("collection= takes a sync ragstore.Collection; pass an AsyncCollection as async_collection=")
        if async_collection is not None and not isinstance(async_collection, ragstore.AsyncCollection):
            raise MissingCollectionError(f"async_collection= takes a ragstore.AsyncCollection, got {type(async_collection).__name__}")
        given = collection is not None or async_collection is not None
        if given and (collection_name is not None or persist_dir is not None or host is not None):
            raise InvalidConfigurationError("Give a collection, or collection_name with persist_dir/host, not both")
        fields: dict[str, Any] = {
            "collection_name": collection_name,
            "persist_dir": persist_dir,
            "host": host,
            "port": port,
            "ssl": ssl,
            "headers": headers,
            "collection_kwargs": collection_kwargs or {},
            "flat_metadata": flat_metadata,
            "max_batch_size": max_batch_size,
            "enable_hybrid": enable_hybrid,
        }
        super().__init__(**fields, **kwargs)
        self._embed_model = embed_model
        if given:
            _check_embedding(collection if collection is not None else async_collection, embed_model)
            self._collection, self._async_collection = collection, async_collection
            return
        if collection_name is None:
            raise InvalidConfigurationError("Give a collection or a collection_name")
        function = embed_model.embedding_function if embed_model is not None else None
        target = CollectionTarget(
            collection_name,
            store_address(persist_dir, host, port, ssl, headers),
            creation_kwargs(collection_kwargs, enable_hybrid, function),
        )
        opened = target.open()
        self._collection, self._owned_client, self._client_batch_size = opened.collection, opened.client, opened.max_batch_size
        if target.address.kind == "http":
            self._remote = RemoteAsyncCollection(target)

    @classmethod
    def from_params(
        cls,
        collection_name: str,
        persist_dir: str | None = None,
        host: str | None = None,
        port: int | None = None,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        collection_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RagstoreVectorStore:
        """A store on ``collection_name``: on disk with ``persist_dir``, on a server with ``host``, else in memory.

        Raises:
            InvalidConfigurationError: both ``persist_dir`` and ``host``, or ``port`` without ``host``.

        Example:
            >>> RagstoreVectorStore.from_params("params-example").collection_name
            'params-example'

        """
        return cls(
            collection_name=collection_name,
            persist_dir=persist_dir,
            host=host,
            port=port,
            ssl=ssl,
            headers=headers,
            collection_kwargs=collection_kwargs,
            **kwargs,
        )

    @classmethod
    def from_collection(cls, collection: ragstore.Collection, **kwargs: Any) -> RagstoreVectorStore:
        """A store on an existing collection (the chroma integration's ``from_collection``).

        Example:
            >>> import ragstore
            >>> col = ragstore.EphemeralClient().create_collection("from-col", embedding_function=None)
            >>> RagstoreVectorStore.from_collection(col).client is col
            True

        """
        return cls(collection=collection, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this store under."""
        return "RagstoreVectorStore"

    @property
    def client(self) -> Any:
        """The ragstore collection (the async one for an async-only store)."""
        return self._collection if self._collection is not None else self._async_collection

    @property
    def embed_model(self) -> RagstoreEmbedding | None:
        """The embedding model for this store's collection (``None`` if it is not known).

        The ``embed_model`` given, else one over the function the collection records (e.g. one ``ragstore ingest`` made).

        Example:
            >>> import ragstore
            >>> from ragstore.embeddings import HashingEmbeddingFunction
            >>> col = ragstore.EphemeralClient().create_collection("embed-example", embedding_function=HashingEmbeddingFunction(dim=8))
            >>> RagstoreVectorStore(collection=col).embed_model.model_name
            'ragstore_hashing'

        """
        if self._embed_model is None:
            collection = self.client
            # A store opens its collection with embedding_function=None (LlamaIndex embeds), so the handle has
            # none: rebuild the function from the description the collection persists.
            function = getattr(collection, "embedding_function", None) or build_embedding_function(
                (collection.configuration or {}).get("embedding_function")
            )
            if function is not None:
                self._embed_model = RagstoreEmbedding(function)
        return self._embed_model

    # ------------------------------------------------------------------ plumbing

    def _sync_collection(self) -> Any:
        if self._collection is None:
            raise MissingCollectionError("This store has only an async collection: use the a* methods, or pass collection=")
        return self._collection

    def _batch_size(self, collection: Any) -> int:
        if self.max_batch_size is not None:
            return self.max_batch_size
        if self._client_batch_size is None:
            getter = _engine_batch_size(collection)
            self._client_batch_size = int(getter()) if getter is not None else FALLBACK_MAX_BATCH_SIZE
        return self._client_batch_size

    def _space(self, collection: Any) -> str:
        hnsw = (collection.configuration or {}).get("hnsw") or {}
        return str(hnsw.get("space", "l2"))

    def _has_bm25(self, collection: Any) -> bool:
        """Whether ``collection`` has a BM25 index (cached by id: a collection's schema is fixed at creation; reading it costs ~0.25 ms)."""
        if collection.id not in self._bm25_by_collection:
            self._bm25_by_collection[collection.id] = has_bm25_index(collection.schema)
        return self._bm25_by_collection[collection.id]

    def _query(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> Callable[[Any, int], Operation[VectorStoreQueryResult]]:
        def build(collection: Any, size: int) -> Operation[VectorStoreQueryResult]:
            bm25 = query.mode in TEXT_MODES and self._has_bm25(collection)
            return operations.query_nodes(
                query, space=self._space(collection), kwargs=kwargs, bm25_index=bm25, collection_name=collection.name
            )

        return build

    def _run(self, build: Any) -> Any:
        collection = self._sync_collection()
        return run_sync(collection, build(collection, self._batch_size(collection)))

    async def _arun(self, build: Any) -> Any:
        if self._remote is not None:
            collection, limit = await self._remote.get()
            return await run_async(collection, build(collection, self.max_batch_size or limit))
        if self._async_collection is not None:
            collection = self._async_collection
            if self.max_batch_size is None and self._client_batch_size is None:
                getter = _engine_batch_size(collection)
                self._client_batch_size = int(await getter()) if getter is not None else FALLBACK_MAX_BATCH_SIZE
            operation: Operation[Any] = build(collection, self.max_batch_size or self._client_batch_size)
            return await run_async(collection, operation)
        return await asyncio.to_thread(self._run, build)

    # ------------------------------------------------------------------ writes

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert embedded nodes, in batches of the client's limit; returns their ids.

        Raises:
            InvalidNodeError: a node without embedding, or metadata ragstore cannot store.

        """
        _no_kwargs("add", add_kwargs)
        return self._run(lambda c, size: operations.add_nodes(nodes, batch_size=size, flat_metadata=self.flat_metadata))  # type: ignore[no-any-return]

    async def async_add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """``add`` as a coroutine."""
        _no_kwargs("async_add", add_kwargs)
        return await self._arun(lambda c, size: operations.add_nodes(nodes, batch_size=size, flat_metadata=self.flat_metadata))  # type: ignore[no-any-return]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        _no_kwargs("delete", delete_kwargs)
        self._run(lambda c, size: operations.delete_document(ref_doc_id))

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """``delete`` as a coroutine."""
        _no_kwargs("adelete", delete_kwargs)
        await self._arun(lambda c, size: operations.delete_document(ref_doc_id))

    def delete_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any) -> None:
        """Delete nodes by id and/or filters (both: the nodes satisfying both); ``ValueError`` for neither."""
        _no_kwargs("delete_nodes", delete_kwargs)
        self._run(lambda c, size: operations.delete_nodes(node_ids, filters, batch_size=size))

    async def adelete_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any) -> None:
        """``delete_nodes`` as a coroutine."""
        _no_kwargs("adelete_nodes", delete_kwargs)
        await self._arun(lambda c, size: operations.delete_nodes(node_ids, filters, batch_size=size))

    def clear(self) -> None:
        """Delete every node of the collection (the collection itself stays)."""
        self._run(lambda c, size: operations.clear(batch_size=size))

    async def aclear(self) -> None:
        """``clear`` as a coroutine."""
        await self._arun(lambda c, size: operations.clear(batch_size=size))

    # ------------------------------------------------------------------ reads

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """Stored nodes by id (in that order; missing ids skipped) and/or filters; all nodes for neither."""
        return self._run(lambda c, size: operations.get_nodes(node_ids, filters))  # type: ignore[no-any-return]

    async def aget_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """``get_nodes`` as a coroutine."""
        return await self._arun(lambda c, size: operations.get_nodes(node_ids, filters))  # type: ignore[no-any-return]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The nearest nodes (``default``), an MMR selection (``mmr``), BM25 (``sparse``, ``text_search``) or both fused (``hybrid``).

        Args:
            query: The query; ``filters``, ``node_ids`` and ``doc_ids`` restrict the candidates in every mode.
                The text modes search ``query_str``; ``hybrid`` also takes ``alpha`` (default 0.5; 1 = vector
                only, 0 = BM25 only), ``hybrid_top_k`` and ``sparse_top_k``, as Qdrant's store reads them.
            **kwargs: ``where`` / ``where_document`` (native ragstore filters, ANDed), ``mmr_threshold``,
                ``mmr_prefetch_k`` or ``mmr_prefetch_factor`` (not both).

        Raises:
            UnsupportedQueryError: another mode, unknown kwargs, both prefetch arguments, or a text mode on a
                collection without a BM25 index or without ``query_str``.
            UnsupportedFilterError: a filter operator used with a value it cannot take.

        """
        return self._run(self._query(query, kwargs))  # type: ignore[no-any-return]

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """``query`` as a coroutine."""
        return await self._arun(self._query(query, kwargs))  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the client this store opened itself (``from_params``); a given collection's client is the caller's."""
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    async def aclose(self) -> None:
        """Close the async client of the running loop (remote stores) and the sync client this store opened."""
        if self._remote is not None:
            await self._remote.aclose()
        await asyncio.to_thread(self.close)


def _check_embedding(collection: Any, embed_model: RagstoreEmbedding | None) -> None:
    """Refuse an ``embed_model`` whose function differs from the one ``collection`` records (chromadb's conflict rule)."""
    if embed_model is None:
        return
    conflict = embedding_functions_conflict((collection.configuration or {}).get("embedding_function"), embed_model.embedding_function)
    if conflict is not None:
        raise InvalidConfigurationError(conflict)


def _no_kwargs(method: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
