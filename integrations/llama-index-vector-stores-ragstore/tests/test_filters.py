"""Every filter operator and condition, nested, run by ragstore natively, against LlamaIndex's own evaluator.

The reference is llama-index-core's ``build_metadata_filter_fn`` (what ``SimpleVectorStore``
filters with): flat groups as it evaluates them, and a nested group evaluated alone and then
standing in its parent as a leaf that holds or not. The generated data stays where its meaning and
this store's agree (each key holds one kind of value, each operator is used on the kinds LlamaIndex
defines it for). Where they differ (booleans against numbers, ``contains`` on a string, ranges
across types, text operators on non-strings, Unicode case folding, empty nested groups),
``test_where_llama_index_differs`` gives the expected ids.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from ragstore.filters import parse_where

from llama_index.vector_stores.ragstore import RagstoreVectorStore
from llama_index.vector_stores.ragstore.translation import plan_filters

StoreFactory = Callable[..., RagstoreVectorStore]  # conftest's store_factory
DIM = 8
Tree = MetadataFilters | MetadataFilter


# ---------------------------------------------------------------------- the reference


def llama_index_matches(tree: MetadataFilters, metadata: dict[str, Any]) -> bool:
    """LlamaIndex's ``build_metadata_filter_fn`` on ``tree``; each nested group is evaluated first and stands as a leaf."""
    flat: list[Tree] = []
    values = dict(metadata)
    for i, child in enumerate(tree.filters):
        if isinstance(child, MetadataFilters):
            values[f"__group{i}"] = int(llama_index_matches(child, metadata))
            flat.append(MetadataFilter(key=f"__group{i}", value=1))
        else:
            flat.append(child)
    return build_metadata_filter_fn(lambda _: values, MetadataFilters(filters=flat, condition=tree.condition))("node")


def filters(*leaves: Tree, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(leaves), condition=FilterCondition(condition))


def leaf(key: str, op: str, value: Any = None) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=FilterOperator(op))


# ---------------------------------------------------------------------- generated data, where the meanings agree

NUMBERS = [-3, -1.5, 0, 0.5, 1, 1.0, 2, 2.5, 5]
STRINGS = ["red", "Red", "RED", "blue", "dark red", "", "Blue sky", "rede", "éclair", "Éclair", "a\nb", "中文", "😀 smile", "b-c]"]
TAGS = ["red", "Red", "blue", "green"]


def random_metadata(rng: random.Random) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.7:
        meta["num"] = rng.choice(NUMBERS)
    elif roll < 0.8:
        meta["num"] = None  # not stored: missing to the filters
    if rng.random() < 0.85:
        meta["s"] = rng.choice([*STRINGS, None])
    roll = rng.random()
    if roll < 0.5:
        meta["tags"] = rng.sample(TAGS, rng.randint(1, 3))
    elif roll < 0.6:
        meta["tags"] = rng.sample([1, 2, 3], rng.randint(1, 2))
    elif roll < 0.7:
        meta["tags"] = []  # not stored either
    return meta


def leaf_filters() -> Iterator[MetadataFilter]:
    for key in ("num", "s", "tags", "absent"):
        for value in (1, 2.5, 0, "red", "Red", "1", ""):
            yield leaf(key, "==", value)
            yield leaf(key, "!=", value)
        for values in ([1, 2], ["red", "blue"], [1.0, 2.5], ["1", "b"], ["Red"]):
            yield leaf(key, "in", values)
            yield leaf(key, "nin", values)
        yield leaf(key, "is_empty")
    for key in ("num", "absent"):
        for number in (1, 0.5, -2, 2.5):
            yield from (leaf(key, op, number) for op in (">", ">=", "<", "<="))
    for key in ("s", "absent"):
        for text in ("b", "Red", "red", "", "éclair", "a", "中", "😀", "b-c]"):
            yield from (leaf(key, op, text) for op in (">", ">=", "<", "<="))
        for text in ("red", "Red", "sky", "", "ÉCLAIR", "é", "\n", "中", "-c]"):
            yield leaf(key, "text_match", text)
            yield leaf(key, "text_match_insensitive", text)
    for key in ("tags", "absent"):
        for value in ("red", "Red", 1, 2, "green"):
            yield leaf(key, "contains", value)
        for values in (["red", "blue"], ["Red"], [1, 3], ["blue", "green"]):
            yield leaf(key, "any", values)
            yield leaf(key, "all", values)


ALL_LEAVES = list(leaf_filters())


def random_tree(rng: random.Random, depth: int) -> MetadataFilters:
    children: list[Tree] = []
    for _ in range(rng.randint(1, 3)):
        if depth > 0 and rng.random() < 0.35:
            children.append(random_tree(rng, depth - 1))
        else:
            children.append(rng.choice(ALL_LEAVES))
    return filters(*children, condition=rng.choice(["and", "or", "not"]))


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
        return [n.node_id for n in self.nodes if llama_index_matches(flt, n.metadata)]

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
    assert any(isinstance(m.get("num"), float) for m in metas) and any(m.get("num") == 1 for m in metas)
    assert any(m.get("tags") == [] for m in metas) and any(isinstance((m.get("tags") or ["x"])[0], int) for m in metas)
    assert {m.get("s") for m in metas} >= {"red", "Red", "RED", "", "a\nb", "😀 smile"}


@pytest.mark.parametrize("flt", ALL_LEAVES, ids=lambda f: f"{f.key}{f.operator.value}{f.value!r}")
def test_every_operator_matches_llama_index(corpus: Corpus, flt: MetadataFilter) -> None:
    query = np.random.default_rng(hash(repr(flt)) % 2**32).normal(size=DIM)
    corpus.check(filters(flt), query)
    corpus.check(filters(flt, condition="not"), query)


def test_every_operator_has_matches_somewhere(corpus: Corpus) -> None:
    """The comparison is meaningful: each operator selects some but not all nodes for some value."""
    for op in FilterOperator:
        counts = {len(corpus.expected(filters(flt))) for flt in ALL_LEAVES if flt.operator == op}
        assert any(0 < c < len(corpus.nodes) for c in counts), op


@pytest.mark.parametrize("seed", range(12))
def test_nested_and_or_not_trees_match_llama_index(corpus: Corpus, seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(15):
        tree = random_tree(rng, depth=3)
        corpus.check(tree, np.random.default_rng(rng.randint(0, 2**31)).normal(size=DIM), k=rng.choice([1, 4, 10]))


def test_empty_filters_mean_no_filter(corpus: Corpus) -> None:
    assert len(corpus.store.get_nodes(filters=MetadataFilters(filters=[]))) == len(corpus.nodes)
    assert len(corpus.store.get_nodes(filters=MetadataFilters(filters=[], condition=FilterCondition.OR))) == len(corpus.nodes)


def test_sampled_operators_and_trees_in_every_mode(store_factory: StoreFactory) -> None:
    small = Corpus(store_factory(), size=40, seed=3)
    rng = random.Random(5)
    for flt in rng.sample(ALL_LEAVES, 40):
        small.check(filters(flt), np.random.default_rng(rng.randint(0, 99)).normal(size=DIM))
    for _ in range(10):
        small.check(random_tree(rng, 2), np.random.default_rng(rng.randint(0, 99)).normal(size=DIM))


def test_every_filter_is_one_where_ragstore_parses() -> None:
    below_nothing = leaf("s", "<", "")  # no string sorts below "": a constant, folded before any call
    for flt in ALL_LEAVES:
        for condition in ("and", "or", "not"):
            plan = plan_filters(filters(flt, flt, condition=condition))
            if flt.value == "" and flt.operator == FilterOperator.LT:
                assert (plan.where, plan.matches_nothing) == (None, condition != "not")
                continue
            assert plan.where is not None and not plan.matches_nothing, flt
            parse_where(plan.where)
    assert plan_filters(filters(below_nothing, leaf("s", "==", "a"), condition="or")).where == {"s": {"$eq": "a"}}


# ---------------------------------------------------------------------- where LlamaIndex's evaluator means something else

DIFFERENT: dict[str, dict[str, Any]] = {
    "d_true": {"v": True},
    "d_one": {"v": 1},
    "d_text": {"v": "dark red"},
    "d_list": {"v": ["red", "x"]},
    "d_five": {"v": "5"},
    "d_sigma": {"w": "\u0391\u03a3"},  # capital alpha and sigma
    "d_long_s": {"w": "\u017f"},  # the long s
    "d_dotted": {"w": "İ"},
}


EVERY = list(DIFFERENT)


def every_but(*ids: str) -> list[str]:
    return [i for i in EVERY if i not in ids]


@pytest.mark.parametrize(
    ("tree", "expected", "llama_index_says"),
    [
        (filters(leaf("v", "==", 1)), ["d_one"], ["d_true", "d_one"]),  # True == 1 in Python
        (filters(leaf("v", "!=", 1)), every_but("d_one"), every_but("d_one", "d_true")),
        (filters(leaf("v", "in", [1, 2])), ["d_one"], ["d_true", "d_one"]),
        (filters(leaf("v", "contains", "red")), ["d_list"], "TypeError"),  # LlamaIndex: "red" in "dark red" too, then 1 fails
        (filters(leaf("v", "any", ["red", "y"])), ["d_list"], "TypeError"),
        (filters(leaf("v", "all", ["red", "x"])), ["d_list"], "TypeError"),
        (filters(leaf("v", ">", 0)), ["d_one"], "TypeError"),  # a bool is not a number here; "5" > 0 fails in Python
        (filters(leaf("v", ">", "a")), ["d_text"], "TypeError"),
        (filters(leaf("v", "<=", "5")), ["d_five"], "TypeError"),
        (filters(leaf("v", "text_match", "red")), ["d_text"], "TypeError"),
        (filters(leaf("v", "text_match", "red"), condition="not"), every_but("d_text"), "TypeError"),
        (filters(leaf("w", "text_match_insensitive", "s")), ["d_long_s"], []),  # RE2 folds the long s with s; lower() keeps it
        (filters(leaf("w", "text_match_insensitive", "\u03c3")), ["d_sigma"], []),  # lower() ends the word in the final sigma
        (filters(leaf("w", "text_match_insensitive", "i")), [], ["d_dotted"]),  # "İ".lower() is "i" and a combining dot
        # LlamaIndex takes no nested groups, and an empty group is no filter at all: at the top level both agree, nested
        # this store reads an empty AND (or NOT) as true and an empty OR as false.
        (filters(leaf("v", "==", 1), filters(condition="or")), [], ["d_true", "d_one"]),
        (filters(leaf("v", "==", 1), filters(condition="or"), condition="or"), ["d_one"], EVERY),
        (filters(filters(condition="or"), condition="not"), EVERY, []),
        (filters(filters(condition="and"), filters(condition="not"), leaf("v", "==", 1)), ["d_one"], ["d_true", "d_one"]),
        (filters(condition="or"), EVERY, EVERY),
    ],
)
def test_where_llama_index_differs(store_factory: StoreFactory, tree: MetadataFilters, expected: list[str], llama_index_says: Any) -> None:
    """The expected ids; ``llama_index_says``: its evaluator's answer (nested groups as in :func:`llama_index_matches`) or its error."""
    store = store_factory()
    store.add([TextNode(id_=i, text=i, embedding=[1.0, float(n)], metadata=m) for n, (i, m) in enumerate(DIFFERENT.items())])
    assert [n.node_id for n in store.get_nodes(filters=tree)] == expected
    query = store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=len(DIFFERENT), filters=tree))
    assert sorted(query.ids or []) == sorted(expected)
    try:
        answer: Any = [i for i, m in DIFFERENT.items() if llama_index_matches(tree, m)]
    except TypeError as exc:
        answer = type(exc).__name__
    assert answer == llama_index_says
