"""The Search API expressions (ragstore.search) against chromadb 1.5.9's own classes.

Each expression of the table is built twice by the same function, once with ragstore's
names and once with chromadb's (``chromadb.execution.expression``); their ``to_dict()``
must be equal, ``from_dict`` must give the expression back, and chromadb's ``from_dict``
must read what ragstore's writes. Malformed JSON is refused with the path of the bad node.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import chromadb.execution.expression as chroma_expr
import numpy as np
import pytest
from chromadb.api.types import SearchResult as ChromaSearchResult
from chromadb.base_types import SparseVector as ChromaSparseVector

import ragstore.search as rs
from ragstore.errors import InvalidArgumentError
from ragstore.filters import And, Compare, DocumentMatch, Or
from ragstore.search.limits import MAX_KNN_LIMIT, MAX_KNN_PER_SEARCH, MAX_RANK_DEPTH
from ragstore.sparse_vectors import SparseVector

RS = types.SimpleNamespace(**{name: getattr(rs, name) for name in rs.__all__}, SparseVector=SparseVector)
CHROMA = types.SimpleNamespace(**{name: getattr(chroma_expr, name) for name in chroma_expr.__all__}, SparseVector=ChromaSparseVector)

# Values exactly representable in float32, so chromadb's float32 round trip changes nothing.
Q = [0.5, 0.25, -1.0]

Builder = Callable[[Any], Any]

WHERES: dict[str, Builder] = {
    "eq": lambda m: m.K("a") == 1,
    "ne-str": lambda m: m.K("a") != "x",
    "gt-gte-lt-lte": lambda m: (m.K("a") > 1) & (m.K("b") >= 2.5) & (m.K("c") < 3) & (m.K("d") <= 4),
    "in-nin": lambda m: m.K("a").is_in([1, 2]) | m.K("b").not_in(["x"]),
    "document": lambda m: (
        m.K.DOCUMENT.contains("x") & m.K.DOCUMENT.not_contains("y") & m.K.DOCUMENT.regex("^a") & m.K.DOCUMENT.not_regex("z$")
    ),
    "array-contains": lambda m: m.K("tags").contains("t") | m.K("tags").not_contains(3),
    "ids": lambda m: m.K.ID.is_in(["a", "b"]) & m.K.ID.not_in(["c"]),
    "nested": lambda m: ((m.K("a") == 1) | (m.K("b") == 2)) & ((m.K("c") == 3) | (m.K("d") == True)),  # noqa: E712
    "flatten-and": lambda m: (m.K("a") == 1) & ((m.K("b") == 2) & (m.K("c") == 3)),
    "flatten-or": lambda m: ((m.K("a") == 1) | (m.K("b") == 2)) | ((m.K("c") == 3) | (m.K("d") == 4)),
    "classes": lambda m: m.And([m.Eq("a", 1), m.Or([m.Gt("b", 1), m.Lte("b", 0)]), m.In("c", ["x"]), m.NotRegex("#document", "q")]),
}

RANKS: dict[str, Builder] = {
    "knn-default": lambda m: m.Knn(query=Q),
    "knn-all-fields": lambda m: m.Knn(query=Q, key=m.K.EMBEDDING, limit=100, default=10.0, return_rank=True),
    "knn-text": lambda m: m.Knn(query="hello", key="bm25"),
    "knn-numpy": lambda m: m.Knn(query=np.array(Q, dtype=np.float32)),
    "knn-sparse": lambda m: m.Knn(query=m.SparseVector([1, 7], [0.5, 2.0]), key="sparse"),
    "knn-sparse-labels": lambda m: m.Knn(query=m.SparseVector([1], [0.5], labels=["cat"]), key="sparse"),
    "weighted-sum": lambda m: m.Knn(query=Q) * 0.8 + m.Val(0.5) * 0.2,
    "reverse-operands": lambda m: 1 - m.Knn(query=Q) + 2 * m.Knn(query=Q, key="s") + 3 / m.Knn(query=Q),
    "sum-flatten": lambda m: m.Knn(query=Q) + m.Val(1.0) + (m.Val(2.0) + m.Val(3.0)),
    "mul-flatten": lambda m: m.Knn(query=Q) * m.Val(2.0) * (m.Val(3.0) * m.Val(4.0)),
    "no-folding": lambda m: m.Val(2) * m.Val(3) + m.Val(1) - m.Val(4) / m.Val(2),
    "negation": lambda m: -m.Knn(query=Q),
    "negate-product": lambda m: -(m.Knn(query=Q) * 2),
    "functions": lambda m: abs(m.Knn(query=Q)).exp().log() + m.Knn(query=Q).abs(),
    "max-min": lambda m: m.Knn(query=Q).max(0.0).max(m.Val(1.0)).min(5).min(m.Knn(query=Q).min(2.0)),
    "rrf-default": lambda m: m.Rrf([m.Knn(query=Q, return_rank=True), m.Knn(query="q", key="bm25", return_rank=True)]),
    "rrf-weights": lambda m: m.Rrf(
        [m.Knn(query=Q, return_rank=True), m.Knn(query=Q, key="s", return_rank=True)], k=100, weights=[0.7, 0.3]
    ),
    "rrf-normalize": lambda m: m.Rrf([m.Knn(query=Q, return_rank=True), m.Knn(query=Q, key="s")], weights=[3.0, 1.0], normalize=True),
    "rrf-single": lambda m: m.Rrf([m.Knn(query=Q, return_rank=True)]),
    "rrf-in-arithmetic": lambda m: m.Rrf([m.Knn(query=Q, return_rank=True)]) * 0.5 + m.Knn(query=Q, default=1.0) * 0.5,
}

# from_dict folds n-ary operators with the Python operators, as chromadb's does, so a
# product nested in a product (under a negation, or an Rrf times a weight) comes back flattened.
REFOLDED = {"negate-product", "rrf-in-arithmetic"}

SEARCHES: dict[str, Builder] = {
    "empty": lambda m: m.Search(),
    "builder": lambda m: m.Search().where(m.K("a") == 1).rank(m.Knn(query=Q)).limit(10, offset=5).select(m.K.DOCUMENT),
    "dicts": lambda m: m.Search(where={"a": {"$gt": 1}}, rank={"$knn": {"query": Q}}, limit=3, select=["#document"]),
    "group-by": lambda m: m.Search(
        rank=m.Knn(query=Q),
        group_by=m.GroupBy(keys=[m.K("cat"), "year"], aggregate=m.MinK(keys=[m.K("p"), m.K.SCORE], k=2)),
    ),
    "group-by-one-key": lambda m: m.Search().group_by(m.GroupBy(keys=m.K("cat"), aggregate=m.MaxK(keys=m.K.SCORE, k=1))),
    "group-by-incomplete": lambda m: m.Search(group_by=m.GroupBy(keys=[m.K("cat")])),
    "objects": lambda m: m.Search(where=m.Eq("a", 1), limit=m.Limit(offset=1), select=m.Select(keys={m.K.SCORE})),
    "where-cleared": lambda m: m.Search().where(m.K("a") == 1).where(None),
}


def _both(build: Builder) -> tuple[Any, Any]:
    return build(RS), build(CHROMA)


@pytest.mark.parametrize("name", sorted(WHERES))
def test_where_to_dict_equals_chromadb_and_round_trips(name: str) -> None:
    ours, theirs = _both(WHERES[name])
    assert ours.to_dict() == theirs.to_dict()
    assert rs.Where.from_dict(ours.to_dict()).to_dict() == ours.to_dict()
    # chromadb's reader folds exactly as ours does
    assert rs.Where.from_dict(ours.to_dict()).to_dict() == chroma_expr.Where.from_dict(theirs.to_dict()).to_dict()


@pytest.mark.parametrize("name", sorted(RANKS))
def test_rank_to_dict_equals_chromadb_and_round_trips(name: str) -> None:
    ours, theirs = _both(RANKS[name])
    data = ours.to_dict()
    assert data == theirs.to_dict()
    again = rs.Rank.from_dict(data).to_dict()
    if name in REFOLDED:
        assert again != data and rs.Rank.from_dict(again).to_dict() == again
    else:
        assert again == data
    if "text" not in name and name != "rrf-default":  # chromadb's from_dict refuses text queries
        assert again == chroma_expr.Rank.from_dict(data).to_dict()


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_search_to_dict_equals_chromadb_and_round_trips(name: str) -> None:
    ours, theirs = _both(SEARCHES[name])
    data, chroma_data = ours.to_dict(), theirs.to_dict()
    assert list(data) == ["filter", "rank", "group_by", "limit", "select"] == list(chroma_data)
    # chromadb keeps select keys in a set (hash order); ragstore keeps the caller's order
    assert sorted(data.pop("select")["keys"]) == sorted(chroma_data.pop("select")["keys"])
    assert data == chroma_data
    assert rs.Search.from_dict(ours.to_dict()).to_dict() == ours.to_dict()


def test_select_keeps_order_and_deduplicates() -> None:
    s = rs.Search().select("title", rs.K.SCORE, "title", rs.K("title"), "#document")
    assert s.to_dict()["select"] == {"keys": ["title", "#score", "#document"]}
    assert rs.Search().select_all().to_dict()["select"] == {"keys": ["#document", "#embedding", "#metadata", "#score"]}
    assert set(rs.Search().select_all().to_dict()["select"]["keys"]) == set(chroma_expr.Search().select_all().to_dict()["select"]["keys"])


def test_builder_returns_new_searches_and_leaves_the_receiver_alone() -> None:
    base = rs.Search().where(rs.K("a") == 1)
    paged = base.limit(5, offset=2)
    ranked = base.rank(rs.Knn(query=Q))
    assert base.to_dict()["limit"] == {"offset": 0} and base.to_dict()["rank"] is None
    assert paged.to_dict()["limit"] == {"offset": 2, "limit": 5} and paged.to_dict()["filter"] == base.to_dict()["filter"]
    assert ranked.to_dict()["limit"] == {"offset": 0}
    assert paged.parts().where is base.parts().where  # parts are shared, as chromadb shares them


def test_operator_precedence_matches_chromadb() -> None:
    # & binds tighter than ==: both libraries fail the same way without parentheses
    for m in (RS, CHROMA):
        with pytest.raises(TypeError):
            m.K("a") == 1 & m.K("b") == 2  # noqa: B015
    # * before +, and no constant folding: 1 + 2 * Knn is Sum([Val(1), Mul([Val(2), Knn])])
    ours, theirs = _both(lambda m: 1 + 2 * m.Knn(query=Q))
    assert ours.to_dict() == theirs.to_dict()
    assert [next(iter(t)) for t in ours.to_dict()["$sum"]] == ["$val", "$mul"]


def test_rrf_compiles_to_the_documented_arithmetic() -> None:
    rank = rs.Rrf(
        [rs.Knn(query="hello", return_rank=True, limit=100), rs.Knn(query="hello", key="bm25", return_rank=True, limit=100)],
        weights=[0.7, 0.3],
    )
    knn = [{"$knn": {"query": "hello", "key": key, "limit": 100, "return_rank": True}} for key in ("#embedding", "bm25")]
    assert rank.to_dict() == {
        "$mul": [
            {"$val": -1},
            {
                "$sum": [
                    {"$div": {"left": {"$val": 0.7}, "right": {"$sum": [{"$val": 60}, knn[0]]}}},
                    {"$div": {"left": {"$val": 0.3}, "right": {"$sum": [{"$val": 60}, knn[1]]}}},
                ]
            },
        ]
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ranks": []},
        {"ranks": [rs.Val(1.0)], "k": 0},
        {"ranks": [rs.Val(1.0)], "weights": [1.0, 2.0]},
        {"ranks": [rs.Val(1.0)], "weights": []},
        {"ranks": [rs.Val(1.0)], "weights": [-1.0]},
        {"ranks": [rs.Val(1.0)], "weights": [0.0], "normalize": True},
    ],
)
def test_rrf_refuses_what_chromadb_refuses(kwargs: dict[str, Any]) -> None:
    theirs = dict(kwargs, ranks=[chroma_expr.Val(1.0) for _ in kwargs["ranks"]])
    with pytest.raises(ValueError):
        chroma_expr.Rrf(**theirs).to_dict()
    with pytest.raises(InvalidArgumentError):
        rs.Rrf(**kwargs).to_dict()


def test_from_dict_accepts_numpy_and_sparse_objects() -> None:
    knn = rs.Rank.from_dict({"$knn": {"query": np.array([[1, 2]], dtype=np.int32)}})
    assert isinstance(knn, rs.Knn) and knn.query == [1.0, 2.0]
    sparse = rs.Rank.from_dict({"$knn": {"query": SparseVector([3], [1.0]), "key": "bm25"}})
    assert isinstance(sparse, rs.Knn) and sparse.query == SparseVector([3], [1.0])
    wire = rs.Rank.from_dict({"$knn": {"query": ChromaSparseVector([3], [1.0]).to_dict(), "key": "bm25"}})
    assert isinstance(wire, rs.Knn) and wire.query == SparseVector([3], [1.0])


def _deep_sum(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"$val": 1}
    for _ in range(depth):
        node = {"$abs": node}
    return node


BAD_SEARCHES: list[tuple[Any, str, str]] = [
    ([], "search", "Expected dict for Search"),
    ({"filters": {}}, "search", "Unexpected keys"),
    ({"rank": {"$sum": [{"$val": 1}, {"$knn": {"query": Q, "limit": 0}}]}}, "search.rank.$sum[1].$knn.limit", "positive"),
    ({"rank": {"$knn": {"query": Q, "limit": MAX_KNN_LIMIT + 1}}}, "search.rank.$knn.limit", "at most"),
    ({"rank": {"$knn": {"query": Q, "limit": True}}}, "search.rank.$knn.limit", "integer"),
    ({"rank": {"$knn": {"query": Q, "key": "#document"}}}, "search.rank.$knn.key", "#embedding"),
    ({"rank": {"$knn": {"query": Q, "return_rank": 1}}}, "search.rank.$knn.return_rank", "boolean"),
    ({"rank": {"$knn": {"query": Q, "default": "x"}}}, "search.rank.$knn.default", "finite number"),
    ({"rank": {"$knn": {"query": Q, "top_k": 3}}}, "search.rank.$knn", "Unexpected keys"),
    ({"rank": {"$knn": {"limit": 3}}}, "search.rank.$knn", "'query'"),
    ({"rank": {"$knn": {"query": []}}}, "search.rank.$knn.query", "at least one value"),
    ({"rank": {"$knn": {"query": [1.0, "x"]}}}, "search.rank.$knn.query", "list of numbers"),
    ({"rank": {"$knn": {"query": [[1.0], [2.0]]}}}, "search.rank.$knn.query", "one list of numbers"),
    ({"rank": {"$knn": {"query": [1e39]}}}, "search.rank.$knn.query", "float32"),
    ({"rank": {"$knn": {"query": [True, 1.0]}}}, "search.rank.$knn.query", "bool"),
    ({"rank": {"$knn": {"query": {"indices": [1], "values": [1.0]}}}}, "search.rank.$knn.query", "sparse_vector"),
    (
        {"rank": {"$knn": {"query": {"#type": "sparse_vector", "indices": [2, 1], "values": [1.0, 1.0]}}}},
        "search.rank.$knn.query",
        "ascending",
    ),
    ({"rank": {"$knn": {"query": {"#type": "sparse_vector", "indices": [-1], "values": [1.0]}}}}, "search.rank.$knn.query", "non-negative"),
    ({"rank": {"$knn": {"query": 3}}}, "search.rank.$knn.query", "must be a str"),
    ({"rank": {"$val": float("nan")}}, "search.rank.$val", "finite"),
    ({"rank": {"$val": True}}, "search.rank.$val", "finite number"),
    ({"rank": {"$sum": [{"$val": 1}]}}, "search.rank.$sum", "at least 2"),
    ({"rank": {"$mul": {"$val": 1}}}, "search.rank.$mul", "requires a list"),
    ({"rank": {"$div": {"left": {"$val": 1}}}}, "search.rank.$div", "'left' and 'right'"),
    ({"rank": {"$sub": {"left": {"$val": 1}, "right": {"$val": 2}, "x": 1}}}, "search.rank.$sub", "'left' and 'right'"),
    ({"rank": {"$log": [{"$val": 1}]}}, "search.rank.$log", "rank dict"),
    ({"rank": {"$pow": {"$val": 1}}}, "search.rank", "Unknown rank operator"),
    ({"rank": {"$val": 1, "$knn": {}}}, "search.rank", "exactly one operator"),
    ({"rank": 1.0}, "search.rank", "Expected dict for Rank"),
    ({"rank": _deep_sum(MAX_RANK_DEPTH)}, "search.rank" + ".$abs" * MAX_RANK_DEPTH, "nested at most"),
    ({"rank": {"$sum": [{"$knn": {"query": Q}}] * (MAX_KNN_PER_SEARCH + 1)}}, f"search.rank.$sum[{MAX_KNN_PER_SEARCH}].$knn", "at most"),
    ({"filter": {"a": {"$gt": "x"}}}, "search.filter.a", "int or a float"),
    ({"filter": {"$and": [{"a": 1}, {"b": {"$in": [1, "x"]}}]}}, "search.filter.$and[1].b", "same type"),
    ({"filter": {"$and": []}}, "search.filter", "at least one condition"),
    ({"filter": {"a": {"$eq": 1, "$ne": 2}}}, "search.filter.a", "exactly one operator"),
    ({"filter": {"a": {"$like": "x"}}}, "search.filter.a", "Unknown operator"),
    ({"filter": {"a": {"$regex": "(a"}}}, "search.filter.a.$regex", "Regex"),
    ({"filter": {"$not": {"a": 1}, "b": 2}}, "search.filter", "$not cannot be combined"),
    ({"filter": {"a": {"$exists": "yes"}}}, "search.filter.a.$exists", "true or false"),
    ({"filter": {"#document": {"$regex": "(a"}}}, "search.filter.#document.$regex", "Regex"),
    ({"filter": {"#document": {"$eq": "a"}}}, "search.filter.#document", "$contains"),
    ({"filter": {"#score": {"$gt": 1}}}, "search.filter", "metadata field name"),
    ({"filter": {"#id": {"$in": [1]}}}, "search.filter.#id", "list of ids"),
    ({"filter": {"#id": {"$gt": "a"}}}, "search.filter.#id", "operator expression"),
    ({"filter": {"a": 2**63}}, "search.filter.a", "64 bits"),
    ({"filter": {"a": [1]}}, "search.filter.a", "operator dict"),
    ({"limit": {"limit": 0}}, "search.limit.limit", "positive"),
    ({"limit": {"offset": -1}}, "search.limit.offset", "non-negative"),
    ({"limit": {"limit": 1, "page": 2}}, "search.limit", "Unexpected keys"),
    ({"limit": 5}, "search.limit", "Expected dict for Limit"),
    ({"select": {"keys": ["#score", 3]}}, "search.select.keys[1]", "non-empty string"),
    ({"select": {"keys": ["#distance"]}}, "search.select.keys[0]", "must be one of"),
    ({"select": {"keys": "title"}}, "search.select.keys", "must be a list"),
    ({"group_by": {"keys": ["a"]}}, "search.group_by", "'keys' and 'aggregate'"),
    ({"group_by": {"keys": [], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}, "search.group_by.keys", "cannot be empty"),
    ({"group_by": {"keys": ["#score"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}}, "search.group_by.keys[0]", "metadata key"),
    (
        {"group_by": {"keys": ["a"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 0}}}},
        "search.group_by.aggregate.$min_k.k",
        "positive",
    ),
    (
        {"group_by": {"keys": ["a"], "aggregate": {"$top_k": {"keys": ["#score"], "k": 1}}}},
        "search.group_by.aggregate",
        "Unknown aggregate",
    ),
]


@pytest.mark.parametrize(("data", "path", "message"), BAD_SEARCHES, ids=[f"{i}-{case[1]}" for i, case in enumerate(BAD_SEARCHES)])
def test_malformed_searches_are_refused_with_the_path(data: Any, path: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        rs.Search.from_dict(data)
    text = str(caught.value)
    assert text.endswith(f"(at {path})"), text
    assert message in text, text


def test_constructor_dicts_are_parsed_strictly_and_types_refused_as_chromadb() -> None:
    with pytest.raises(InvalidArgumentError, match=r"at where\.a"):
        rs.Search(where={"a": {"$gt": "x"}})
    for m in (RS, CHROMA):
        with pytest.raises(TypeError):
            m.Search(where=3)
        with pytest.raises(TypeError):
            m.Search(limit="3")
        with pytest.raises(TypeError):
            m.K.DOCUMENT.contains(3)


def test_compile_where_splits_ids_documents_and_metadata() -> None:
    f = rs.compile_where((rs.K.ID.is_in(["a", "b", "c"]) & (rs.K("page") > 2)) & (rs.K.ID != "b") & rs.K.DOCUMENT.regex("^x"))
    assert f.ids == ("a", "b", "c") and f.excluded_ids == ("b",)
    assert f.where == And((Compare("page", "$gt", 2), DocumentMatch("$regex", "^x")))
    both = rs.compile_where({"$and": [{"#id": {"$in": ["a", "b"]}}, {"#id": "b"}]})
    assert both.ids == ("b",) and both.where is None
    assert rs.compile_where({"$or": [{"a": 1}, {"#document": {"$contains": "z"}}]}).where == Or(
        (Compare("a", "$eq", 1), DocumentMatch("$contains", "z"))
    )
    assert rs.compile_where(None).matches_all and rs.compile_where({}).matches_all
    with pytest.raises(InvalidArgumentError, match="top-level"):
        rs.compile_where((rs.K.ID == "a") | (rs.K("b") == 1))


def test_plan_knn_runs_probes_each_key_and_query_once() -> None:
    rank = (
        rs.Rrf([rs.Knn(query=Q, limit=50, return_rank=True), rs.Knn(query=SparseVector([1], [1.0]), key="bm25", return_rank=True)])
        + rs.Knn(query=np.array(Q), limit=200) * 0.1
        + rs.Knn(query=Q, key="other")
    )
    runs, leaf_runs = rs.plan_knn_runs(rank)
    assert [(r.key, r.limit) for r in runs] == [("#embedding", 200), ("bm25", 16), ("other", 16)]
    assert leaf_runs == [0, 1, 0, 2]
    assert [k.key for k in rs.knn_leaves(rank)] == ["#embedding", "bm25", "#embedding", "other"]
    assert rs.plan_knn_runs(None) == ([], [])


RESULT = {
    "ids": [["a", "b"], [], ["c"]],
    "documents": [["doc a", None], None, ["doc c"]],
    "embeddings": None,
    "metadatas": [[{"k": 1}, None], [], None],
    "scores": [[0.5, 0.75], [], [1.0]],
    "select": [["#document", "#score", "#metadata"], [], ["#document"]],
}


@pytest.mark.parametrize("data", [RESULT, {"ids": [["x"]]}, {"ids": []}, {}])
def test_search_result_rows_match_chromadb(data: dict[str, Any]) -> None:
    ours = rs.SearchResult(data)
    assert ours.rows() == ChromaSearchResult(data).rows()
    assert ours == data  # still the plain column-major dict


def test_public_names_cover_chromadb_expression_module() -> None:
    assert set(chroma_expr.__all__) <= set(rs.__all__)
    assert rs.K is rs.Key and rs.SearchWhere is rs.Where
    assert [level.value for level in rs.ReadLevel] == ["index_and_wal", "index_only", "index_and_bounded_wal"]


def test_search_from_dict_takes_an_empty_filter_as_none_and_defaults_missing_fields() -> None:
    parsed = rs.Search.from_dict({"filter": {}, "rank": None})
    assert parsed.to_dict() == rs.Search().to_dict() == chroma_expr.Search().to_dict()
