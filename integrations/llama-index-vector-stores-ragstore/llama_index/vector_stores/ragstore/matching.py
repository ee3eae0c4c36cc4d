"""Exact in-Python evaluation of LlamaIndex metadata filters over one record's metadata.

The semantics are those of LlamaIndex's reference evaluator
(``llama_index.core.vector_stores.utils.build_metadata_filter_fn``), made total (never a
``TypeError``), extended to nested ``MetadataFilters``, and aligned with ragstore's
native filters so both paths agree on every record:

* a missing key (ragstore never stores ``None``: see :mod:`.records`) matches only
  ``!=``, ``nin`` and ``is_empty``;
* ``==`` / ``!=`` / ``in`` / ``nin`` compare scalars: numbers numerically (``1 == 1.0``),
  booleans only with booleans, strings exactly; a list value never equals a scalar;
* ``> >= < <=`` compare numbers with numbers, or strings with strings (lexicographic);
  anything else does not match;
* ``contains`` / ``any`` / ``all`` test the elements of a list value ("metadata array
  contains value", as ``FilterOperator`` documents); a scalar value does not match
  (substring tests on strings are ``text_match``);
* ``text_match`` is a case-sensitive substring test on string values,
  ``text_match_insensitive`` the same after ``str.lower()``;
* ``is_empty`` matches a missing key, ``None``, ``""`` and ``[]``;
* ``AND`` = all children, ``OR`` = any child, ``NOT`` = no child (``not any``), as the
  reference evaluator; an empty top-level ``MetadataFilters`` matches everything.

Example:
    >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
    >>> f = MetadataFilters(filters=[MetadataFilter(key="tags", value="red", operator="contains")])
    >>> matches(f, {"tags": ["red", "blue"]}), matches(f, {"tags": "red"})
    (True, False)

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def scalar_equal(left: Any, right: Any) -> bool:
    """Equality as ragstore's ``$eq``: numbers numerically, bools only with bools, strings exactly.

    Example:
        >>> scalar_equal(1, 1.0), scalar_equal(True, 1), scalar_equal("1", 1)
        (True, False, False)

    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return False


def _ordered(left: Any, right: Any, operator: FilterOperator) -> bool:
    if not ((_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))):
        return False
    if operator == FilterOperator.GT:
        return bool(left > right)
    if operator == FilterOperator.GTE:
        return bool(left >= right)
    if operator == FilterOperator.LT:
        return bool(left < right)
    return bool(left <= right)


def _element_of(value: Any, items: Any) -> bool:
    return isinstance(items, list) and any(scalar_equal(item, value) for item in items)


def _in_values(value: Any, values: list[Any]) -> bool:
    return not isinstance(value, list) and any(scalar_equal(value, candidate) for candidate in values)


def leaf_matches(flt: MetadataFilter, metadata: Mapping[str, Any]) -> bool:
    """Whether one ``MetadataFilter`` holds for ``metadata`` (a missing key is ``None``).

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter
        >>> leaf_matches(MetadataFilter(key="n", value=3, operator="!="), {})
        True

    """
    operator, expected = flt.operator, flt.value
    value = metadata.get(flt.key)
    if operator == FilterOperator.IS_EMPTY:
        return value is None or value == "" or value == []
    if value is None:
        return operator in (FilterOperator.NE, FilterOperator.NIN)
    if operator == FilterOperator.EQ:
        return scalar_equal(value, expected)
    if operator == FilterOperator.NE:
        return not scalar_equal(value, expected)
    if operator in (FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE):
        return _ordered(value, expected, operator)
    if operator == FilterOperator.IN:
        return _in_values(value, list(expected))  # type: ignore[arg-type]
    if operator == FilterOperator.NIN:
        return not _in_values(value, list(expected))  # type: ignore[arg-type]
    if operator == FilterOperator.CONTAINS:
        return _element_of(expected, value)
    if operator == FilterOperator.ANY:
        return any(_element_of(item, value) for item in expected)  # type: ignore[union-attr]
    if operator == FilterOperator.ALL:
        return all(_element_of(item, value) for item in expected)  # type: ignore[union-attr]
    if operator == FilterOperator.TEXT_MATCH:
        return isinstance(value, str) and isinstance(expected, str) and expected in value
    if operator == FilterOperator.TEXT_MATCH_INSENSITIVE:
        return isinstance(value, str) and isinstance(expected, str) and expected.lower() in value.lower()
    raise ValueError(f"Unknown filter operator {operator!r}")


def matches(filters: MetadataFilters | MetadataFilter, metadata: Mapping[str, Any], *, top_level: bool = True) -> bool:
    """Whether a (possibly nested) filter tree holds for ``metadata``.

    Args:
        filters: The filter tree.
        metadata: One record's stored metadata.
        top_level: Whether ``filters`` is the root (an empty root matches everything).

    Example:
        >>> from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
        >>> f = MetadataFilters(filters=[MetadataFilter(key="a", value=1)], condition="not")
        >>> matches(f, {"a": 1}), matches(f, {"a": 2}), matches(f, {})
        (False, True, True)

    """
    if isinstance(filters, MetadataFilter):
        return leaf_matches(filters, metadata)
    if top_level and not filters.filters:
        return True
    results = (matches(child, metadata, top_level=False) for child in filters.filters)
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return all(results)
    if condition == FilterCondition.OR:
        return any(results)
    if condition == FilterCondition.NOT:
        return not any(results)
    raise ValueError(f"Unknown filter condition {condition!r}")
