"""The columns' exact search (``RecordColumns.nearest``) against brute force, for every shape of candidate slots.

Exact search serves filtered queries and the fresh tail of a lagging graph: its slots can be one
contiguous run, a run with gaps (records deleted or replaced), or scattered (a narrow filter). Each
shape takes its own path through the products (sliced in place or gathered), so each is checked here
against a float64 brute force over the same slots, in every space, with blocks of rows split unevenly.
"""

from __future__ import annotations

import numpy as np
import pytest

from ragstore.local.columns import RecordColumns

DIM = 24
SIZE = 3_000  # several of the search's row blocks, the last one partial


def _columns() -> tuple[RecordColumns, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((SIZE, DIM)).astype(np.float32)
    columns = RecordColumns(dim=DIM)
    columns.append(np.arange(10, 10 + SIZE, dtype=np.int64), vectors, [None] * SIZE)
    return columns, vectors


def _brute_force(vectors: np.ndarray, slots: np.ndarray, queries: np.ndarray, k: int, space: str) -> list[list[int]]:
    data, q = vectors[slots].astype(np.float64), queries.astype(np.float64)
    if space == "l2":
        distances = ((q[:, None, :] - data[None, :, :]) ** 2).sum(axis=2)
    elif space == "ip":
        distances = 1.0 - q @ data.T
    else:
        unit = data / np.linalg.norm(data, axis=1, keepdims=True)
        distances = 1.0 - (q / np.linalg.norm(q, axis=1, keepdims=True)) @ unit.T
    return [(10 + slots[np.argsort(row, kind="stable")[:k]]).tolist() for row in distances]


SHAPES = {
    "one contiguous run": np.arange(500, 2_900),
    "a run with gaps": np.setdiff1d(np.arange(200, 3_000), np.arange(250, 3_000, 7)),
    "scattered": np.arange(3, 3_000, 41),
    "one slot": np.array([1_234]),
    "every slot": np.arange(SIZE),
}


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_exact_search_finds_what_brute_force_finds(shape: str, space: str) -> None:
    columns, vectors = _columns()
    slots = SHAPES[shape].astype(np.int64)
    queries = np.random.default_rng(11).standard_normal((3, DIM)).astype(np.float32)
    labels, distances = columns.nearest(queries, slots, 10, space)
    assert [found.tolist() for found in labels] == _brute_force(vectors, slots, queries, 10, space)
    assert all(np.all(np.diff(d) >= 0) for d in distances)  # nearest first


def test_exact_search_never_returns_a_slot_it_was_not_given() -> None:
    columns, _ = _columns()
    gaps = np.arange(1_000, 2_000)[::2]  # every other slot of the span: the in-place product must drop the rest
    query = columns.vectors[1_001][None, :]  # the nearest record of all is in a gap
    labels, _ = columns.nearest(query, gaps, 5, "l2")
    assert 10 + 1_001 not in labels[0].tolist()
    assert set(labels[0].tolist()) <= set((10 + gaps).tolist())
