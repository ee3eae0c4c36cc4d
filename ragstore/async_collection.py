"""``AsyncCollection``: :class:`~ragstore.collection.Collection`'s methods as coroutines.

Arguments are normalised and checked by the same code as the sync collection
(:mod:`ragstore.preparation`), so results and errors are identical. Embedding
functions are synchronous and CPU-heavy, so they run in a worker thread
(``asyncio.to_thread``) and never block the event loop.

Example:
    >>> import asyncio
    >>> import uuid
    >>> from ragstore.http.async_client import AsyncHttpAPI
    >>> from ragstore.errors import InvalidArgumentError
    >>> from ragstore.types import CollectionModel
    >>> model = CollectionModel(id=uuid.uuid4(), name="docs", metadata=None, configuration_json={}, dimension=None)
    >>> col = AsyncCollection(AsyncHttpAPI("http://127.0.0.1:9"), model, embedding_function=None)
    >>> col
    AsyncCollection(name=docs)
    >>> try:
    ...     asyncio.run(col.query(query_texts=["needs an embedding function"]))
    ... except InvalidArgumentError as exc:
    ...     print(exc)
    You must provide an embedding function to compute embeddings in query.

"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ragstore.collection import CollectionBase, DeleteResult
from ragstore.collection_requests import ModifyCollectionRequest
from ragstore.embeddings.base import embed
from ragstore.preparation import WriteRequest, prepare_write, write_ids
from ragstore.readd_warning import warn_existing
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import ReadLevel, SearchResult
from ragstore.search_queries import embed_search_queries
from ragstore.types import (
    DEFAULT_GET_INCLUDE,
    DEFAULT_QUERY_INCLUDE,
    PEEK_INCLUDE,
    CollectionModel,
    GetResult,
    IndexingStatus,
    QueryResult,
    RecordSet,
)

if TYPE_CHECKING:
    from ragstore.async_api import AsyncAPI

T = TypeVar("T")


async def in_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread``: run blocking work (embedding, configuration) off the event loop.

    asyncio is imported here, not at module level: whoever awaits this has loaded it
    already, and ``import ragstore`` stays fast for code that never uses asyncio.
    """
    import asyncio

    return await asyncio.to_thread(func, *args, **kwargs)


class AsyncCollection(CollectionBase):
    """A named set of records, used from asyncio code (``await col.add(...)``).

    Get one from an async client (``await client.get_or_create_collection("docs")``);
    do not construct it directly. Properties (``id``, ``name``, ``metadata``,
    ``configuration``, ...) are plain attributes, as on :class:`~ragstore.Collection`.

    Example::

        client = await ragstore.AsyncHttpClient(port=8000)
        col = await client.get_or_create_collection("docs")
        await col.add(ids=["a", "b"], documents=["apples are red", "the sky is blue"])
        (await col.query(query_texts=["red apples"], n_results=1))["ids"]  # [['a']]

    """

    _kind = "AsyncCollection"

    def __init__(self, api: AsyncAPI, model: CollectionModel, embedding_function: Any | None, data_loader: Any | None = None) -> None:
        super().__init__(model, embedding_function, data_loader)
        self._api = api

    # ------------------------------------------------------------------ writes

    async def _write_request(
        self, op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any, images: Any, uris: Any
    ) -> WriteRequest:
        id_list = write_ids(op, ids, images)
        return prepare_write(op, id_list, await self._api.get_max_batch_size(), embeddings, metadatas, documents, uris)

    async def _embed_records(self, request: WriteRequest) -> RecordSet:
        texts = request.texts_to_embed()
        if texts is None:
            return request.record_set()
        return request.record_set(await in_thread(embed, self._embedding_function, texts, query=False, op=request.op))

    async def add(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Add records; ids that already exist are skipped (and never embedded) with one warning, as in :meth:`ragstore.Collection.add`.

        Example::

            await col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"page": 1}])

        """
        request = await self._write_request("add", ids, embeddings, metadatas, documents, images, uris)
        if request.skips_existing():  # as Collection.add: texts are not embedded for ids that exist
            existing = (await self._api.get(self.id, GetRequest(ids=request.ids, include=())))["ids"]
            warn_existing(request.ids, existing)
            request = request.without(existing)
            if not request.ids:
                return
        await self._api.write(self.id, "add", await self._embed_records(request))

    async def upsert(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Insert new records and update existing ones (metadata merged key by key, ``None`` deletes a key).

        Example::

            await col.upsert(ids="a", documents="apples are green", metadatas={"v": 2})

        """
        request = await self._write_request("upsert", ids, embeddings, metadatas, documents, images, uris)
        await self._api.write(self.id, "upsert", await self._embed_records(request))

    async def update(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Update existing records (missing ids are ignored); new documents are re-embedded.

        Example::

            await col.update(ids="a", metadatas={"v": None})  # deletes the key "v"

        """
        request = await self._write_request("update", ids, embeddings, metadatas, documents, images, uris)
        await self._api.write(self.id, "update", await self._embed_records(request))

    async def delete(self, ids: Any = None, where: Any = None, where_document: Any = None, limit: int | None = None) -> DeleteResult:
        """Delete records by id and/or filter; returns ``{"deleted": n}`` with the real count.

        Example::

            await col.delete(where={"page": {"$gt": 10}})  # {'deleted': 3}

        """
        return {"deleted": await self._api.delete(self.id, DeleteRequest(ids, where, where_document, limit))}

    # ------------------------------------------------------------------ reads

    async def count(self) -> int:
        """How many records the collection holds."""
        return await self._api.count(self.id)

    async def get_indexing_status(self) -> IndexingStatus:
        """How far the vector index has taken in this collection's writes (see :meth:`ragstore.Collection.get_indexing_status`).

        Example::

            status = await col.get_indexing_status()  # IndexingStatus(num_indexed_ops=..., ...)

        """
        return await self._api.get_indexing_status(self.id)

    async def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records by id and/or filter, in insertion order, paged by ``limit``/``offset``.

        Example::

            (await col.get(where={"page": 1}, include=["documents"]))["documents"]

        """
        return await self._api.get(self.id, GetRequest(ids, where, where_document, limit, offset, self._include(include)))

    async def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records with their embeddings."""
        return await self.get(limit=limit, include=list(PEEK_INCLUDE))

    async def query(
        self,
        query_embeddings: Any = None,
        query_texts: Any = None,
        query_images: Any = None,
        query_uris: Any = None,
        ids: Any = None,
        n_results: int = 10,
        where: Any = None,
        where_document: Any = None,
        include: Any = DEFAULT_QUERY_INCLUDE,
        mode: str = "dense",
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query, nearest first (query texts embedded in a thread).

        Example::

            (await col.query(query_texts=["red fruit"], n_results=2, where={"page": 1}))["ids"]

        """
        texts = self._query_texts(query_texts, query_images, query_uris)
        q = QueryRequest(query_embeddings, n_results, ids, where, where_document, self._include(include), texts=texts, mode=mode)
        if (to_embed := q.texts_to_embed()) is not None:
            q = q.with_embeddings(await in_thread(embed, self._embedding_function, to_embed, query=True, op="query"))
        return await self._api.query(self.id, q)

    async def search(self, searches: Any, read_level: ReadLevel | str = ReadLevel.INDEX_AND_WAL) -> SearchResult:
        """Search API searches (chromadb's ``AsyncCollection.search``); text queries are embedded in a thread.

        Example::

            await col.search(Search().rank(Rrf([Knn(query="red", return_rank=True), Knn(query="red", key="bm25", return_rank=True)])))

        """
        request = SearchRequest(searches, read_level)
        embedded = await in_thread(embed_search_queries, request, self._embedding_function, self._model.serialized_schema)
        return await self._api.search(self.id, embedded)

    # ------------------------------------------------------------------ management

    async def modify(
        self, name: str | None = None, metadata: dict[str, Any] | None = None, configuration: dict[str, Any] | None = None
    ) -> None:
        """Rename the collection, replace its metadata, or change search-time configuration.

        Example::

            await col.modify(configuration={"hnsw": {"ef_search": 200}})

        """
        self._model = await self._api.modify_collection(self.id, ModifyCollectionRequest(name, metadata, configuration))


__all__ = ["AsyncCollection", "DeleteResult"]
