"""Wire compatibility: chromadb 1.5.9's own ``chromadb.HttpClient`` against a real ``ragstore run``.

Every test talks to a server process over a socket through chromadb's client
(``chromadb.api.fastapi.FastAPI``), so a missing field, a wrong shape or a wrong
status in ragstore's REST v2 answers shows up here as a chromadb failure.
Collections get unique names, so tests share one server per module; tests
that need an empty database create their own tenant and database.

chromadb's default embedding function downloads a model, so every collection
is opened with ``embedding_function=None`` and records carry explicit embeddings.
Where ragstore deliberately answers differently from ``chroma run`` the test
asserts ragstore's documented behaviour and says so in a comment.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import chromadb
import chromadb.errors
import httpx
import numpy as np
import pytest
from chromadb.api import ClientAPI as ChromaClient
from chromadb.api.models.Collection import Collection as ChromaCollection
from chromadb.config import Settings as ChromaSettings
from chromadb_sessions import chromadb_sessions_closed
from servers import RunningServer

import ragstore
from ragstore.testing import run_server

TOKEN = "s3cret"
TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthClientProvider"

# Tests that read ``collection.configuration`` or modify it of a collection created with
# ``configuration=`` and no embedding function: chromadb's client itself warns (against ``chroma run`` too).
legacy_ef_config_warning = pytest.mark.filterwarnings("ignore:legacy embedding function config:DeprecationWarning")


# ---------------------------------------------------------------------------------- helpers


def chroma_settings(**overrides: Any) -> ChromaSettings:
    """chromadb client settings without telemetry."""
    return ChromaSettings(anonymized_telemetry=False, **overrides)


def chroma_client(server: RunningServer, settings: ChromaSettings | None = None, **kwargs: Any) -> ChromaClient:
    """chromadb's HTTP client for ``server`` (closed by the caller)."""
    return chromadb.HttpClient(host=server.host, port=server.port, settings=settings or chroma_settings(), **kwargs)


def admin_client(server: RunningServer, **overrides: Any) -> chromadb.AdminClient:
    """chromadb's admin client over HTTP; unlike ``HttpClient`` it sends no request when built."""
    settings = chroma_settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host=server.host, chroma_server_http_port=server.port, **overrides
    )
    return chromadb.AdminClient(settings)


def token_settings(token: str, header: str | None = None) -> ChromaSettings:
    """Settings for chromadb's token auth provider (``Authorization: Bearer`` unless ``header`` says otherwise)."""
    extra = {"chroma_auth_token_transport_header": header} if header else {}
    return chroma_settings(chroma_client_auth_provider=TOKEN_PROVIDER, chroma_client_auth_credentials=token, **extra)


_names = itertools.count()


def unique(prefix: str) -> str:
    """A collection (or tenant, database) name no other test uses."""
    return f"{prefix}-{next(_names)}-{time.monotonic_ns() % 10**9}"


def new_collection(client: ChromaClient, prefix: str = "col", **kwargs: Any) -> ChromaCollection:
    """A fresh collection with a unique name and no embedding function."""
    return client.create_collection(unique(prefix), embedding_function=None, **kwargs)


def vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` reproducible float32 vectors."""
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def brute_force(space: str, data: np.ndarray, query: np.ndarray) -> np.ndarray:
    """chromadb's distances (chromadb/utils/distance_functions.py) from ``query`` to every row, in float64."""
    x, q = data.astype(np.float64), query.astype(np.float64)
    if space == "l2":
        return ((x - q) ** 2).sum(axis=1)
    if space == "cosine":
        return 1.0 - (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q) + 1e-30)
    assert space == "ip"
    return 1.0 - x @ q


def nearest(space: str, ids: list[str], data: np.ndarray, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
    """The ``k`` nearest ids and their distances, by brute force."""
    distances = brute_force(space, data, query)
    order = np.argsort(distances, kind="stable")[:k]
    return [ids[i] for i in order], distances[order]


# A small record set with every metadata value type, list values, missing metadata and a missing document.
RECORD_IDS = ["r0", "r1", "r2", "r3", "r4", "r5"]
RECORD_DOCUMENTS = ["The quick brown fox", "jumps over the lazy dog", "Apple pie recipe", None, "lorem ipsum 42", "quick thinking"]
RECORD_METADATAS: list[dict[str, Any] | None] = [
    {"n": 0, "f": 0.5, "s": "apple", "b": True, "tags": ["red", "green"]},
    {"n": 1, "f": 1.5, "s": "banana", "b": False, "tags": ["yellow"]},
    {"n": 2, "s": "cherry", "tags": ["red"]},
    {"n": 3, "f": 3.5, "b": True, "ranks": [1, 2, 3]},
    None,
    {"n": 5, "s": "apple"},
]
RECORD_URIS = [f"s3://bucket/{i}.txt" for i in RECORD_IDS]
RECORD_DIM = 4
RECORD_EMBEDDINGS = vectors(len(RECORD_IDS), RECORD_DIM, seed=7)


def add_records(col: ChromaCollection) -> None:
    """Add the shared record set through chromadb's client."""
    col.add(ids=RECORD_IDS, embeddings=RECORD_EMBEDDINGS, documents=RECORD_DOCUMENTS, metadatas=RECORD_METADATAS, uris=RECORD_URIS)


def record_field(field: str, ids: list[str]) -> list[Any]:
    """The expected values of ``field`` for ``ids``."""
    column = {"documents": RECORD_DOCUMENTS, "metadatas": RECORD_METADATAS, "uris": RECORD_URIS}[field]
    return [column[RECORD_IDS.index(i)] for i in ids]


class RequestLog:
    """Records the JSON bodies chromadb's client sends (an httpx request hook on its session)."""

    def __init__(self, client: ChromaClient) -> None:
        self.session: httpx.Client = client._server._session
        self.bodies: dict[str, list[Any]] = {}

    def __enter__(self) -> RequestLog:
        self.session.event_hooks["request"].append(self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.event_hooks["request"].remove(self._record)

    def _record(self, request: httpx.Request) -> None:
        if request.content:
            self.bodies.setdefault(request.url.path.rsplit("/", 1)[-1], []).append(json.loads(request.content))


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", autouse=True)
def _chromadb_sessions_closed() -> Iterator[None]:
    """Close every httpx session chromadb's clients open in this module (their ``close()`` leaves them open)."""
    with chromadb_sessions_closed():
        yield


def _server(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp(name) / "store", *args) as server:
        yield server
    assert server.returncode == 0, "".join(server.output)  # stopped by SIGTERM: a graceful shutdown


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The shared ``ragstore run --allow-reset`` process."""
    yield from _server(tmp_path_factory, "compat", "--allow-reset")


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server started without ``--allow-reset``."""
    yield from _server(tmp_path_factory, "locked")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server that requires the token ``s3cret``."""
    yield from _server(tmp_path_factory, "auth", "--auth-token", TOKEN)


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[ChromaClient]:
    """chromadb's ``HttpClient`` on the shared server."""
    made = chroma_client(server)
    yield made
    made.close()


@pytest.fixture(scope="module")
def rs_client(server: RunningServer) -> Iterator[ragstore.ClientAPI]:
    """ragstore's own ``HttpClient`` on the same server."""
    made = ragstore.HttpClient(host=server.host, port=server.port)
    yield made
    made.close()


@pytest.fixture
def scoped(server: RunningServer, client: ChromaClient) -> Iterator[ChromaClient]:
    """A chromadb client inside a brand-new tenant and database (nothing else in it)."""
    tenant, database = unique("tenant"), unique("db")
    client._admin_client.create_tenant(tenant)
    client._admin_client.create_database(database, tenant=tenant)
    made = chroma_client(server, tenant=tenant, database=database)
    yield made
    made.close()


@pytest.fixture
def records(client: ChromaClient) -> ChromaCollection:
    """A fresh collection holding the shared record set."""
    col = new_collection(client, "records")
    add_records(col)
    return col


# ---------------------------------------------------------------------------------- system


def test_heartbeat_is_the_server_clock_in_nanoseconds(client: ChromaClient) -> None:
    before = time.time_ns()
    beat = client.heartbeat()
    assert isinstance(beat, int)
    assert before - 60 * 10**9 < beat < time.time_ns() + 60 * 10**9


def test_get_version_is_ragstores(client: ChromaClient) -> None:
    assert client.get_version() == ragstore.__version__  # chroma run answers its frontend's "1.0.0"


def test_pre_flight_checks_drive_the_client(client: ChromaClient) -> None:
    checks = client._server.get_pre_flight_checks()
    assert checks["supports_base64_encoding"] is True
    assert client.get_max_batch_size() == checks["max_batch_size"] == 16384  # chromadb: 5461
    col = new_collection(client)
    with pytest.raises(ValueError, match="Batch size 16385 exceeds maximum batch size 16384"):  # checked client-side
        col.add(ids=[f"x{i}" for i in range(16385)], embeddings=np.zeros((16385, 1), dtype=np.float32))
    assert col.count() == 0


def test_get_user_identity(client: ChromaClient) -> None:
    identity = client.get_user_identity()
    assert (identity.user_id, identity.tenant, identity.databases) == ("", "default_tenant", ["default_database"])


def test_reset_deletes_everything_when_allowed(server: RunningServer) -> None:
    with chroma_client(server) as scratch:
        new_collection(scratch)
        assert scratch.count_collections() >= 1
        assert scratch.reset() is True
        assert scratch.count_collections() == 0
        assert scratch.heartbeat() > 0  # the default tenant and database are back at once
        new_collection(scratch)


def test_reset_is_refused_without_allow_reset(locked_server: RunningServer) -> None:
    with chroma_client(locked_server) as locked:
        col = new_collection(locked)
        with pytest.raises(chromadb.errors.AuthorizationError, match=r"[Rr]eset"):  # chroma run: plain ChromaError, also 403
            locked.reset()
        assert locked.get_collection(col.name, embedding_function=None).id == col.id


# ---------------------------------------------------------------------------------- tenants and databases


def test_tenants_and_databases_through_the_admin_client(server: RunningServer) -> None:
    admin = admin_client(server)
    tenant = unique("tenant")
    admin.create_tenant(tenant)
    assert admin.get_tenant(tenant)["name"] == tenant
    names = [unique("db") for _ in range(3)]
    for name in names:
        admin.create_database(name, tenant=tenant)
    db = admin.get_database(names[0], tenant=tenant)
    assert (db["name"], db["tenant"]) == (names[0], tenant) and db["id"]
    assert [d["name"] for d in admin.list_databases(tenant=tenant)] == names
    assert [d["name"] for d in admin.list_databases(limit=1, offset=1, tenant=tenant)] == names[1:2]
    admin.delete_database(names[1], tenant=tenant)
    assert [d["name"] for d in admin.list_databases(tenant=tenant)] == [names[0], names[2]]
    with pytest.raises(chromadb.errors.NotFoundError):
        admin.get_database(names[1], tenant=tenant)


def test_duplicate_tenant_and_database_are_unique_constraint_errors(server: RunningServer) -> None:
    admin = admin_client(server)
    tenant, database = unique("tenant"), unique("db")
    admin.create_tenant(tenant)
    admin.create_database(database, tenant=tenant)
    with pytest.raises(chromadb.errors.UniqueConstraintError):  # chroma run: plain ChromaError (409), as for collections
        admin.create_tenant(tenant)
    with pytest.raises(chromadb.errors.UniqueConstraintError):
        admin.create_database(database, tenant=tenant)


def test_missing_tenant_and_database_are_not_found(server: RunningServer, client: ChromaClient) -> None:
    admin = admin_client(server)
    with pytest.raises(chromadb.errors.NotFoundError, match="Tenant"):
        admin.get_tenant("no-such-tenant")
    with pytest.raises(chromadb.errors.NotFoundError, match="Tenant"):  # chroma run creates the database anyway
        admin.create_database("orphan", tenant="no-such-tenant")
    with pytest.raises(chromadb.errors.NotFoundError, match="Tenant"):
        chroma_client(server, tenant="no-such-tenant")
    with pytest.raises(chromadb.errors.NotFoundError, match="Database"):
        client.set_database("no-such-database")
    assert client.database == "default_database"


def test_a_tenant_too_short_is_invalid(server: RunningServer) -> None:
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        admin_client(server).create_tenant("ab")


def test_http_client_works_inside_its_tenant_and_database(client: ChromaClient, scoped: ChromaClient) -> None:
    assert scoped.count_collections() == 0
    col = new_collection(scoped, "inside")
    col.add(ids=["a"], embeddings=[[1.0, 2.0]])
    again = scoped.get_collection(col.name, embedding_function=None)
    assert (again.id, again.tenant, again.database) == (col.id, scoped.tenant, scoped.database)
    assert again.count() == 1
    assert [c.name for c in scoped.list_collections()] == [col.name]
    with pytest.raises(chromadb.errors.NotFoundError):  # invisible from the default database
        client.get_collection(col.name, embedding_function=None)


# ---------------------------------------------------------------------------------- collections


def test_create_collection_with_metadata(client: ChromaClient) -> None:
    col = new_collection(client, metadata={"topic": "fruit", "year": 2024, "score": 0.5, "public": True})
    assert col.metadata == {"topic": "fruit", "year": 2024, "score": 0.5, "public": True}
    assert col.configuration_json["hnsw"]["space"] == "l2"
    again = client.get_collection(col.name, embedding_function=None)
    assert (again.id, again.name, again.metadata) == (col.id, col.name, col.metadata)
    assert (again.tenant, again.database) == ("default_tenant", "default_database")
    assert client.get_collection_by_id(col.id, embedding_function=None).name == col.name


def test_create_collection_with_configuration(client: ChromaClient) -> None:
    col = new_collection(client, configuration={"hnsw": {"space": "ip", "ef_search": 42}})
    hnsw = client.get_collection(col.name, embedding_function=None).configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["ef_search"]) == ("ip", 42)


@legacy_ef_config_warning
def test_configuration_parses_in_the_client(client: ChromaClient) -> None:
    col = new_collection(client, configuration={"hnsw": {"space": "cosine", "ef_search": 50}})
    configuration = client.get_collection(col.name, embedding_function=None).configuration
    assert configuration["hnsw"]["space"] == "cosine"
    assert configuration["hnsw"]["ef_search"] == 50


def test_legacy_hnsw_space_metadata_sets_the_space(client: ChromaClient) -> None:
    col = new_collection(client, metadata={"hnsw:space": "cosine"})
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    assert client.get_collection(col.name, embedding_function=None).metadata == {"hnsw:space": "cosine"}
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [10.0, 10.0]])
    result = col.query(query_embeddings=[[1.0, 1.0]], n_results=2, include=["distances"])
    assert result["ids"] == [["b", "a"]]
    assert result["distances"][0] == pytest.approx([0.0, 1 - 1 / np.sqrt(2)], abs=1e-6)


def test_get_or_create_collection(client: ChromaClient) -> None:
    name = unique("goc")
    created = client.get_or_create_collection(name, metadata={"v": 1}, embedding_function=None)
    again = client.get_or_create_collection(name, metadata={"v": 2}, embedding_function=None)
    assert again.id == created.id
    assert again.metadata == {"v": 1}  # as chromadb: the metadata of an existing collection is kept


def test_list_collections_in_creation_order_with_limit_and_offset(scoped: ChromaClient) -> None:
    names = [new_collection(scoped, f"list{i}").name for i in range(4)]
    assert [c.name for c in scoped.list_collections()] == names  # chromadb leaves the order unspecified
    assert [c.name for c in scoped.list_collections(limit=2)] == names[:2]
    assert [c.name for c in scoped.list_collections(limit=2, offset=1)] == names[1:3]
    assert [c.name for c in scoped.list_collections(offset=3)] == names[3:]
    assert all(isinstance(c, ChromaCollection) for c in scoped.list_collections())


def test_count_collections(scoped: ChromaClient) -> None:
    assert scoped.count_collections() == 0
    for _ in range(3):
        new_collection(scoped)
    assert scoped.count_collections() == 3
    scoped.delete_collection(scoped.list_collections()[0].name)
    assert scoped.count_collections() == 2


def test_modify_renames_a_collection(client: ChromaClient) -> None:
    col = new_collection(client)
    old_name, new_name = col.name, unique("renamed")
    col.modify(name=new_name)
    assert col.name == new_name
    assert client.get_collection(new_name, embedding_function=None).id == col.id
    with pytest.raises(chromadb.errors.NotFoundError):
        client.get_collection(old_name, embedding_function=None)


def test_modify_replaces_the_metadata(client: ChromaClient) -> None:
    col = new_collection(client, metadata={"a": 1, "b": 2})
    col.modify(metadata={"c": 3})
    assert client.get_collection(col.name, embedding_function=None).metadata == {"c": 3}


@legacy_ef_config_warning
def test_modify_changes_ef_search(client: ChromaClient) -> None:
    col = new_collection(client, configuration={"hnsw": {"space": "cosine", "ef_search": 50}})
    col.modify(configuration={"hnsw": {"ef_search": 77}})  # chromadb's client sends "spann": null alongside
    assert col.configuration_json["hnsw"]["ef_search"] == 77  # the client also rewrote its copy of the schema
    assert col.schema.keys["#embedding"].float_list.vector_index.config.hnsw.ef_search == 77
    hnsw = client.get_collection(col.name, embedding_function=None).configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["ef_search"]) == ("cosine", 77)


def test_modify_cannot_change_the_space(client: ChromaClient) -> None:
    col = new_collection(client)
    with pytest.raises(chromadb.errors.InvalidArgumentError):  # chroma run: ChromaError (body fails to deserialize)
        client._server._modify(col.id, new_configuration={"hnsw": {"space": "ip"}})
    assert client.get_collection(col.name, embedding_function=None).configuration_json["hnsw"]["space"] == "l2"


def test_delete_collection(client: ChromaClient) -> None:
    col = new_collection(client)
    col.add(ids=["a"], embeddings=[[1.0]])
    client.delete_collection(col.name)
    with pytest.raises(chromadb.errors.NotFoundError, match="does not exist"):
        client.get_collection(col.name, embedding_function=None)
    with pytest.raises(chromadb.errors.NotFoundError):
        client.delete_collection(col.name)
    with pytest.raises(chromadb.errors.NotFoundError):  # the old handle's records are gone too
        col.count()


def test_duplicate_collection_name_is_a_unique_constraint_error(client: ChromaClient) -> None:
    col = new_collection(client)
    # chroma run answers 409 with a plain ChromaError; ragstore names it UniqueConstraintError (also a ChromaError).
    with pytest.raises(chromadb.errors.UniqueConstraintError, match="already exists") as info:
        client.create_collection(col.name, embedding_function=None)
    assert isinstance(info.value, chromadb.errors.ChromaError) and info.value.code() == 409


def test_rename_onto_an_existing_name_is_a_unique_constraint_error(client: ChromaClient) -> None:
    first, second = new_collection(client), new_collection(client)
    with pytest.raises(chromadb.errors.UniqueConstraintError):  # chroma run: InternalError (sqlite UNIQUE failed)
        second.modify(name=first.name)
    assert client.get_collection(second.name, embedding_function=None).id == second.id


def test_missing_collection_is_not_found(client: ChromaClient) -> None:
    with pytest.raises(chromadb.errors.NotFoundError, match=r"Collection \[no-such-collection\] does not exist"):
        client.get_collection("no-such-collection", embedding_function=None)


# ---------------------------------------------------------------------------------- records: round trips


def test_add_then_get_round_trips_every_field(records: ChromaCollection) -> None:
    result = records.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert result["ids"] == RECORD_IDS
    assert result["documents"] == RECORD_DOCUMENTS
    assert result["metadatas"] == RECORD_METADATAS  # chroma run answers {} instead of None for r4 (its uri hides there)
    assert result["uris"] == RECORD_URIS
    np.testing.assert_array_equal(np.asarray(result["embeddings"], dtype=np.float32), RECORD_EMBEDDINGS)
    assert records.count() == len(RECORD_IDS)


def test_embeddings_travel_as_base64_and_round_trip_exactly_as_float32(client: ChromaClient) -> None:
    col = new_collection(client)
    original = vectors(20, 16, seed=3) * np.float32(1e3)
    with RequestLog(client) as log:
        col.add(ids=[f"v{i}" for i in range(20)], embeddings=original)
    sent = log.bodies["add"][0]["embeddings"]
    assert all(isinstance(item, str) for item in sent)  # pre-flight said supports_base64_encoding
    got = col.get(include=["embeddings"])["embeddings"]
    # Responses carry the shortest decimal of each float32, so back in float32 every bit matches.
    assert np.array_equal(np.asarray(got, dtype=np.float32), original)


def test_float64_embeddings_are_stored_as_float32(client: ChromaClient) -> None:
    col = new_collection(client)
    precise = np.array([[0.1, 1 / 3, np.pi]], dtype=np.float64)
    col.add(ids=["p"], embeddings=precise)
    got = np.asarray(col.get(include=["embeddings"])["embeddings"], dtype=np.float32)
    assert np.array_equal(got, precise.astype(np.float32))
    assert not np.array_equal(got.astype(np.float64), precise)


def test_get_by_ids_keeps_insertion_order_and_drops_missing(records: ChromaCollection) -> None:
    assert records.get(ids=["r5", "missing", "r1", "r0"], include=[])["ids"] == ["r0", "r1", "r5"]


@pytest.mark.parametrize(
    ("limit", "offset", "expected"), [(2, None, ["r0", "r1"]), (2, 3, ["r3", "r4"]), (None, 4, ["r4", "r5"]), (0, None, [])]
)
def test_get_limit_and_offset(records: ChromaCollection, limit: int | None, offset: int | None, expected: list[str]) -> None:
    assert records.get(limit=limit, offset=offset, include=[])["ids"] == expected


def test_peek(records: ChromaCollection) -> None:
    peeked = records.peek(limit=2)
    assert peeked["ids"] == ["r0", "r1"]
    assert peeked["documents"] == RECORD_DOCUMENTS[:2]
    np.testing.assert_array_equal(np.asarray(peeked["embeddings"], dtype=np.float32), RECORD_EMBEDDINGS[:2])


def test_add_of_an_existing_id_is_skipped(records: ChromaCollection) -> None:
    records.add(ids=["r0"], embeddings=[[9.0] * RECORD_DIM], documents=["replaced?"])
    assert records.get(ids=["r0"])["documents"] == [RECORD_DOCUMENTS[0]]
    assert records.count() == len(RECORD_IDS)


def test_update_merges_metadata_and_replaces_fields(records: ChromaCollection) -> None:
    records.update(ids=["r0", "missing"], metadatas=[{"n": 10, "s": None, "new": "x"}, {"n": 1}])
    records.update(ids=["r1"], embeddings=[[1.0, 2.0, 3.0, 4.0]], documents=["updated"])  # documents alone would be embedded
    result = records.get(ids=["r0", "r1"], include=["metadatas", "documents", "embeddings"])
    merged = {"n": 10, "f": 0.5, "b": True, "tags": ["red", "green"], "new": "x"}  # "s": None deleted the key
    assert result["metadatas"] == [merged, RECORD_METADATAS[1]]
    assert result["documents"] == [RECORD_DOCUMENTS[0], "updated"]
    np.testing.assert_array_equal(np.asarray(result["embeddings"], dtype=np.float32), [RECORD_EMBEDDINGS[0], [1.0, 2.0, 3.0, 4.0]])
    assert records.count() == len(RECORD_IDS)  # the missing id was ignored


def test_upsert_inserts_and_updates(records: ChromaCollection) -> None:
    records.upsert(ids=["r5", "r6"], embeddings=[[0.0] * RECORD_DIM, [1.0] * RECORD_DIM], metadatas=[{"s": None, "m": 1}, {"m": 2}])
    result = records.get(ids=["r5", "r6"], include=["metadatas", "documents", "embeddings"])
    assert result["ids"] == ["r5", "r6"]
    assert result["metadatas"] == [{"n": 5, "m": 1}, {"m": 2}]
    assert result["documents"] == [RECORD_DOCUMENTS[5], None]  # upsert without documents keeps the stored one
    np.testing.assert_array_equal(result["embeddings"], [[0.0] * RECORD_DIM, [1.0] * RECORD_DIM])
    assert records.count() == len(RECORD_IDS) + 1


def test_delete_by_ids_returns_the_real_count(records: ChromaCollection) -> None:
    assert records.delete(ids=["r0", "r1", "missing"]) == {"deleted": 2}  # chromadb reports the 3 ids requested
    assert records.get(include=[])["ids"] == RECORD_IDS[2:]


def test_delete_by_filters_returns_the_count(records: ChromaCollection) -> None:
    assert records.delete(where={"s": "apple"}) == {"deleted": 2}
    assert records.delete(where_document={"$contains": "o"}) == {"deleted": 2}
    assert records.get(include=[])["ids"] == ["r2", "r3"]


def test_delete_with_limit(records: ChromaCollection) -> None:
    assert records.delete(where={"n": {"$gte": 0}}, limit=2) == {"deleted": 2}
    assert records.count() == len(RECORD_IDS) - 2


# ---------------------------------------------------------------------------------- records: filters


WHERE_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"s": "apple"}, ["r0", "r5"]),
    ({"s": {"$eq": "apple"}}, ["r0", "r5"]),
    ({"s": {"$ne": "apple"}}, ["r1", "r2", "r3", "r4"]),  # $ne matches records without the key
    ({"n": {"$gt": 2}}, ["r3", "r5"]),
    ({"n": {"$gte": 2}}, ["r2", "r3", "r5"]),
    ({"f": {"$lt": 1.5}}, ["r0"]),
    ({"f": {"$lte": 1.5}}, ["r0", "r1"]),
    ({"n": {"$lt": 1.5}}, ["r0", "r1"]),  # numeric comparison; chroma run truncates 1.5 to 1 on int fields and answers ["r0"]
    ({"b": True}, ["r0", "r3"]),
    ({"b": {"$ne": True}}, ["r1", "r2", "r4", "r5"]),
    ({"s": {"$in": ["banana", "cherry"]}}, ["r1", "r2"]),
    ({"n": {"$nin": [0, 1, 2]}}, ["r3", "r4", "r5"]),
    ({"$and": [{"n": {"$gte": 1}}, {"n": {"$lte": 3}}]}, ["r1", "r2", "r3"]),
    ({"$or": [{"s": "banana"}, {"b": True}]}, ["r0", "r1", "r3"]),
    ({"$and": [{"$or": [{"s": "apple"}, {"s": "cherry"}]}, {"n": {"$gt": 0}}]}, ["r2", "r5"]),
    ({"tags": {"$contains": "red"}}, ["r0", "r2"]),
    ({"tags": {"$not_contains": "red"}}, ["r1", "r3", "r4", "r5"]),
    ({"ranks": {"$contains": 2}}, ["r3"]),
    ({"tags": "red"}, []),  # $eq does not look inside list values
    ({"#document": {"$contains": "quick"}}, ["r0", "r5"]),
]

WHERE_DOCUMENT_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"$contains": "quick"}, ["r0", "r5"]),
    ({"$contains": "Quick"}, []),  # case-sensitive
    ({"$not_contains": "quick"}, ["r1", "r2", "r3", "r4"]),  # a record without a document matches
    ({"$regex": "^[A-Z]"}, ["r0", "r2"]),
    ({"$regex": "(?i)apple"}, ["r2"]),
    ({"$regex": r"\d+"}, ["r4"]),
    ({"$not_regex": "o"}, ["r2", "r3", "r5"]),
    ({"$and": [{"$contains": "quick"}, {"$not_contains": "fox"}]}, ["r5"]),
    ({"$or": [{"$contains": "fox"}, {"$regex": "^lorem"}]}, ["r0", "r4"]),
]


@pytest.mark.parametrize(("where", "expected"), WHERE_CASES, ids=[json.dumps(w) for w, _ in WHERE_CASES])
def test_get_where(records: ChromaCollection, where: dict[str, Any], expected: list[str]) -> None:
    assert records.get(where=where, include=[])["ids"] == expected


@pytest.mark.parametrize(("where_document", "expected"), WHERE_DOCUMENT_CASES, ids=[json.dumps(w) for w, _ in WHERE_DOCUMENT_CASES])
def test_get_where_document(records: ChromaCollection, where_document: dict[str, Any], expected: list[str]) -> None:
    assert records.get(where_document=where_document, include=[])["ids"] == expected


def test_ids_where_and_where_document_combine_with_and(records: ChromaCollection) -> None:
    assert records.get(where={"n": {"$lte": 2}}, where_document={"$contains": "p"}, include=[])["ids"] == ["r1", "r2"]
    got = records.get(ids=["r0", "r2", "r4", "r5"], where={"n": {"$lte": 2}}, where_document={"$contains": "p"}, include=[])
    assert got["ids"] == ["r2"]


def test_query_applies_where_and_where_document(records: ChromaCollection) -> None:
    candidates = ["r0", "r1", "r3"]  # where {"$or": [{"s": "banana"}, {"b": True}]}
    query = RECORD_EMBEDDINGS[4]
    expected, distances = nearest("l2", candidates, RECORD_EMBEDDINGS[[0, 1, 3]], query, 10)
    result = records.query(query_embeddings=[query], where={"$or": [{"s": "banana"}, {"b": True}]}, include=["distances"])
    assert result["ids"] == [expected]
    assert result["distances"][0] == pytest.approx(distances.tolist(), rel=1e-5, abs=1e-5)
    documented = records.query(query_embeddings=[query], where_document={"$contains": "quick"}, include=[])
    assert sorted(documented["ids"][0]) == ["r0", "r5"]


# ---------------------------------------------------------------------------------- records: include


GET_INCLUDES: list[list[str]] = [
    [],
    ["documents"],
    ["metadatas"],
    ["embeddings"],
    ["uris"],
    ["embeddings", "documents", "metadatas", "uris"],
]


@pytest.mark.parametrize("include", GET_INCLUDES, ids=lambda inc: "+".join(inc) or "ids-only")
def test_get_include(records: ChromaCollection, include: list[str]) -> None:
    ids = ["r1", "r3"]
    result = records.get(ids=ids, include=include)
    assert result["ids"] == ids
    for field in ("documents", "metadatas", "uris"):
        assert result[field] == (record_field(field, ids) if field in include else None), field
    if "embeddings" in include:
        np.testing.assert_array_equal(np.asarray(result["embeddings"], dtype=np.float32), RECORD_EMBEDDINGS[[1, 3]])
    else:
        assert result["embeddings"] is None


def test_get_default_include_is_documents_and_metadatas(records: ChromaCollection) -> None:
    result = records.get(ids=["r0"])
    assert (result["documents"], result["metadatas"]) == ([RECORD_DOCUMENTS[0]], [RECORD_METADATAS[0]])
    assert (result["embeddings"], result["uris"]) == (None, None)


QUERY_INCLUDES: list[list[str]] = [
    [],
    ["distances"],
    ["documents", "metadatas"],
    ["embeddings", "uris"],
    ["embeddings", "documents", "metadatas", "uris", "distances"],
]


@pytest.mark.parametrize("include", QUERY_INCLUDES, ids=lambda inc: "+".join(inc) or "ids-only")
def test_query_include(records: ChromaCollection, include: list[str]) -> None:
    query = RECORD_EMBEDDINGS[2] + np.float32(0.01)
    expected, distances = nearest("l2", RECORD_IDS, RECORD_EMBEDDINGS, query, 3)
    result = records.query(query_embeddings=[query], n_results=3, include=include)
    assert result["ids"] == [expected]
    for field in ("documents", "metadatas", "uris"):
        assert result[field] == ([record_field(field, expected)] if field in include else None), field
    if "embeddings" in include:
        rows = [RECORD_IDS.index(i) for i in expected]
        np.testing.assert_array_equal(np.asarray(result["embeddings"][0], dtype=np.float32), RECORD_EMBEDDINGS[rows])
    else:
        assert result["embeddings"] is None
    if "distances" in include:
        assert result["distances"][0] == pytest.approx(distances.tolist(), rel=1e-5, abs=1e-5)
    else:
        assert result["distances"] is None


def test_query_default_include_and_n_results(client: ChromaClient) -> None:
    col = new_collection(client)
    data = vectors(15, 3, seed=11)
    col.add(ids=[f"d{i}" for i in range(15)], embeddings=data, documents=[f"doc {i}" for i in range(15)])
    result = col.query(query_embeddings=[data[0]])
    assert len(result["ids"][0]) == 10  # n_results defaults to 10
    assert result["ids"][0][0] == "d0" and result["documents"][0][0] == "doc 0"
    assert result["metadatas"] == [[None] * 10] and result["embeddings"] is None


# ---------------------------------------------------------------------------------- records: query distances


SPACES = ["l2", "cosine", "ip"]


@pytest.fixture(params=SPACES)
def space_collection(request: pytest.FixtureRequest, client: ChromaClient) -> tuple[str, ChromaCollection, list[str], np.ndarray]:
    """A collection of 40 random 8-d vectors in each distance space."""
    space = str(request.param)
    col = new_collection(client, space, configuration={"hnsw": {"space": space}})
    ids = [f"v{i}" for i in range(40)]
    data = vectors(40, 8, seed=5)
    col.add(ids=ids, embeddings=data, metadatas=[{"group": i % 3} for i in range(40)])
    return space, col, ids, data


def test_query_distances_match_brute_force(space_collection: tuple[str, ChromaCollection, list[str], np.ndarray]) -> None:
    space, col, ids, data = space_collection
    queries = vectors(3, 8, seed=6)
    result = col.query(query_embeddings=queries, n_results=7, include=["distances"])
    for row, query in enumerate(queries):
        expected, distances = nearest(space, ids, data, query, 7)
        assert result["ids"][row] == expected
        assert result["distances"][row] == pytest.approx(distances.tolist(), rel=1e-4, abs=1e-4)


def test_query_restricted_by_ids_and_where(space_collection: tuple[str, ChromaCollection, list[str], np.ndarray]) -> None:
    space, col, ids, data = space_collection
    allowed = [i for i in range(0, 30, 2) if i % 3 == 1]  # ids v0..v28 (even) that are also in group 1
    query = vectors(1, 8, seed=8)[0]
    result = col.query(
        query_embeddings=[query], ids=[f"v{i}" for i in range(0, 30, 2)], where={"group": 1}, n_results=4, include=["distances"]
    )
    expected, distances = nearest(space, [ids[i] for i in allowed], data[allowed], query, 4)
    assert result["ids"] == [expected]
    assert result["distances"][0] == pytest.approx(distances.tolist(), rel=1e-4, abs=1e-4)


def test_query_with_more_results_than_records(client: ChromaClient) -> None:
    col = new_collection(client)
    assert col.query(query_embeddings=[[1.0, 2.0]], n_results=3)["ids"] == [[]]  # empty collection
    col.add(ids=["a", "b"], embeddings=[[0.0, 0.0], [1.0, 1.0]])
    assert col.query(query_embeddings=[[1.0, 2.0]], n_results=5, include=[])["ids"] == [["b", "a"]]


# ---------------------------------------------------------------------------------- errors


def test_dimension_mismatch_is_an_invalid_argument_error(records: ChromaCollection) -> None:
    message = f"Collection expecting embedding with dimension of {RECORD_DIM}, got 2"
    with pytest.raises(chromadb.errors.InvalidArgumentError, match=message):
        records.add(ids=["bad"], embeddings=[[1.0, 2.0]])
    with pytest.raises(chromadb.errors.InvalidArgumentError, match=message):
        records.upsert(ids=["r0"], embeddings=[[1.0, 2.0]])
    with pytest.raises(chromadb.errors.InvalidArgumentError, match=message):
        records.query(query_embeddings=[[1.0, 2.0]])
    assert records.count() == len(RECORD_IDS)


def test_malformed_where_is_rejected_by_the_client_first(records: ChromaCollection) -> None:
    with pytest.raises(ValueError, match=r"Expected where operator to be one of .*got \$foo"):
        records.get(where={"n": {"$foo": 1}})


def test_malformed_where_is_an_invalid_argument_error_from_the_server(client: ChromaClient, records: ChromaCollection) -> None:
    bypass = client._server  # skips the client-side validation
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        bypass._get(records.id, where={"n": {"$foo": 1}})
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        bypass._get(records.id, where={"n": 1, "s": "apple"})
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        bypass._get(records.id, where_document={"$eq": "x"})


def test_bad_regex_is_an_invalid_argument_error(records: ChromaCollection) -> None:
    with pytest.raises(chromadb.errors.InvalidArgumentError, match=r"[Rr]egex"):
        records.get(where_document={"$regex": "("})


def test_duplicate_ids_are_rejected_by_the_client(records: ChromaCollection) -> None:
    with pytest.raises(chromadb.errors.DuplicateIDError, match="found duplicates of: q"):
        records.add(ids=["q", "q"], embeddings=[[1.0] * RECORD_DIM] * 2)
    assert records.get(ids=["q"])["ids"] == []


def test_duplicate_ids_are_rejected_by_the_server_too(client: ChromaClient, records: ChromaCollection) -> None:
    # chroma run accepts a raw add with duplicate ids and keeps the first; ragstore refuses the batch.
    with pytest.raises(chromadb.errors.DuplicateIDError):
        client._server._add(["q", "q"], records.id, [[1.0] * RECORD_DIM] * 2)
    assert records.get(ids=["q"])["ids"] == []


def test_writing_to_a_deleted_collection_is_not_found(client: ChromaClient) -> None:
    col = new_collection(client)
    client.delete_collection(col.name)
    with pytest.raises(chromadb.errors.NotFoundError):
        col.add(ids=["a"], embeddings=[[1.0]])
    with pytest.raises(chromadb.errors.NotFoundError):
        col.query(query_embeddings=[[1.0]])


# ---------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "X-Chroma-Token"], ids=["authorization-bearer", "x-chroma-token"])
def test_token_auth_provider_works(auth_server: RunningServer, header: str | None) -> None:
    with chroma_client(auth_server, token_settings(TOKEN, header)) as authed:
        sent = {name.lower() for name in authed._server._session.headers}
        assert ("x-chroma-token" in sent) == (header is not None) and ("authorization" in sent) == (header is None)
        col = new_collection(authed)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert authed.get_collection(col.name, embedding_function=None).count() == 1


def test_wrong_or_missing_token_is_an_auth_error_and_stores_nothing(auth_server: RunningServer) -> None:
    with pytest.raises(chromadb.errors.ChromaAuthError, match="Forbidden"):
        chroma_client(auth_server, token_settings("wrong"))
    with pytest.raises(chromadb.errors.ChromaAuthError):  # no credentials at all: 401
        chroma_client(auth_server)
    with chroma_client(auth_server, token_settings(TOKEN)) as authed:
        col = new_collection(authed)
        before = authed.count_collections()
        intruder = admin_client(auth_server, chroma_client_auth_provider=TOKEN_PROVIDER, chroma_client_auth_credentials="wrong")
        with pytest.raises(chromadb.errors.ChromaAuthError):
            intruder._server.create_collection("intruder")
        with pytest.raises(chromadb.errors.ChromaAuthError):
            intruder._server._add(["x"], col.id, [[1.0, 2.0]])
        with pytest.raises(chromadb.errors.ChromaAuthError):
            intruder.create_tenant("intruder")
        assert authed.count_collections() == before
        assert col.count() == 0
        with pytest.raises(chromadb.errors.NotFoundError):
            authed._admin_client.get_tenant("intruder")


def test_heartbeat_and_version_need_no_token(auth_server: RunningServer) -> None:
    anonymous = admin_client(auth_server)._server
    assert anonymous.heartbeat() > 0
    assert anonymous.get_version() == ragstore.__version__


# ---------------------------------------------------------------------------------- interop with ragstore's client


def test_chromadb_writes_ragstore_reads(client: ChromaClient, rs_client: ragstore.ClientAPI) -> None:
    col = new_collection(client, "interop", configuration={"hnsw": {"space": "cosine"}})
    add_records(col)
    mine = rs_client.get_collection(col.name, embedding_function=None)
    assert mine.id == col.id and mine.metadata == col.metadata
    theirs = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    ours = mine.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert ours["ids"] == theirs["ids"] == RECORD_IDS
    assert (ours["documents"], ours["metadatas"], ours["uris"]) == (RECORD_DOCUMENTS, RECORD_METADATAS, RECORD_URIS)
    assert ours["embeddings"].dtype == np.float32
    np.testing.assert_array_equal(ours["embeddings"], RECORD_EMBEDDINGS)
    queries = vectors(2, RECORD_DIM, seed=9)
    assert_same_query(col, mine, queries)


def test_ragstore_writes_chromadb_reads(client: ChromaClient, rs_client: ragstore.ClientAPI) -> None:
    mine = rs_client.create_collection(
        unique("interop"), configuration={"hnsw": {"space": "ip"}}, metadata={"by": "ragstore"}, embedding_function=None
    )
    mine.add(ids=RECORD_IDS, embeddings=RECORD_EMBEDDINGS, documents=RECORD_DOCUMENTS, metadatas=RECORD_METADATAS, uris=RECORD_URIS)
    col = client.get_collection(mine.name, embedding_function=None)
    assert (col.id, col.metadata, col.configuration_json["hnsw"]["space"]) == (mine.id, {"by": "ragstore"}, "ip")
    theirs = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert theirs["ids"] == RECORD_IDS
    assert (theirs["documents"], theirs["metadatas"], theirs["uris"]) == (RECORD_DOCUMENTS, RECORD_METADATAS, RECORD_URIS)
    assert np.array_equal(np.asarray(theirs["embeddings"], dtype=np.float32), RECORD_EMBEDDINGS)
    assert_same_query(col, mine, vectors(2, RECORD_DIM, seed=10))
    assert col.delete(where={"s": "apple"}) == {"deleted": 2}
    assert mine.count() == len(RECORD_IDS) - 2


def assert_same_query(col: ChromaCollection, mine: ragstore.Collection, queries: np.ndarray) -> None:
    """Both clients answer the same query with the same ids, order and distances."""
    theirs = col.query(query_embeddings=queries, n_results=4, include=["distances", "documents", "metadatas"])
    ours = mine.query(query_embeddings=queries, n_results=4, include=["distances", "documents", "metadatas"])
    assert ours["ids"] == theirs["ids"]
    assert (ours["documents"], ours["metadatas"]) == (theirs["documents"], theirs["metadatas"])
    assert ours["distances"] == theirs["distances"]


def test_write_by_one_client_is_visible_to_the_other_at_once(client: ChromaClient, rs_client: ragstore.ClientAPI) -> None:
    col = new_collection(client)
    mine = rs_client.get_collection(col.name, embedding_function=None)
    for i in range(5):
        writer: Callable[..., None] = col.add if i % 2 == 0 else mine.add
        writer(ids=[f"x{i}"], embeddings=[[float(i), 1.0]])
        assert col.count() == mine.count() == i + 1
    assert col.get(include=[])["ids"] == mine.get(include=[])["ids"] == [f"x{i}" for i in range(5)]
