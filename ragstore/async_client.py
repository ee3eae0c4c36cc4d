"""``AsyncClient``: :class:`~ragstore.client.Client`'s methods as coroutines, over any :class:`~ragstore.async_api.AsyncAPI`.

Make one with ``await ragstore.AsyncHttpClient(...)`` (which builds the
``AsyncHttpAPI``). Configuration building and embedding-function resolution
are shared with the sync client (:class:`~ragstore.client.ClientBase`,
:mod:`ragstore.preparation`); both can build an embedding function (which may
load a model), so they run in a worker thread.

Example:
    >>> import asyncio
    >>> import ragstore
    >>> async def main() -> None:
    ...     try:
    ...         await ragstore.AsyncHttpClient(port=9)  # nothing listens on port 9
    ...     except ragstore.ServerConnectionError as exc:
    ...         print(str(exc)[:60])
    >>> asyncio.run(main())
    Could not connect to a ragstore server at http://localhost:9

"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ragstore.async_api import AsyncAPI
from ragstore.async_collection import AsyncCollection, in_thread
from ragstore.client import ClientBase
from ragstore.preparation import DEFAULT_EMBEDDING, resolve_embedding_function
from ragstore.settings import Settings
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel


class AsyncClient(ClientBase):
    """An asyncio connection to a ragstore server, scoped to a tenant and database.

    Build one with ``await ragstore.AsyncHttpClient(...)`` (or ``await AsyncClient.create(api, settings)``).
    Every method that talks to the server is a coroutine; ``get_settings()`` is not, as in chromadb.

    Example::

        async with await ragstore.AsyncHttpClient(host="localhost", port=8000) as client:
            col = await client.get_or_create_collection("docs")
            await col.add(ids=["a"], documents=["hello"])
            print(await client.count_collections())

    """

    def __init__(self, api: AsyncAPI, settings: Settings, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        super().__init__(settings, tenant, database)
        self._api = api

    @classmethod
    async def create(cls, api: AsyncAPI, settings: Settings, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> AsyncClient:
        """A client on ``api`` whose tenant and database were checked to exist (``NotFoundError`` if not)."""
        client = cls(api, settings, tenant, database)
        await client._check_scope(client.tenant, client.database)
        return client

    async def _check_scope(self, tenant: str, database: str) -> None:
        await self._api.get_database(database, tenant)  # raises NotFoundError for a missing tenant or database

    # ------------------------------------------------------------------ system

    async def heartbeat(self) -> int:
        """Nanoseconds since the epoch; raises when the server is unreachable or the client closed."""
        return await self._api.heartbeat()

    async def get_version(self) -> str:
        """The server's version."""
        return await self._api.get_version()

    async def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return await self._api.get_max_batch_size()

    async def reset(self) -> bool:
        """Delete everything; only when the server allows it (``ragstore run --allow-reset``)."""
        return await self._api.reset()

    async def set_tenant(self, tenant: str, database: str = DEFAULT_DATABASE) -> None:
        """Switch to another tenant (and database); they must exist."""
        await self._check_scope(tenant, database)
        self.tenant, self.database = tenant, database

    async def set_database(self, database: str) -> None:
        """Switch to another database of the current tenant; it must exist."""
        await self._check_scope(self.tenant, database)
        self.database = database

    async def close(self) -> None:
        """Close the connection pool (idempotent); the client is unusable afterwards."""
        await self._api.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # ------------------------------------------------------------------ collections

    async def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[AsyncCollection]:
        """Collections in creation order."""
        models = await self._api.list_collections(limit, offset, self.tenant, self.database)
        return await in_thread(lambda: [self._wrap(m, DEFAULT_EMBEDDING, None) for m in models])

    async def count_collections(self) -> int:
        """How many collections the database holds."""
        return await self._api.count_collections(self.tenant, self.database)

    async def create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT_EMBEDDING,
        data_loader: Any = None,
        get_or_create: bool = False,
    ) -> AsyncCollection:
        """Create a collection; ``UniqueConstraintError`` if the name is taken (unless ``get_or_create``).

        Arguments are those of :meth:`ragstore.ClientAPI.create_collection`.

        Example::

            col = await client.create_collection("cosine-docs", configuration={"hnsw": {"space": "cosine"}})

        """
        request, function = await in_thread(self._creation, name, configuration, metadata, embedding_function, get_or_create, schema)
        model = await self._api.create_collection(request)
        return await in_thread(self._wrap, model, function, data_loader)

    async def get_collection(self, name: str, embedding_function: Any = DEFAULT_EMBEDDING, data_loader: Any = None) -> AsyncCollection:
        """An existing collection; ``NotFoundError`` when missing.

        Without ``embedding_function`` the collection's persisted function is rebuilt when known.
        """
        model = await self._api.get_collection(name, self.tenant, self.database)
        return await in_thread(self._wrap, model, embedding_function, data_loader)

    async def get_or_create_collection(
        self,
        name: str,
        schema: Any = None,
        configuration: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT_EMBEDDING,
        data_loader: Any = None,
    ) -> AsyncCollection:
        """The collection called ``name``, created first if needed (then the arguments are ignored)."""
        return await self.create_collection(name, schema, configuration, metadata, embedding_function, data_loader, True)

    async def delete_collection(self, name: str) -> None:
        """Delete a collection and all its records and files; ``NotFoundError`` when missing."""
        await self._api.delete_collection(name, self.tenant, self.database)

    def _wrap(self, model: CollectionModel, embedding_function: Any, data_loader: Any) -> AsyncCollection:
        return AsyncCollection(self._api, model, resolve_embedding_function(model, embedding_function), data_loader)


__all__ = ["AsyncClient"]
