"""``AdminClient``: tenants and databases, as chromadb's ``AdminClient``.

Collections live in a database of a tenant; every store starts with
``default_tenant``/``default_database``. Create more here, then open a client
scoped to them (``PersistentClient(path, tenant=..., database=...)`` or
``HttpClient(..., tenant=..., database=...)``).

Example:
    >>> import tempfile
    >>> import ragstore
    >>> path = tempfile.mkdtemp()
    >>> admin = ragstore.AdminClient(ragstore.Settings(is_persistent=True, persist_directory=path))
    >>> admin.create_tenant("acme")
    >>> admin.create_database("docs", tenant="acme")
    >>> [d["name"] for d in admin.list_databases(tenant="acme")]
    ['docs']
    >>> ragstore.PersistentClient(path, tenant="acme", database="docs").count_collections()
    0

"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from ragstore.settings import Settings
from ragstore.types import DEFAULT_TENANT


class TenantsAndDatabases(Protocol):
    """What an engine offers for tenants and databases (``LocalAPI`` and ``HttpAPI`` both do)."""

    def create_tenant(self, name: str) -> None: ...  # noqa: D102
    def get_tenant(self, name: str) -> str: ...  # noqa: D102
    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None: ...  # noqa: D102
    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]: ...  # noqa: D102
    def list_databases(  # noqa: D102
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT
    ) -> list[dict[str, str]]: ...
    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None: ...  # noqa: D102
    def close(self) -> None: ...  # noqa: D102


class AdminClient:
    """Manage tenants and databases of one store (use :func:`ragstore.AdminClient` to make one)."""

    def __init__(self, api: TenantsAndDatabases, settings: Settings) -> None:
        self._api = api
        self._settings = settings

    def create_tenant(self, name: str) -> None:
        """Create a tenant; ``UniqueConstraintError`` if it exists."""
        self._api.create_tenant(name)

    def get_tenant(self, name: str) -> dict[str, Any]:
        """``{"name": ...}``; ``NotFoundError`` when missing."""
        return {"name": self._api.get_tenant(name)}

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``; ``UniqueConstraintError`` if it exists."""
        self._api.create_database(name, tenant)

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when missing."""
        return self._api.get_database(name, tenant)

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """The tenant's databases in creation order."""
        return self._api.list_databases(limit, offset, tenant)

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database with all its collections and their files."""
        self._api.delete_database(name, tenant)

    def get_settings(self) -> Settings:
        """The settings this client was made with."""
        return self._settings

    def close(self) -> None:
        """Release the connection or files."""
        self._api.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def admin_client(settings: Settings | None = None) -> AdminClient:
    """An admin client for the store ``settings`` describe: a server, a path, or memory.

    ``chroma_server_host`` selects a server, ``is_persistent`` a path; otherwise the
    client has its own in-memory store (ragstore's ephemeral stores are independent).
    """
    settings = settings or Settings()
    if settings.chroma_server_host:
        from ragstore.http.client import HttpAPI
        from ragstore.http.transport import request_headers, server_url

        url = server_url(settings.chroma_server_host, settings.chroma_server_http_port, settings.chroma_server_ssl_enabled)
        return AdminClient(HttpAPI(url, request_headers(settings.chroma_server_headers, settings)), settings)
    from ragstore.local import LocalAPI

    return AdminClient(LocalAPI(settings.persist_directory if settings.is_persistent else None, settings), settings)
