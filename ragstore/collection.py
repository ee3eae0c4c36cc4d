"""``Collection``: add, query and manage the records of one collection.

It normalises and validates input (one-or-many, numpy or lists), embeds
documents and query texts with the collection's embedding function, then
calls the engine through the :class:`~ragstore.api.API` seam.

Example:
    >>> import ragstore
    >>> col = ragstore.Client().create_collection("notes")
    >>> col.add(ids=["n1", "n2"], documents=["buy milk", "call mom"])
    >>> col.query(query_texts=["milk"], n_results=1)["ids"]
    [['n1']]

"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from ragstore.api import API
from ragstore.collection_requests import ModifyCollectionRequest
from ragstore.collection_schema import Schema
from ragstore.collection_schema.index_configs import EMBEDDING_KEY
from ragstore.collection_schema.reconcile import render_schema
from ragstore.embeddings.base import embed
from ragstore.errors import InvalidArgumentError
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


class DeleteResult(TypedDict):
    """What ``Collection.delete`` returns: how many records were really deleted."""

    deleted: int


class CollectionBase:
    """What every collection handle (sync or async) holds and answers without I/O.

    :class:`Collection` and :class:`ragstore.AsyncCollection` add the calls to the engine;
    argument handling for those calls is in :mod:`ragstore.preparation`.
    """

    _kind = "Collection"  # shown by repr, as chromadb shows it

    def __init__(self, model: CollectionModel, embedding_function: Any | None, data_loader: Any | None = None) -> None:
        self._model = model
        self._embedding_function = embedding_function
        self._data_loader = data_loader

    @property
    def id(self) -> uuid.UUID:
        """The collection's UUID."""
        return self._model.id

    @property
    def name(self) -> str:
        """The collection's name."""
        return self._model.name

    @property
    def metadata(self) -> dict[str, Any] | None:
        """The collection's metadata."""
        return self._model.metadata

    @property
    def configuration(self) -> dict[str, Any]:
        """The collection's configuration (``{"hnsw": {...}, ...}``)."""
        return self._model.configuration_json

    @property
    def configuration_json(self) -> dict[str, Any]:
        """Same as :attr:`configuration` (chromadb's name for the JSON form)."""
        return self._model.configuration_json

    @property
    def schema(self) -> Schema | None:
        """The collection's indexes as chromadb's ``Schema``, its vector index holding this handle's embedding function.

        Every collection has one (chromadb's default when it was created without); it is
        built anew on each read, so changing it changes nothing stored.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("schema-example", configuration={"hnsw": {"space": "ip"}})
            >>> col.schema.keys["#embedding"].float_list.vector_index.config.space
            'ip'

        """
        if self._model.serialized_schema is None:
            return None
        # The vector index's function is this handle's, not one rebuilt from its description (which may load a model).
        schema = Schema.deserialize_from_json(render_schema(self._model.serialized_schema, self._model.configuration_json, functions=False))
        for value_types in (schema.defaults, schema.keys.get(EMBEDDING_KEY)):
            if value_types is not None and value_types.float_list is not None and value_types.float_list.vector_index is not None:
                value_types.float_list.vector_index.config.embedding_function = self._embedding_function
        return schema

    @property
    def tenant(self) -> str:
        """The owning tenant."""
        return self._model.tenant

    @property
    def database(self) -> str:
        """The owning database."""
        return self._model.database

    @property
    def embedding_function(self) -> Any | None:
        """The function that embeds documents and query texts (``None`` if none)."""
        return self._embedding_function

    def __repr__(self) -> str:
        return f"{self._kind}(name={self.name})"

    def _include(self, include: Any) -> Any:
        """``include`` as given, refusing ``"data"`` without a data loader (the request checks the rest)."""
        if isinstance(include, (list, tuple)) and "data" in include and self._data_loader is None:
            raise InvalidArgumentError("You must set a data loader on the collection if loading from URIs.")
        return include

    @staticmethod
    def _query_texts(texts: Any, images: Any, uris: Any) -> Any:
        """``query_texts`` as given, refusing images and URIs (ragstore embeds text only)."""
        if images is not None or uris is not None:
            raise InvalidArgumentError("ragstore does not embed images or URIs; pass query_embeddings or query_texts in query.")
        return texts


class Collection(CollectionBase):
    """A named set of records (ids, embeddings, documents, metadata, URIs).

    Get one from a client (``client.get_or_create_collection("docs")``);
    do not construct it directly.
    """

    def __init__(self, api: API, model: CollectionModel, embedding_function: Any | None, data_loader: Any | None = None) -> None:
        super().__init__(model, embedding_function, data_loader)
        self._api = api

    # ------------------------------------------------------------------ writes

    def _write_request(self, op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any, images: Any, uris: Any) -> WriteRequest:
        id_list = write_ids(op, ids, images)
        return prepare_write(op, id_list, self._api.get_max_batch_size(), embeddings, metadatas, documents, uris)

    def _embed_records(self, request: WriteRequest) -> RecordSet:
        texts = request.texts_to_embed()
        vectors = embed(self._embedding_function, texts, query=False, op=request.op) if texts is not None else None
        return request.record_set(vectors)

    def add(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Add records; ids that already exist are skipped, as in chromadb, with one warning naming them.

        Documents without embeddings are embedded (skipped ids are never embedded).
        The warning is :func:`ragstore.readd_warning.warn_existing` (where it is logged: that module).

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("add-example")
            >>> col.add(ids="a", embeddings=[1.0, 2.0], metadatas={"page": 1})
            >>> col.count()
            1

        """
        request = self._write_request("add", ids, embeddings, metadatas, documents, images, uris)
        if request.skips_existing():  # texts to embed: read which ids exist, so they are not embedded for nothing
            existing = self._api.get(self.id, GetRequest(ids=request.ids, include=()))["ids"]
            warn_existing(request.ids, existing)
            request = request.without(existing)
            if not request.ids:
                return
        self._api.write(self.id, "add", self._embed_records(request))  # else the engine warns as it skips them

    def upsert(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Insert new records and update existing ones (metadata merged key by key, ``None`` deletes a key).

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("upsert-example")
            >>> col.upsert(ids="a", embeddings=[1.0], metadatas={"v": 1})
            >>> col.upsert(ids="a", embeddings=[2.0], metadatas={"w": 2})
            >>> col.get(ids="a")["metadatas"]
            [{'v': 1, 'w': 2}]

        """
        request = self._write_request("upsert", ids, embeddings, metadatas, documents, images, uris)
        self._api.write(self.id, "upsert", self._embed_records(request))

    def update(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Update existing records (missing ids are ignored); new documents are re-embedded.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("update-example")
            >>> col.add(ids="a", embeddings=[1.0], metadatas={"v": 1, "w": 2})
            >>> col.update(ids="a", metadatas={"w": None})
            >>> col.get(ids="a")["metadatas"]
            [{'v': 1}]

        """
        request = self._write_request("update", ids, embeddings, metadatas, documents, images, uris)
        self._api.write(self.id, "update", self._embed_records(request))

    def delete(self, ids: Any = None, where: Any = None, where_document: Any = None, limit: int | None = None) -> DeleteResult:
        """Delete records by id and/or filter; returns ``{"deleted": n}`` with the real count.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("delete-example")
            >>> col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]])
            >>> col.delete(ids=["a", "missing"])
            {'deleted': 1}

        """
        return {"deleted": self._api.delete(self.id, DeleteRequest(ids, where, where_document, limit))}

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        """How many records the collection holds."""
        return self._api.count(self.id)

    def get_indexing_status(self) -> IndexingStatus:
        """How far the vector index has taken in this collection's writes, as chromadb's client reports it.

        Writes are searchable as soon as they are acknowledged (records the index has not
        taken in yet are searched exactly); this tells how far the background indexer is.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("indexing-example")
            >>> col.add(ids=["a"], embeddings=[[1.0, 2.0]])
            >>> col.get_indexing_status().total_ops
            1

        """
        return self._api.get_indexing_status(self.id)

    def get(
        self,
        ids: Any = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: Any = None,
        include: Any = DEFAULT_GET_INCLUDE,
    ) -> GetResult:
        """Records by id and/or filter, in insertion order, paged by ``limit``/``offset``.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("get-example")
            >>> col.add(ids=["b", "a"], embeddings=[[1.0], [2.0]], documents=["B", "A"])
            >>> col.get(include=["documents"])["documents"]
            ['B', 'A']

        """
        return self._api.get(self.id, GetRequest(ids, where, where_document, limit, offset, self._include(include)))

    def peek(self, limit: int = 10) -> GetResult:
        """The first ``limit`` records with their embeddings."""
        return self.get(limit=limit, include=list(PEEK_INCLUDE))

    def query(
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
        """The ``n_results`` nearest records to each query, nearest first.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("query-example")
            >>> col.add(ids=["near", "far"], embeddings=[[1.0, 1.0], [9.0, 9.0]])
            >>> col.query(query_embeddings=[1.0, 1.1], n_results=1)["ids"]
            [['near']]

        """
        texts = self._query_texts(query_texts, query_images, query_uris)
        q = QueryRequest(query_embeddings, n_results, ids, where, where_document, self._include(include), texts=texts, mode=mode)
        if (to_embed := q.texts_to_embed()) is not None:
            q = q.with_embeddings(embed(self._embedding_function, to_embed, query=True, op="query"))
        return self._api.query(self.id, q)

    def search(self, searches: Any, read_level: ReadLevel | str = ReadLevel.INDEX_AND_WAL) -> SearchResult:
        """Search API searches (chromadb's ``Collection.search``): filter, dense and sparse (BM25) Knn, fusion.

        Text in a ``Knn`` is embedded first: on ``#embedding`` by the collection's function, on a
        sparse key by the function its schema declares. See docs/search-api.md.

        Example:
            >>> import ragstore
            >>> from ragstore import K, Knn, Search
            >>> col = ragstore.Client().create_collection("search-example", embedding_function=None)
            >>> col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"n": 1}, {"n": 2}])
            >>> col.search(Search().where(K("n") > 0).rank(Knn(query=[0.9, 0.1])).limit(1).select(K.SCORE))["ids"]
            [['a']]

        """
        request = embed_search_queries(SearchRequest(searches, read_level), self._embedding_function, self._model.serialized_schema)
        return self._api.search(self.id, request)

    # ------------------------------------------------------------------ management

    def modify(self, name: str | None = None, metadata: dict[str, Any] | None = None, configuration: dict[str, Any] | None = None) -> None:
        """Rename the collection, replace its metadata, or change search-time configuration.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("modify-example")
            >>> col.modify(configuration={"hnsw": {"ef_search": 200}})
            >>> col.configuration["hnsw"]["ef_search"]
            200

        """
        self._model = self._api.modify_collection(self.id, ModifyCollectionRequest(name, metadata, configuration))
