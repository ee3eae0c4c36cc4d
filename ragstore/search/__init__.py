"""chromadb 1.5.9's Search API expressions, in pure Python (no engine, no chromadb import).

The names of ``chromadb.execution.expression`` (``Search``, ``Key``/``K``, the where
classes, ``Limit``, ``Select``, the rank classes with ``Knn`` and ``Rrf``, ``GroupBy``,
``MinK``, ``MaxK``), with identical ``to_dict()`` wire forms, plus ``SearchResult`` and
``ReadLevel`` (from ``chromadb.api.types``) and what the engine needs to run a search:
:func:`compile_where` (filter -> filter tree and id restriction) and
:func:`plan_knn_runs` (the index probes of a rank expression; the engine scores their
candidates with :mod:`ragstore.local.rank_evaluation`). Semantics, defaults and the
differences from chromadb are written down in ``docs/search-api.md``.

Example:
    >>> from ragstore.search import K, Knn, Rrf, Search
    >>> s = (Search().where(K("lang") == "en")
    ...      .rank(Rrf([Knn(query="q", return_rank=True), Knn(query="q", key="bm25", return_rank=True)]))
    ...      .limit(10).select(K.DOCUMENT, K.SCORE))
    >>> Search.from_dict(s.to_dict()).to_dict() == s.to_dict()
    True

"""

from __future__ import annotations

from ragstore.search.filtering import SearchFilter, compile_where
from ragstore.search.grouping import Aggregate, GroupBy, MaxK, MinK
from ragstore.search.keys import K, Key
from ragstore.search.leaves import KnnRun, knn_leaves, map_knn, plan_knn_runs
from ragstore.search.plan import Limit, ReadLevel, Search, SearchParts, Select
from ragstore.search.ranks import Abs, Div, Exp, Knn, Log, Max, Min, Mul, Rank, Rrf, Sub, Sum, Val
from ragstore.search.result import SearchResult, SearchResultRow
from ragstore.search.where import (
    And,
    Contains,
    Eq,
    Exists,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Nin,
    Not,
    NotContains,
    NotRegex,
    NotTextContains,
    Or,
    Regex,
    TextContains,
    Where,
)

SearchWhere = Where
"""chromadb's alias, so the where base class does not clash with the ``where`` dict type."""

__all__ = [
    "Abs",
    "Aggregate",
    "And",
    "Contains",
    "Div",
    "Eq",
    "Exists",
    "Exp",
    "GroupBy",
    "Gt",
    "Gte",
    "In",
    "K",
    "Key",
    "Knn",
    "KnnRun",
    "Limit",
    "Log",
    "Lt",
    "Lte",
    "Max",
    "MaxK",
    "Min",
    "MinK",
    "Mul",
    "Ne",
    "Nin",
    "Not",
    "NotContains",
    "NotRegex",
    "NotTextContains",
    "Or",
    "Rank",
    "ReadLevel",
    "Regex",
    "Rrf",
    "Search",
    "SearchFilter",
    "SearchParts",
    "SearchResult",
    "SearchResultRow",
    "SearchWhere",
    "Select",
    "Sub",
    "Sum",
    "TextContains",
    "Val",
    "Where",
    "compile_where",
    "knn_leaves",
    "map_knn",
    "plan_knn_runs",
]
