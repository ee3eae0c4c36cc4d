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

import numpy as np
import numpy.typing as npt

from ragstore.api import API
from ragstore.embeddings.base import embed
from ragstore.errors import BatchSizeExceededError, InvalidArgumentError
from ragstore.filters import parse_where, parse_where_document
from ragstore.types import (
    DEFAULT_GET_INCLUDE,
    DEFAULT_QUERY_INCLUDE,
    PEEK_INCLUDE,
    CollectionModel,
    GetResult,
    QueryResult,
    RecordSet,
)
from ragstore.validation import (
    check_lengths,
    normalize_documents,
    normalize_embeddings,
    normalize_ids,
    normalize_metadatas,
    normalize_uris,
    validate_include,
    validate_n_results,
    validate_non_negative_int,
)


class DeleteResult(TypedDict):
    """What ``Collection.delete`` returns: how many records were really deleted."""

    deleted: int


class Collection:
    """A named set of records (ids, embeddings, documents, metadata, URIs).

    Get one from a client (``client.get_or_create_collection("docs")``);
    do not construct it directly.
    """

    def __init__(self, api: API, model: CollectionModel, embedding_function: Any | None, data_loader: Any | None = None) -> None:
        self._api = api
        self._model = model
        self._embedding_function = embedding_function
        self._data_loader = data_loader

    # ------------------------------------------------------------------ properties

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
        return f"Collection(name={self.name})"

    # ------------------------------------------------------------------ writes

    def _prepare(
        self, op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any, images: Any, uris: Any
    ) -> tuple[list[str], npt.NDArray[np.float32] | None, list[Any] | None, list[str | None] | None, list[str | None] | None]:
        if images is not None:
            raise InvalidArgumentError(f"ragstore does not embed images; pass embeddings instead in {op}.")
        id_list = normalize_ids(ids, op)
        max_batch = self._api.get_max_batch_size()
        if len(id_list) > max_batch:
            raise BatchSizeExceededError(f"Batch size {len(id_list)} exceeds maximum batch size {max_batch}")
        vectors = normalize_embeddings(embeddings, op) if embeddings is not None else None
        metas = normalize_metadatas(metadatas, op, allow_none_values=op != "add") if metadatas is not None else None
        docs = normalize_documents(documents, op, allow_none=vectors is not None) if documents is not None else None
        uri_list = normalize_uris(uris, op) if uris is not None else None
        check_lengths(op, ids=id_list, embeddings=vectors, metadatas=metas, documents=docs, uris=uri_list)
        return id_list, vectors, metas, docs, uri_list

    def add(
        self, ids: Any, embeddings: Any = None, metadatas: Any = None, documents: Any = None, images: Any = None, uris: Any = None
    ) -> None:
        """Add records; ids that already exist are skipped, as in chromadb.

        Documents without embeddings are embedded (skipped ids are never embedded).

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("add-example")
            >>> col.add(ids="a", embeddings=[1.0, 2.0], metadatas={"page": 1})
            >>> col.count()
            1

        """
        id_list, vectors, metas, docs, uri_list = self._prepare("add", ids, embeddings, metadatas, documents, images, uris)
        if vectors is None:
            if docs is None:
                raise InvalidArgumentError("Exactly one of documents, uris, images must be provided in add.")
            existing = set(self._api.get(self.id, ids=id_list, include=[])["ids"])
            keep = [i for i, id_ in enumerate(id_list) if id_ not in existing]
            if not keep:
                return
            id_list = [id_list[i] for i in keep]
            docs = [docs[i] for i in keep]
            metas = [metas[i] for i in keep] if metas is not None else None
            uri_list = [uri_list[i] for i in keep] if uri_list is not None else None
            vectors = embed(self._embedding_function, [d for d in docs if d is not None], query=False, op="add")
        self._api.add(self.id, RecordSet(id_list, vectors, metas, docs, uri_list))

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
        id_list, vectors, metas, docs, uri_list = self._prepare("upsert", ids, embeddings, metadatas, documents, images, uris)
        if vectors is None:
            if docs is None:
                raise InvalidArgumentError("Exactly one of documents, images must be provided in upsert.")
            vectors = embed(self._embedding_function, [d for d in docs if d is not None], query=False, op="upsert")
        self._api.upsert(self.id, RecordSet(id_list, vectors, metas, docs, uri_list))

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
        id_list, vectors, metas, docs, uri_list = self._prepare("update", ids, embeddings, metadatas, documents, images, uris)
        if vectors is None and docs is not None:
            vectors = embed(self._embedding_function, [d for d in docs if d is not None], query=False, op="update")
        self._api.update(self.id, RecordSet(id_list, vectors, metas, docs, uri_list))

    def delete(self, ids: Any = None, where: Any = None, where_document: Any = None, limit: int | None = None) -> DeleteResult:
        """Delete records by id and/or filter; returns ``{"deleted": n}`` with the real count.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("delete-example")
            >>> col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]])
            >>> col.delete(ids=["a", "missing"])
            {'deleted': 1}

        """
        if ids is None and not where and not where_document:
            raise InvalidArgumentError("At least one of ids, where, or where_document must be provided in delete.")
        id_list = normalize_ids(ids, "delete") if ids is not None else None
        parse_where(where, "delete")
        parse_where_document(where_document, "delete")
        return {"deleted": self._api.delete(self.id, id_list, where or None, where_document or None, limit)}

    # ------------------------------------------------------------------ reads

    def count(self) -> int:
        """How many records the collection holds."""
        return self._api.count(self.id)

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
        include = self._check_include(include, "get", allow_distances=False)
        id_list = normalize_ids(ids, "get") if ids is not None else None
        validate_non_negative_int(limit, "limit", "get")
        validate_non_negative_int(offset, "offset", "get")
        parse_where(where, "get")
        parse_where_document(where_document, "get")
        api_include = [i for i in include if i != "data"]
        return self._api.get(self.id, id_list, where or None, where_document or None, limit, offset, api_include)

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
    ) -> QueryResult:
        """The ``n_results`` nearest records to each query, nearest first.

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("query-example")
            >>> col.add(ids=["near", "far"], embeddings=[[1.0, 1.0], [9.0, 9.0]])
            >>> col.query(query_embeddings=[1.0, 1.1], n_results=1)["ids"]
            [['near']]

        """
        if query_images is not None or query_uris is not None:
            raise InvalidArgumentError("ragstore does not embed images or URIs; pass query_embeddings or query_texts in query.")
        if query_embeddings is None and query_texts is None:
            raise InvalidArgumentError("At least one of one of embeddings, documents, images, uris must be provided in query.")
        if query_embeddings is not None and query_texts is not None:
            raise InvalidArgumentError("Expected only one of query_embeddings or query_texts in query, got both.")
        include = self._check_include(include, "query", allow_distances=True)
        n_results = validate_n_results(n_results)
        parse_where(where, "query")
        parse_where_document(where_document, "query")
        if query_embeddings is not None:
            vectors = normalize_embeddings(query_embeddings, "query")
        else:
            texts = normalize_documents(query_texts, "query", allow_none=False)
            if not texts:
                raise InvalidArgumentError("Expected query_texts to be a non-empty list in query.")
            vectors = embed(self._embedding_function, [t for t in texts if t is not None], query=True, op="query")
        id_list = None
        if ids is not None:
            id_list = [] if isinstance(ids, (list, tuple)) and len(ids) == 0 else normalize_ids(ids, "query")
        api_include = [i for i in include if i != "data"]
        return self._api.query(self.id, vectors, n_results, id_list, where or None, where_document or None, api_include)

    def _check_include(self, include: Any, op: str, allow_distances: bool) -> list[str]:
        checked = validate_include(include, op, allow_distances=allow_distances)
        if "data" in checked and self._data_loader is None:
            raise InvalidArgumentError("You must set a data loader on the collection if loading from URIs.")
        return checked

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
        self._model = self._api.modify_collection(self.id, name, metadata, configuration)
