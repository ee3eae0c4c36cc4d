"""Every filter operator and condition, nested, against a brute-force Python reference.

The reference below is written independently of the package: it spells out the
documented semantics (llama-index-core's reference evaluator, made total, with
``contains``/``any``/``all`` on list values) record by record.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from llama_index.vector_stores.ragstore import RagstoreVectorStore
from llama_index.vector_stores.ragstore.translation import plan_filters

DIM = 8
MISSING = object()


# ---------------------------------------------------------------------- the reference


def ref_equal(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is bool and type(b) is bool and a == b
    if type(a) in (int, float) and type(b) in (int, float):
        return bool(a == b)
    return type(a) is str and type(b) is str and a == b


def ref_leaf(f: MetadataFilter, meta: dict[str, Any]) -> bool:
    v = meta.get(f.key, MISSING)
    if v is None:
        v = MISSING
    op = f.operator
    x: Any = f.value
    if op == FilterOperator.IS_EMPTY:
        return v is MISSING or v == "" or v == []
    if v is MISSING:
        return op in (FilterOperator.NE, FilterOperator.NIN)
    if op == FilterOperator.EQ:
        return ref_equal(v, x)
    if op == FilterOperator.NE:
        return not ref_equal(v, x)
    if op in (FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE):
        numbers = type(v) in (int, float) and type(x) in (int, float)
        strings = type(v) is str and type(x) is str
        if not (numbers or strings):
            return False
        return bool({">": v > x, ">=": v >= x, "<": v < x, "<=": v <= x}[op.value])
    if op == FilterOperator.IN:
        return not isinstance(v, list) and any(ref_equal(v, c) for c in x)
    if op == FilterOperator.NIN:
        return isinstance(v, list) or not any(ref_equal(v, c) for c in x)
    if op == FilterOperator.CONTAINS:
        return isinstance(v, list) and any(ref_equal(e, x) for e in v)
    if op == FilterOperator.ANY:
        return isinstance(v, list) and any(ref_equal(e, c) for e in v for c in x)
    if op == FilterOperator.ALL:
        return isinstance(v, list) and all(any(ref_equal(e, c) for e in v) for c in x)
    if op == FilterOperator.TEXT_MATCH:
        return type(v) is str and x in v
    if op == FilterOperator.TEXT_MATCH_INSENSITIVE:
        return type(v) is str and x.lower() in v.lower()
    raise AssertionError(op)


def ref_match(f: MetadataFilters | MetadataFilter, meta: dict[str, Any]) -> bool:
    if isinstance(f, MetadataFilter):
        return ref_leaf(f, meta)
    results = [ref_match(c, meta) for c in f.filters]
    if f.condition == FilterCondition.AND:
        return all(results)
    if f.condition == FilterCondition.OR:
        return any(results)
    return not any(results)


# ---------------------------------------------------------------------- generated data

STRINGS = ["red", "Red", "RED", "blue", "dark red", "", "Blue sky"]
TAGS = ["red", "Red", "blue", "green"]


def random_metadata(rng: random.Random) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    choice = rng.random()
    if choice < 0.45:
        meta["num"] = rng.randint(-3, 5)
    elif choice < 0.7:
        meta["num"] = rng.choice([0.5, 1.0, 2.5, -1.5])
    elif choice < 0.78:
        meta["num"] = rng.choice([True, False])
    elif choice < 0.85:
        meta["num"] = rng.choice(["1", "2"])
    elif choice < 0.9:
        meta["num"] = None
    if rng.random() < 0.8:
        meta["s"] = rng.choice([*STRINGS, None])
    choice = rng.random()
    if choice < 0.5:
        meta["tags"] = rng.sample(TAGS, rng.randint(1, 3))
    elif choice < 0.6:
        meta["tags"] = rng.sample([1, 2, 3], rng.randint(1, 2))
    elif choice < 0.7:
        meta["tags"] = rng.choice(TAGS)
    elif choice < 0.8:
        meta["tags"] = []
    if rng.random() < 0.7:
        meta["mix"] = rng.choice([1, 2, "1", "b", [1, 2], ["b"], 1.0, True])
    return meta


def leaf_filters() -> Iterator[MetadataFilter]:
    for key in ("num", "s", "tags", "mix", "absent"):
        for value in (1, 2.5, 0, "red", "Red", "1", "b", ""):
            for op in ("==", "!="):
                yield MetadataFilter(key=key, value=value, operator=FilterOperator(op))
        for value in (1, 0.5, -2, "b", "Red"):
            for op in (">", ">=", "<", "<="):
                yield MetadataFilter(key=key, value=value, operator=FilterOperator(op))
        for values in ([1, 2], ["red", "blue"], [1.0, 2.5], ["1", "b"], ["Red"]):
            for op in ("in", "nin", "any", "all"):
                yield MetadataFilter(key=key, value=values, operator=FilterOperator(op))
        for value in ("red", 1, "Red", "b", 2):
            yield MetadataFilter(key=key, value=value, operator=FilterOperator("contains"))
        for value in ("red", "Red", "sky", "", "1"):
            yield MetadataFilter(key=key, value=value, operator=FilterOperator("text_match"))
            yield MetadataFilter(key=key, value=value, operator=FilterOperator("text_match_insensitive"))
        yield MetadataFilter(key=key, value=None, operator=FilterOperator("is_empty"))


ALL_LEAVES = list(leaf_filters())


def random_tree(rng: random.Random, depth: int) -> MetadataFilters:
    children: list[MetadataFilters | MetadataFilter] = []
    for _ in range(rng.randint(1, 3)):
        if depth > 0 and rng.random() < 0.35:
            children.append(random_tree(rng, depth - 1))
        else:
            children.append(rng.choice(ALL_LEAVES))
    return MetadataFilters(filters=children, condition=FilterCondition(rng.choice(["and", "or", "not"])))


class Corpus:
    def __init__(self, store: RagstoreVectorStore, size: int, seed: int) -> None:
        rng = random.Random(seed)
        vectors = np.random.default_rng(seed).normal(size=(size, DIM))
        self.nodes = [
            TextNode(id_=f"n{i:03d}", text=f"node {i}", embedding=vectors[i].tolist(), metadata=random_metadata(rng)) for i in range(size)
        ]
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.store = store
        store.add(self.nodes)

    def expected(self, flt: MetadataFilters) -> list[str]:
        return [n.node_id for n in self.nodes if ref_match(flt, n.metadata)]

    def top_k(self, flt: MetadataFilters, query: np.ndarray, k: int) -> list[str]:
        allowed = set(self.expected(flt))
        scores = self.vectors @ (query / np.linalg.norm(query))
        ranked = [self.nodes[i].node_id for i in np.argsort(-scores, kind="stable") if self.nodes[i].node_id in allowed]
        return ranked[:k]

    def check(self, flt: MetadataFilters, query: np.ndarray, k: int = 5) -> None:
        expected = self.expected(flt)
        got = [n.node_id for n in self.store.get_nodes(filters=flt)]
        assert got == expected, flt
        result = self.store.query(VectorStoreQuery(query_embedding=query.tolist(), similarity_top_k=k, filters=flt))
        assert result.ids == self.top_k(flt, query, k), flt
        assert len(result.ids or []) == min(k, len(expected))


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(RagstoreVectorStore.from_params("filters-ref"), size=160, seed=7)


def test_generated_data_covers_the_edge_cases(corpus: Corpus) -> None:
    metas = [n.metadata for n in corpus.nodes]
    assert any("num" not in m for m in metas) and any(m.get("num") is None and "num" in m for m in metas)
    assert any(isinstance(m.get("num"), bool) for m in metas) and any(isinstance(m.get("num"), float) for m in metas)
    assert any(m.get("tags") == [] for m in metas) and any(isinstance(m.get("tags"), str) for m in metas)
    assert {m.get("s") for m in metas} >= {"red", "Red", "RED", ""}


@pytest.mark.parametrize("leaf", ALL_LEAVES, ids=lambda f: f"{f.key}{f.operator.value}{f.value!r}")
def test_every_operator_matches_reference(corpus: Corpus, leaf: MetadataFilter) -> None:
    query = np.random.default_rng(hash(repr(leaf)) % 2**32).normal(size=DIM)
    corpus.check(MetadataFilters(filters=[leaf]), query)
    corpus.check(MetadataFilters(filters=[leaf], condition=FilterCondition("not")), query)


def test_every_operator_has_matches_somewhere(corpus: Corpus) -> None:
    """The comparison is meaningful: each operator selects some but not all nodes for some value."""
    for op in FilterOperator:
        counts = {len(corpus.expected(MetadataFilters(filters=[leaf]))) for leaf in ALL_LEAVES if leaf.operator == op}
        assert any(0 < c < len(corpus.nodes) for c in counts), op


@pytest.mark.parametrize("seed", range(12))
def test_nested_and_or_not_trees_match_reference(corpus: Corpus, seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(15):
        tree = random_tree(rng, depth=3)
        corpus.check(tree, np.random.default_rng(rng.randint(0, 2**31)).normal(size=DIM), k=rng.choice([1, 4, 10]))


def test_native_translation_where_semantics_agree() -> None:
    native_ops = ["==", "!=", "in", "nin", "contains", "any", "all"]
    for op in native_ops:
        value: Any = ["a", "b"] if op in ("in", "nin", "any", "all") else "a"
        for condition in ("and", "or", "not"):
            plan = plan_filters(
                MetadataFilters(
                    filters=[MetadataFilter(key="k", value=value, operator=FilterOperator(op))] * 2, condition=FilterCondition(condition)
                )
            )
            assert plan.predicate is None, (op, condition)
    assert plan_filters(MetadataFilters(filters=[MetadataFilter(key="k", value=1, operator=FilterOperator(">"))])).predicate is None
    not_gt = MetadataFilters(filters=[MetadataFilter(key="k", value=1, operator=FilterOperator(">"))], condition=FilterCondition("not"))
    assert plan_filters(not_gt).predicate is not None
    for op in ("text_match", "text_match_insensitive", "is_empty"):
        assert (
            plan_filters(MetadataFilters(filters=[MetadataFilter(key="k", value="a", operator=FilterOperator(op))])).predicate is not None
        )


def test_python_path_returns_k_even_when_matches_are_far(corpus: Corpus) -> None:
    """A post-filter would return fewer than k: the exact path restricts the search instead."""
    flt = MetadataFilters(filters=[MetadataFilter(key="s", value="sky", operator=FilterOperator("text_match"))])
    expected = corpus.expected(flt)
    assert 3 <= len(expected) < len(corpus.nodes) // 4
    far = -corpus.vectors[[i for i, n in enumerate(corpus.nodes) if n.node_id in expected]].mean(axis=0)
    corpus.check(flt, far, k=3)


def test_empty_filters_mean_no_filter(corpus: Corpus) -> None:
    assert len(corpus.store.get_nodes(filters=MetadataFilters(filters=[]))) == len(corpus.nodes)


def test_operators_over_http(server: Any) -> None:
    store = RagstoreVectorStore.from_params("filters-http", host=server.host, port=server.port)
    try:
        small = Corpus(store, size=40, seed=3)
        rng = random.Random(5)
        for leaf in rng.sample(ALL_LEAVES, 40):
            small.check(MetadataFilters(filters=[leaf]), np.random.default_rng(rng.randint(0, 99)).normal(size=DIM))
        for _ in range(10):
            small.check(random_tree(rng, 2), np.random.default_rng(rng.randint(0, 99)).normal(size=DIM))
    finally:
        store.clear()
        store.close()


def test_reference_sanity() -> None:
    assert ref_leaf(MetadataFilter(key="k", value=1, operator=FilterOperator("!=")), {}) is True
    assert ref_leaf(MetadataFilter(key="k", value=1, operator=FilterOperator("==")), {"k": 1.0}) is True
    assert ref_leaf(MetadataFilter(key="k", value=1, operator=FilterOperator("==")), {"k": True}) is False
    assert ref_leaf(MetadataFilter(key="k", value="R", operator=FilterOperator("text_match_insensitive")), {"k": "dark red"}) is True
