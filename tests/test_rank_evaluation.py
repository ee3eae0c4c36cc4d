"""Rank expressions scored over Knn hits (ragstore.local.rank_evaluation) against a record-at-a-time reference.

The reference follows chroma's published rules literally, one record at a time in plain Python:
candidates are the union of the leaves' hits, a leaf without a default must have found the
record, a missing record takes the leaf's default, ``return_rank`` gives the 0-based position.
chromadb's own ``Rrf`` compiles the fusion the tests score.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from chromadb.execution.expression.operator import Knn, Rrf, Val
from hypothesis import given, settings
from hypothesis import strategies as st

from ragstore.local.rank_evaluation import LeafHits, rank_candidates
from ragstore.search import Rank


def dict_leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``$knn`` bodies of a rank in chroma's wire form, in the order they appear."""
    ((op, body),) = node.items()
    if op == "$knn":
        return [body]
    if op == "$val":
        return []
    if op in ("$abs", "$exp", "$log"):
        return dict_leaves(body)
    children = [body["left"], body["right"]] if op in ("$sub", "$div") else body
    return [leaf for child in children for leaf in dict_leaves(child)]


def reference(rank: dict[str, Any], hits: list[LeafHits]) -> list[tuple[int, float]]:
    """(label, score) pairs best first, computed record by record on the wire form."""
    leaves = dict_leaves(rank)
    found = [dict(zip(h.labels.tolist(), h.scores.tolist(), strict=True)) for h in hits]
    positions = [{label: i for i, label in enumerate(h.labels.tolist())} for h in hits]
    candidates = sorted(set().union(*found))
    kept = [c for c in candidates if all(leaf.get("default") is not None or c in f for leaf, f in zip(leaves, found, strict=True))]

    def leaf_value(i: int, label: int) -> float:
        leaf = leaves[i]
        if label not in found[i]:
            return float(leaf["default"])
        return float(positions[i][label]) if leaf.get("return_rank") else found[i][label]

    def evaluate(node: dict[str, Any], label: int, counter: list[int]) -> float:
        ((op, body),) = node.items()
        if op == "$knn":
            counter[0] += 1
            return leaf_value(counter[0] - 1, label)
        if op == "$val":
            return float(body)
        if op in ("$abs", "$exp", "$log"):
            inner = evaluate(body, label, counter)
            return {"$abs": abs, "$exp": _exp, "$log": _log}[op](inner)
        if op in ("$sub", "$div"):
            left, right = evaluate(body["left"], label, counter), evaluate(body["right"], label, counter)
            return left - right if op == "$sub" else _div(left, right)
        values = [evaluate(child, label, counter) for child in body]
        return {"$sum": math.fsum, "$mul": math.prod, "$max": _nan_ignoring(max), "$min": _nan_ignoring(min)}[op](values)

    scored = [(c, evaluate(rank, c, [0])) for c in kept]
    # NaN (log of a negative, 0/0) sorts last, then by label, as numpy's sort does.
    return sorted(scored, key=lambda pair: (math.isnan(pair[1]), 0.0 if math.isnan(pair[1]) else pair[1], pair[0]))


def _nan_ignoring(pick: Any) -> Any:
    def choose(values: list[float]) -> float:
        numbers = [v for v in values if not math.isnan(v)]
        return pick(numbers) if numbers else math.nan

    return choose


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _div(a: float, b: float) -> float:
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)  # IEEE: 1/-0.0 = -inf
    return a / b


def hits_of(pairs: list[tuple[int, float]]) -> LeafHits:
    pairs = sorted(pairs, key=lambda p: p[1])
    return LeafHits(np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.float32))


def assert_same(rank: dict[str, Any], hits: list[LeafHits]) -> None:
    labels, scores = rank_candidates(Rank.from_dict(rank), hits)
    expected = reference(rank, hits)
    np.testing.assert_allclose(scores, [s for _, s in expected], rtol=1e-5, atol=1e-6, err_msg=str(rank))
    # The order must match, except between scores equal up to rounding (float sums in another order).
    by_label = dict(zip(labels.tolist(), scores.tolist(), strict=True))
    assert sorted(by_label) == sorted(label for label, _ in expected), rank
    for (a, score_a), (b, score_b) in itertools.pairwise(expected):
        if not math.isclose(score_a, score_b, rel_tol=1e-5, abs_tol=1e-6):
            assert labels.tolist().index(a) < labels.tolist().index(b), (rank, expected)


def test_a_required_leaf_drops_what_it_did_not_find_and_a_default_fills_in() -> None:
    rank = Knn(query=[0.0], limit=3) * 0.5 + Knn(query=[0.0], key="bm25", limit=3, default=1000.0) * 0.5
    dense, sparse = hits_of([(1, 0.1), (2, 0.2), (3, 0.3)]), hits_of([(3, -5.0), (4, -4.0)])
    labels, scores = rank_candidates(Rank.from_dict(rank.to_dict()), [dense, sparse])
    assert labels.tolist() == [3, 1, 2]  # 4 is only in the optional leaf: dropped
    np.testing.assert_allclose(scores, [0.15 - 2.5, 500.05, 500.1], rtol=1e-6)


def test_rrf_as_chromadb_compiles_it_is_reciprocal_rank_fusion() -> None:
    rrf = Rrf(
        [Knn(query=[0.0], return_rank=True, limit=4, default=4), Knn(query=[0.0], key="bm25", return_rank=True, limit=4, default=4)], k=60
    )
    dense, sparse = hits_of([(1, 0.1), (2, 0.2), (3, 0.3)]), hits_of([(3, -9.0), (4, -1.0)])
    labels, scores = rank_candidates(Rank.from_dict(rrf.to_dict()), [dense, sparse])

    def fused(*ranks: int) -> float:
        return -sum(1 / (60 + r) for r in ranks)

    expected = {1: fused(0, 4), 2: fused(1, 4), 3: fused(2, 0), 4: fused(4, 1)}
    assert labels.tolist() == sorted(expected, key=lambda label: expected[label])
    np.testing.assert_allclose(scores, sorted(expected.values()), rtol=1e-9)


def test_ties_are_broken_by_label_and_nothing_found_gives_nothing() -> None:
    rank = Rank.from_dict({"$knn": {"query": [0.0], "key": "#embedding", "limit": 4}})
    labels, _ = rank_candidates(rank, [hits_of([(9, 1.0), (3, 1.0), (5, 1.0)])])
    assert labels.tolist() == [3, 5, 9]
    labels, scores = rank_candidates(rank, [LeafHits(np.empty(0, np.int64), np.empty(0, np.float32))])
    assert labels.size == 0 and scores.size == 0


def test_the_leaf_count_must_match() -> None:
    with pytest.raises(ValueError, match="2 knn leaves but 1"):
        rank_candidates(Rank.from_dict((Knn(query=[0.0]) + Knn(query=[1.0])).to_dict()), [hits_of([(1, 0.0)])])


def _leaf(draw: Any) -> Any:
    return Knn(
        query=[0.0],
        key=draw(st.sampled_from(["#embedding", "bm25"])),
        limit=4,
        default=draw(st.none() | st.floats(-10, 10)),
        return_rank=draw(st.booleans()),
    )


@st.composite
def expressions(draw: Any, depth: int = 0) -> Any:
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return _leaf(draw) if draw(st.booleans()) else Val(draw(st.floats(-5, 5)))
    op = draw(st.sampled_from(["+", "-", "*", "/", "abs", "exp", "log", "max", "min", "rrf"]))
    left = draw(expressions(depth + 1))
    right = draw(expressions(depth + 1))
    if op == "rrf":
        return Rrf([_leaf(draw), _leaf(draw)], k=draw(st.integers(1, 100)), weights=[draw(st.floats(0, 2)), draw(st.floats(0, 2))])
    if op in ("abs", "exp", "log"):
        return getattr(left, op)()
    operation = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right, "/": lambda: left / right}
    if op in operation:
        return operation[op]()
    return left.max(right) if op == "max" else left.min(right)


@settings(max_examples=300, deadline=None)
@given(
    expressions(),
    st.lists(
        st.lists(st.tuples(st.integers(1, 12), st.floats(-5, 5, width=32)), max_size=6, unique_by=lambda p: p[0]), min_size=8, max_size=8
    ),
)
def test_random_expressions_score_as_the_reference_does(expression: Any, hit_lists: list[list[tuple[int, float]]]) -> None:
    rank = expression.to_dict()
    leaves = dict_leaves(rank)
    if not leaves:
        return  # chroma requires a Knn in a rank; the parser refuses such trees before they get here
    assert_same(rank, [hits_of(hit_lists[i % len(hit_lists)]) for i in range(len(leaves))])


def test_defaults_let_records_from_one_leaf_in() -> None:
    dense, sparse = Knn(query=[0.0], limit=3), Knn(query=[0.0], key="bm25", limit=2, default=100.0)
    hits = [hits_of([(1, 0.1), (2, 0.2), (3, 0.3)]), hits_of([(3, -5.0), (4, -4.0)])]
    labels, scores = rank_candidates(Rank.from_dict((dense + sparse).to_dict()), hits)
    assert labels.tolist() == [3, 1, 2]  # 4: only in the leaf with a default
    np.testing.assert_allclose(scores, [-4.7, 100.1, 100.2], rtol=1e-6)
    both_optional = Knn(query=[0.0], limit=3, default=1.0) - sparse
    labels, scores = rank_candidates(Rank.from_dict(both_optional.to_dict()), hits)
    assert labels.tolist() == [1, 2, 4, 3]
    np.testing.assert_allclose(scores, [-99.9, -99.8, 5.0, 5.3], rtol=1e-6)


def test_weighted_rrf_puts_what_both_lists_found_first() -> None:
    ranks = [Knn(query=[0.0], return_rank=True, default=1000.0), Knn(query=[0.0], key="bm25", return_rank=True, default=1000.0)]
    rrf = Rrf(ranks, k=60, weights=[0.7, 0.3])
    labels, scores = rank_candidates(Rank.from_dict(rrf.to_dict()), [hits_of([(1, 0.9), (2, 0.95)]), hits_of([(2, -2.0), (3, -1.0)])])
    expected = {1: -(0.7 / 60 + 0.3 / 1060), 2: -(0.7 / 61 + 0.3 / 60), 3: -(0.7 / 1060 + 0.3 / 61)}
    assert labels.tolist() == [2, 1, 3]
    np.testing.assert_allclose(scores, [expected[2], expected[1], expected[3]], rtol=1e-9)
