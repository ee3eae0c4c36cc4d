"""Ragstore's filter operators beyond chromadb's: ``$not``, ``$exists``, ``$text_contains`` and ``$regex`` on metadata.

Every mode answers them alike: ``get`` and ``delete`` through SQL (:mod:`ragstore.local.sql_filters`),
filtered ``query`` through the in-memory columns (:mod:`ragstore.local.metadata_columns`), the
Search API through its ``where`` (``K("x").exists()``, ``~w``), HTTP after the server parsed the
filter again. The reference is :mod:`tests.filter_reference`, in plain Python (``re`` on patterns
whose meaning RE2 shares), evaluated on the records the test wrote.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from starlette.testclient import TestClient

import ragstore
from ragstore.collection_requests import CreateCollectionRequest
from ragstore.errors import InvalidArgumentError
from ragstore.filters import MAX_CONTAINS_LENGTH, Compare, Not, parse_where
from ragstore.http.wire import API_PREFIX
from ragstore.local import LocalAPI
from ragstore.record_requests import GetRequest
from ragstore.search import K, Knn, Search, Where, compile_where
from ragstore.search.where import Exists, NotTextContains, TextContains
from ragstore.server import create_app
from ragstore.types import RecordSet
from tests.filter_reference import Record, reference_ids

STRINGS = ["alpha", "Alpha Beta", "beta", "gamma-3", "", "é clair", "abc", "xabcx", "ABC", "a.c", "42"]
SUBSTRINGS = ["a", "al", "Beta", "abc", "é", "-3", "ph", ".", "4", "zzz"]
# Patterns that mean the same in RE2 and Python's re, so re can be the reference.
PATTERNS = ["^a", "c$", "[0-9]+", "(?i)abc", "a.c", "^$", "é", "^(alpha|beta)$", "B"]
KEYS = ["s", "n", "b", "tags", "missing"]
DIM = 8


# ---------------------------------------------------------------------------------- random records and filters


def random_metadata(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.08:
        return None
    metadata: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.6:
        metadata["s"] = rng.choice(STRINGS)
    elif roll < 0.7:
        metadata["s"] = rng.choice([7, 2.5, True])  # the same key holding a non-string
    elif roll < 0.8:
        metadata["s"] = rng.sample(STRINGS, 2)  # a list of strings: not string metadata
    if rng.random() < 0.6:
        metadata["n"] = rng.choice([rng.randint(-3, 3), rng.uniform(-3, 3)])
    if rng.random() < 0.4:
        metadata["b"] = rng.random() < 0.5
    if rng.random() < 0.4:
        metadata["tags"] = rng.sample(STRINGS, rng.randint(1, 3))
    return metadata or {"other": 1}


def random_records(rng: random.Random, n: int) -> list[Record]:
    return [(f"r{i:03d}", random_metadata(rng), rng.choice([None, *STRINGS[:6]])) for i in range(n)]


def random_leaf(rng: random.Random) -> dict[str, Any]:
    key = rng.choice(KEYS)
    kind = rng.randrange(9)
    if kind == 0:
        return {key: {"$exists": rng.random() < 0.5}}
    if kind in (1, 2):
        return {key: {rng.choice(["$text_contains", "$not_text_contains"]): rng.choice(SUBSTRINGS)}}
    if kind in (3, 4):
        return {key: {rng.choice(["$regex", "$not_regex"]): rng.choice(PATTERNS)}}
    if kind == 5:
        return {"#document": {rng.choice(["$contains", "$not_contains"]): rng.choice(SUBSTRINGS)}}
    if kind == 6:
        return {"n": {rng.choice(["$gt", "$lte"]): rng.uniform(-3, 3)}}
    if kind == 7:
        return {"s": {rng.choice(["$eq", "$ne"]): rng.choice(STRINGS)}}
    return {"tags": {rng.choice(["$contains", "$not_contains"]): rng.choice(STRINGS)}}


def random_where(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return random_leaf(rng)
    if roll < 0.65:
        return {"$not": random_where(rng, depth + 1)}
    return {rng.choice(["$and", "$or"]): [random_where(rng, depth + 1) for _ in range(rng.randint(2, 3))]}


def add(col: ragstore.Collection, records: list[Record], vectors: np.ndarray) -> None:
    col.add(
        ids=[r[0] for r in records],
        embeddings=vectors,
        metadatas=[r[1] for r in records],  # type: ignore[misc]
        documents=[r[2] for r in records],  # type: ignore[misc]
    )


def check(col: ragstore.Collection, records: list[Record], vectors: np.ndarray, where: dict[str, Any], rng: random.Random) -> list[str]:
    """get (SQL), query (columns) and search agree with the reference; returns the matching ids."""
    expected = reference_ids(records, where)
    assert col.get(where=where, include=[])["ids"] == expected, where
    position = {r[0]: i for i, r in enumerate(records)}
    query = np.array([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
    k = max(1, min(5, len(expected)))
    if expected:
        distances = ((vectors[[position[i] for i in expected]] - query) ** 2).sum(axis=1)
        nearest = [expected[i] for i in np.argsort(distances, kind="stable")[:k]]
    else:
        nearest = []
    got = col.query(query_embeddings=[query.tolist()], n_results=k, where=where, include=[])["ids"][0]
    assert got == nearest, where
    found = col.search(Search().where(Where.from_dict(where)).rank(Knn(query=query.tolist(), limit=k)).limit(k))["ids"][0]
    assert found == nearest, where
    return expected


# ---------------------------------------------------------------------------------- every mode against the reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_filters_match_the_reference(client: ragstore.ClientAPI, seed: int) -> None:
    rng = random.Random(seed)
    records = random_records(rng, 80)
    vectors = np.array([[rng.gauss(0, 1) for _ in range(DIM)] for _ in records], dtype=np.float32)
    col = client.create_collection(f"ext-{seed}", embedding_function=None)
    add(col, records, vectors)
    partial = 0
    for _ in range(60):
        expected = check(col, records, vectors, random_where(rng), rng)
        partial += 0 < len(expected) < len(records)
    assert partial >= 24  # the filters discriminate, or agreeing would prove little


def test_updates_and_deletes_reach_every_path(client: ragstore.ClientAPI) -> None:
    rng = random.Random(7)
    records = random_records(rng, 40)
    vectors = np.array([[rng.gauss(0, 1) for _ in range(DIM)] for _ in records], dtype=np.float32)
    col = client.create_collection("ext-updates", embedding_function=None)
    add(col, records, vectors)
    wheres = [{"s": {"$text_contains": "a"}}, {"s": {"$regex": "^x"}}, {"s": {"$exists": True}}, {"$not": {"s": {"$exists": True}}}]
    for where in wheres:
        check(col, records, vectors, where, rng)
    # Rewrite every string (the columns keep their old strings in a dictionary) or drop the key (None), then delete by an extension.
    changes = [{"s": ("xyz" if i % 2 else 5) if i % 3 else None, "other": 2} for i in range(len(records))]
    col.update(ids=[r[0] for r in records], metadatas=changes)  # type: ignore[arg-type]
    updated: list[Record] = []
    for (id_, metadata, document), change in zip(records, changes, strict=True):
        merged = {k: v for k, v in {**(metadata or {}), **change}.items() if v is not None}  # update merges; None removes
        updated.append((id_, merged, document))
    for where in wheres:
        check(col, updated, vectors, where, rng)
    doomed = reference_ids(updated, {"s": {"$regex": "^xy"}})
    col.delete(where={"s": {"$regex": "^xy"}})
    kept = [r for r in updated if r[0] not in doomed]
    assert col.get(include=[])["ids"] == [r[0] for r in kept]
    kept_vectors = vectors[[int(r[0][1:]) for r in kept]]
    for where in wheres:
        check(col, kept, kept_vectors, where, rng)


def test_documented_meanings(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("ext-meanings", embedding_function=None)
    metadatas: list[Any] = [{"t": "Hello World"}, {"t": 3}, {"t": ["Hello"]}, {"u": 1}, None, {"t": True}]
    col.add(ids=list("abcdef"), embeddings=[[float(i), 1.0] for i in range(6)], metadatas=metadatas, documents=["x"] * 6)

    def ids(where: dict[str, Any]) -> list[str]:
        return col.get(where=where, include=[])["ids"]

    assert ids({"t": {"$exists": True}}) == ["a", "b", "c", "f"]  # any type, lists and bools too
    assert ids({"t": {"$exists": False}}) == ["d", "e"]
    assert ids({"t": {"$text_contains": "World"}}) == ["a"]
    assert ids({"t": {"$text_contains": "world"}}) == []  # case-sensitive, as a document $contains
    assert ids({"t": {"$text_contains": "Hello"}}) == ["a"]  # a list of strings is not string metadata
    assert ids({"t": {"$regex": "(?i)^hello"}}) == ["a"]
    assert ids({"t": {"$regex": "3"}}) == []  # numbers are not text
    assert ids({"t": {"$not_regex": "World$"}}) == ["b", "c", "d", "e", "f"]  # the exact negation
    assert ids({"$not": {"t": {"$eq": 3}}}) == ids({"t": {"$ne": 3}}) == ["a", "c", "d", "e", "f"]
    assert ids({"$not": {"$or": [{"t": {"$exists": True}}, {"u": 1}]}}) == ["e"]
    assert ids({"#document": {"$contains": "x"}}) == list("abcdef")
    assert ids({"$not": {"#document": {"$contains": "x"}}}) == []
    assert col.get(where_document={"$not": {"$contains": "x"}}, include=[])["ids"] == []
    assert col.query(query_embeddings=[[0.0, 1.0]], n_results=2, where={"$not": {"t": {"$exists": True}}}, include=[])["ids"] == [
        ["d", "e"]
    ]
    assert col.search(Search().where(~K("t").exists() | K("t").text_contains("World")).limit(10))["ids"] == [["a", "d", "e"]]


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"k": {"$exists": "yes"}}, r"operator \$exists to be true or false, got 'yes' \(at where\.k\)"),
    ({"k": {"$text_contains": ""}}, r"operator \$text_contains to be a non-empty str"),
    ({"k": {"$not_text_contains": 3}}, r"operator \$not_text_contains to be a non-empty str, got 3"),
    ({"k": {"$text_contains": "a" * (MAX_CONTAINS_LENGTH + 1)}}, rf"at most {MAX_CONTAINS_LENGTH} characters"),
    ({"k": {"$regex": "(a"}}, r"Regex syntax error.*\(at where\.k\.\$regex\)"),
    ({"k": {"$not_regex": r"(a)\1"}}, r"Regex syntax error"),
    ({"$not": [{"k": 1}]}, r"Expected where to be a dict.*\(at where\.\$not\)"),
    ({"$not": {"k": 1, "j": 2}}, r"exactly one operator, got .* \(at where\.\$not\)"),
    ({"$and": [{"k": 1}, {"$not": {"k": {"$like": "a"}}}]}, r"got \$like \(at where\.\$and\[1\]\.\$not\.k\)"),
]


@pytest.mark.parametrize(("where", "message"), BAD_FILTERS)
def test_bad_extension_filters_are_refused_and_change_nothing(client: ragstore.ClientAPI, where: dict[str, Any], message: str) -> None:
    col = client.create_collection("ext-bad", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": "x"}, {"k": 1}])
    for call in (
        lambda: col.get(where=where),
        lambda: col.delete(where=where),
        lambda: col.query(query_embeddings=[[1.0, 0.0]], where=where),
    ):
        with pytest.raises(InvalidArgumentError, match=message):
            call()
    assert col.get(include=["metadatas"])["metadatas"] == [{"k": "x"}, {"k": 1}]


# ---------------------------------------------------------------------------------- the Search API's where


def test_search_expressions_and_their_wire_form() -> None:
    cases: list[tuple[Where, dict[str, Any]]] = [
        (K("a").exists(), {"a": {"$exists": True}}),
        (K("a").exists(False), {"a": {"$exists": False}}),
        (K("a").text_contains("x"), {"a": {"$text_contains": "x"}}),
        (K("a").not_text_contains("x"), {"a": {"$not_text_contains": "x"}}),
        (K("a").regex("^x"), {"a": {"$regex": "^x"}}),
        (~(K("a") == 1), {"$not": {"a": {"$eq": 1}}}),
        (~((K("a") > 1) & K("b").exists()), {"$not": {"$and": [{"a": {"$gt": 1}}, {"b": {"$exists": True}}]}}),
        (~~K("a").exists(), {"$not": {"$not": {"a": {"$exists": True}}}}),
    ]
    for where, wire in cases:
        assert where.to_dict() == wire
        assert Where.from_dict(wire) == where
    assert Where.from_dict({"a": {"$exists": True}}) == Exists("a", True)
    assert isinstance(Where.from_dict({"a": {"$text_contains": "x"}}), TextContains)
    assert isinstance(Where.from_dict({"a": {"$not_text_contains": "x"}}), NotTextContains)
    # the engine sees ragstore's filter tree
    assert compile_where(~K("a").exists()).where == Not(Compare("a", "$exists", True))
    assert parse_where({"$not": {"a": {"$regex": "^x"}}}) == Not(Compare("a", "$regex", "^x"))


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({"a": {"$exists": 1}}, r"\$exists requires true or false, got int"),
        ({"a": {"$text_contains": 1}}, r"\$text_contains requires a str, got int"),
        ({"$not": {"a": 1}, "b": 2}, r"\$not cannot be combined"),
        ({"$not": "a"}, r"Expected dict for Where, got str"),
        ({"a": {"$regex": "(x"}}, r"Regex syntax error"),
        ({"$not": {"#id": "a"}}, r"#id conditions only as terms of the top-level \$and, not under \$or or \$not"),
    ],
)
def test_malformed_search_extensions_are_refused(wire: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Where.from_dict(wire)


# ---------------------------------------------------------------------------------- the server parses again


def test_the_server_checks_raw_extension_filters(tmp_path: Path) -> None:
    api = LocalAPI(tmp_path / "store", ragstore.Settings())
    col = api.create_collection(CreateCollectionRequest("raw"))
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    api.write(col.id, "add", RecordSet(["a", "b"], vectors, [{"k": "alpha"}, {"j": 1}], None, None))
    base = f"{API_PREFIX}/tenants/default_tenant/databases/default_database/collections/{col.id}"
    search = {"rank": {"$knn": {"query": [1.0, 0.0], "key": "#embedding", "limit": 2}}, "limit": {"offset": 0, "limit": 2}}
    with TestClient(create_app(api), base_url="http://testserver", headers={"Content-Type": "application/json"}) as http:

        def post(action: str, body: dict[str, Any]) -> Any:
            return http.post(f"{base}/{action}", content=orjson.dumps(body))

        assert post("get", {"where": {"$not": {"k": {"$regex": "^al"}}}}).json()["ids"] == ["b"]
        assert post("search", {"searches": [{**search, "filter": {"k": {"$exists": False}}}]}).json()["ids"] == [["b"]]
        for action, body in [
            ("get", {"where": {"k": {"$exists": "no"}}}),
            ("delete", {"where": {"$not": {"k": {"$text_contains": ""}}}}),
            ("search", {"searches": [{**search, "filter": {"k": {"$regex": "(unclosed"}}}]}),
        ]:
            response = post(action, body)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "InvalidArgumentError"
        assert api.get(col.id, GetRequest())["ids"] == ["a", "b"]  # the app's lifespan closes the engine when it ends
