"""Plan a LlamaIndex filter tree as a native ragstore ``where`` plus, when needed, an exact Python test.

ragstore's ``where`` agrees exactly with :mod:`.matching` for ``== != in nin contains any
all`` and for ``> >= < <=`` with a number: those become ``$eq $ne $in $nin $contains``
(``any`` = ``$or`` of ``$contains``, ``all`` = ``$and`` of ``$contains``) and ``$gt $gte
$lt $lte``. ``$ne``/``$nin``/``$not_contains`` are the exact complements of
``$eq``/``$in``/``$contains`` (both sides match a missing key), so ``NOT`` over such
leaves, and over ``AND``/``OR`` of them, is pushed down by De Morgan's laws and stays native.

What ``where`` cannot express (``text_match``, ``text_match_insensitive``, ``is_empty``,
string ranges, ``NOT`` over those, empty nested groups) is evaluated exactly in Python:
the plan then carries a ``predicate`` and a weaker native ``where`` that every match
satisfies (the native conjuncts of an ``AND``, ``None`` when nothing narrows). The store
fetches the candidates' metadata with ``collection.get(where=plan.where,
include=["metadatas"])``, keeps the ids the predicate accepts and restricts the vector
search to them (``query(ids=[...])``), so a top-k query still returns k results when k
records match. Cost: one metadata read over the candidates, O(candidates) in time and
memory, and an id list of the matches sent with the query.

Example:
    >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
    >>> plan_filters(MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=">")])).where
    {'year': {'$gt': 2020}}
    >>> plan = plan_filters(MetadataFilters(filters=[
    ...     MetadataFilter(key="year", value=2020, operator=">"),
    ...     MetadataFilter(key="title", value="rag", operator="text_match_insensitive"),
    ... ]))
    >>> plan.where, plan.predicate is not None
    ({'year': {'$gt': 2020}}, True)

"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from llama_index.vector_stores.ragstore.errors import UnsupportedFilterError
from llama_index.vector_stores.ragstore.matching import matches

Where = dict[str, Any]

_RANGE = {FilterOperator.GT: "$gt", FilterOperator.GTE: "$gte", FilterOperator.LT: "$lt", FilterOperator.LTE: "$lte"}
_LIST_OPERATORS = (FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL)
_SCALAR_OPERATORS = (FilterOperator.EQ, FilterOperator.NE, FilterOperator.CONTAINS, *_RANGE)
_TEXT_OPERATORS = (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE)


@dataclasses.dataclass(frozen=True)
class FilterPlan:
    """How to run a filter tree on ragstore.

    Attributes:
        where: A native ``where``. Exact when ``predicate`` is ``None``; otherwise a condition
            every match satisfies (``None``: no narrowing).
        predicate: An exact test over a record's metadata, or ``None`` when ``where`` is exact.

    """

    where: Where | None
    predicate: Callable[[Mapping[str, Any]], bool] | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def check_filter(flt: MetadataFilter) -> None:
    """Raise :class:`UnsupportedFilterError` when the operator and value do not fit together.

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter
        >>> check_filter(MetadataFilter(key="k", value="x", operator="in"))
        Traceback (most recent call last):
        ...
        llama_index.vector_stores.ragstore.errors.UnsupportedFilterError: Filter on 'k': operator 'in' needs a non-empty list value, got 'x'

    """
    operator, value = flt.operator, flt.value
    where = f"Filter on {flt.key!r}: operator {operator.value!r}"
    if operator == FilterOperator.IS_EMPTY:
        return
    if operator in _LIST_OPERATORS:
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise UnsupportedFilterError(f"{where} needs a non-empty list value, got {value!r}")
    elif operator in _TEXT_OPERATORS:
        if not isinstance(value, str):
            raise UnsupportedFilterError(f"{where} needs a str value, got {value!r}")
    elif operator in _SCALAR_OPERATORS:
        if not _is_scalar(value):
            raise UnsupportedFilterError(f"{where} needs a str, int or float value, got {value!r}")
    else:
        raise UnsupportedFilterError(f"{where} is not supported")


def _all(parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _any(parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _in_groups(key: str, op: str, values: list[Any], combine: Callable[[list[Where]], Where]) -> Where:
    """``$in``/``$nin`` need values of one type: numbers and strings go in separate groups."""
    numbers = [v for v in values if _is_number(v)]
    strings = [v for v in values if isinstance(v, str)]
    return combine([{key: {op: group}} for group in (numbers, strings) if group])


def _leaf(flt: MetadataFilter, negated: bool) -> Where | None:
    key, operator, value = flt.key, flt.operator, flt.value
    if operator in (FilterOperator.EQ, FilterOperator.NE):
        positive = operator == FilterOperator.EQ
        return {key: {"$eq" if positive != negated else "$ne": value}}
    if operator in (FilterOperator.IN, FilterOperator.NIN):
        assert isinstance(value, list)
        if (operator == FilterOperator.IN) != negated:
            return _in_groups(key, "$in", value, _any)
        return _in_groups(key, "$nin", value, _all)
    if operator == FilterOperator.CONTAINS:
        return {key: {"$not_contains" if negated else "$contains": value}}
    if operator in (FilterOperator.ANY, FilterOperator.ALL):
        assert isinstance(value, list)
        op = "$not_contains" if negated else "$contains"
        parts = [{key: {op: v}} for v in value]
        return _any(parts) if (operator == FilterOperator.ANY) != negated else _all(parts)
    if operator in _RANGE and _is_number(value) and not negated:
        return {key: {_RANGE[operator]: value}}
    return None  # string ranges, negated ranges, text matches, is_empty


def native(node: MetadataFilters | MetadataFilter, negated: bool = False) -> Where | None:
    """The exact native ``where`` of ``node`` (of ``not node`` when ``negated``), or ``None``.

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> native(MetadataFilters(filters=[MetadataFilter(key="a", value=1), MetadataFilter(key="b", value=[1, 2], operator="in")],
        ...                        condition="not"))
        {'$and': [{'a': {'$ne': 1}}, {'b': {'$nin': [1, 2]}}]}

    """
    if isinstance(node, MetadataFilter):
        check_filter(node)
        return _leaf(node, negated)
    if not node.filters:
        return None
    condition = node.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:  # not any(children): all(not child), or any(child) when negated
        child_negated, conjunctive = not negated, not negated
    else:  # De Morgan: not all(children) == any(not child), not any(children) == all(not child)
        child_negated, conjunctive = negated, (condition == FilterCondition.AND) != negated
    parts = [native(child, child_negated) for child in node.filters]
    present = [part for part in parts if part is not None]
    if len(present) != len(parts):
        return None
    return _all(present) if conjunctive else _any(present)


def necessary(node: MetadataFilters | MetadataFilter) -> Where | None:
    """A native ``where`` that every record matching ``node`` satisfies (``None``: no narrowing).

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> necessary(MetadataFilters(filters=[MetadataFilter(key="a", value=1),
        ...                                    MetadataFilter(key="t", value="x", operator="text_match")]))
        {'a': {'$eq': 1}}

    """
    exact = native(node)
    if exact is not None or isinstance(node, MetadataFilter) or not node.filters:
        return exact
    condition = node.condition or FilterCondition.AND
    parts = [necessary(child) for child in node.filters]
    if condition == FilterCondition.AND:
        present = [part for part in parts if part is not None]
        return _all(present) if present else None
    if condition == FilterCondition.OR and all(part is not None for part in parts):
        return _any([part for part in parts if part is not None])
    return None  # OR with an unconstrained branch, or NOT of a non-native subtree


def plan_filters(filters: MetadataFilters | None) -> FilterPlan:
    """Plan ``filters`` for ragstore (see the module docstring).

    Raises:
        UnsupportedFilterError: an operator used with a value it cannot take.

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> plan_filters(None)
        FilterPlan(where=None, predicate=None)
        >>> plan = plan_filters(MetadataFilters(filters=[MetadataFilter(key="k", value=None, operator="is_empty")]))
        >>> plan.where, plan.predicate({"k": ""}), plan.predicate({"k": "x"})
        (None, True, False)

    """
    if filters is None or not filters.filters:
        return FilterPlan(None)
    exact = native(filters)
    if exact is not None:
        return FilterPlan(exact)
    tree = filters

    def predicate(metadata: Mapping[str, Any]) -> bool:
        return matches(tree, metadata)

    return FilterPlan(necessary(filters), predicate)
