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

from typing import Any

from ragstore.api import API, ClosesApi
from ragstore.settings import Settings
from ragstore.store_address import StoreAddress
from ragstore.types import DEFAULT_TENANT


class AdminClient(ClosesApi):
    """Manage tenants and databases of one store (use :func:`ragstore.AdminClient` to make one)."""

    def __init__(self, api: API, settings: Settings) -> None:
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


def admin_client(settings: Settings | None = None) -> AdminClient:
    """An admin client for the store ``settings`` describe: a server, a path, or memory.

    ``chroma_server_host`` selects a server, ``is_persistent`` a path; otherwise the
    client has its own in-memory store (ragstore's ephemeral stores are independent).
    The store is opened as every client opens one: :meth:`ragstore.StoreAddress.from_settings`.
    """
    settings = settings or Settings()
    return AdminClient(StoreAddress.from_settings(settings).api(settings), settings)
