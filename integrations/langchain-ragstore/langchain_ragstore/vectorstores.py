"""``RagstoreVectorStore``: a LangChain ``VectorStore`` backed by a ragstore collection.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=8))
    >>> store.add_texts(["apples are red", "the sky is blue"], metadatas=[{"kind": "fruit"}, {"kind": "sky"}], ids=["a", "b"])
    ['a', 'b']
    >>> [doc.id for doc in store.similarity_search("apples are red", k=1)]
    ['a']
    >>> store.similarity_search("apples are red", k=2, filter={"kind": "sky"})[0].page_content
    'the sky is blue'

"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ragstore
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from langchain_core.vectorstores.utils import maximal_marginal_relevance
from typing_extensions import Self

from langchain_ragstore.embeddings import RagstoreEmbeddings
from langchain_ragstore.filters import normalize_filter
from langchain_ragstore.records import (
    batches,
    documents_from_get,
    documents_from_query,
    embeddings_from_query,
    prepare_ids,
    prepare_metadatas,
    upsert_metadatas,
)
from langchain_ragstore.relevance import collection_space, relevance_fn
from langchain_ragstore.sources import ConflictingSourcesError, StoreSource, resolve_source

DEFAULT_K = 4
DEFAULT_COLLECTION_NAME = "langchain"
DEFAULT_MAX_BATCH_SIZE = 16384
"""ragstore's write limit, used when only a collection was given (a collection does not expose its client's limit)."""

_SEARCH_INCLUDE = ["documents", "metadatas", "distances"]
_MMR_INCLUDE = [*_SEARCH_INCLUDE, "embeddings"]


class MissingEmbeddingsError(ValueError):
    """The store has no embedding function (a collection without one was given and no ``embedding_function=``)."""


class AsyncOnlyStoreError(TypeError):
    """A sync method was called on a store built on an async client or collection: use the ``a*`` methods."""


@dataclass
class _AsyncState:
    """The async client and collection a remote store uses inside one event loop."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: Any = None
    collection: Any = None
    owned: bool = False

    def ready(self) -> bool:
        """Whether the collection is open (checked again under the lock, after another task may have opened it)."""
        return self.collection is not None


@dataclass(frozen=True)
class _Search:
    """The checked filter arguments of a search or delete call."""

    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    ids: list[str] | None


def _search_args(kwargs: dict[str, Any], op: str) -> _Search:
    """Pop ``filter``/``where``, ``where_document`` and ``ids`` from ``kwargs``; anything else is an error."""
    if "filter" in kwargs and "where" in kwargs:
        raise TypeError(f"{op}() got both filter= and where=; they are the same thing, give one")
    where = normalize_filter(kwargs.pop("filter", None) if "filter" in kwargs else kwargs.pop("where", None))
    where_document = normalize_filter(kwargs.pop("where_document", None))
    ids = kwargs.pop("ids", None)
    if kwargs:
        raise TypeError(f"{op}() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    if ids is not None and (isinstance(ids, str) or not all(isinstance(i, str) for i in ids)):
        raise TypeError(f"Expected ids= to be a list of strings, got {ids!r:.80}")
    return _Search(where, where_document, list(ids) if ids is not None else None)


def _check_k(k: int, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Expected {name} to be a positive int, got {k!r}")
    return k


def _check_mmr(k: int, fetch_k: int, lambda_mult: float) -> None:
    _check_k(k)
    _check_k(fetch_k, "fetch_k")
    if fetch_k < k:
        raise ValueError(f"Expected fetch_k ({fetch_k}) to be at least k ({k})")
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"Expected lambda_mult to be between 0 and 1, got {lambda_mult}")


def _mmr_select(embedding: list[float], result: dict[str, Any], k: int, lambda_mult: float) -> list[Document]:
    pairs = documents_from_query(result)
    chosen = maximal_marginal_relevance(
        np.asarray(embedding, dtype=np.float32), embeddings_from_query(result), lambda_mult=lambda_mult, k=k
    )
    return [pairs[i][0] for i in chosen]


class RagstoreVectorStore(VectorStore):
    """A LangChain vector store on a ragstore collection (in memory, on disk, or on a ``ragstore run`` server).

    LangChain embeds (with ``embedding_function``); ragstore stores and searches. Scores from
    ``similarity_search_with_score`` are ragstore distances (lower is nearer: squared L2,
    ``1 - cos`` or ``1 - dot``); relevance scores are in [0, 1] for every space
    (:mod:`langchain_ragstore.relevance`).

    Args:
        collection_name: The collection to use, created when missing.
        embedding_function: LangChain embeddings. ``None`` uses the collection's ragstore
            embedding function (for a new collection ragstore's default, all-MiniLM-L6-v2, offline).
        client: An existing ragstore client: ``ClientAPI`` (sync) or ``AsyncClientAPI`` (async methods only).
        persist_directory: A directory for a ``ragstore.PersistentClient``.
        host: A ``ragstore run`` server's host; sync calls use ``HttpClient``, async calls
            ``AsyncHttpClient`` (both opened on first use).
        port: The server's port (default 8000; only with ``host``).
        collection_metadata: Metadata of a new collection.
        collection_configuration: Configuration of a new collection, e.g. ``{"hnsw": {"space": "cosine"}}``.
        relevance_score_fn: Maps a distance to a relevance score; by default chosen from the collection's space.
        collection: An existing ragstore ``Collection`` or ``AsyncCollection`` (instead of a name and a source).
        headers: Extra HTTP headers for ``host`` (e.g. ``{"Authorization": "Bearer <token>"}``).
        create_collection_if_not_exists: ``False`` requires the collection to exist.

    Raises:
        ConflictingSourcesError: More than one of ``collection``, ``client``, ``persist_directory`` and ``host``,
            or collection settings together with an existing ``collection``.
        InvalidSourceError: ``client`` or ``collection`` is not a ragstore object.

    Example:
        >>> import ragstore
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> store = RagstoreVectorStore("notes", DeterministicFakeEmbedding(size=4), client=ragstore.EphemeralClient())
        >>> store.add_documents([Document(page_content="hi", id="n1")])
        ['n1']
        >>> store.get_by_ids(["n1"])[0].page_content
        'hi'

    """

    def __init__(
        self,
        collection_name: str = DEFAULT_COLLECTION_NAME,
        embedding_function: Embeddings | None = None,
        client: ragstore.ClientAPI | ragstore.AsyncClientAPI | None = None,
        persist_directory: str | Path | None = None,
        host: str | None = None,
        port: int | None = None,
        collection_metadata: dict[str, Any] | None = None,
        collection_configuration: dict[str, Any] | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        *,
        collection: ragstore.Collection | ragstore.AsyncCollection | None = None,
        headers: dict[str, str] | None = None,
        create_collection_if_not_exists: bool = True,
    ) -> None:
        if embedding_function is not None and not isinstance(embedding_function, Embeddings):
            raise TypeError(f"Expected embedding_function to be a LangChain Embeddings, got {type(embedding_function).__name__}")
        if relevance_score_fn is not None and not callable(relevance_score_fn):
            raise TypeError("Expected relevance_score_fn to be a callable from a distance to a relevance score")
        self._source: StoreSource = resolve_source(
            client=client, collection=collection, persist_directory=persist_directory, host=host, port=port, headers=headers
        )
        if collection is not None:
            if collection_metadata is not None or collection_configuration is not None:
                raise ConflictingSourcesError(
                    "collection_metadata= and collection_configuration= apply to a new collection, not to collection="
                )
            if collection_name not in (DEFAULT_COLLECTION_NAME, collection.name):
                raise ConflictingSourcesError(f"collection_name={collection_name!r} differs from the given collection {collection.name!r}")
            collection_name = collection.name
        self._collection_name = collection_name
        self._embedding_function = embedding_function
        self._collection_metadata = collection_metadata
        self._collection_configuration = collection_configuration
        self._relevance_score_fn_override = relevance_score_fn
        self._create_if_missing = create_collection_if_not_exists
        self._client: ragstore.ClientAPI | None = self._source.client if self._source.kind == "client" else None
        self._owns_client = False
        self._collection: ragstore.Collection | None = collection if isinstance(collection, ragstore.Collection) else None
        self._async_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncState] = weakref.WeakKeyDictionary()
        self._space: str | None = None
        self._default_embeddings: Embeddings | None = None
        if embedding_function is None:
            existing_ef = collection.embedding_function if collection is not None else ragstore.DefaultEmbeddingFunction()
            self._default_embeddings = RagstoreEmbeddings(existing_ef) if existing_ef is not None else None
        if self._source.kind in ("ephemeral", "persistent", "client", "collection"):
            self._sync_collection()  # local stores open at once, so a bad path or name fails here

    # ------------------------------------------------------------------ plumbing

    @property
    def embeddings(self) -> Embeddings | None:
        """The embeddings used for documents and queries (``RagstoreEmbeddings`` when none was given).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> emb = DeterministicFakeEmbedding(size=2)
            >>> RagstoreVectorStore(embedding_function=emb).embeddings is emb
            True

        """
        return self._embedding_function if self._embedding_function is not None else self._default_embeddings

    def _require_embeddings(self) -> Embeddings:
        embeddings = self.embeddings
        if embeddings is None:
            raise MissingEmbeddingsError("This store has no embedding function: pass embedding_function= (a LangChain Embeddings)")
        return embeddings

    def _collection_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self._embedding_function is not None:
            kwargs["embedding_function"] = None  # LangChain embeds; the collection records no function
        if not self._create_if_missing:
            return kwargs
        return {**kwargs, "configuration": self._collection_configuration, "metadata": self._collection_metadata}

    def _sync_collection(self) -> ragstore.Collection:
        if self._collection is not None:
            return self._collection
        client = self._sync_client()
        assert client is not None  # only collection sources have no client, and they have a collection
        kwargs = self._collection_kwargs()
        if self._create_if_missing:
            self._collection = client.get_or_create_collection(self._collection_name, **kwargs)
        else:
            self._collection = client.get_collection(self._collection_name, **kwargs)
        return self._collection

    def _sync_client(self) -> ragstore.ClientAPI | None:
        if self._source.is_async_only:
            raise AsyncOnlyStoreError(
                "This store was built on an async ragstore client or collection: "
                "use the async methods (aadd_texts, asimilarity_search, ...)"
            )
        if self._client is None and self._source.kind != "collection":
            self._client = self._new_sync_client()
            self._owns_client = True
        return self._client

    def _new_sync_client(self) -> ragstore.ClientAPI:
        source = self._source
        if source.kind == "persistent":
            assert source.persist_directory is not None
            return ragstore.PersistentClient(source.persist_directory)
        if source.kind == "http":
            assert source.host is not None
            return ragstore.HttpClient(host=source.host, port=source.port, headers=source.headers)
        return ragstore.EphemeralClient()

    def _max_batch_size(self) -> int:
        client = self._sync_client()
        return client.get_max_batch_size() if client is not None else DEFAULT_MAX_BATCH_SIZE

    async def _async_state(self) -> _AsyncState:
        """The async client and collection of the running event loop (remote stores only)."""
        loop = asyncio.get_running_loop()
        state = self._async_states.get(loop)
        if state is None:
            state = self._async_states[loop] = _AsyncState()
        if state.ready():
            return state
        async with state.lock:
            if state.ready():
                return state
            source = self._source
            if source.kind == "async_collection":
                state.collection = source.collection
                return state
            if source.kind == "async_client":
                state.client = source.client
            else:
                assert source.host is not None
                state.client = await ragstore.AsyncHttpClient(host=source.host, port=source.port, headers=source.headers)
                state.owned = True
            kwargs = self._collection_kwargs()
            if self._create_if_missing:
                state.collection = await state.client.get_or_create_collection(self._collection_name, **kwargs)
            else:
                state.collection = await state.client.get_collection(self._collection_name, **kwargs)
        return state

    async def _async_collection(self) -> ragstore.AsyncCollection:
        state = await self._async_state()
        collection: ragstore.AsyncCollection = state.collection
        if self._space is None:
            self._space = collection_space(collection.configuration, collection.metadata)
        return collection

    async def _async_max_batch_size(self) -> int:
        state = await self._async_state()
        return int(await state.client.get_max_batch_size()) if state.client is not None else DEFAULT_MAX_BATCH_SIZE

    @property
    def collection(self) -> ragstore.Collection:
        """The underlying (sync) ragstore collection.

        Example:
            >>> RagstoreVectorStore("my-notes").collection.name
            'my-notes'

        """
        return self._sync_collection()

    @property
    def client(self) -> ragstore.ClientAPI | None:
        """The sync ragstore client (``None`` when only a collection was given).

        Example:
            >>> RagstoreVectorStore().client.count_collections()
            1

        """
        return self._sync_client()

    def close(self) -> None:
        """Close the sync client this store opened itself (a given client stays open).

        Example:
            >>> RagstoreVectorStore().close()

        """
        if self._owns_client and self._client is not None:
            self._client.close()
        self._client, self._collection, self._owns_client = None, None, False

    async def aclose(self) -> None:
        """Close the async client this store opened in the running event loop, and the sync one.

        Example:
            >>> asyncio.run(RagstoreVectorStore().aclose())

        """
        state = self._async_states.pop(asyncio.get_running_loop(), None)
        if state is not None and state.owned and state.client is not None:
            await state.client.close()
        self.close()

    # ------------------------------------------------------------------ writes

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store texts; an existing id is replaced (text, metadata and vector).

        Writes are split at the client's ``get_max_batch_size()``; each batch is one atomic upsert.
        ``None`` metadata values are not stored.

        Args:
            texts: The texts.
            metadatas: One metadata dict per text.
            ids: One id per text (``None`` entries get a uuid4).
            **kwargs: Not accepted (a ``TypeError`` names them).

        Returns:
            The ids, in input order.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> store.add_texts(["one"], ids=["x"]), store.add_texts(["uno"], ids=["x"])
            (['x'], ['x'])
            >>> store.get_by_ids(["x"])[0].page_content
            'uno'

        """
        if kwargs:
            raise TypeError(f"add_texts() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        items = list(texts)
        record_ids, metas = prepare_ids(len(items), ids), prepare_metadatas(len(items), metadatas)
        if not items:
            return []
        embeddings = self._require_embeddings()
        collection = self._sync_collection()
        for batch_ids, batch_texts, batch_metas in batches(record_ids, items, metas, self._max_batch_size()):
            vectors = embeddings.embed_documents(batch_texts)
            existing = collection.get(ids=batch_ids, include=["metadatas"])
            collection.upsert(
                ids=batch_ids, embeddings=vectors, documents=batch_texts, metadatas=upsert_metadatas(batch_ids, batch_metas, existing)
            )
        return record_ids

    async def aadd_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Async :meth:`add_texts`: over ``AsyncHttpClient`` for remote stores, in an executor for local ones.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> asyncio.run(store.aadd_texts(["one"], ids=["x"]))
            ['x']

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.add_texts, texts, metadatas, ids=ids, **kwargs)
        if kwargs:
            raise TypeError(f"aadd_texts() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        items = list(texts)
        record_ids, metas = prepare_ids(len(items), ids), prepare_metadatas(len(items), metadatas)
        if not items:
            return []
        embeddings = self._require_embeddings()
        collection = await self._async_collection()
        for batch_ids, batch_texts, batch_metas in batches(record_ids, items, metas, await self._async_max_batch_size()):
            vectors = await embeddings.aembed_documents(batch_texts)
            existing = await collection.get(ids=batch_ids, include=["metadatas"])
            await collection.upsert(
                ids=batch_ids, embeddings=vectors, documents=batch_texts, metadatas=upsert_metadatas(batch_ids, batch_metas, existing)
            )
        return record_ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by ids and/or filter (``filter=``, ``where_document=``); with neither, delete every record.

        Missing ids are not an error. Returns ``True``.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> _ = store.add_texts(["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
            >>> store.delete(filter={"n": 1}), store.collection.count()
            (True, 1)
            >>> store.delete(), store.collection.count()
            (True, 0)

        """
        search = _search_args(kwargs, "delete")
        collection = self._sync_collection()
        if ids is not None and not ids:
            return True
        if ids is None and search.where is None and search.where_document is None:
            size = self._max_batch_size()
            while page := collection.get(limit=size, include=[])["ids"]:
                collection.delete(ids=page)
            return True
        collection.delete(ids=list(ids) if ids is not None else None, where=search.where, where_document=search.where_document)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Async :meth:`delete`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().adelete(["missing"]))
            True

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.delete, ids, **kwargs)
        search = _search_args(kwargs, "adelete")
        collection = await self._async_collection()
        if ids is not None and not ids:
            return True
        if ids is None and search.where is None and search.where_document is None:
            size = await self._async_max_batch_size()
            while page := (await collection.get(limit=size, include=[]))["ids"]:
                await collection.delete(ids=page)
            return True
        await collection.delete(ids=list(ids) if ids is not None else None, where=search.where, where_document=search.where_document)
        return True

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids (missing ids are left out), each with ``id`` set.

        Example:
            >>> RagstoreVectorStore().get_by_ids(["nothing"])
            []

        """
        if not ids:
            return []
        return documents_from_get(self._sync_collection().get(ids=list(ids), include=["documents", "metadatas"]))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().aget_by_ids([]))
            []

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.get_by_ids, ids)
        if not ids:
            return []
        collection = await self._async_collection()
        return documents_from_get(await collection.get(ids=list(ids), include=["documents", "metadatas"]))

    def get(self, **kwargs: Any) -> dict[str, Any]:
        """The raw ragstore ``Collection.get`` (``ids``, ``where``, ``limit``, ``offset``, ``where_document``, ``include``).

        Example:
            >>> RagstoreVectorStore().get(limit=1)["ids"]
            []

        """
        return dict(self._sync_collection().get(**kwargs))

    def _query(self, embedding: list[float], k: int, search: _Search, include: list[str]) -> dict[str, Any]:
        result = self._sync_collection().query(
            query_embeddings=[embedding],
            n_results=k,
            where=search.where,
            where_document=search.where_document,
            ids=search.ids,
            include=include,
        )
        return dict(result)

    async def _aquery(self, embedding: list[float], k: int, search: _Search, include: list[str]) -> dict[str, Any]:
        collection = await self._async_collection()
        result = await collection.query(
            query_embeddings=[embedding],
            n_results=k,
            where=search.where,
            where_document=search.where_document,
            ids=search.ids,
            include=include,
        )
        return dict(result)

    def similarity_search_by_vector_with_score(
        self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents to a vector with their ragstore distances (lower is nearer).

        Args:
            embedding: The query vector.
            k: How many documents.
            **kwargs: ``filter`` (a ragstore ``where``; several keys mean ``$and``),
                ``where_document``, ``ids`` (only among these ids).

        Example:
            >>> RagstoreVectorStore().similarity_search_by_vector_with_score([0.1, 0.2], k=2)
            []

        """
        search = _search_args(kwargs, "similarity_search")
        return documents_from_query(self._query(embedding, _check_k(k), search, _SEARCH_INCLUDE))

    async def asimilarity_search_by_vector_with_score(
        self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_by_vector_with_score`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector_with_score([0.5]))
            []

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.similarity_search_by_vector_with_score, embedding, k, **kwargs)
        search = _search_args(kwargs, "asimilarity_search")
        return documents_from_query(await self._aquery(embedding, _check_k(k), search, _SEARCH_INCLUDE))

    def similarity_search_by_vector(self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """The ``k`` nearest documents to a vector (filters as in :meth:`similarity_search_by_vector_with_score`).

        Example:
            >>> RagstoreVectorStore().similarity_search_by_vector([1.0])
            []

        """
        return [doc for doc, _ in self.similarity_search_by_vector_with_score(embedding, k, **kwargs)]

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector([1.0]))
            []

        """
        return [doc for doc, _ in await self.asimilarity_search_by_vector_with_score(embedding, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents to a query text with their distances (lower is nearer).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> _ = store.add_texts(["foo"], ids=["f"])
            >>> store.similarity_search_with_score("foo", k=1)[0][1]
            0.0

        """
        embedding = self._require_embeddings().embed_query(query)
        return self.similarity_search_by_vector_with_score(embedding, k, **kwargs)

    async def asimilarity_search_with_score(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> asyncio.run(store.asimilarity_search_with_score("foo"))
            []

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.similarity_search_with_score, query, k, **kwargs)
        embedding = await self._require_embeddings().aembed_query(query)
        return await self.asimilarity_search_by_vector_with_score(embedding, k, **kwargs)

    def similarity_search(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """The ``k`` nearest documents to a query text.

        Args:
            query: The query text.
            k: How many documents.
            **kwargs: ``filter``, ``where_document``, ``ids`` (see :meth:`similarity_search_by_vector_with_score`).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).similarity_search("foo")
            []

        """
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search`.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> asyncio.run(RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).asimilarity_search("foo"))
            []

        """
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, **kwargs)]

    # ------------------------------------------------------------------ relevance

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """``relevance_score_fn=`` if given, else the mapping for the collection's space (:mod:`langchain_ragstore.relevance`)."""
        if self._relevance_score_fn_override is not None:
            return self._relevance_score_fn_override
        if self._space is None:
            collection = self._sync_collection()
            self._space = collection_space(collection.configuration, collection.metadata)
        return relevance_fn(self._space)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        if self._source.is_remote:
            await self._async_collection()  # learn the space without a sync client
        return await super()._asimilarity_search_with_relevance_scores(query, k, **kwargs)

    def similarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = DEFAULT_K, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents to a vector with relevance scores in [0, 1] (not raw distances, unlike chroma).

        Example:
            >>> RagstoreVectorStore().similarity_search_by_vector_with_relevance_scores([1.0], score_threshold=0.5)
            []

        """
        fn = self._select_relevance_score_fn()
        scored = [(doc, fn(distance)) for doc, distance in self.similarity_search_by_vector_with_score(embedding, k, **kwargs)]
        return [pair for pair in scored if score_threshold is None or pair[1] >= score_threshold]

    async def asimilarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = DEFAULT_K, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_by_vector_with_relevance_scores`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector_with_relevance_scores([1.0]))
            []

        """
        pairs = await self.asimilarity_search_by_vector_with_score(embedding, k, **kwargs)
        if self._source.is_remote:
            await self._async_collection()
        fn = self._select_relevance_score_fn()
        scored = [(doc, fn(distance)) for doc, distance in pairs]
        return [pair for pair in scored if score_threshold is None or pair[1] >= score_threshold]

    # ------------------------------------------------------------------ maximal marginal relevance

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` nearest, chosen for relevance and diversity.

        Uses the stored vectors (fetched with the candidates) and LangChain's ``maximal_marginal_relevance``.

        Args:
            embedding: The query vector.
            k: How many documents to return.
            fetch_k: How many nearest candidates to choose from.
            lambda_mult: 1 = relevance only, 0 = diversity only.
            **kwargs: ``filter``, ``where_document``, ``ids``.

        Example:
            >>> RagstoreVectorStore().max_marginal_relevance_search_by_vector([1.0, 0.0])
            []

        """
        _check_mmr(k, fetch_k, lambda_mult)
        search = _search_args(kwargs, "max_marginal_relevance_search")
        return _mmr_select(embedding, self._query(embedding, fetch_k, search, _MMR_INCLUDE), k, lambda_mult)

    async def amax_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`.

        Example:
            >>> asyncio.run(RagstoreVectorStore().amax_marginal_relevance_search_by_vector([1.0]))
            []

        """
        if not self._source.is_remote:
            return await run_in_executor(None, self.max_marginal_relevance_search_by_vector, embedding, k, fetch_k, lambda_mult, **kwargs)
        _check_mmr(k, fetch_k, lambda_mult)
        search = _search_args(kwargs, "amax_marginal_relevance_search")
        return _mmr_select(embedding, await self._aquery(embedding, fetch_k, search, _MMR_INCLUDE), k, lambda_mult)

    def max_marginal_relevance_search(
        self, query: str, k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search_by_vector` for a query text.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).max_marginal_relevance_search("q")
            []

        """
        embedding = self._require_embeddings().embed_query(query)
        return self.max_marginal_relevance_search_by_vector(embedding, k, fetch_k, lambda_mult, **kwargs)

    async def amax_marginal_relevance_search(
        self, query: str, k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> asyncio.run(RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).amax_marginal_relevance_search("q"))
            []

        """
        embedding = await self._require_embeddings().aembed_query(query)
        return await self.amax_marginal_relevance_search_by_vector(embedding, k, fetch_k, lambda_mult, **kwargs)

    # ------------------------------------------------------------------ collection management

    def delete_collection(self) -> None:
        """Delete the whole collection; the next write creates it again (empty).

        Example:
            >>> store = RagstoreVectorStore("to-drop")
            >>> store.delete_collection()
            >>> store.client.count_collections()
            0

        """
        client = self._sync_client()
        if client is None:
            raise TypeError("delete_collection() needs a client; this store was given only a collection (use delete() to empty it)")
        client.delete_collection(self._collection_name)
        self._collection, self._space = None, None

    def reset_collection(self) -> None:
        """Delete the collection and create it again, empty, with the same settings.

        Example:
            >>> store = RagstoreVectorStore("to-reset")
            >>> store.reset_collection()
            >>> store.collection.count()
            0

        """
        self.delete_collection()
        self._sync_collection()

    async def adelete_collection(self) -> None:
        """Async :meth:`delete_collection`.

        Example:
            >>> asyncio.run(RagstoreVectorStore("to-drop-async").adelete_collection())

        """
        if not self._source.is_remote:
            await run_in_executor(None, self.delete_collection)
            return
        state = await self._async_state()
        if state.client is None:
            raise TypeError("adelete_collection() needs a client; this store was given only a collection (use adelete() to empty it)")
        await state.client.delete_collection(self._collection_name)
        state.collection, self._space = None, None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store (built with ``**kwargs``, the constructor's arguments) holding ``texts``.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore.from_texts(["a", "b"], DeterministicFakeEmbedding(size=4), collection_name="from-texts")
            >>> store.collection.count()
            2

        """
        store = cls(embedding_function=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts` (a remote store is filled over ``AsyncHttpClient``).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = asyncio.run(RagstoreVectorStore.afrom_texts(["a"], DeterministicFakeEmbedding(size=4)))
            >>> store.collection.count()
            1

        """
        store = cls(embedding_function=embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store
