"""Filter semantics (``where``, ``where_document``) against a reference evaluator.

``filter_reference`` is a plain-Python statement of chromadb 1.5.9's evaluation rules
(reference doc, sections 2.3 and 2.4). Random records and random filters are checked
through ``get``, ``query`` and ``delete`` on every client mode; each rule also has a
small explicit test, and malformed filters must name the path of the bad node.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.errors import InvalidArgumentError
from tests.filter_reference import Record, reference_ids

# ---------------------------------------------------------------------------------- random data

STRS = ["a", "b", "A", "ab", "", "é", "x y", "1"]
INTS = [-2, 0, 1, 2, 3, 7, 2**40]
FLOATS = [-3.25, 0.0, 1.0, 1.5, 2.0, 2.5, 7.0]
BOOLS = [True, False]
EXTRA_OPERANDS: list[Any] = [-0.0, 1.25, -1, 2**40 + 0.5]
DOC_PIECES = ["ab", "Ab", "abc", "ABC", "cab", "xyz", "é", "É", " ", '"', "%_", "*", "zz"]
DOC_ALPHABET = 'abcABCxyzé É"%_*'
REGEXES = [
    "ab",
    "^ab",
    "c$",
    "a.c",
    "[AB]b",
    "(?i)abc",
    "x|É",
    "b+c",
    "^$",
    "é",
    "a[^b]",
    '"',
    "%_",
    "(ab)+c",
    "^[^a]*$",
    "A.*z",
    r"\*",
    "z{2}",
]
SCALAR_KEYS = ["s", "i", "f", "b", "mixed", "ké y"]
LIST_KEYS = ["ls", "li", "lf", "lb"]
ALL_KEYS = [*SCALAR_KEYS, *LIST_KEYS, "shape", "absent"]
DIM = 4


_OWN_POOLS: dict[str, list[Any]] = {
    "s": STRS,
    "ké y": STRS,
    "i": INTS,
    "f": FLOATS,
    "b": BOOLS,
    "ls": STRS,
    "li": INTS,
    "lf": FLOATS,
    "lb": BOOLS,
}


def _any_scalar(rng: random.Random) -> Any:
    return rng.choice(rng.choice([STRS, INTS, FLOATS, BOOLS]))


def _random_list(rng: random.Random, pool: list[Any]) -> list[Any]:
    return [rng.choice(pool) for _ in range(rng.randint(1, 3))]


def random_metadata(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.12:
        return None
    metadata: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        if rng.random() < 0.6:
            metadata[key] = _any_scalar(rng) if key == "mixed" else rng.choice(_OWN_POOLS[key])
    for key in LIST_KEYS:
        if rng.random() < 0.5:
            metadata[key] = _random_list(rng, _OWN_POOLS[key])
    if rng.random() < 0.6:  # one key that is a scalar in some records and a list (of any type) in others
        metadata["shape"] = _any_scalar(rng) if rng.random() < 0.5 else _random_list(rng, rng.choice([STRS, INTS, FLOATS, BOOLS]))
    return metadata or None


def random_document(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.2:
        return ""
    if roll < 0.35:
        return "".join(rng.choice(DOC_ALPHABET) for _ in range(rng.randint(1, 8)))
    return "".join(rng.choice(DOC_PIECES) for _ in range(rng.randint(1, 6)))


def random_records(rng: random.Random, n: int, prefix: str = "r") -> list[Record]:
    return [(f"{prefix}{i}", random_metadata(rng), random_document(rng)) for i in range(n)]


def random_substring(rng: random.Random, records: list[Record]) -> str:
    """A non-empty pattern: often a piece of a stored document (short or long), sometimes case-flipped or random."""
    documents = [doc for _, _, doc in records if doc]
    roll = rng.random()
    if roll < 0.6 and documents:
        doc = rng.choice(documents)
        length = rng.choice([1, 2, 3, 4, 6, 9])
        start = rng.randrange(max(1, len(doc) - length + 1))
        pattern = doc[start : start + length] or doc
        return pattern.swapcase() if rng.random() < 0.2 and pattern.swapcase() != pattern else pattern
    if roll < 0.8:
        return rng.choice(DOC_PIECES)
    return "".join(rng.choice(DOC_ALPHABET) for _ in range(rng.randint(1, 4)))


def _operand_pool(rng: random.Random, key: str) -> list[Any]:
    """Mostly the key's own values (so comparisons hit), sometimes any type (so type rules are exercised)."""
    if key in _OWN_POOLS and rng.random() < 0.7:
        return _OWN_POOLS[key]
    return rng.choice([STRS, INTS, FLOATS, BOOLS, INTS + FLOATS + EXTRA_OPERANDS])


def random_leaf(rng: random.Random, records: list[Record]) -> dict[str, Any]:
    if rng.random() < 0.1:
        return {"#document": {rng.choice(["$contains", "$not_contains"]): random_substring(rng, records)}}
    key = rng.choice(ALL_KEYS)
    if key in LIST_KEYS and rng.random() < 0.6:
        op = rng.choice(["$contains", "$not_contains"])
    else:
        op = rng.choice(["shorthand", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains"])
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {key: {op: rng.choice(INTS + FLOATS + EXTRA_OPERANDS)}}
    pool = _operand_pool(rng, key)
    if op in ("$in", "$nin"):
        if pool is not STRS and pool is not BOOLS:
            pool = INTS + FLOATS + EXTRA_OPERANDS  # ints and floats may be mixed in one list
        return {key: {op: [rng.choice(pool) for _ in range(rng.randint(1, 3))]}}
    operand = rng.choice(pool)
    if op == "shorthand":
        return {key: operand}
    return {key: {op: operand}}


def random_where(rng: random.Random, records: list[Record], depth: int = 1) -> dict[str, Any]:
    if depth <= 3 and rng.random() < 0.3:
        return {rng.choice(["$and", "$or"]): [random_where(rng, records, depth + 1) for _ in range(rng.randint(2, 3))]}
    return random_leaf(rng, records)


def random_where_document(rng: random.Random, records: list[Record], depth: int = 1) -> dict[str, Any]:
    if depth <= 2 and rng.random() < 0.25:
        return {rng.choice(["$and", "$or", "$or"]): [random_where_document(rng, records, depth + 1) for _ in range(rng.randint(2, 3))]}
    op = rng.choice(["$contains", "$not_contains", "$contains", "$regex", "$not_regex"])
    if op in ("$regex", "$not_regex"):
        return {op: rng.choice(REGEXES)}
    return {op: random_substring(rng, records)}


def random_filters(rng: random.Random, records: list[Record]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    roll = rng.random()
    where = random_where(rng, records) if roll < 0.65 else None
    where_document = random_where_document(rng, records) if roll >= 0.45 else None
    return where, where_document


def random_embeddings(rng: random.Random, n: int) -> list[list[float]]:
    return [[rng.uniform(-1.0, 1.0) for _ in range(DIM)] for _ in range(n)]


def add_records(col: ragstore.Collection, records: list[Record], embeddings: list[list[float]]) -> None:
    col.add(
        ids=[id_ for id_, _, _ in records],
        embeddings=embeddings,
        metadatas=[metadata for _, metadata, _ in records],
        documents=[document for _, _, document in records],
    )


def check_get(col: ragstore.Collection, records: list[Record], where: Any, where_document: Any) -> list[str]:
    expected = reference_ids(records, where, where_document)
    got = col.get(where=where, where_document=where_document, include=[])["ids"]
    assert got == expected, f"where={where!r} where_document={where_document!r}: got {got}, expected {expected}"
    return expected


# ---------------------------------------------------------------------------------- random comparisons

N_RECORDS = 60
FILTERS_PER_SEED = 75


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_filters_get_and_query_match_reference(client: ragstore.ClientAPI, seed: int) -> None:
    rng = random.Random(seed)
    records = random_records(rng, N_RECORDS)
    embeddings = random_embeddings(rng, N_RECORDS)
    col = client.create_collection(f"random-{seed}", embedding_function=None)
    add_records(col, records, embeddings)
    vectors = np.array(embeddings, dtype=np.float32)
    position = {id_: i for i, (id_, _, _) in enumerate(records)}
    partial = 0
    for n in range(FILTERS_PER_SEED):
        where, where_document = random_filters(rng, records)
        expected = check_get(col, records, where, where_document)
        partial += 0 < len(expected) < N_RECORDS
        if n % 3:
            continue
        # query: with n_results >= matches it returns exactly the matching set, nearest first
        queries = np.array(random_embeddings(rng, 2), dtype=np.float32)
        n_results = len(expected) + rng.randint(0, 3) or 1
        result = col.query(query_embeddings=queries, n_results=n_results, where=where, where_document=where_document, include=["distances"])
        assert result["distances"] is not None
        for q, (ids, distances) in enumerate(zip(result["ids"], result["distances"], strict=True)):
            assert sorted(ids) == sorted(expected), f"query where={where!r} where_document={where_document!r}"
            assert distances == sorted(distances)
            true = ((vectors[[position[i] for i in ids]] - queries[q]) ** 2).sum(axis=1) if ids else np.empty(0)
            np.testing.assert_allclose(distances, true, rtol=1e-4, atol=1e-5)
        if len(expected) >= 2:
            # fewer results than matches: the true nearest matches (compared by distance, robust to ties)
            k = len(expected) // 2
            nearest = col.query(
                query_embeddings=queries[:1], n_results=k, where=where, where_document=where_document, include=["distances"]
            )
            assert nearest["distances"] is not None
            assert set(nearest["ids"][0]) <= set(expected) and len(nearest["ids"][0]) == k
            all_distances = np.sort(((vectors[[position[i] for i in expected]] - queries[0]) ** 2).sum(axis=1))[:k]
            np.testing.assert_allclose(nearest["distances"][0], all_distances, rtol=1e-4, atol=1e-5)
    # the generator must produce discriminating filters, or the comparison above proves little
    assert partial >= FILTERS_PER_SEED // 2


@pytest.mark.parametrize("seed", [11, 12])
def test_random_filters_delete_matches_reference(client: ragstore.ClientAPI, seed: int) -> None:
    rng = random.Random(seed)
    records = random_records(rng, N_RECORDS)
    col = client.create_collection(f"delete-{seed}", embedding_function=None)
    add_records(col, records, random_embeddings(rng, N_RECORDS))
    remaining = list(records)
    deleted_total = 0
    for _ in range(20):
        if len(remaining) < 10:  # refill, so later filters still have something to delete
            fresh = random_records(rng, N_RECORDS, prefix=f"g{deleted_total}-")
            add_records(col, fresh, random_embeddings(rng, len(fresh)))
            remaining += fresh
        where, where_document = random_filters(rng, remaining)
        expected = reference_ids(remaining, where, where_document)
        result = col.delete(where=where, where_document=where_document)
        assert result == {"deleted": len(expected)}, f"where={where!r} where_document={where_document!r}"
        gone = set(expected)
        remaining = [r for r in remaining if r[0] not in gone]
        deleted_total += len(expected)
        assert col.get(include=[])["ids"] == [r[0] for r in remaining]
        assert col.count() == len(remaining)
    assert deleted_total > 0
    # the filters still agree with the reference on what is left
    for _ in range(15):
        check_get(col, remaining, *random_filters(rng, remaining))


def test_random_filters_after_updates_match_reference(client: ragstore.ClientAPI) -> None:
    """Metadata merges, key deletions (None) and document rewrites keep the filter indexes in step."""
    rng = random.Random(21)
    records = random_records(rng, N_RECORDS)
    col = client.create_collection("updated", embedding_function=None)
    add_records(col, records, random_embeddings(rng, N_RECORDS))
    state = {id_: (metadata, document) for id_, metadata, document in records}
    order = [id_ for id_, _, _ in records]
    for round_ in range(6):
        chosen = rng.sample(order, 12)
        new_ids = [f"new{round_}-{i}" for i in range(3)]
        changes = []
        for _ in chosen + new_ids:
            change = random_metadata(rng) or {"s": "a"}
            for key in rng.sample(ALL_KEYS, 3):
                if rng.random() < 0.5:
                    change[key] = None  # deletes the key
            changes.append(change)
        documents = [random_document(rng) or "abc" for _ in chosen + new_ids]
        targets = chosen if round_ % 2 == 0 else chosen + new_ids
        (col.update if round_ % 2 == 0 else col.upsert)(
            ids=targets,
            embeddings=random_embeddings(rng, len(targets)),
            metadatas=changes[: len(targets)],
            documents=documents[: len(targets)],
        )
        for id_, change, document in zip(targets, changes, documents, strict=False):
            old_metadata = state[id_][0] if id_ in state else None
            merged = dict(old_metadata or {})
            for key, value in change.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if id_ not in state:
                order.append(id_)
            state[id_] = (merged or None, document)
        current = [(id_, *state[id_]) for id_ in order]
        got = col.get(include=["metadatas", "documents"])
        assert got["ids"] == order
        assert got["metadatas"] == [m for _, m, _ in current] and got["documents"] == [d for _, _, d in current]
        for _ in range(8):
            check_get(col, current, *random_filters(rng, current))


# ---------------------------------------------------------------------------------- rule by rule


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    return client.create_collection("rules", embedding_function=None)


def _add(col: ragstore.Collection, metadatas: list[dict[str, Any] | None], documents: list[str | None] | None = None) -> list[str]:
    ids = [f"id{i}" for i in range(len(metadatas))]
    col.add(ids=ids, embeddings=[[float(i), 1.0] for i in range(len(ids))], metadatas=metadatas, documents=documents)
    return ids


def _ids(col: ragstore.Collection, where: Any = None, where_document: Any = None) -> list[str]:
    return col.get(where=where, where_document=where_document, include=[])["ids"]


def test_positive_comparisons_need_the_key(col: ragstore.Collection) -> None:
    _add(col, [{"k": 1}, {"other": 1}, None, {"k": "1"}])
    assert _ids(col, {"k": 1}) == ["id0"]
    assert _ids(col, {"k": {"$eq": 1}}) == ["id0"]
    assert _ids(col, {"k": {"$gt": 0}}) == ["id0"]
    assert _ids(col, {"k": {"$gte": 1}}) == ["id0"]
    assert _ids(col, {"k": {"$lt": 2}}) == ["id0"]
    assert _ids(col, {"k": {"$lte": 1}}) == ["id0"]
    assert _ids(col, {"k": {"$in": [1, 5]}}) == ["id0"]
    assert _ids(col, {"k": {"$in": ["1"]}}) == ["id3"]
    assert _ids(col, {"k": {"$lt": 100}}) == ["id0"]  # no string range comparisons: "1" is not < 100


def test_ne_and_nin_match_records_lacking_the_key(col: ragstore.Collection) -> None:
    _add(col, [{"k": 1}, {"other": 1}, None, {"k": 2}, {"k": "x"}])
    assert _ids(col, {"k": {"$ne": 1}}) == ["id1", "id2", "id3", "id4"]
    assert _ids(col, {"k": {"$nin": [1, 2]}}) == ["id1", "id2", "id4"]
    assert _ids(col, {"absent": {"$ne": "anything"}}) == ["id0", "id1", "id2", "id3", "id4"]
    assert _ids(col, {"absent": {"$nin": ["a"]}}) == ["id0", "id1", "id2", "id3", "id4"]
    assert col.delete(where={"k": {"$ne": 2}}) == {"deleted": 4}
    assert _ids(col) == ["id3"]


def test_numbers_compare_across_int_and_float(col: ragstore.Collection) -> None:
    _add(col, [{"n": 1}, {"n": 1.0}, {"n": 4.0}, {"n": 4}, {"n": 2.5}])
    assert _ids(col, {"n": 1.0}) == ["id0", "id1"]
    assert _ids(col, {"n": 4}) == ["id2", "id3"]
    assert _ids(col, {"n": {"$in": [4, 1.0]}}) == ["id0", "id1", "id2", "id3"]
    assert _ids(col, {"n": {"$nin": [4.0]}}) == ["id0", "id1", "id4"]
    assert _ids(col, {"n": {"$ne": 1}}) == ["id2", "id3", "id4"]
    assert _ids(col, {"n": {"$gt": 2}}) == ["id2", "id3", "id4"]
    assert _ids(col, {"n": {"$gte": 2.5}}) == ["id2", "id3", "id4"]
    assert _ids(col, {"n": {"$lt": 2.5}}) == ["id0", "id1"]
    assert _ids(col, {"n": {"$lte": 1}}) == ["id0", "id1"]


def test_bool_is_type_strict(col: ragstore.Collection) -> None:
    _add(col, [{"b": True}, {"b": 1}, {"b": 1.0}, {"b": False}, {"b": 0}, {"b": "True"}])
    assert _ids(col, {"b": True}) == ["id0"]
    assert _ids(col, {"b": 1}) == ["id1", "id2"]
    assert _ids(col, {"b": False}) == ["id3"]
    assert _ids(col, {"b": 0}) == ["id4"]
    assert _ids(col, {"b": {"$in": [True]}}) == ["id0"]
    assert _ids(col, {"b": {"$in": [1]}}) == ["id1", "id2"]
    assert _ids(col, {"b": {"$ne": True}}) == ["id1", "id2", "id3", "id4", "id5"]
    assert _ids(col, {"b": {"$nin": [False]}}) == ["id0", "id1", "id2", "id4", "id5"]
    assert _ids(col, {"b": {"$gt": 0}}) == ["id1", "id2"]  # True is not a number
    assert _ids(col, {"b": {"$lte": 0}}) == ["id4"]


def test_list_fields_match_only_through_contains(col: ragstore.Collection) -> None:
    _add(col, [{"tags": ["red", "blue"]}, {"tags": "red"}, {"tags": [1, 2]}, {"other": 1}, None, {"tags": [True]}])
    assert _ids(col, {"tags": "red"}) == ["id1"]
    assert _ids(col, {"tags": {"$in": ["red", "blue"]}}) == ["id1"]
    assert _ids(col, {"tags": {"$eq": 1}}) == []
    assert _ids(col, {"tags": {"$gt": 0}}) == []
    assert _ids(col, {"tags": {"$contains": "red"}}) == ["id0"]  # a scalar "red" does not contain "red"
    assert _ids(col, {"tags": {"$contains": 2}}) == ["id2"]
    assert _ids(col, {"tags": {"$contains": 2.0}}) == ["id2"]
    assert _ids(col, {"tags": {"$contains": True}}) == ["id5"]
    assert _ids(col, {"tags": {"$contains": 1}}) == ["id2"]  # [True] does not contain 1
    assert _ids(col, {"tags": {"$contains": "re"}}) == []  # element equality, not substring
    assert _ids(col, {"tags": {"$not_contains": "red"}}) == ["id1", "id2", "id3", "id4", "id5"]
    assert _ids(col, {"tags": {"$ne": "red"}}) == ["id0", "id2", "id3", "id4", "id5"]
    assert _ids(col, {"tags": {"$nin": ["red"]}}) == ["id0", "id2", "id3", "id4", "id5"]


def test_document_field_inside_where(col: ragstore.Collection) -> None:
    _add(col, [{"k": 1}, {"k": 2}, None, {"k": 1}], ["apple pie", "Apple tart", "apple", None])
    assert _ids(col, {"#document": {"$contains": "apple"}}) == ["id0", "id2"]
    assert _ids(col, {"#document": {"$contains": "pp"}}) == ["id0", "id1", "id2"]
    assert _ids(col, {"#document": {"$not_contains": "apple"}}) == ["id1", "id3"]
    assert _ids(col, {"$and": [{"k": 1}, {"#document": {"$contains": "pie"}}]}) == ["id0"]
    assert _ids(col, {"$or": [{"k": 2}, {"#document": {"$not_contains": "p"}}]}) == ["id1", "id3"]
    assert _ids(col, {"#document": {"$contains": "apple"}}) == _ids(col, where_document={"$contains": "apple"})


def test_document_contains_is_case_sensitive_substring_short_and_long(col: ragstore.Collection) -> None:
    docs = ["Hello World", "hello world", None, "HELLO", "", 'say "hi" 100% _now_', "ÉCOLE école"]
    _add(col, [None] * len(docs), docs)
    # three or more characters (trigram index)
    assert _ids(col, where_document={"$contains": "ello"}) == ["id0", "id1"]
    assert _ids(col, where_document={"$contains": "ELL"}) == ["id3"]
    assert _ids(col, where_document={"$contains": "lo W"}) == ["id0"]
    assert _ids(col, where_document={"$contains": "Hello World"}) == ["id0"]
    assert _ids(col, where_document={"$contains": "Hello World!"}) == []
    assert _ids(col, where_document={"$contains": '"hi"'}) == ["id5"]
    assert _ids(col, where_document={"$contains": "0% _"}) == ["id5"]
    assert _ids(col, where_document={"$contains": "ÉCO"}) == ["id6"]
    assert _ids(col, where_document={"$contains": "éco"}) == ["id6"]
    assert _ids(col, where_document={"$contains": "Éco"}) == []
    assert _ids(col, where_document={"$not_contains": "ello"}) == ["id2", "id3", "id4", "id5", "id6"]
    # fewer than three characters
    assert _ids(col, where_document={"$contains": "He"}) == ["id0"]
    assert _ids(col, where_document={"$contains": "o"}) == ["id0", "id1", "id5", "id6"]
    assert _ids(col, where_document={"$contains": "%"}) == ["id5"]
    assert _ids(col, where_document={"$contains": "_"}) == ["id5"]
    assert _ids(col, where_document={"$contains": "É"}) == ["id6"]
    assert _ids(col, where_document={"$not_contains": "h"}) == ["id0", "id2", "id3", "id4", "id6"]


def test_document_rewrites_keep_substring_filters_right(col: ragstore.Collection) -> None:
    _add(col, [None, None, None], ["hello world", "hello world", "hello world"])
    col.update(ids=["id0"], embeddings=[[0.0, 1.0]], documents=["hello there"])  # shares trigrams with the old text
    col.upsert(ids=["id1"], embeddings=[[1.0, 1.0]], documents=["hello world"])  # the same text again
    col.update(ids=["id2"], embeddings=[[2.0, 1.0]], metadatas=[{"k": 1}])  # no document: the old one stays
    assert _ids(col, where_document={"$contains": "hello"}) == ["id0", "id1", "id2"]
    assert _ids(col, where_document={"$contains": "world"}) == ["id1", "id2"]
    assert _ids(col, where_document={"$contains": "there"}) == ["id0"]
    assert _ids(col, where_document={"$not_contains": "hello"}) == []
    assert _ids(col, {"#document": {"$contains": "lo wor"}}) == ["id1", "id2"]
    col.update(ids=["id1"], embeddings=[[1.0, 1.0]], documents=["bye"])
    assert _ids(col, where_document={"$contains": "hello"}) == ["id0", "id2"]
    assert _ids(col, where_document={"$contains": "bye"}) == ["id1"]


def test_regex_is_re2(col: ragstore.Collection) -> None:
    docs = ["Hello World", "hello world", None, "Élan", "a" * 40 + "!", "x1y22z333"]
    _add(col, [None] * len(docs), docs)
    assert _ids(col, where_document={"$regex": "^h"}) == ["id1"]
    assert _ids(col, where_document={"$regex": "(?i)^HELLO"}) == ["id0", "id1"]
    assert _ids(col, where_document={"$regex": r"d$"}) == ["id0", "id1"]
    assert _ids(col, where_document={"$regex": r"\d{3}"}) == ["id5"]
    assert _ids(col, where_document={"$regex": r"^\p{Lu}"}) == ["id0", "id3"]  # Unicode classes: RE2 syntax, not Python's
    assert _ids(col, where_document={"$regex": "(a+)+$"}) == []  # would backtrack for ages in Python's re
    assert _ids(col, where_document={"$not_regex": "o"}) == ["id2", "id3", "id4", "id5"]
    assert _ids(col, where_document={"$not_regex": "(?i)élan"}) == ["id0", "id1", "id2", "id4", "id5"]


def test_records_without_document_match_only_negations(col: ragstore.Collection) -> None:
    _add(col, [None, None], [None, "abc"])
    assert _ids(col, where_document={"$contains": "abc"}) == ["id1"]
    assert _ids(col, where_document={"$contains": "a"}) == ["id1"]
    assert _ids(col, where_document={"$regex": ".*"}) == ["id1"]
    assert _ids(col, where_document={"$not_contains": "abc"}) == ["id0"]
    assert _ids(col, where_document={"$not_contains": "a"}) == ["id0"]
    assert _ids(col, where_document={"$not_contains": "zzz"}) == ["id0", "id1"]
    assert _ids(col, where_document={"$not_regex": ".*"}) == ["id0"]
    assert _ids(col, {"#document": {"$not_contains": "abc"}}) == ["id0"]


def test_where_and_where_document_combine_with_and(col: ragstore.Collection) -> None:
    _add(col, [{"k": 1}, {"k": 1}, {"k": 2}, None], ["red fox", "blue fox", "red hen", "red"])
    assert _ids(col, {"k": 1}, {"$contains": "red"}) == ["id0"]
    assert _ids(col, {"k": {"$ne": 1}}, {"$contains": "red"}) == ["id2", "id3"]
    assert _ids(col, {"k": 2}, {"$contains": "fox"}) == []
    result = col.query(query_embeddings=[[0.0, 1.0]], n_results=10, where={"k": {"$ne": 2}}, where_document={"$contains": "red"})
    assert result["ids"] == [["id0", "id3"]]
    assert col.delete(where={"k": 1}, where_document={"$not_contains": "red"}) == {"deleted": 1}
    assert _ids(col) == ["id0", "id2", "id3"]


def test_nested_and_or(col: ragstore.Collection) -> None:
    metadatas: list[dict[str, Any] | None] = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "x"}, {"a": 4}, None]
    _add(col, metadatas, ["one", "two", "three", "four", None])
    where = {"$or": [{"$and": [{"a": {"$gte": 2}}, {"b": "x"}]}, {"$and": [{"a": {"$lt": 2}}, {"$or": [{"b": "y"}, {"b": "x"}]}]}]}
    assert _ids(col, where) == ["id0", "id2"]
    assert _ids(col, {"$and": [{"a": {"$gt": 1}}, {"a": {"$lt": 4}}, {"b": {"$ne": "x"}}]}) == ["id1"]
    where_document = {"$or": [{"$contains": "one"}, {"$and": [{"$regex": "^t"}, {"$not_contains": "ee"}]}]}
    assert _ids(col, where_document=where_document) == ["id0", "id1"]


def test_long_and_or_lists(col: ragstore.Collection) -> None:
    """Thousands of children in one $and / $or (SQLite limits expression depth to 1000)."""
    metadatas: list[dict[str, Any] | None] = [{"k": i} for i in range(0, 50, 5)] + [None]
    documents: list[str | None] = [f"doc {i}" for i in range(len(metadatas) - 1)] + [None]
    ids = _add(col, metadatas, documents)
    records = list(zip(ids, metadatas, documents, strict=True))
    where = {"$or": [{"k": i} for i in range(3, 3300, 3)]}
    where_document = {"$and": [{"$not_contains": f"doc {i}"} for i in range(1, 2200, 2)]}
    nested = {"$and": [{"$or": [{"k": {"$ne": i}} for i in range(1100)]}, {"$and": [{"k": {"$nin": [i]}} for i in range(1100)]}]}
    for w, wd in ((where, None), (None, where_document), (nested, None)):
        assert _ids(col, w, wd) == reference_ids(records, w, wd)
    result = col.query(query_embeddings=[[0.0, 1.0]], n_results=20, where=where, where_document=where_document)
    assert result["ids"] == [["id6"]]
    assert reference_ids(records, where, None) == ["id3", "id6", "id9"]
    assert reference_ids(records, None, where_document) == ["id0", "id2", "id4", "id6", "id8", "id10"]
    assert reference_ids(records, nested, None) == ["id10"]
    assert reference_ids(records, where, where_document) == ["id6"]
    assert col.delete(where=where, where_document=where_document) == {"deleted": 1}
    assert _ids(col) == [i for i in ids if i != "id6"]


def test_empty_filters_mean_no_filter(col: ragstore.Collection) -> None:
    _add(col, [{"k": 1}, None])
    assert _ids(col, {}) == ["id0", "id1"]
    assert _ids(col, None, {}) == ["id0", "id1"]


def test_filters_do_not_leak_between_collections(client: ragstore.ClientAPI) -> None:
    one = client.create_collection("leak-one", embedding_function=None)
    two = client.create_collection("leak-two", embedding_function=None)
    one.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1, "t": ["x"]}, {"k": 2}], documents=["alpha", "beta"])
    two.add(
        ids=["a", "c"], embeddings=[[1.0, 0.0], [0.5, 0.5]], metadatas=[{"k": 2, "t": ["y"]}, {"k": 1}], documents=["gamma", "alphabet"]
    )
    assert one.get(where={"k": 1}, include=[])["ids"] == ["a"]
    assert two.get(where={"k": 1}, include=[])["ids"] == ["c"]
    assert one.get(where={"k": {"$ne": 1}}, include=[])["ids"] == ["b"]
    assert one.get(where={"t": {"$contains": "y"}}, include=[])["ids"] == []
    assert one.get(where={"t": {"$not_contains": "y"}}, include=[])["ids"] == ["a", "b"]
    assert one.get(where_document={"$contains": "gamma"}, include=[])["ids"] == []
    assert one.get(where_document={"$contains": "alpha"}, include=[])["ids"] == ["a"]
    assert two.get(where_document={"$contains": "alpha"}, include=[])["ids"] == ["c"]
    assert two.get(where_document={"$not_contains": "beta"}, include=[])["ids"] == ["a", "c"]
    assert one.query(query_embeddings=[[1.0, 0.0]], n_results=5, where={"k": 2})["ids"] == [["b"]]
    assert one.delete(where={"k": {"$gte": 1}}) == {"deleted": 2}
    assert one.count() == 0
    assert two.get(include=["documents"])["documents"] == ["gamma", "alphabet"]
    assert two.get(where_document={"$contains": "alpha"}, include=[])["ids"] == ["c"]


# ---------------------------------------------------------------------------------- parse errors name the path


@pytest.mark.parametrize(
    ("filters", "path"),
    [
        ({"where": {"$and": [{"name": "x"}, {"age": {"$gt": "old"}}]}}, "where.$and[1].age"),
        ({"where": {"$or": [{"a": 1}, {"$and": [{"b": 2}, {"c": {"$foo": 1}}]}]}}, "where.$or[1].$and[1].c"),
        ({"where": {"a": {"$in": [1, "x"]}}}, "where.a"),
        ({"where": {"a": {"$in": []}}}, "where.a"),
        ({"where": {"a": {"$eq": [1]}}}, "where.a"),
        ({"where": {"a": None}}, "where.a"),
        ({"where": {"a": {"$eq": 1, "$ne": 2}}}, "where.a"),
        ({"where": {"$and": [{"a": 1}]}}, "where"),
        ({"where": {"$or": [{"a": 1}, {"a": 2, "b": 3}]}}, "where.$or[1]"),
        ({"where": {"$and": [{"a": 1}, {"$contains": "x"}]}}, "where.$and[1]"),
        ({"where": {"$and": [{"a": 1}, "a"]}}, "where.$and[1]"),
        ({"where": {"#document": {"$regex": "x"}}}, "where.#document"),
        ({"where": {"#document": {"$contains": ""}}}, "where.#document"),
        ({"where": {"a": {"$gte": True}}}, "where.a"),
        ({"where_document": {"$and": [{"$contains": "x"}, {"$eq": "x"}]}}, "where_document.$and[1]"),
        ({"where_document": {"$or": [{"$regex": "("}, {"$contains": "x"}]}}, "where_document.$or[0].$regex"),
        (
            {"where_document": {"$or": [{"$contains": "x"}, {"$and": [{"$contains": "y"}, {"$not_contains": ""}]}]}},
            "where_document.$or[1].$and[1]",
        ),
        ({"where_document": {"$contains": 3}}, "where_document"),
        ({"where_document": {"$and": [{"$contains": "x"}]}}, "where_document"),
    ],
)
def test_filter_errors_name_the_path(col: ragstore.Collection, filters: dict[str, Any], path: str) -> None:
    _add(col, [{"a": 1}], ["text"])
    for call in (
        lambda: col.get(**filters),
        lambda: col.query(query_embeddings=[[0.0, 1.0]], **filters),
        lambda: col.delete(**filters),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert f"(at {path})" in str(info.value)
    assert col.count() == 1


def test_parse_errors_name_the_operation(col: ragstore.Collection) -> None:
    _add(col, [{"a": 1}])
    bad = {"a": {"$gt": "x"}}
    with pytest.raises(InvalidArgumentError, match=r"operator \$gt.*\(at where\.a\) in get\.$"):
        col.get(where=bad)
    with pytest.raises(InvalidArgumentError, match=r"\(at where\.a\) in query\.$"):
        col.query(query_embeddings=[[0.0, 1.0]], where=bad)
    with pytest.raises(InvalidArgumentError, match=r"\(at where\.a\) in delete\.$"):
        col.delete(where=bad)
