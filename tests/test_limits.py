"""Request limits (issue 13): bounded ``$contains``, bounded answers, and strict wire values.

Each test reproduces a finding: a filter or a query that made the server use gigabytes
(or crash), and values the HTTP server read differently from a local call. Rules of
the API run on every mode through the ``client`` fixture; findings about the wire run
against a real ``ragstore run`` process on 127.0.0.1.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

import ragstore
from ragstore.errors import InvalidArgumentError, ResponseTooLargeError
from ragstore.filters import MAX_CONTAINS_LENGTH
from ragstore.local.reads import DEFAULT_MAX_RESPONSE_BYTES
from ragstore.local.sql_filters import MAX_TRIGRAM_TERMS, trigram_terms
from ragstore.validation import INT64_MAX, MAX_ID_LENGTH, MAX_QUERY_EMBEDDINGS, MAX_QUERY_RESULTS
from tests.servers import RunningServer

BASE = "/api/v2/tenants/default_tenant/databases/default_database"
JSON = {"Content-Type": "application/json"}
MB = 1_000_000


def _collection(client: ragstore.ClientAPI, name: str = "limits") -> ragstore.Collection:
    return client.create_collection(name, embedding_function=None)


# ---------------------------------------------------------------------- $contains


def test_contains_pattern_length_is_bounded(client: ragstore.ClientAPI) -> None:
    col = _collection(client)
    col.add(ids=["a"], documents=["a" * 100_000], embeddings=[[0.0, 0.0]])
    longest = "a" * MAX_CONTAINS_LENGTH
    assert col.get(where_document={"$contains": longest}, include=[])["ids"] == ["a"]
    assert col.get(where={"#document": {"$not_contains": longest}}, include=[])["ids"] == []
    for where, where_document in [
        (None, {"$contains": longest + "a"}),
        (None, {"$or": [{"$contains": "b"}, {"$not_contains": longest + "a"}]}),
        ({"#document": {"$contains": longest + "a"}}, None),
    ]:
        with pytest.raises(InvalidArgumentError, match="MAX_CONTAINS_LENGTH"):
            col.get(where=where, where_document=where_document)
        with pytest.raises(InvalidArgumentError, match="MAX_CONTAINS_LENGTH"):
            col.delete(where=where, where_document=where_document)
        with pytest.raises(InvalidArgumentError, match="MAX_CONTAINS_LENGTH"):
            col.query(query_embeddings=[0.0, 0.0], where=where, where_document=where_document)
    assert col.count() == 1


def test_contains_looks_up_few_trigrams_whatever_the_pattern() -> None:
    # The text index answers a bounded number of single-trigram terms; instr() decides.
    assert trigram_terms("a" * MAX_CONTAINS_LENGTH) == ["aaa"]
    spread = trigram_terms("".join(chr(0x4E00 + i) for i in range(MAX_CONTAINS_LENGTH)))
    assert len(spread) == MAX_TRIGRAM_TERMS == len(set(spread))
    assert trigram_terms('a"\x00b"c') == ['b"c']  # FTS5 reads its query as a C string: no NUL


def test_contains_keeps_substring_semantics(client: ragstore.ClientAPI) -> None:
    """The trigram prefilter plus instr() answers exactly Python's ``in`` (quotes, NUL, repeats, non-ASCII)."""
    docs = [
        'say "hello" to the world',
        "aab" + "a" * 5000,  # nearly matches long runs of "a"s followed by "b"
        "a" * 5000 + "b",
        "naïve café — 😀 emoji",
        "AND OR NOT (fts5 * syntax) ^ :",
        "short",
    ]
    col = _collection(client)
    col.add(ids=[str(i) for i in range(len(docs))], documents=docs, embeddings=[[float(i), 0.0] for i in range(len(docs))])
    col.add(ids=["none"], embeddings=[[9.0, 9.0]])  # no document: matches only the negations
    patterns = ['"hello"', 'o" t', "a" * 4000 + "b", "a" * 4000, "aab", "é — 😀", "(fts5 * syntax)", "NOT", "x\x00y", "ab", "zzzz"]
    for pattern in patterns:
        found = {str(i) for i, doc in enumerate(docs) if pattern in doc}
        assert set(col.get(where_document={"$contains": pattern}, include=[])["ids"]) == found, pattern
        missing = set(col.get(where_document={"$not_contains": pattern}, include=[])["ids"])
        assert missing == {str(i) for i in range(len(docs))} - found | {"none"}, pattern


# ---------------------------------------------------------------------- what one request may ask for


def test_id_length_is_bounded(client: ragstore.ClientAPI) -> None:
    col = _collection(client)
    longest = "p" * MAX_ID_LENGTH
    col.add(ids=[longest], embeddings=[[1.0, 2.0]])
    assert col.get(ids=[longest], include=[])["ids"] == [longest]
    too_long = "p" * (MAX_ID_LENGTH + 1)
    for call in (
        lambda: col.add(ids=[too_long, "ok"], embeddings=[[1.0, 2.0], [3.0, 4.0]]),
        lambda: col.upsert(ids=too_long, embeddings=[1.0, 2.0]),
        lambda: col.get(ids=[too_long]),
        lambda: col.delete(ids=[too_long]),
        lambda: col.query(query_embeddings=[1.0, 2.0], ids=[too_long]),
    ):
        with pytest.raises(InvalidArgumentError, match="MAX_ID_LENGTH"):
            call()
    assert col.get(include=[])["ids"] == [longest]


def test_query_vectors_and_results_are_bounded(client: ragstore.ClientAPI) -> None:
    col = _collection(client)
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InvalidArgumentError, match="MAX_QUERY_EMBEDDINGS"):
        col.query(query_embeddings=np.zeros((MAX_QUERY_EMBEDDINGS + 1, 2), dtype=np.float32), n_results=1)
    with pytest.raises(InvalidArgumentError, match="MAX_QUERY_RESULTS"):
        col.query(query_embeddings=np.zeros((200, 2), dtype=np.float32), n_results=1000)
    with pytest.raises(InvalidArgumentError, match="MAX_QUERY_RESULTS"):
        col.query(query_embeddings=[1.0, 0.0], n_results=2**70)
    assert col.query(query_embeddings=[1.0, 0.0], n_results=MAX_QUERY_RESULTS, include=[])["ids"] == [["a", "b"]]
    wide = col.query(query_embeddings=np.zeros((MAX_QUERY_RESULTS // 1000, 2), dtype=np.float32), n_results=1000, include=[])
    assert len(wide["ids"]) == MAX_QUERY_RESULTS // 1000


def test_query_texts_are_counted_before_embedding(client: ragstore.ClientAPI) -> None:
    from ragstore.embeddings.hashing import HashingEmbeddingFunction

    col = client.create_collection("texts", embedding_function=HashingEmbeddingFunction(dim=8))
    col.add(ids=["a"], documents=["apples"])
    with pytest.raises(InvalidArgumentError, match="MAX_QUERY_RESULTS"):
        col.query(query_texts=["apples"] * 101, n_results=1000)
    assert col.query(query_texts=["apples"] * 100, n_results=1000, include=[])["ids"][0] == ["a"]


def test_limit_and_offset_beyond_64_bits_are_refused(client: ragstore.ClientAPI) -> None:
    col = _collection(client)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"k": 1}])
    assert col.get(limit=INT64_MAX, offset=0, include=[])["ids"] == ["a"]
    assert col.get(limit=1, offset=INT64_MAX, include=[])["ids"] == []
    for call in (
        lambda: col.get(limit=2**63),
        lambda: col.get(offset=2**64),
        lambda: col.delete(where={"k": 1}, limit=2**63),
        lambda: client.list_collections(limit=2**63),
        lambda: client.list_collections(offset=2**63),
    ):
        with pytest.raises(InvalidArgumentError, match="at most 9223372036854775807"):
            call()
    assert col.count() == 1


# ---------------------------------------------------------------------- the answer's size


def test_an_answer_over_the_response_budget_is_refused_by_a_server(client: ragstore.ClientAPI, mode: str) -> None:
    """One large document returned once per query: the answer repeats it, so its size is counted per query.

    A server refuses the answer before building it; an embedded engine answers in full (the
    answer lands in the caller's memory, as chromadb's does).
    """
    col = _collection(client)
    big = "d" * MB
    col.add(ids=["big", "small"], documents=[big, "tiny"], embeddings=[[0.0, 0.0], [5.0, 5.0]])
    repeats = DEFAULT_MAX_RESPONSE_BYTES // MB + 1
    queries = np.zeros((repeats, 2), dtype=np.float32)
    if mode == "http":
        with pytest.raises(ResponseTooLargeError, match="max-response-size"):
            col.query(query_embeddings=queries, n_results=1)
    else:
        assert col.query(query_embeddings=queries, n_results=1)["documents"] == [[big]] * repeats
    # Leaving the document out (or asking fewer queries) fits.
    assert col.query(query_embeddings=queries, n_results=1, include=["distances"])["ids"] == [["big"]] * repeats
    assert col.query(query_embeddings=queries[: repeats // 2], n_results=1)["documents"] == [[big]] * (repeats // 2)


def test_a_get_over_the_response_budget_is_refused_by_a_server_and_pages_fit(client: ragstore.ClientAPI, mode: str) -> None:
    col = _collection(client)
    count = DEFAULT_MAX_RESPONSE_BYTES // MB + 2
    for start in range(0, count, 8):
        ids = [f"r{i:03d}" for i in range(start, min(count, start + 8))]
        col.add(ids=ids, documents=[i + "x" * MB for i in ids], embeddings=[[float(len(ids)), 0.0]] * len(ids))
    if mode == "http":
        with pytest.raises(ResponseTooLargeError, match="max-response-size"):
            col.get()
    else:
        assert len(col.get()["ids"]) == count
    assert len(col.get(include=[])["ids"]) == count
    first, rest = col.get(limit=count // 2), col.get(offset=count // 2)
    assert first["documents"] is not None and rest["documents"] is not None
    assert [d[:4] for d in first["documents"] + rest["documents"]] == [f"r{i:03d}" for i in range(count)]


# ---------------------------------------------------------------------- the wire, against a real server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    """A real ``ragstore run`` with one collection holding record ``a``; yields the server and the collection's URL."""
    server = RunningServer.start(tmp_path_factory.mktemp("limits") / "store")
    try:
        with httpx.Client(base_url=server.url, headers=JSON) as http:
            created = http.post(f"{BASE}/collections", json={"name": "wire"})
            assert created.status_code == 200, created.text
            url = f"{BASE}/collections/{created.json()['id']}"
            assert http.post(f"{url}/add", json={"ids": ["a"], "embeddings": [[1.0, 2.0]], "metadatas": [{"n": 1}]}).status_code == 201
        yield server, url
    finally:
        server.stop()


def _error(response: httpx.Response, status: int, match: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = str(response.json()["message"])
    assert match in message, message
    return message


def test_limit_and_offset_overflow_is_a_400_on_every_route(served: tuple[RunningServer, str]) -> None:
    server, url = served
    huge = 2**63
    with httpx.Client(base_url=server.url, headers=JSON) as http:
        for response in (
            http.get(f"{BASE}/collections", params={"limit": huge}),
            http.get(f"{BASE}/collections", params={"offset": huge}),
            http.get("/api/v2/tenants/default_tenant/databases", params={"limit": huge}),
            http.get("/api/v2/tenants/default_tenant/databases", params={"offset": huge}),
            http.post(f"{url}/get", json={"limit": huge}),
            http.post(f"{url}/get", json={"offset": huge}),
            http.post(f"{url}/delete", json={"where": {"n": 1}, "limit": huge}),
            http.post(f"{url}/query", json={"query_embeddings": [[1.0, 2.0]], "n_results": huge}),
        ):
            assert response.status_code == 400, (response.request.url, response.text)
        assert http.get(f"{url}/count").json() == 1


def test_the_wire_requires_arrays(served: tuple[RunningServer, str]) -> None:
    server, url = served
    with httpx.Client(base_url=server.url, headers=JSON) as http:
        _error(http.post(f"{url}/get", json={"ids": "a"}), 400, "Expected ids in the get request body to be an array, got str")
        _error(http.post(f"{url}/delete", json={"ids": "a"}), 400, "to be an array")
        _error(http.post(f"{url}/query", json={"query_embeddings": [[1.0, 2.0]], "ids": "a"}), 400, "to be an array")
        _error(http.post(f"{url}/add", json={"ids": "b", "embeddings": [[1.0, 2.0]]}), 400, "to be an array")
        _error(http.post(f"{url}/upsert", json={"ids": ["b"], "embeddings": [[1.0, 2.0]], "documents": "doc"}), 400, "documents")
        _error(http.post(f"{url}/update", json={"ids": ["a"], "metadatas": {"n": 2}}), 400, "metadatas")
        assert http.post(f"{url}/get", json={"ids": ["a"], "include": []}).json()["ids"] == ["a"]
        assert http.get(f"{url}/count").json() == 1
    # The Python API keeps its one-or-many convenience (it sends a list).
    client = ragstore.HttpClient(host=server.host, port=server.port)
    try:
        assert client.get_collection("wire", embedding_function=None).get(ids="a", include=[])["ids"] == ["a"]
    finally:
        client.close()


def test_integers_beyond_64_bits_are_refused_as_locally(served: tuple[RunningServer, str]) -> None:
    server, url = served
    local = ragstore.EphemeralClient().create_collection("local", embedding_function=None)
    with pytest.raises(InvalidArgumentError) as refused:
        local.add(ids=["b"], embeddings=[[1.0, 2.0]], metadatas=[{"n": 2**70}])
    body = b'{"ids": ["b"], "embeddings": [[1.0, 2.0]], "metadatas": [{"n": 1180591620717411303424}]}'
    with httpx.Client(base_url=server.url, headers=JSON) as http:
        assert _error(http.post(f"{url}/add", content=body), 400, "fit in 64 bits") == str(refused.value)
        negative = body.replace(b"1180591620717411303424", b"-9223372036854775809")
        _error(http.post(f"{url}/upsert", content=negative), 400, "fit in 64 bits")
        _error(http.post(f"{url}/get", content=b'{"where": {"n": 1180591620717411303424}}'), 400, "fit in 64 bits")
        # A float that large is a float, as it is locally.
        floats = body.replace(b"1180591620717411303424", b"1.2e21")
        assert http.post(f"{url}/upsert", content=floats).status_code == 200
        stored = http.post(f"{url}/get", json={"ids": ["b"], "include": ["metadatas"]}).json()["metadatas"]
        assert stored == [{"n": 1.2e21}]
        assert http.post(f"{url}/delete", json={"ids": ["b"]}).json() == {"deleted": 1}


def test_a_body_that_is_not_utf8_is_named_as_such(served: tuple[RunningServer, str]) -> None:
    server, url = served
    with httpx.Client(base_url=server.url, headers=JSON) as http:
        message = _error(http.post(f"{url}/get", content=b'{"ids": ["\xff"]}'), 400, "not valid UTF-8")
        assert "surrogates" not in message and "byte 10 (0xff)" in message
        _error(http.post(f"{BASE}/collections", content=b'{"name": "caf\xe9"}'), 400, "UTF-8 encoded JSON")


def test_the_openapi_document_states_the_limits(served: tuple[RunningServer, str]) -> None:
    server, _ = served
    doc = httpx.get(f"{server.url}/openapi.json").json()
    paths = doc["paths"]
    scope = "/api/v2/tenants/{tenant}/databases/{database}"
    records = f"{scope}/collections/{{collection_id}}"
    by_id = f"{scope}/collections/by-id/{{collection_id}}"
    routes = [(f"{records}/add", "post"), (f"{records}/query", "post"), (f"{records}/count", "get"), (by_id, "get"), (records, "put")]
    for path, method in routes:
        (param,) = [p for p in paths[path][method]["parameters"] if p["name"] == "collection_id"]
        assert param["schema"]["format"] == "uuid", path
    (name,) = [p for p in paths[f"{scope}/collections/{{name}}"]["get"]["parameters"] if p["name"] == "name"]
    assert name["schema"]["pattern"].startswith("^[a-zA-Z0-9]")
    for listing in (f"{scope}/collections", "/api/v2/tenants/{tenant}/databases"):
        schemas = {p["name"]: p["schema"] for p in paths[listing]["get"]["parameters"]}
        ranges = {name: (schema["minimum"], schema["maximum"]) for name, schema in schemas.items() if "minimum" in schema}
        assert ranges == {"limit": (0, INT64_MAX), "offset": (0, INT64_MAX)}, listing
    query = paths[f"{records}/query"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert (query["n_results"]["minimum"], query["n_results"]["maximum"]) == (1, MAX_QUERY_RESULTS)
    # null is allowed too: mode="bm25" sends no embeddings
    assert {branch["maxItems"] for branch in query["query_embeddings"]["anyOf"] if branch.get("type") != "null"} == {MAX_QUERY_EMBEDDINGS}
    assert query["ids"]["anyOf"][0]["items"]["maxLength"] == MAX_ID_LENGTH
    create = paths[f"{scope}/collections"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["properties"]["name"]["pattern"].startswith("^[a-zA-Z0-9]")


# ---------------------------------------------------------------------- server memory under the reproductions


def _memory_mb(pid: int) -> dict[str, float]:
    """The process's current (VmRSS) and peak (VmHWM) resident memory in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def _b64(vectors: np.ndarray[Any, Any]) -> list[str]:
    return [base64.b64encode(row.astype("<f4").tobytes()).decode() for row in vectors]


@pytest.mark.slow
def test_server_memory_stays_bounded_under_the_reproductions(tmp_path: Path) -> None:
    """The issue's amplification and ``$contains`` requests, against a real server: refused or answered within 200 MB."""
    rng = np.random.default_rng(13)
    path = tmp_path / "store"
    seeder = ragstore.PersistentClient(path)
    col = seeder.create_collection("amplify", embedding_function=None)
    vectors = rng.random((2_000, 128), dtype=np.float32)
    col.add(ids=[f"r{i}" for i in range(2_000)], embeddings=vectors, documents=[f"record {i} " + "w" * 500 for i in range(2_000)])
    col.add(ids=[f"big{i}" for i in range(4)], embeddings=np.zeros((4, 128), dtype=np.float32), documents=["b" * (10 * MB)] * 4)
    col.add(ids=["aaa", "aab"], embeddings=np.ones((2, 128), dtype=np.float32), documents=["a" * 100_000, "aab" + "a" * 100_000])
    collection_id = str(col.id)
    seeder.close()

    server = RunningServer.start(path)
    try:
        url = f"{BASE}/collections/{collection_id}"
        with httpx.Client(base_url=server.url, headers=JSON, timeout=120) as http:

            def post(action: str, body: dict[str, Any]) -> httpx.Response:
                return http.post(f"{url}/{action}", content=orjson.dumps(body))

            # Warm up: the index and the text index are loaded, one answer of each kind sent.
            assert post("query", {"query_embeddings": _b64(vectors[:1]), "n_results": 10}).status_code == 200
            assert post("get", {"where_document": {"$contains": "record 1 "}, "include": []}).status_code == 200
            idle = _memory_mb(server.process.pid)["VmRSS"]

            queries = _b64(vectors[:200])
            everything = ["documents", "metadatas", "distances", "embeddings"]
            _error(post("query", {"query_embeddings": queries, "n_results": 1000, "include": everything}), 400, "MAX_QUERY_RESULTS")
            _error(post("query", {"query_embeddings": queries[:100], "n_results": 1000, "include": everything}), 413, "max-response-size")
            many = _b64(rng.random((10_000, 128), dtype=np.float32))
            _error(post("query", {"query_embeddings": many, "n_results": 100, "include": []}), 400, "MAX_QUERY_RESULTS")
            _error(post("add", {"ids": ["i" * (10 * MB)], "embeddings": _b64(vectors[:1])}), 400, "MAX_ID_LENGTH")
            big = _b64(np.zeros((50, 128), dtype=np.float32))
            _error(post("query", {"query_embeddings": big, "n_results": 1, "include": ["documents"]}), 413, "max-response-size")
            _error(post("get", {"include": ["documents"]}), 413, "max-response-size")
            _error(post("get", {"where_document": {"$contains": "a" * MB}}), 400, "MAX_CONTAINS_LENGTH")
            # Allowed, near the limits: 30 MB of documents, the longest patterns against 100 KB of "a"s.
            assert len(post("get", {"ids": ["big0", "big1", "big2"], "include": ["documents"]}).content) > 30 * MB
            longest = "a" * MAX_CONTAINS_LENGTH
            for pattern, found in ((longest, ["aaa", "aab"]), (longest[1:] + "b", []), ("aab" + longest[3:], ["aab"])):
                answer = post("get", {"where_document": {"$contains": pattern}, "include": []})
                assert answer.json()["ids"] == found
            ok = post("query", {"query_embeddings": queries[:100], "n_results": 1000, "include": ["distances"]})
            assert ok.status_code == 200 and len(ok.json()["ids"]) == 100
            memory = _memory_mb(server.process.pid)
    finally:
        server.stop()
    assert memory["VmHWM"] - idle < 200, (idle, memory)
