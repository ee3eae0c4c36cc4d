"""Filtered queries (answered from in-memory columns) agree with ``get`` (answered by SQLite) and with Python.

``query`` evaluates metadata filters over numpy columns (:mod:`ragstore.local.metadata_columns`);
``get`` compiles them to SQL. Both must follow the same rules, including the corners
where numpy would round: ints beyond 2**53 against floats, and int64's ends. The
columns are a cache that catches up with writes; the second half checks that every
kind of write reaches them.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.filters import parse_where
from ragstore.local.metadata_columns import KeyColumn, evaluate

INTS = [-(2**63), -(2**53) - 1, -(2**53), -7, -1, 0, 1, 2, 3, 2**53, 2**53 + 1, 2**62, 2**63 - 1]
FLOATS = [-1e19, -9.2e18, -9007199254740992.0, -2.5, -0.0, 0.5, 1.0, 2.0, 2.5, 9007199254740992.0, 9.2e18, 1e19]
STRS = ["", "a", "b", "ab", "é"]
BOOLS = [True, False]
OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains"]


def python_equal(stored: Any, operand: Any) -> bool:
    if isinstance(stored, bool) or isinstance(operand, bool):
        return isinstance(stored, bool) and isinstance(operand, bool) and stored == operand
    if isinstance(stored, str) or isinstance(operand, str):
        return isinstance(stored, str) and isinstance(operand, str) and stored == operand
    return bool(stored == operand)  # Python compares ints and floats exactly


def python_matches(metadata: dict[str, Any] | None, key: str, op: str, operand: Any) -> bool:
    value = (metadata or {}).get(key)
    scalar = value is not None and not isinstance(value, list)
    if op in ("$eq", "$ne"):
        hit = scalar and python_equal(value, operand)
        return hit if op == "$eq" else not hit
    if op in ("$in", "$nin"):
        hit = scalar and any(python_equal(value, o) for o in operand)
        return hit if op == "$in" else not hit
    if op in ("$contains", "$not_contains"):
        hit = isinstance(value, list) and any(python_equal(v, operand) for v in value)
        return hit if op == "$contains" else not hit
    numeric = scalar and isinstance(value, (int, float)) and not isinstance(value, bool)
    compare = {"$gt": value > operand, "$gte": value >= operand, "$lt": value < operand, "$lte": value <= operand} if numeric else {}
    return bool(compare.get(op, False))


def random_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.25:
        pool = rng.choice([INTS, FLOATS, STRS, BOOLS])
        return [rng.choice(pool) for _ in range(rng.randint(1, 3))]
    return rng.choice(rng.choice([INTS, INTS, FLOATS, FLOATS, STRS, BOOLS]))


def operands(op: str) -> list[Any]:
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return INTS + FLOATS
    if op in ("$in", "$nin"):
        return [[1, 2.5], [2**53 + 1, -1e19], ["a", "é"], [True], [-(2**63), 2**63 - 1], [9007199254740992.0]]
    return INTS + FLOATS + STRS + BOOLS


def test_every_operator_and_corner_operand_agrees_with_python() -> None:
    """The evaluator alone, on values where float64 arithmetic would give other answers."""
    rng = random.Random(5)
    metadatas = [{"v": v} if (v := random_value(rng)) is not None else None for _ in range(400)]
    column = KeyColumn(len(metadatas))
    for slot, metadata in enumerate(metadatas):
        if metadata is not None:
            column.set(slot, metadata["v"])
    for op in OPS:
        for operand in operands(op):
            where = {"v": {op: operand}}
            mask = evaluate(parse_where(where), {"v": column}, len(metadatas))
            assert mask is not None
            expected = [python_matches(m, "v", op, operand) for m in metadatas]
            assert mask.tolist() == expected, where


@pytest.fixture
def stored(client: ragstore.ClientAPI) -> tuple[ragstore.Collection, list[dict[str, Any] | None]]:
    rng = random.Random(11)
    metadatas = [{"v": v, "w": rng.choice(INTS)} if (v := random_value(rng)) is not None else None for _ in range(150)]
    col = client.create_collection("corners", embedding_function=None)
    col.add(
        ids=[f"r{i}" for i in range(len(metadatas))],
        embeddings=np.random.default_rng(1).random((len(metadatas), 4), dtype=np.float32),
        metadatas=metadatas,
    )
    return col, metadatas


def matching_ids(metadatas: list[dict[str, Any] | None], op: str, operand: Any) -> list[str]:
    return sorted(f"r{i}" for i, m in enumerate(metadatas) if python_matches(m, "v", op, operand))


def test_filtered_queries_and_gets_agree_with_python_on_corner_values(stored: tuple[ragstore.Collection, Any]) -> None:
    col, metadatas = stored
    query = np.zeros((1, 4), dtype=np.float32)
    for op, operand in itertools.chain.from_iterable(((op, o) for o in operands(op)) for op in OPS):
        where = {"v": {op: operand}}
        expected = matching_ids(metadatas, op, operand)
        assert sorted(col.get(where=where, include=[])["ids"]) == expected, f"get {where}"
        found = col.query(query_embeddings=query, n_results=len(metadatas), where=where, include=[])["ids"][0]
        assert sorted(found) == expected, f"query {where}"


# ------------------------------------------------------------------------------------------- catching up


def nearest(col: ragstore.Collection, where: dict[str, Any], k: int = 50) -> list[str]:
    return sorted(col.query(query_embeddings=np.zeros((1, 2), dtype=np.float32), n_results=k, where=where, include=[])["ids"][0])


def test_every_kind_of_write_reaches_filtered_queries(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("writes", embedding_function=None)
    vectors = np.random.default_rng(2).random((40, 2), dtype=np.float32)
    ids = [f"d{i}" for i in range(40)]
    col.add(ids=ids, embeddings=vectors, metadatas=[{"n": i, "tag": "even" if i % 2 == 0 else "odd"} for i in range(40)])
    assert nearest(col, {"tag": "even"}) == sorted(ids[::2])  # builds the columns

    col.update(ids=["d0", "d2"], metadatas=[{"tag": "odd"}, {"tag": None}])  # metadata only: merge and key removal
    assert nearest(col, {"tag": "even"}) == sorted(ids[4::2])
    assert "d2" in nearest(col, {"tag": {"$ne": "even"}}) and "d2" not in nearest(col, {"tag": {"$in": ["odd", "even"]}})

    col.upsert(ids=["d4"], embeddings=vectors[4:5], metadatas=[{"n": 1000}])  # same vector, new metadata
    col.upsert(ids=["d6"], embeddings=vectors[7:8] + 1, metadatas=[{"n": 2000}])  # new vector (new label) and metadata
    assert nearest(col, {"n": {"$gte": 1000}}) == ["d4", "d6"]
    assert nearest(col, {"tag": "even"}) == sorted([*ids[8::2], "d4", "d6"])  # merged metadata kept the tag

    col.update(ids=["d8"], embeddings=vectors[9:10] + 5)  # vector only: the metadata moves with it
    assert "d8" in nearest(col, {"tag": "even"})

    col.delete(ids=ids[10:30])
    col.delete(where={"n": {"$lt": 3}})
    remaining = {f"d{i}" for i in range(3, 40) if not 10 <= i < 30}
    assert nearest(col, {"n": {"$gte": 0}}) == sorted(remaining)

    col.add(ids=["late"], embeddings=np.ones((1, 2), dtype=np.float32), metadatas=[{"tag": "even", "n": -1}])
    assert "late" in nearest(col, {"$and": [{"tag": "even"}, {"n": {"$lt": 0}}]})


def test_columns_survive_heavy_deletes_and_reuse(client: ragstore.ClientAPI) -> None:
    """Deleting most records compacts the columns; filters and distances stay right afterwards."""
    col = client.create_collection("churn", embedding_function=None)
    rng = np.random.default_rng(3)
    live: dict[str, tuple[np.ndarray, int]] = {}
    for round_ in range(4):
        new_ids = [f"r{round_}-{i}" for i in range(1500)]
        vectors = rng.random((1500, 2), dtype=np.float32)
        col.add(ids=new_ids, embeddings=vectors, metadatas=[{"g": i % 5} for i in range(1500)])
        live.update({id_: (vectors[i], i % 5) for i, id_ in enumerate(new_ids)})
        doomed = [id_ for id_ in live if hash(id_) % 4 != 0][: int(len(live) * 0.8)]
        col.delete(ids=doomed)
        for id_ in doomed:
            del live[id_]
        query = rng.random((1, 2), dtype=np.float32)
        got = col.query(query_embeddings=query, n_results=10, where={"g": 2}, include=["distances"])
        group = [(id_, float(((v - query[0]) ** 2).sum())) for id_, (v, g) in live.items() if g == 2]
        best = sorted(d for _, d in group)[:10]
        np.testing.assert_allclose(got["distances"][0], best, rtol=1e-5, atol=1e-6)
        assert set(got["ids"][0]) <= {id_ for id_, _ in group}
