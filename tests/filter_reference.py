"""The filter rules in plain Python: the reference the filter tests compare every mode with.

chromadb 1.5.9's evaluation rules (reference doc, sections 2.3 and 2.4) and ragstore's
extensions (``$not``, ``$exists``, ``$text_contains`` and ``$regex`` on string metadata, the
rules of :mod:`ragstore.filters`), written once for ``tests/test_filters.py`` and
``tests/test_filter_extensions.py``. Regular expressions are evaluated with Python's ``re``,
so the tests use only patterns whose meaning RE2 shares.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

Record = tuple[str, dict[str, Any] | None, str | None]
"""A record as the filter tests write it: id, metadata, document."""

_MISSING = object()

# Each negated operator is the exact negation of its positive one: a record lacking the key matches it.
_NEGATIONS = {"$ne": "$eq", "$nin": "$in", "$not_contains": "$contains", "$not_text_contains": "$text_contains", "$not_regex": "$regex"}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar_equal(stored: Any, operand: Any) -> bool:
    """Equality of one stored scalar and one operand: numbers across int/float, bools only with bools."""
    if isinstance(stored, bool) or isinstance(operand, bool):
        return isinstance(stored, bool) and isinstance(operand, bool) and stored == operand
    if _is_number(stored) and _is_number(operand):
        return bool(stored == operand)
    if isinstance(stored, str) and isinstance(operand, str):
        return stored == operand
    return False


def _text_matches(text: Any, op: str, pattern: str) -> bool:
    """``$contains`` (a case-sensitive substring) or ``$regex`` on a string; anything else never matches."""
    if not isinstance(text, str):
        return False
    return pattern in text if op == "$contains" else re.search(pattern, text) is not None


def _field_matches(stored: Any, op: str, operand: Any) -> bool:
    """One metadata condition on the stored value (``_MISSING`` when the record lacks the key)."""
    if op in _NEGATIONS:
        return not _field_matches(stored, _NEGATIONS[op], operand)
    scalar = stored is not _MISSING and not isinstance(stored, list)
    if op == "$exists":
        return (stored is not _MISSING) == operand
    if op == "$eq":
        return scalar and _scalar_equal(stored, operand)
    if op == "$in":
        return scalar and any(_scalar_equal(stored, candidate) for candidate in operand)
    if op == "$contains":  # on metadata, chromadb's array membership
        return isinstance(stored, list) and any(_scalar_equal(element, operand) for element in stored)
    if op == "$text_contains":
        return _text_matches(stored, "$contains", operand)
    if op == "$regex":
        return _text_matches(stored, "$regex", operand)
    return _is_number(stored) and _ORDER[op](stored, operand)


def matches_where(where: dict[str, Any], metadata: dict[str, Any] | None, document: str | None) -> bool:
    """Whether one record satisfies a ``where`` filter (a condition on ``#document`` included)."""
    ((key, value),) = where.items()
    if key == "$and":
        return all(matches_where(child, metadata, document) for child in value)
    if key == "$or":
        return any(matches_where(child, metadata, document) for child in value)
    if key == "$not":
        return not matches_where(value, metadata, document)
    if key == "#document":
        return matches_document(value, document)
    ((op, operand),) = (value if isinstance(value, dict) else {"$eq": value}).items()
    return _field_matches((metadata or {}).get(key, _MISSING), op, operand)


def matches_document(where_document: dict[str, Any], document: str | None) -> bool:
    """Whether one record's document satisfies a ``where_document`` filter."""
    ((op, operand),) = where_document.items()
    if op == "$and":
        return all(matches_document(child, document) for child in operand)
    if op == "$or":
        return any(matches_document(child, document) for child in operand)
    if op == "$not":
        return not matches_document(operand, document)
    if op in _NEGATIONS:
        return not _text_matches(document, _NEGATIONS[op], operand)
    return _text_matches(document, op, operand)


def reference_ids(records: list[Record], where: dict[str, Any] | None, where_document: dict[str, Any] | None = None) -> list[str]:
    """The ids of ``records`` (in order) matching both filters."""
    return [
        id_
        for id_, metadata, document in records
        if (where is None or matches_where(where, metadata, document))
        and (where_document is None or matches_document(where_document, document))
    ]
