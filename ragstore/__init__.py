"""ragstore: an embeddable vector store for retrieval-augmented generation.

Three client modes share one API (chromadb's, so ``import ragstore as chromadb`` works):

- :func:`EphemeralClient` / :func:`Client`: in memory, independent per instance.
- :func:`PersistentClient`: SQLite plus index files under ``path``; safe with
  several processes on one path and with ``kill -9`` at any moment.
- :func:`HttpClient`: a ``ragstore run`` server (or any Chroma REST v2 server);
  ``await`` :func:`AsyncHttpClient` for the same from asyncio code.

:func:`connect` opens any of them from one address (``connect("./data")``,
``connect(host="localhost", auth_token=...)``, ``connect()`` for memory);
:class:`StoreAddress` is that address as a value, and the factories above are written on it.

chromadb's other common paths answer too: ``config.Settings`` (:mod:`ragstore.config`),
``utils.embedding_functions.<Name>`` (:mod:`ragstore.utils.embedding_functions`, with a clear
error for chromadb's functions ragstore lacks), and :func:`CloudClient`, which says there is no cloud.

Example:
    >>> import ragstore
    >>> client = ragstore.EphemeralClient()
    >>> col = client.create_collection("docs")
    >>> col.add(ids=["a", "b"], documents=["apples are red", "the sky is blue"])
    >>> col.query(query_texts=["red apples"], n_results=1)["documents"]
    [['apples are red']]

"""

from __future__ import annotations

from pathlib import Path

from ragstore import config, utils  # chromadb's attribute paths: chromadb.config.Settings, chromadb.utils.embedding_functions
from ragstore._version import __version__
from ragstore.admin import AdminClient as AdminClientAPI
from ragstore.async_client import AsyncClient as AsyncClientAPI
from ragstore.async_collection import AsyncCollection
from ragstore.client import Client as ClientAPI
from ragstore.collection import Collection, DeleteResult
from ragstore.collection_schema import (
    BoolInvertedIndexConfig,
    Cmek,
    FloatInvertedIndexConfig,
    FtsIndexConfig,
    HnswIndexConfig,
    IntInvertedIndexConfig,
    Schema,
    SpannIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
    bm25_schema,
)
from ragstore.embeddings import (
    DefaultEmbeddingFunction,
    EmbeddingFunction,
    HashingEmbeddingFunction,
    register_embedding_function,
)
from ragstore.embeddings.base import register_sparse_embedding_function
from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction
from ragstore.errors import (
    AuthenticationError,
    AuthorizationError,
    BatchSizeExceededError,
    ClosedError,
    DuplicateIDError,
    InternalError,
    InvalidArgumentError,
    InvalidDimensionException,
    NotFoundError,
    RagstoreError,
    RequestTooLargeError,
    ResponseTooLargeError,
    ServerConnectionError,
    StorageError,
    UnimplementedError,
    UniqueConstraintError,
)
from ragstore.search import K, Key, Knn, ReadLevel, Rrf, Search, SearchResult
from ragstore.settings import Settings
from ragstore.sparse_vectors import SparseEmbeddingFunction, SparseVector, SparseVectors
from ragstore.store_address import StoreAddress, connect
from ragstore.types import (
    DEFAULT_DATABASE,
    DEFAULT_TENANT,
    URI,
    CollectionMetadata,
    Documents,
    Embeddings,
    GetResult,
    IDs,
    Include,
    IndexingStatus,
    Metadata,
    Metadatas,
    QueryResult,
    TokenTransportHeader,
    UpdateCollectionMetadata,
    UpdateMetadata,
    URIs,
    Where,
    WhereDocument,
)


def EphemeralClient(settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> ClientAPI:  # noqa: N802
    """An in-memory client; its data is gone when it is closed or the process ends.

    Unlike chromadb, every ephemeral client is independent of the others.

    Example:
        >>> EphemeralClient().count_collections()
        0

    """
    return StoreAddress().client(settings, tenant, database)


def PersistentClient(  # noqa: N802
    path: str | Path = "./ragstore", settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
) -> ClientAPI:
    """A client that stores under ``path`` (created if missing); data survives restarts.

    Example:
        >>> import tempfile
        >>> with PersistentClient(tempfile.mkdtemp()) as client:
        ...     client.heartbeat() > 0
        True

    """
    return StoreAddress(path=path).client(settings, tenant, database)


def HttpClient(  # noqa: N802
    host: str = "localhost",
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    timeout: float | None = 300.0,
) -> ClientAPI:
    """A client of a server started with ``ragstore run`` (same API as the embedded clients).

    Raises :class:`ServerConnectionError` (naming the address) when no server answers.

    Args:
        host: Host name, or a full ``http(s)://host:port`` URL.
        port: TCP port (ignored when ``host`` is a URL).
        ssl: Use HTTPS.
        headers: Extra headers on every request, e.g. ``{"Authorization": "Bearer <token>"}``.
        settings: Client settings (``chroma_client_auth_credentials`` sends a token).
        tenant: Tenant to work in (must exist).
        database: Database to work in (must exist).
        timeout: Seconds to wait for an answer (connecting gives up after 10 s).

    Example:
        >>> try:
        ...     HttpClient(port=9)  # nothing listens on port 9
        ... except ServerConnectionError as exc:
        ...     print(str(exc)[:60])
        Could not connect to a ragstore server at http://localhost:9

    """
    return StoreAddress(host=host, port=port, ssl=ssl, headers=headers, timeout=timeout).client(settings, tenant, database)


def AdminClient(settings: Settings | None = None) -> AdminClientAPI:  # noqa: N802
    """A client for tenants and databases of the store ``settings`` describe (a server, a path, or memory).

    Example:
        >>> AdminClient().get_tenant("default_tenant")
        {'name': 'default_tenant'}

    """
    from ragstore.admin import admin_client

    return admin_client(settings)


async def AsyncHttpClient(  # noqa: N802
    host: str = "localhost",
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
    settings: Settings | None = None,
    tenant: str = DEFAULT_TENANT,
    database: str = DEFAULT_DATABASE,
    timeout: float | None = 300.0,
) -> AsyncClientAPI:
    """An asyncio client of a ``ragstore run`` server (a coroutine: await it to connect).

    Arguments are :func:`HttpClient`'s (chromadb's order, positions included). Collections are
    :class:`AsyncCollection` objects whose methods are coroutines; embedding functions run in a
    worker thread, off the event loop. Raises :class:`ServerConnectionError` (naming the address)
    when no server answers.

    Example:
        >>> import asyncio
        >>> async def main() -> None:
        ...     try:
        ...         await AsyncHttpClient(port=9)  # nothing listens on port 9
        ...     except ServerConnectionError as exc:
        ...         print(str(exc)[:60])
        >>> asyncio.run(main())
        Could not connect to a ragstore server at http://localhost:9

    With a server running::

        client = await ragstore.AsyncHttpClient(host="localhost", port=8000)
        col = await client.get_or_create_collection("docs")
        await col.add(ids=["a"], documents=["apples are red"])
        await client.close()

    """
    address = StoreAddress(host=host, port=port, ssl=ssl, headers=headers, timeout=timeout)
    return await address.async_client(tenant, database, settings=settings)


def CloudClient(  # noqa: N802
    tenant: str | None = None,
    database: str | None = None,
    api_key: str | None = None,
    settings: Settings | None = None,
    *,
    cloud_host: str = "api.trychroma.com",
    cloud_port: int = 443,
    enable_ssl: bool = True,
) -> ClientAPI:
    """Chroma Cloud's client in chromadb: ragstore has no cloud, so this always raises ``NotImplementedError``.

    It takes chromadb's arguments, so a call reaches this message rather than a ``TypeError``.
    ``NotImplementedError`` is Python's "this exists in the interface but not here"
    (the error chromadb-shaped code is written to expect for unsupported features);
    :class:`UnimplementedError` is a server's answer to a retired route, a different thing.

    Raises:
        NotImplementedError: always, saying what to use instead.

    Example:
        >>> try:
        ...     CloudClient(api_key="ck-example")
        ... except NotImplementedError as exc:
        ...     print(str(exc).split(". ")[0])
        ragstore has no cloud: CloudClient (Chroma Cloud) is not supported

    """
    raise NotImplementedError(
        "ragstore has no cloud: CloudClient (Chroma Cloud) is not supported. Run a server with "
        "`ragstore run --path ./data` (add --auth-token-file for a token) and connect with "
        "ragstore.HttpClient(host=..., port=8000), or ragstore.connect(host=..., auth_token=...)."
    )


def Client(settings: Settings | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> ClientAPI:  # noqa: N802
    """A client configured by ``settings``: persistent when ``is_persistent``, else in memory.

    Example:
        >>> Client().heartbeat() > 0
        True

    """
    settings = settings or Settings()
    if settings.is_persistent:
        return PersistentClient(settings.persist_directory, settings, tenant, database)
    return EphemeralClient(settings, tenant, database)


__all__ = [
    "DEFAULT_DATABASE",
    "DEFAULT_TENANT",
    "K",
    "URI",
    "AdminClient",
    "AdminClientAPI",
    "AsyncClientAPI",
    "AsyncCollection",
    "AsyncHttpClient",
    "AuthenticationError",
    "AuthorizationError",
    "BatchSizeExceededError",
    "BoolInvertedIndexConfig",
    "ChromaBm25EmbeddingFunction",
    "Client",
    "ClientAPI",
    "ClosedError",
    "CloudClient",
    "Cmek",
    "Collection",
    "CollectionMetadata",
    "DefaultEmbeddingFunction",
    "DeleteResult",
    "Documents",
    "DuplicateIDError",
    "EmbeddingFunction",
    "Embeddings",
    "EphemeralClient",
    "FloatInvertedIndexConfig",
    "FtsIndexConfig",
    "GetResult",
    "HashingEmbeddingFunction",
    "HnswIndexConfig",
    "HttpClient",
    "IDs",
    "Include",
    "IndexingStatus",
    "IntInvertedIndexConfig",
    "InternalError",
    "InvalidArgumentError",
    "InvalidDimensionException",
    "Key",
    "Knn",
    "Metadata",
    "Metadatas",
    "NotFoundError",
    "PersistentClient",
    "QueryResult",
    "RagstoreError",
    "ReadLevel",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "Rrf",
    "Schema",
    "Search",
    "SearchResult",
    "ServerConnectionError",
    "Settings",
    "SpannIndexConfig",
    "SparseEmbeddingFunction",
    "SparseVector",
    "SparseVectorIndexConfig",
    "SparseVectors",
    "StorageError",
    "StoreAddress",
    "StringInvertedIndexConfig",
    "TokenTransportHeader",
    "URIs",
    "UnimplementedError",
    "UniqueConstraintError",
    "UpdateCollectionMetadata",
    "UpdateMetadata",
    "VectorIndexConfig",
    "Where",
    "WhereDocument",
    "__version__",
    "bm25_schema",
    "config",
    "connect",
    "register_embedding_function",
    "register_sparse_embedding_function",
    "utils",
]
