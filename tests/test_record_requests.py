"""Request objects: one rule set for every mode, filters parsed once, the same request on both ends of the wire."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

import ragstore
from ragstore import record_requests
from ragstore.collection_requests import CreateCollectionRequest
from ragstore.errors import InvalidArgumentError, RagstoreError
from ragstore.http.wire import API_PREFIX, dumps, loads
from ragstore.http.wire_answers import error_from_json
from ragstore.local import LocalAPI
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import K, Knn, Rrf, Search, knn_leaves
from ragstore.server import create_app


@pytest.fixture
def server() -> Iterator[tuple[TestClient, str]]:
    """A real server app in process, and the records path of one collection (dimension 2, three records)."""
    engine = LocalAPI(None)
    model = engine.create_collection(CreateCollectionRequest("requests"))
    client = ragstore.ClientAPI(engine, ragstore.Settings())
    client.get_collection("requests", embedding_function=None).add(
        ids=["a", "b", "c"], embeddings=[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], metadatas=[{"k": 1}, {"k": 2}, {"k": 3}]
    )
    with TestClient(create_app(engine), base_url="http://testserver") as http:
        yield http, f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections/{model.id}"
    engine.close()


# Each case: the operation, the request's Python arguments, and the same request as a JSON body.
BAD_REQUESTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("get", {"limit": -1}, {"limit": -1}),
    ("get", {"offset": True}, {"offset": True}),
    ("get", {"include": ["distances"]}, {"include": ["distances"]}),
    ("get", {"ids": []}, {"ids": []}),
    ("get", {"where": {"k": {"$nope": 1}}}, {"where": {"k": {"$nope": 1}}}),
    ("get", {"where_document": {"$contains": 3}}, {"where_document": {"$contains": 3}}),
    ("delete", {}, {}),
    ("delete", {"ids": ["a"], "limit": 1}, {"ids": ["a"], "limit": 1}),
    ("delete", {"ids": ["a", "a"]}, {"ids": ["a", "a"]}),
    ("query", {"embeddings": [[0.0, 1.0]], "n_results": 0}, {"query_embeddings": [[0.0, 1.0]], "n_results": 0}),
    ("query", {"embeddings": [[0.0, 1.0], [1.0]]}, {"query_embeddings": [[0.0, 1.0], [1.0]]}),
    ("query", {"embeddings": [[0.0, 1.0]], "ids": ["x", "x"]}, {"query_embeddings": [[0.0, 1.0]], "ids": ["x", "x"]}),
    ("query", {"embeddings": [[0.0, 1.0]], "include": ["data", "nope"]}, {"query_embeddings": [[0.0, 1.0]], "include": ["data", "nope"]}),
]
BUILDERS: dict[str, Callable[..., Any]] = {"get": GetRequest, "delete": DeleteRequest, "query": QueryRequest}


def _raised(action: Callable[[], Any]) -> RagstoreError:
    with pytest.raises(RagstoreError) as caught:
        action()
    return caught.value


@pytest.mark.parametrize(("op", "kwargs", "body"), BAD_REQUESTS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_REQUESTS)])
def test_a_bad_request_meets_the_same_rule_built_locally_and_sent_as_json(
    op: str, kwargs: dict[str, Any], body: dict[str, Any], server: tuple[TestClient, str]
) -> None:
    local = _raised(lambda: BUILDERS[op](**kwargs))
    http, path = server
    response = http.post(f"{path}/{op}", content=dumps(body), headers={"Content-Type": "application/json"})
    remote = error_from_json(response.status_code, response.content)
    assert type(remote) is type(local)
    assert str(remote) == str(local)
    assert response.status_code == local.status_code


def test_a_bad_request_changes_nothing_stored(server: tuple[TestClient, str]) -> None:
    http, path = server
    http.post(f"{path}/delete", content=dumps({"ids": ["a"], "limit": 1}), headers={"Content-Type": "application/json"})
    answer = http.post(f"{path}/get", content=dumps({}), headers={"Content-Type": "application/json"})
    assert loads(answer.content)["ids"] == ["a", "b", "c"]


def test_limit_needs_a_filter_in_every_mode_before_anything_is_sent(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("limits", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]], metadatas=[{"k": 1}, {"k": 2}])
    with pytest.raises(InvalidArgumentError, match="limit can only be specified when a where"):
        col.delete(ids=["a"], limit=1)
    assert col.count() == 2
    assert col.delete(where={"k": {"$gte": 1}}, limit=1) == {"deleted": 1}
    assert col.get()["ids"] == ["b"]


@pytest.mark.parametrize(
    "request_",
    [
        GetRequest(ids=["a", "b"], where={"k": {"$gte": 2}}, limit=3, offset=1, include=["embeddings"]),
        GetRequest(),
        DeleteRequest(where_document={"$contains": "x"}, limit=2),
        DeleteRequest(ids=["a"]),
    ],
    ids=["get", "get-defaults", "delete", "delete-ids"],
)
def test_json_round_trip_gives_the_same_request(request_: GetRequest | DeleteRequest) -> None:
    again = type(request_).from_json(loads(dumps(request_.to_json())))
    assert again == request_
    assert again.filter == request_.filter


def test_a_query_round_trips_with_its_vectors_exact() -> None:
    vectors = np.random.default_rng(1).random((3, 5), dtype=np.float32)
    sent = QueryRequest(vectors, n_results=4, ids=[], where={"k": 1}, include=["distances"])
    got = QueryRequest.from_json(loads(dumps(sent.to_json())))
    assert np.array_equal(got.vectors, sent.vectors)
    assert (got.n_results, got.ids, got.where, got.include) == (4, [], {"k": 1}, ("distances",))
    assert got.filter == sent.filter


def test_texts_are_embedded_without_checking_the_rest_again(monkeypatch: pytest.MonkeyPatch) -> None:
    request = QueryRequest(texts=["red", "blue"], n_results=2, where={"k": 1})
    calls = _count_parses(monkeypatch)
    embedded = request.with_embeddings([[1.0, 0.0], [0.0, 1.0]])
    assert calls == {"where": 0, "where_document": 0}
    assert embedded.texts is None and embedded.vectors.shape == (2, 2) and embedded.filter == request.filter
    assert request.texts == ["red", "blue"]  # the original is unchanged
    with pytest.raises(InvalidArgumentError, match="clients embed query texts"):
        _ = request.vectors
    with pytest.raises(InvalidArgumentError, match="at most"):
        QueryRequest(texts=["a"], n_results=100_000).with_embeddings(np.zeros((2, 2)))


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count how often filters are parsed (they are parsed only where requests are built)."""
    calls = {"where": 0, "where_document": 0}
    real_where, real_document = record_requests.parse_where, record_requests.parse_where_document

    def where(*args: Any) -> Any:
        calls["where"] += 1
        return real_where(*args)

    def where_document(*args: Any) -> Any:
        calls["where_document"] += 1
        return real_document(*args)

    monkeypatch.setattr(record_requests, "parse_where", where)
    monkeypatch.setattr(record_requests, "parse_where_document", where_document)
    return calls


def test_a_filter_is_parsed_once_per_process_it_crosses(client: ragstore.ClientAPI, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    col = client.create_collection("parsed-once", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0], [2.0]], metadatas=[{"k": 1}, {"k": 2}], documents=["apple", "pear"])
    calls = _count_parses(monkeypatch)
    answer = col.query(query_embeddings=[[1.0]], n_results=2, where={"k": 2}, where_document={"$contains": "pear"})
    assert answer["ids"] == [["b"]]
    # Embedded: the client's parse reaches the engine. Over HTTP the server parses the body
    # again (untrusted input), in this process too since the test server runs in process.
    expected = 2 if mode == "http" else 1
    assert calls == {"where": expected, "where_document": expected}


# ---------------------------------------------------------------------- search


def test_a_search_request_parses_objects_and_wire_dicts_alike() -> None:
    search = (
        Search().where(K("page") > 1).rank(Rrf([Knn(query=[0.1, 0.2], return_rank=True), Knn(query="red", key="bm25", return_rank=True)]))
    )
    by_object, by_dict = SearchRequest(search), SearchRequest([search.to_dict()])
    assert by_object.to_json() == by_dict.to_json() == SearchRequest.from_json(by_object.to_json()).to_json()
    assert by_object.to_json()["read_level"] == "index_and_wal"


def test_a_search_request_refuses_what_the_server_would() -> None:
    with pytest.raises(InvalidArgumentError, match=r"searches\[1\]"):
        SearchRequest([Search(), {"rank": {"$knn": {"query": [1.0], "limit": -3}}}])
    with pytest.raises(InvalidArgumentError, match="read_level"):
        SearchRequest(Search(), read_level="eventually")
    with pytest.raises(InvalidArgumentError, match="at most"):
        SearchRequest([Search()] * 65)
    with pytest.raises(InvalidArgumentError, match="Expected a Search"):
        SearchRequest(42)


def test_mapping_queries_replaces_only_what_changed_and_checks_it() -> None:
    request = SearchRequest(Search().rank(Knn(query="red") + Knn(query="red", key="bm25")))

    def embed(leaf: Knn) -> Knn:
        return dataclasses.replace(leaf, query=np.array([0.5, 0.5], dtype=np.float32)) if leaf.key == "#embedding" else leaf

    embedded = request.map_queries(embed)
    queries = [leaf.query for leaf in knn_leaves(embedded.searches[0].parts().rank)]
    assert queries == [[0.5, 0.5], "red"]
    assert [leaf.query for leaf in knn_leaves(request.searches[0].parts().rank)] == ["red", "red"]  # the original is unchanged
    with pytest.raises(InvalidArgumentError, match="finite"):
        request.map_queries(lambda leaf: dataclasses.replace(leaf, query=[float("nan")]))
