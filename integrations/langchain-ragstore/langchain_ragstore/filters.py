"""Normalise LangChain-style filters into ragstore ``where`` / ``where_document`` clauses.

LangChain users (and LangChain's own docs) often write a metadata filter with several
keys, ``{"year": 2024, "lang": "en"}``. Chroma rejects that ("Expected where to have
exactly one operator"); here a dict with several keys means an implicit ``$and`` of one
clause per key, at every level of nesting: inside ``$and`` / ``$or`` lists and inside
ragstore's ``$not``, which takes one filter dict.

Everything else passes through unchanged for the store to check, ragstore's operators beyond
chromadb's included (``$exists``, ``$text_contains`` / ``$not_text_contains``, ``$regex`` /
``$not_regex``; see the ragstore README, "Filters beyond chromadb's").

Example:
    >>> normalize_filter({"year": 2024, "lang": "en"})
    {'$and': [{'year': 2024}, {'lang': 'en'}]}
    >>> normalize_filter({"$or": [{"a": 1, "b": 2}, {"c": 3}]})
    {'$or': [{'$and': [{'a': 1}, {'b': 2}]}, {'c': 3}]}
    >>> normalize_filter({"$not": {"author": {"$exists": True}, "title": {"$regex": "^Intro"}}})
    {'$not': {'$and': [{'author': {'$exists': True}}, {'title': {'$regex': '^Intro'}}]}}
    >>> normalize_filter({}) is None
    True

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_LOGICAL = ("$and", "$or")
_NOT = "$not"


class InvalidFilterError(TypeError):
    """A filter that is not a dict, ``$and``/``$or`` not given a list of dicts, or ``$not`` not given a non-empty dict.

    Example:
        >>> normalize_filter("year = 2024")
        Traceback (most recent call last):
        ...
        langchain_ragstore.filters.InvalidFilterError: Expected a filter dict such as {'year': {'$gte': 2020}}, got str

    """


def normalize_filter(filter: Mapping[str, Any] | None) -> dict[str, Any] | None:  # noqa: A002 - LangChain's parameter name
    """Return ``filter`` as a ragstore clause, turning multi-key dicts into ``$and`` lists.

    Args:
        filter: A ragstore ``where`` or ``where_document`` dict, or ``None``.

    Returns:
        The equivalent clause with exactly one key per dict, or ``None`` for no filter.

    Raises:
        InvalidFilterError: ``filter`` is not a mapping, ``$and``/``$or`` is not given a list of mappings, or
            ``$not`` is not given a non-empty mapping.

    Example:
        >>> normalize_filter({"$contains": "http", "$not_contains": "ftp"})
        {'$and': [{'$contains': 'http'}, {'$not_contains': 'ftp'}]}
        >>> normalize_filter({"year": {"$gte": 2020, "$lte": 2024}})
        {'$and': [{'year': {'$gte': 2020}}, {'year': {'$lte': 2024}}]}

    """
    if filter is None:
        return None
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(f"Expected a filter dict such as {{'year': {{'$gte': 2020}}}}, got {type(filter).__name__}")
    if not filter:
        return None
    clauses = [_clause(key, value) for key, value in filter.items()]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _clause(key: str, value: Any) -> dict[str, Any]:
    if key in _LOGICAL:
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise InvalidFilterError(f"Expected {key} to be given a list of filter dicts, got {value!r}")
        parts = [normalize_filter(item) for item in value]
        return {key: [part for part in parts if part is not None]}
    if key == _NOT:
        # An empty dict means "no filter" (every record), so "$not" of it would silently match nothing.
        inner = normalize_filter(value) if isinstance(value, Mapping) else None
        if inner is None:
            raise InvalidFilterError(f"Expected $not to be given one non-empty filter dict, got {value!r}")
        return {key: inner}
    if isinstance(value, Mapping) and len(value) > 1:
        # {"year": {"$gte": 2020, "$lte": 2024}}: a range as LangChain users write it, one operator per clause for the store.
        return {"$and": [{key: {op: operand}} for op, operand in value.items()]}
    return {key: value}
