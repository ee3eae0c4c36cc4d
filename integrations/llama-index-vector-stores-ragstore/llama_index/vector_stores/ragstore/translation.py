"""Translate a LlamaIndex filter tree into one native ragstore ``where``: every operator and condition.

Nothing is evaluated in Python: the ``where`` goes with the ``get``, ``delete`` or ``query``
call, so the engine filters (SQL for reads and deletes, its in-memory metadata columns for
filtered vector searches), and a top-k query returns k results whenever k records match.

============================  =====================================================================
LlamaIndex                    ragstore ``where``
============================  =====================================================================
``==  !=``                    ``$eq  $ne``
``in  nin``                   ``$in  $nin`` (numbers and strings in separate lists, ORed / ANDed)
``contains``                  ``$contains`` (a list value holds it); ``any``: ``$or`` of ``$contains``,
                              ``all``: ``$and`` of ``$contains``
``> >= < <=`` a number        ``$gt $gte $lt $lte``
``> >= < <=`` a string        ``$regex`` with a pattern for the range (:func:`.string_patterns.string_range`)
``text_match``                ``$text_contains`` (``""``: ``$regex`` ``^``, every string)
``text_match_insensitive``    ``$regex`` ``(?i)`` + the value quoted for RE2 (:mod:`.string_patterns`)
``is_empty``                  ``$or`` of ``$exists: false`` and ``$eq: ""``
``AND  OR``                   ``$and  $or``
``NOT``                       ``$not`` of the children's ``$or`` (none of them holds)
empty nested group            folded away: an empty ``AND`` or ``NOT`` holds, an empty ``OR`` does not
============================  =====================================================================

``is_empty`` is LlamaIndex's "missing, ``None``, ``""`` or ``[]``": ragstore stores no ``None``
(it deletes the key) and no empty list (refused on write), so this store leaves those keys out
of a record's metadata columns (:mod:`.records`) and they are missing to ``$exists``.

The semantics (LlamaIndex's reference evaluator ``build_metadata_filter_fn``, made total and
nested, as ragstore's operators define it):

* a missing key matches only ``!=``, ``nin`` and ``is_empty`` (and ``NOT`` of what it fails);
* ``== != in nin`` compare scalars: numbers numerically (``1 == 1.0``), booleans only with
  booleans, strings exactly; a list value never equals a scalar;
* ``> >= < <=`` compare numbers with numbers and strings with strings (by code point); other
  pairs do not match;
* ``contains`` / ``any`` / ``all`` test the elements of a list value ("metadata array contains
  value", as ``FilterOperator`` documents); a string value does not match (substring tests are
  ``text_match``);
* ``text_match`` is a case-sensitive substring test on string values; ``text_match_insensitive``
  the same under RE2's case folding (LlamaIndex lowercases: they differ on a few non-ASCII
  characters, listed in :mod:`.string_patterns`);
* ``AND`` = all children, ``OR`` = any child, ``NOT`` = no child; an empty top-level
  ``MetadataFilters`` matches everything.

Limits ragstore sets (refused here with :class:`UnsupportedFilterError`, before any call): a
``text_match`` value of at most ``MAX_CONTAINS_LENGTH`` (4,096) characters, and patterns of at most
``MAX_REGEX_LENGTH`` (4,096): a ``text_match_insensitive`` value of up to 2,046 characters always
fits (4,092 without ASCII punctuation, which quoting doubles), a range bound of up to 200.
ragstore also nests a ``where`` at most ``MAX_FILTER_DEPTH`` (32) levels deep and says so when a
tree goes deeper: a group takes one level, a ``NOT`` group of several children two.

Example:
    >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
    >>> plan_filters(MetadataFilters(filters=[MetadataFilter(key="year", value=2020, operator=">")])).where
    {'year': {'$gt': 2020}}
    >>> plan_filters(MetadataFilters(filters=[
    ...     MetadataFilter(key="year", value=2020, operator=">"),
    ...     MetadataFilter(key="title", value="rag", operator="text_match_insensitive"),
    ... ], condition="not")).where
    {'$not': {'$or': [{'year': {'$gt': 2020}}, {'title': {'$regex': '(?i)rag'}}]}}

"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from llama_index.vector_stores.ragstore.errors import UnsupportedFilterError
from llama_index.vector_stores.ragstore.string_patterns import ANY_STRING, insensitive_substring, string_range
from ragstore.filters import MAX_CONTAINS_LENGTH, MAX_REGEX_LENGTH

Where = dict[str, Any]
# A translated node: a where, or a constant for a tree that folds to one, through an empty group or a range below "" (True:
# every record, False: none).
Condition = Where | bool

_RANGE = {FilterOperator.GT: "$gt", FilterOperator.GTE: "$gte", FilterOperator.LT: "$lt", FilterOperator.LTE: "$lte"}
_LIST_OPERATORS = (FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL)
_SCALAR_OPERATORS = (FilterOperator.EQ, FilterOperator.NE, FilterOperator.CONTAINS, *_RANGE)
_TEXT_OPERATORS = (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE)


@dataclasses.dataclass(frozen=True)
class FilterPlan:
    """How to run a filter tree on ragstore.

    Attributes:
        where: The native ``where`` (``None``: every record).
        matches_nothing: No record can match (the tree folds to false, e.g. an ``OR`` of empty groups):
            the store answers without a call.

    """

    where: Where | None
    matches_nothing: bool = False


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
        if operator == FilterOperator.TEXT_MATCH and len(value) > MAX_CONTAINS_LENGTH:
            raise UnsupportedFilterError(f"{where} takes at most {MAX_CONTAINS_LENGTH} characters (ragstore's limit), got {len(value)}")
    elif operator in _SCALAR_OPERATORS:
        if not _is_scalar(value):
            raise UnsupportedFilterError(f"{where} needs a str, int or float value, got {value!r}")
    else:
        raise UnsupportedFilterError(f"{where} is not supported")


def _pattern(flt: MetadataFilter, pattern: str | None) -> Condition:
    """``$regex`` on ``flt.key`` (``None``: no string matches), refused when longer than ragstore takes."""
    if pattern is None:
        return False
    if len(pattern) > MAX_REGEX_LENGTH:
        raise UnsupportedFilterError(
            f"Filter on {flt.key!r}: operator {flt.operator.value!r} with a value of {len(str(flt.value))} characters needs an RE2 "
            f"pattern of {len(pattern)}, over ragstore's MAX_REGEX_LENGTH ({MAX_REGEX_LENGTH})"
        )
    return {flt.key: {"$regex": pattern}}


def _all(parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _any(parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _in_groups(key: str, op: str, values: list[Any], combine: Callable[[list[Where]], Where]) -> Where:
    """``$in``/``$nin`` need values of one type: numbers and strings go in separate lists."""
    numbers = [v for v in values if _is_number(v)]
    strings = [v for v in values if isinstance(v, str)]
    return combine([{key: {op: group}} for group in (numbers, strings) if group])


def _leaf(flt: MetadataFilter) -> Condition:
    """The native condition of one checked filter."""
    key, operator, value = flt.key, flt.operator, flt.value
    if operator == FilterOperator.EQ:
        return {key: {"$eq": value}}
    if operator == FilterOperator.NE:
        return {key: {"$ne": value}}
    if operator == FilterOperator.IN:
        return _in_groups(key, "$in", list(value), _any)  # type: ignore[arg-type]
    if operator == FilterOperator.NIN:
        return _in_groups(key, "$nin", list(value), _all)  # type: ignore[arg-type]
    if operator == FilterOperator.CONTAINS:
        return {key: {"$contains": value}}
    if operator in (FilterOperator.ANY, FilterOperator.ALL):
        parts = [{key: {"$contains": v}} for v in value]  # type: ignore[union-attr]
        return _any(parts) if operator == FilterOperator.ANY else _all(parts)
    if operator in _RANGE:
        return {key: {_RANGE[operator]: value}} if _is_number(value) else _pattern(flt, string_range(str(value), operator.value))
    if operator == FilterOperator.TEXT_MATCH:
        return {key: {"$text_contains": value}} if value else {key: {"$regex": ANY_STRING}}
    if operator == FilterOperator.TEXT_MATCH_INSENSITIVE:
        return _pattern(flt, insensitive_substring(str(value)))
    assert operator == FilterOperator.IS_EMPTY  # check_filter refused every other operator
    return {"$or": [{key: {"$exists": False}}, {key: {"$eq": ""}}]}


def _every(parts: list[Condition]) -> Condition:
    if any(part is False for part in parts):
        return False
    wheres = [part for part in parts if not isinstance(part, bool)]
    return _all(wheres) if wheres else True


def _some(parts: list[Condition]) -> Condition:
    if any(part is True for part in parts):
        return True
    wheres = [part for part in parts if not isinstance(part, bool)]
    return _any(wheres) if wheres else False


def translate(node: MetadataFilters | MetadataFilter) -> Condition:
    """The native condition of a (nested) filter tree: a ``where``, or ``True`` / ``False`` for a tree that folds to a constant.

    Raises:
        UnsupportedFilterError: an operator used with a value it cannot take.

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> translate(MetadataFilters(filters=[MetadataFilter(key="a", value=1), MetadataFilter(key="b", value=None, operator="is_empty")],
        ...                           condition="or"))
        {'$or': [{'a': {'$eq': 1}}, {'$or': [{'b': {'$exists': False}}, {'b': {'$eq': ''}}]}]}
        >>> translate(MetadataFilters(filters=[MetadataFilters(filters=[], condition="or")]))
        False

    """
    if isinstance(node, MetadataFilter):
        check_filter(node)
        return _leaf(node)
    parts = [translate(child) for child in node.filters]
    condition = node.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return _every(parts)
    if condition == FilterCondition.OR:
        return _some(parts)
    if condition == FilterCondition.NOT:
        matched = _some(parts)
        return (not matched) if isinstance(matched, bool) else {"$not": matched}
    raise UnsupportedFilterError(f"Filter condition {condition!r} is not supported")


def plan_filters(filters: MetadataFilters | None) -> FilterPlan:
    """Plan ``filters`` for ragstore (see the module docstring); an empty or absent top level matches everything.

    Raises:
        UnsupportedFilterError: an operator used with a value it cannot take.

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> plan_filters(None)
        FilterPlan(where=None, matches_nothing=False)
        >>> plan_filters(MetadataFilters(filters=[MetadataFilter(key="k", value="", operator="<")]))
        FilterPlan(where=None, matches_nothing=True)

    """
    if filters is None or not filters.filters:
        return FilterPlan(None)
    condition = translate(filters)
    if isinstance(condition, bool):
        return FilterPlan(None, matches_nothing=not condition)
    return FilterPlan(condition)
