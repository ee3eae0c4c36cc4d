"""``Client``: collections over any engine (in memory, on disk, or remote).

Example:
    >>> import ragstore
    >>> client = ragstore.EphemeralClient()
    >>> client.get_or_create_collection("docs").name
    'docs'
    >>> client.count_collections()
    1

"""

from __future__ import annotations

from typing import Any

from ragstore.api import API, ClosesApi
from ragstore.collection import Collection
from ragstore.collection_requests import CreateCollectionRequest
from ragstore.collection_schema import schema_json
from ragstore.preparation import DEFAULT_EMBEDDING as DEFAULT_EMBEDDING
from ragstore.preparation import creation_configuration, resolve_embedding_function, schema_embedding_function
from ragstore.settings import Settings
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel


class ClientBase:
    """What every client (sync or async) holds and decides without I/O: settings, tenant, database, creation arguments.

    ``Client`` and ``AsyncClient`` add only the calls to their engine (as ``http/base.py`` does for the HTTP twins).
    """

    def __init__(self, settings: Settings, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        self._settings = settings
        self.tenant = str(tenant)
        self.database = str(database)

    def get_settings(self) -> Settings:
        """The client's settings."""
        return self._settings

    def _creation(
        self,
        name: str,
        configuration: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        embedding_function: Any,
        get_or_create: bool,
        schema: Any,
    ) -> tuple[CreateCollectionRequest, Any]:
        """The request that creates a collection, and the function its handle embeds with.

        It may build an embedding function, so the async client runs it in a thread.

        Example:
            >>> request, _ = ClientBase(Settings())._creation("docs", {"hnsw": {"space": "cosine"}}, None, None, False, None)
            >>> request.configuration["hnsw"]["space"], request.schema
            ('cosine', None)

        """
        config = creation_configuration(configuration, metadata, embedding_function)
        request = CreateCollectionRequest(name, config, metadata, get_or_create, self.tenant, self.database, schema_json(schema))
        return request, schema_embedding_function(schema, embedding_function)


class Client(ClientBase, ClosesApi):
    """A connection to one store, scoped to a tenant and database.

    Build one with :func:`ragstore.EphemeralClient`, :func:`ragstore.PersistentClient`
    or :func:`ragstore.Client`.
    """

    def __init__(self, api: API, settings: Settings, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        super().__init__(settings, tenant, database)
        self._api = api
        self._check_scope(self.tenant, self.database)

    def _check_scope(self, tenant: str, database: str) -> None:
        self._api.get_database(database, tenant)  # raises NotFoundError for a missing tenant or database

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch; raises when the store is unreachable or closed."""
        return self._api.heartbeat()

    def get_version(self) -> str:
        """The engine's version."""
        return self._api.get_version()

    def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return self._api.get_max_batch_size()

    def reset(self) -> bool:
        """Delete everything; only when ``Settings(allow_reset=True)``."""
        return self._api.reset()

    def set_tenant(self, tenant: str, database: str = DEFAULT_DATABASE) -> None:
        """Switch to another tenant (and database); they must exist."""
        self._check_scope(tenant, database)
        self.tenant, self.database = tenant, database

    def set_database(self, database: str) -> None:
        """Switch to another database of the current tenant; it must exist."""
        self._check_scope(self.tenant, database)
        self.database = database

    # ------------------------------------------------------------------ collections

    def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[Collection]:
        """Collections in creation order (chromadb leaves the order unspecified)."""
        models = self._api.list_collections(limit, offset, self.tenant, self.database)
        return [self._wrap(m, DEFAULT_EMBEDDING, None) for m in models]

    def count_collections(self) -> int:
        """How many collections the database holds."""
        return self._api.count_collections(self.tenant, self.database)

    def create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT_EMBEDDING,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> Collection:
        """Create a collection; ``UniqueConstraintError`` if the name is taken (unless ``get_or_create``).

        Args:
            name: 3-512 characters of ``[a-zA-Z0-9._-]``, alphanumeric at both ends.
            configuration: ``{"hnsw": {"space": "cosine", "ef_search": 100, ...}}``.
            metadata: Collection metadata (legacy ``hnsw:*`` keys are honoured).
            embedding_function: Embeds documents and query texts; ``None`` for none.
            data_loader: Accepted for compatibility; ragstore does not load URIs.
            get_or_create: Return the existing collection instead of failing.
            schema: A :class:`ragstore.Schema` (chromadb's): a sparse index for hybrid search, index
                flags, or the vector index's space, parameters and function (then not in
                ``configuration`` or ``embedding_function`` too).

        Example:
            >>> import ragstore
            >>> col = ragstore.Client().create_collection("cosine-docs", configuration={"hnsw": {"space": "cosine"}})
            >>> col.configuration["hnsw"]["space"]
            'cosine'

        """
        request, function = self._creation(name, configuration, metadata, embedding_function, get_or_create, schema)
        return self._wrap(self._api.create_collection(request), function, data_loader)

    def get_collection(self, name: str, embedding_function: Any = DEFAULT_EMBEDDING, data_loader: Any = None) -> Collection:
        """An existing collection; ``NotFoundError`` when missing.

        Without ``embedding_function`` the collection's persisted function is rebuilt when known.
        """
        model = self._api.get_collection(name, self.tenant, self.database)
        return self._wrap(model, embedding_function, data_loader)

    def get_or_create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT_EMBEDDING,
        data_loader: Any = None,
    ) -> Collection:
        """The collection called ``name``, created first if needed (then the arguments are ignored)."""
        return self.create_collection(name, schema, configuration, metadata, embedding_function, data_loader, True)

    def delete_collection(self, name: str) -> None:
        """Delete a collection and all its records and files; ``NotFoundError`` when missing."""
        self._api.delete_collection(name, self.tenant, self.database)

    def _wrap(self, model: CollectionModel, embedding_function: Any, data_loader: Any) -> Collection:
        return Collection(self._api, model, resolve_embedding_function(model, embedding_function), data_loader)
