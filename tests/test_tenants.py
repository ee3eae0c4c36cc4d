"""Tenants and databases (AdminClient) on every client mode."""

from __future__ import annotations

import pytest

import ragstore
from ragstore.admin import AdminClient


def admin_for(client: ragstore.ClientAPI) -> AdminClient:
    """An admin client on the same engine (local, or the same server over HTTP)."""
    return AdminClient(client._api, client.get_settings())  # type: ignore[arg-type]


def test_default_tenant_and_database_exist(client: ragstore.ClientAPI) -> None:
    admin = admin_for(client)
    assert admin.get_tenant("default_tenant") == {"name": "default_tenant"}
    default = admin.get_database("default_database")
    assert (default["name"], default["tenant"]) == ("default_database", "default_tenant")
    assert [d["name"] for d in admin.list_databases()] == ["default_database"]


def test_create_and_use_a_tenant_and_database(client: ragstore.ClientAPI) -> None:
    admin = admin_for(client)
    admin.create_tenant("acme")
    admin.create_database("docs", tenant="acme")
    admin.create_database("logs", tenant="acme")
    assert [d["name"] for d in admin.list_databases(tenant="acme")] == ["docs", "logs"]
    assert [d["name"] for d in admin.list_databases(limit=1, offset=1, tenant="acme")] == ["logs"]
    assert admin.get_database("docs", tenant="acme")["tenant"] == "acme"

    client.get_or_create_collection("shared-name", embedding_function=None).add(ids="a", embeddings=[1.0])
    client.set_tenant("acme", database="docs")
    assert (client.tenant, client.database) == ("acme", "docs")
    assert client.list_collections() == []
    col = client.create_collection("shared-name", embedding_function=None)  # same name, another database
    col.add(ids=["x", "y"], embeddings=[[1.0], [2.0]])
    assert (col.tenant, col.database, col.count()) == ("acme", "docs", 2)
    client.set_database("logs")
    assert client.count_collections() == 0
    client.set_tenant("default_tenant", database="default_database")
    assert client.get_collection("shared-name", embedding_function=None).count() == 1


def test_delete_database_removes_its_collections(client: ragstore.ClientAPI) -> None:
    admin = admin_for(client)
    admin.create_database("scratch")
    client.set_database("scratch")
    client.create_collection("tmp-col", embedding_function=None).add(ids="a", embeddings=[1.0])
    client.set_database("default_database")
    admin.delete_database("scratch")
    with pytest.raises(ragstore.NotFoundError):
        admin.get_database("scratch")
    with pytest.raises(ragstore.NotFoundError):
        client.set_database("scratch")
    admin.create_database("scratch")  # the name is free again, and empty
    client.set_database("scratch")
    assert client.count_collections() == 0


def test_tenant_and_database_errors(client: ragstore.ClientAPI) -> None:
    admin = admin_for(client)
    admin.create_tenant("team")
    with pytest.raises(ragstore.UniqueConstraintError):
        admin.create_tenant("team")
    admin.create_database("main", tenant="team")
    with pytest.raises(ragstore.UniqueConstraintError):
        admin.create_database("main", tenant="team")
    with pytest.raises(ragstore.NotFoundError):
        admin.get_tenant("nobody")
    with pytest.raises(ragstore.NotFoundError):
        admin.create_database("orphan", tenant="nobody")
    with pytest.raises(ragstore.NotFoundError):
        admin.delete_database("missing")
    for bad in ("", "ab", "a" * 513):
        with pytest.raises(ragstore.InvalidArgumentError):
            admin.create_tenant(bad)
    for bad in ("", "ab", "-bad-", "a..b", "a" * 513):  # databases follow the collection-name rules, as in chromadb
        with pytest.raises(ragstore.InvalidArgumentError):
            admin.create_database(bad)
    assert [d["name"] for d in admin.list_databases(tenant="team")] == ["main"]


def test_admin_client_factory_for_a_path(tmp_path: object) -> None:
    settings = ragstore.Settings(is_persistent=True, persist_directory=str(tmp_path))
    with ragstore.AdminClient(settings) as admin:
        admin.create_tenant("acme")
        admin.create_database("docs", tenant="acme")
    with ragstore.PersistentClient(str(tmp_path), tenant="acme", database="docs") as scoped:
        scoped.create_collection("kept", embedding_function=None)
    with ragstore.AdminClient(settings) as admin:
        assert [d["name"] for d in admin.list_databases(tenant="acme")] == ["docs"]
