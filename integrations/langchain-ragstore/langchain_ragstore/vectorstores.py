"""``RagstoreVectorStore``: a LangChain ``VectorStore`` backed by a ragstore collection.

Each public method and its ``a*`` twin run one operation (:mod:`langchain_ragstore.operations`)
through a sync or an async driver (:mod:`langchain_ragstore.driving`); the clients and the
collection are opened by :mod:`langchain_ragstore.connection`.

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

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import ragstore
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from typing_extensions import Self

from langchain_ragstore.chroma_methods import ChromaMethods
from langchain_ragstore.connection import (
    DEFAULT_COLLECTION_NAME,
    DEFAULT_MAX_BATCH_SIZE,
    AsyncOnlyStoreError,
    CollectionSpec,
    StoreConnection,
)
from langchain_ragstore.driving import Operation, Target, run_async, run_sync
from langchain_ragstore.embeddings import RagstoreEmbeddings
from langchain_ragstore.hybrid_methods import HybridMethods
from langchain_ragstore.relevance import relevance_fn
from langchain_ragstore.sources import resolve_source
from langchain_ragstore.store_methods import DEFAULT_K

__all__ = [
    "DEFAULT_COLLECTION_NAME",
    "DEFAULT_K",
    "DEFAULT_MAX_BATCH_SIZE",
    "AsyncOnlyStoreError",
    "MissingEmbeddingsError",
    "RagstoreVectorStore",
]

T = TypeVar("T")


class MissingEmbeddingsError(ValueError):
    """The store has no embedding function (a collection without one was given and no ``embedding_function=``)."""


class RagstoreVectorStore(HybridMethods, ChromaMethods):
    """A LangChain vector store on a ragstore collection (in memory, on disk, or on a ``ragstore run`` server).

    LangChain embeds (with ``embedding_function``); ragstore stores and searches. Scores from
    ``similarity_search_with_score`` are ragstore distances (lower is nearer: squared L2,
    ``1 - cos`` or ``1 - dot``); relevance scores are ragstore's one relevance score, the cosine similarity
    clipped to [0, 1], the number ragstore's CLI and chatbot show (:mod:`ragstore.relevance`).

    langchain-chroma's ``update_document(s)`` re-embed documents in place; its image methods raise
    ``NotImplementedError`` (no multimodal embeddings: :mod:`langchain_ragstore.chroma_methods`).

    Hybrid search (dense and BM25 fused) needs a BM25 index, which a new collection gets with
    ``bm25_index=True``; then ``similarity_search(query, mode="hybrid")``,
    ``as_retriever(search_type="hybrid")`` and ``hybrid_search(Search(...))`` work
    (:mod:`langchain_ragstore.hybrid`).

    The constructor is langchain-chroma's ``Chroma`` constructor, positions included, so ``Chroma(...)``
    calls work unchanged (:mod:`langchain_ragstore.sources` says which store each argument names).

    Args:
        collection_name: The collection to use, created when missing.
        embedding_function: LangChain embeddings. ``None`` uses the collection's ragstore
            embedding function (for a new collection ragstore's default, all-MiniLM-L6-v2, offline).
        persist_directory: A directory for a ``ragstore.PersistentClient``.
        host: A ``ragstore run`` server's host (or URL); sync calls use ``HttpClient``, async calls
            ``AsyncHttpClient`` (both opened on first use).
        port: The server's port (default 8000).
        headers: Extra HTTP headers for the server (e.g. ``{"Authorization": "Bearer <token>"}``).
            ``port=``, ``ssl=`` or ``headers=`` without ``host=`` mean a server on ``localhost``, as in ``HttpClient``.
        chroma_cloud_api_key: Refused with ``NotImplementedError``: ragstore has no cloud.
        tenant: The tenant of the client the store opens (default ``default_tenant``; it must exist).
        database: The database of the client the store opens (default ``default_database``; it must exist).
        client_settings: ``ragstore.Settings`` (or ``chromadb.config.Settings``) of the client the store opens; alone,
            they name the store as ``chromadb.Client(settings)`` does (a server, a directory or memory).
        collection_metadata: Metadata of a new collection.
        collection_configuration: Configuration of a new collection, e.g. ``{"hnsw": {"space": "cosine"}}``.
        client: An existing ragstore client: ``ClientAPI`` (sync) or ``AsyncClientAPI`` (async methods only).
        relevance_score_fn: Maps a distance to a relevance score; by default ragstore's one relevance score for the
            collection's space (:func:`ragstore.relevance.relevance_fn`).
        create_collection_if_not_exists: ``False`` (or ``None``) requires the collection to exist.
        ssl: Reach the server over HTTPS.
        collection: An existing ragstore ``Collection`` or ``AsyncCollection`` (instead of a name and a source).
        bm25_index: Create a new collection with a BM25 index on the documents' text (key ``"bm25"``), for hybrid
            and BM25 search. Off by default, as in langchain-chroma and chroma (no sparse index unless a schema
            declares one) and most LangChain stores with hybrid search (opt-in at construction): writes cost
            10-35% more before embedding (measured: 4,000 texts of 60 words, 384-d vectors, 1.8 -> 2.2 s), and a
            hybrid query about 3x a dense one (4.5 vs 1.5 ms at 4,000 records). An existing collection keeps
            the indexes it was created with.

    Raises:
        ConflictingSourcesError: More than one of ``collection``, ``client``, ``persist_directory`` and ``host``;
            server options with a local source; client options (``tenant``, ``database``, ``client_settings``) with a
            given ``client`` or ``collection``; or collection settings together with an existing ``collection``.
        InvalidSourceError: ``client``, ``collection`` or ``client_settings`` is not a ragstore (or chromadb) object.
        NotImplementedError: ``chroma_cloud_api_key`` was given.

    Example:
        >>> import ragstore
        >>> from langchain_core.documents import Document
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> store = RagstoreVectorStore("notes", DeterministicFakeEmbedding(size=4), client=ragstore.EphemeralClient())
        >>> RagstoreVectorStore("notes", DeterministicFakeEmbedding(size=4), chroma_cloud_api_key="ck-1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        NotImplementedError: chroma_cloud_api_key= (Chroma Cloud) is not supported: ragstore has no cloud. ...
        >>> store.add_documents([Document(page_content="hi", id="n1")])
        ['n1']
        >>> store.get_by_ids(["n1"])[0].page_content
        'hi'

    """

    def __init__(
        self,
        collection_name: str = DEFAULT_COLLECTION_NAME,
        embedding_function: Embeddings | None = None,
        persist_directory: str | Path | None = None,
        host: str | None = None,
        port: int | None = None,
        headers: dict[str, str] | None = None,
        chroma_cloud_api_key: str | None = None,
        tenant: str | None = None,
        database: str | None = None,
        client_settings: ragstore.Settings | None = None,
        collection_metadata: dict[str, Any] | None = None,
        collection_configuration: dict[str, Any] | None = None,
        client: ragstore.ClientAPI | ragstore.AsyncClientAPI | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        create_collection_if_not_exists: bool | None = True,
        *,
        ssl: bool = False,
        collection: ragstore.Collection | ragstore.AsyncCollection | None = None,
        bm25_index: bool = False,
    ) -> None:
        if embedding_function is not None and not isinstance(embedding_function, Embeddings):
            raise TypeError(f"Expected embedding_function to be a LangChain Embeddings, got {type(embedding_function).__name__}")
        if relevance_score_fn is not None and not callable(relevance_score_fn):
            raise TypeError("Expected relevance_score_fn to be a callable from a distance to a relevance score")
        self._source = resolve_source(
            client=client,
            collection=collection,
            persist_directory=persist_directory,
            host=host,
            port=port,
            ssl=ssl,
            headers=headers,
            settings=client_settings,
            tenant=tenant,
            database=database,
            chroma_cloud_api_key=chroma_cloud_api_key,
        )
        spec = CollectionSpec(
            collection_name,
            embeds_itself=embedding_function is not None,
            configuration=collection_configuration,
            metadata=collection_metadata,
            create_if_missing=bool(create_collection_if_not_exists),
            bm25_index=bm25_index,
        ).for_source(self._source)
        self._connection = StoreConnection(self._source, spec)
        self._embedding_function = embedding_function
        self._relevance_score_fn_override = relevance_score_fn
        self._default_embeddings: Embeddings | None = None
        if embedding_function is None:
            existing_ef = collection.embedding_function if collection is not None else ragstore.DefaultEmbeddingFunction()
            self._default_embeddings = RagstoreEmbeddings(existing_ef) if existing_ef is not None else None
        if self._source.kind in ("ephemeral", "persistent", "client", "collection"):
            self._connection.collection()  # local stores open at once, so a bad path or name fails here

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

    def _resolve(self, target: Target) -> Any:
        """What a sync step calls (:mod:`langchain_ragstore.driving`); the collection opens on first use."""
        if target == "collection":
            return self._connection.collection()
        return self._require_embeddings() if target == "embeddings" else self._connection

    async def _aresolve(self, target: Target) -> Any:
        """What an async step awaits: the running loop's async collection, the embeddings, the connection."""
        if target == "collection":
            return await self._connection.acollection()
        return self._require_embeddings() if target == "embeddings" else self._connection

    def _run(self, operation: Operation[T]) -> T:
        return run_sync(operation, self._resolve)

    async def _arun(self, operation: Operation[T]) -> T:
        """Over the async client for remote stores; local ones run the sync driver in LangChain's executor (no async engine)."""
        if not self._source.is_remote:
            return await run_in_executor(None, run_sync, operation, self._resolve)
        return await run_async(operation, self._aresolve)

    @property
    def collection(self) -> ragstore.Collection:
        """The underlying (sync) ragstore collection.

        Example:
            >>> RagstoreVectorStore("my-notes").collection.name
            'my-notes'

        """
        return self._connection.collection()

    @property
    def client(self) -> ragstore.ClientAPI | None:
        """The sync ragstore client (``None`` when only a collection was given).

        Example:
            >>> RagstoreVectorStore().client.count_collections()
            1

        """
        return self._connection.client()

    def close(self) -> None:
        """Close the sync client this store opened itself (a given client stays open).

        Example:
            >>> RagstoreVectorStore().close()

        """
        self._connection.close()

    async def aclose(self) -> None:
        """Close the async client this store opened in the running event loop, and the sync one.

        Example:
            >>> import asyncio
            >>> asyncio.run(RagstoreVectorStore().aclose())

        """
        await self._connection.aclose()

    def get(self, **kwargs: Any) -> dict[str, Any]:
        """The raw ragstore ``Collection.get`` (``ids``, ``where``, ``limit``, ``offset``, ``where_document``, ``include``).

        Example:
            >>> RagstoreVectorStore().get(limit=1)["ids"]
            []

        """
        return dict(self._connection.collection().get(**kwargs))

    # ------------------------------------------------------------------ relevance

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """``relevance_score_fn=`` if given, else ragstore's relevance in the collection's space (:mod:`ragstore.relevance`)."""
        if self._relevance_score_fn_override is not None:
            return self._relevance_score_fn_override
        return relevance_fn(self._connection.space())

    async def _learn_space(self) -> None:
        """Read the collection's space over the async client (remote stores), so scoring opens no sync client."""
        if self._source.is_remote:
            await self._connection.aspace()

    # ------------------------------------------------------------------ collection management

    def delete_collection(self) -> None:
        """Delete the whole collection; the next write creates it again (empty).

        Example:
            >>> store = RagstoreVectorStore("to-drop")
            >>> store.delete_collection()
            >>> store.client.count_collections()
            0

        """
        self._connection.delete_collection()

    def reset_collection(self) -> None:
        """Delete the collection and create it again, empty, with the same settings.

        Example:
            >>> store = RagstoreVectorStore("to-reset")
            >>> store.reset_collection()
            >>> store.collection.count()
            0

        """
        self.delete_collection()
        self._connection.collection()

    async def adelete_collection(self) -> None:
        """Async :meth:`delete_collection`.

        Example:
            >>> import asyncio
            >>> asyncio.run(RagstoreVectorStore("to-drop-async").adelete_collection())

        """
        if not self._source.is_remote:
            await run_in_executor(None, self.delete_collection)
            return
        await self._connection.adelete_collection()

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
            >>> import asyncio
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = asyncio.run(RagstoreVectorStore.afrom_texts(["a"], DeterministicFakeEmbedding(size=4)))
            >>> store.collection.count()
            1

        """
        store = cls(embedding_function=embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store
