"""langchain-chroma's ``Chroma`` calls work unchanged: its constructor arguments, ``update_document(s)``, the image methods."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ragstore
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_ragstore import ConflictingSourcesError, InvalidRecordsError, InvalidSourceError, RagstoreVectorStore
from tests.fakes import TableEmbeddings
from tests.server import RagstoreServer

EMB = DeterministicFakeEmbedding(size=6)
TOKEN = "lc-s3cret"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

# langchain-chroma 1.1.0's Chroma.__init__, in order (libs/partners/chroma/langchain_chroma/vectorstores.py).
CHROMA_POSITIONAL = [
    "collection_name",
    "embedding_function",
    "persist_directory",
    "host",
    "port",
    "headers",
    "chroma_cloud_api_key",
    "tenant",
    "database",
    "client_settings",
    "collection_metadata",
    "collection_configuration",
    "client",
    "relevance_score_fn",
    "create_collection_if_not_exists",
]


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagstoreServer]:
    """A ``ragstore run`` child that wants a bearer token, with a tenant ``team`` holding a database ``db1``."""
    with RagstoreServer.start(tmp_path_factory.mktemp("token-server"), ["--host", "127.0.0.1"], auth_token=TOKEN) as server:
        admin = ragstore.AdminClient(
            ragstore.Settings(chroma_server_host=server.host, chroma_server_http_port=server.port, chroma_client_auth_credentials=TOKEN)
        )
        admin.create_tenant("team")
        admin.create_database("db1", tenant="team")
        yield server


def names(client: ragstore.ClientAPI) -> list[str]:
    return sorted(collection.name for collection in client.list_collections())


# --------------------------------------------------------------------------- the constructor


def test_the_constructor_takes_chromas_arguments_in_chromas_order() -> None:
    parameters = list(inspect.signature(RagstoreVectorStore.__init__).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == CHROMA_POSITIONAL
    assert inspect.signature(RagstoreVectorStore.__init__).parameters["ssl"].kind is inspect.Parameter.KEYWORD_ONLY


def test_persist_directory_is_the_third_positional_argument(tmp_path: Path) -> None:
    store = RagstoreVectorStore("positional", EMB, str(tmp_path))
    store.add_texts(["kept"], ids=["k"])
    store.close()
    with ragstore.PersistentClient(tmp_path) as client:
        assert client.get_collection("positional").get()["documents"] == ["kept"]


def test_tenant_and_database_on_a_persistent_store(tmp_path: Path) -> None:
    admin = ragstore.AdminClient(ragstore.Settings(is_persistent=True, persist_directory=str(tmp_path)))
    admin.create_tenant("team")
    admin.create_database("db1", tenant="team")
    store = RagstoreVectorStore("scoped", EMB, str(tmp_path), tenant="team", database="db1")
    store.add_texts(["x"], ids=["x"])
    store.close()
    with ragstore.PersistentClient(tmp_path) as default, ragstore.PersistentClient(tmp_path, tenant="team", database="db1") as team:
        assert names(default) == [] and names(team) == ["scoped"]
    with pytest.raises(ragstore.NotFoundError, match="nope"):
        RagstoreVectorStore("scoped", EMB, str(tmp_path), tenant="nope")


def test_tenant_database_and_headers_on_a_server(token_server: RagstoreServer) -> None:
    store = RagstoreVectorStore(
        "scoped", EMB, host=token_server.host, port=token_server.port, headers=BEARER, tenant="team", database="db1"
    )
    store.add_texts(["x"], ids=["x"])
    with ragstore.HttpClient(token_server.host, token_server.port, headers=BEARER, tenant="team", database="db1") as team:
        assert names(team) == ["scoped"]
    with token_server.client() as default:
        assert "scoped" not in names(default)
    assert [d.id for d in asyncio.run(store.asimilarity_search("x", k=1))] == ["x"]  # the async client is scoped too
    store.close()


def test_headers_without_a_host_reach_the_server_on_localhost(token_server: RagstoreServer, collection_name: str) -> None:
    store = RagstoreVectorStore(collection_name, EMB, port=token_server.port, headers=BEARER)  # HttpClient's default host
    assert store.add_texts(["a"], ids=["a"]) == ["a"]
    assert store.client is not None and store.client.get_settings().chroma_server_host == "localhost"
    assert [d.id for d in asyncio.run(store.asimilarity_search("a", k=1))] == ["a"]
    with pytest.raises(ragstore.AuthenticationError):  # the headers are what let the store in
        RagstoreVectorStore(collection_name, EMB, port=token_server.port).similarity_search("a")
    store.close()


def test_ssl_reaches_the_server_over_https(token_server: RagstoreServer) -> None:
    store = RagstoreVectorStore("tls", EMB, host=token_server.host, port=token_server.port, headers=BEARER, ssl=True)
    # The test server speaks plain HTTP, so a TLS handshake is refused: the client did use https.
    with pytest.raises(ragstore.ServerConnectionError, match=f"https://127.0.0.1:{token_server.port}"):
        store.similarity_search("a")


def test_client_settings_alone_name_the_store(token_server: RagstoreServer, tmp_path: Path, collection_name: str) -> None:
    on_disk_settings = ragstore.Settings(is_persistent=True, persist_directory=str(tmp_path))
    on_disk = RagstoreVectorStore("by-settings", EMB, client_settings=on_disk_settings)
    on_disk.add_texts(["kept"])
    on_disk.close()
    with ragstore.PersistentClient(tmp_path) as client:
        assert names(client) == ["by-settings"]
    server_settings = ragstore.Settings(
        chroma_server_host=token_server.host, chroma_server_http_port=token_server.port, chroma_client_auth_credentials=TOKEN
    )
    remote = RagstoreVectorStore(collection_name, EMB, client_settings=server_settings)
    remote.add_texts(["a"], ids=["a"])
    with token_server.client() as client:
        assert client.get_collection(collection_name).count() == 1
    remote.close()


def test_client_settings_carry_the_token_for_a_host(token_server: RagstoreServer, collection_name: str) -> None:
    settings = ragstore.Settings(chroma_client_auth_credentials=TOKEN)
    store = RagstoreVectorStore(collection_name, EMB, host=token_server.host, port=token_server.port, client_settings=settings)
    assert store.add_texts(["a"], ids=["a"]) == ["a"]
    store.close()


def test_chromadb_settings_are_accepted(tmp_path: Path) -> None:
    chromadb_config = pytest.importorskip("chromadb.config")
    settings = chromadb_config.Settings(is_persistent=True, persist_directory=str(tmp_path), allow_reset=True)
    store = RagstoreVectorStore("chromadb-settings", EMB, client_settings=settings)
    store.add_texts(["kept"])
    assert store.client is not None and store.client.get_settings().allow_reset is True
    store.close()
    with ragstore.PersistentClient(tmp_path) as client:
        assert names(client) == ["chromadb-settings"]


def test_arguments_that_would_be_ignored_are_refused(tmp_path: Path) -> None:
    client = ragstore.EphemeralClient()
    with pytest.raises(ConflictingSourcesError, match="port= and headers= are for a server"):
        RagstoreVectorStore("c-x", EMB, str(tmp_path), port=8000, headers=BEARER)
    with pytest.raises(ConflictingSourcesError, match="ssl= is for a server"):
        RagstoreVectorStore("c-x", EMB, client=client, ssl=True)
    with pytest.raises(ConflictingSourcesError, match="tenant= and client_settings= are for a client the store opens"):
        RagstoreVectorStore("c-x", EMB, client=client, tenant="team", client_settings=ragstore.Settings())
    with pytest.raises(ConflictingSourcesError, match="database= is for a client"):
        RagstoreVectorStore(embedding_function=EMB, collection=client.create_collection("given"), database="db1")
    with pytest.raises(InvalidSourceError, match="client_settings="):
        RagstoreVectorStore("c-x", EMB, client_settings={"allow_reset": True})  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="Chroma Cloud"):
        RagstoreVectorStore("c-x", EMB, chroma_cloud_api_key="ck-123", tenant="t", database="d")


def test_create_collection_if_not_exists_none_requires_the_collection() -> None:
    client = ragstore.EphemeralClient()
    with pytest.raises(ragstore.NotFoundError):
        RagstoreVectorStore("missing", EMB, client=client, create_collection_if_not_exists=None)


# --------------------------------------------------------------------------- update_document(s)

VECTORS = {"apples": [1.0, 0.0], "pears": [0.0, 1.0], "q-apples": [1.0, 0.0], "q-pears": [0.0, 1.0]}


def test_update_documents_re_embeds_and_keeps_the_ids() -> None:
    store = RagstoreVectorStore("updates", TableEmbeddings(VECTORS), collection_configuration={"hnsw": {"space": "cosine"}})
    store.add_texts(["apples", "pears"], metadatas=[{"kind": "fruit", "old": 1}, {"kind": "fruit"}], ids=["1", "2"])
    store.update_documents(["1", "2"], [Document(page_content="pears", metadata={"kind": "pear"}), Document(page_content="apples")])
    assert store.get_by_ids(["1", "2"]) == [
        Document(id="1", page_content="pears", metadata={"kind": "pear"}),  # "old" is gone: the document replaces the record
        Document(id="2", page_content="apples"),
    ]
    assert [d.id for d in store.similarity_search("q-pears", k=1)] == ["1"]  # the vector changed with the text
    store.update_document("1", Document(page_content="apples"))
    assert sorted((d.id, round(s, 6)) for d, s in store.similarity_search_with_score("q-apples", k=2)) == [("1", 0.0), ("2", 0.0)]
    assert store.collection.count() == 2


def test_update_documents_changes_nothing_when_an_id_is_missing() -> None:
    store = RagstoreVectorStore("updates-missing", DeterministicFakeEmbedding(size=4))
    store.add_texts(["a"], ids=["1"])
    with pytest.raises(InvalidRecordsError, match="'typo'; nothing was updated"):
        store.update_documents(["1", "typo"], [Document(page_content="A"), Document(page_content="B")])
    assert store.get_by_ids(["1"])[0].page_content == "a"
    with pytest.raises(InvalidRecordsError, match="2 ids for 1 documents"):
        store.update_documents(["1", "1"], [Document(page_content="A")])
    with pytest.raises(InvalidRecordsError, match="twice"):
        store.update_documents(["1", "1"], [Document(page_content="A"), Document(page_content="B")])


def test_update_documents_in_batches_checks_every_id_before_the_first_write(monkeypatch: pytest.MonkeyPatch) -> None:
    store = RagstoreVectorStore("updates-big", DeterministicFakeEmbedding(size=2))
    ids = [f"t{i}" for i in range(7)]
    store.add_texts(ids, ids=ids)
    monkeypatch.setattr(store._connection, "max_batch_size", lambda: 3)  # a small write limit: batches of 3, 3 and 1
    writes: list[list[str]] = []
    real_update = store.collection.update

    def update(**kwargs: Any) -> None:
        writes.append(kwargs["ids"])
        real_update(**kwargs)

    monkeypatch.setattr(store.collection, "update", update)
    with pytest.raises(InvalidRecordsError, match="'t9'"):
        store.update_documents([*ids[:6], "t9"], [Document(page_content="new") for _ in range(7)])
    assert writes == [] and {d.page_content for d in store.get_by_ids(ids)} == set(ids)
    store.update_documents(ids, [Document(page_content=f"new {i}") for i in ids])
    assert writes == [ids[:3], ids[3:6], ids[6:]]
    assert [d.page_content for d in store.get_by_ids(ids)] == [f"new {i}" for i in ids]


async def test_aupdate_documents_over_http(
    ragstore_server: RagstoreServer, server_client: ragstore.ClientAPI, collection_name: str
) -> None:
    store = RagstoreVectorStore(collection_name, TableEmbeddings(VECTORS), host=ragstore_server.host, port=ragstore_server.port)
    try:
        await store.aadd_texts(["apples"], metadatas=[{"v": 1}], ids=["1"])
        await store.aupdate_document("1", Document(page_content="pears", metadata={"v": 2}))
        assert await store.aget_by_ids(["1"]) == [Document(id="1", page_content="pears", metadata={"v": 2})]
        assert [d.id for d in await store.asimilarity_search("q-pears", k=1)] == ["1"]
        with pytest.raises(InvalidRecordsError, match="not in the collection"):
            await store.aupdate_documents(["2"], [Document(page_content="apples")])
        await store.aclose()
    finally:
        server_client.delete_collection(collection_name)


# --------------------------------------------------------------------------- images


def test_image_methods_say_ragstore_has_no_multimodal_embeddings(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    store = RagstoreVectorStore("images", EMB)
    with pytest.raises(NotImplementedError, match=r"no multimodal \(image\) embedding function, so add_images\(\) is not supported"):
        store.add_images([str(image)], metadatas=[{"k": 1}], ids=["i"])
    with pytest.raises(NotImplementedError, match=r"similarity_search_by_image\(\) is not supported"):
        store.similarity_search_by_image(str(image), k=1, filter={"k": 1})
    with pytest.raises(NotImplementedError, match=r"similarity_search_by_image_with_relevance_score\(\)"):
        store.similarity_search_by_image_with_relevance_score(str(image))
    assert store.collection.count() == 0
