"""Compile a filter AST (:mod:`ragstore.filters`) into a SQL condition on ``records r``.

Semantics are chromadb's:

- ``$eq $gt $gte $lt $lte $in`` need the key to be present with a scalar value
  of a comparable type; ints and floats compare numerically; bools only match bools.
- ``$ne`` and ``$nin`` are the negation of ``$eq``/``$in``, so they also match
  records that lack the key (or have no metadata at all).
- List values match only through ``$contains``/``$not_contains``
  (``$not_contains`` also matches records lacking the key).
- Ragstore's extensions (:mod:`ragstore.filters`): ``$not`` is SQL's ``NOT`` (every
  condition here is true or false, never NULL, so it is the exact complement);
  ``$exists`` asks for any ``record_metadata`` row of the key; ``$text_contains`` and
  ``$regex`` test string values (``instr``, the ``ragstore_regex`` function).
- Document ``$contains`` is a case-sensitive substring test (FTS5 trigram
  index for 3+ characters, ``instr`` below that); records without a document
  match the negations.

Example:
    >>> from ragstore.filters import parse_where
    >>> sql, params = compile_filter(parse_where({"page": {"$gt": 2}}), collection_pk=1)
    >>> params
    [1, 'page', 2]

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragstore.filters import NEGATED_OPS, And, Compare, DocumentMatch, Node, Not, Or, value_kind
from ragstore.local.records import ids_condition

_TYPES_OF = {"str": ("s",), "bool": ("b",), "number": ("i", "f")}
_RANGE_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_MIN_TRIGRAM = 3
_FLAT_TERMS = 16
# Trigrams a document $contains looks up in the full-text index (see trigram_terms).
MAX_TRIGRAM_TERMS = 8


def _sql_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _types_sql(kind: str) -> str:
    types = _TYPES_OF[kind]
    return f"type = '{types[0]}'" if len(types) == 1 else "type IN ('i', 'f')"


def uses_text_index(node: Node | None) -> bool:
    """Whether the SQL for ``node`` searches the full-text index (a document substring of 3+ characters).

    Example:
        >>> from ragstore.filters import parse_where_document
        >>> uses_text_index(parse_where_document({"$contains": "hnsw"})), uses_text_index(parse_where_document({"$contains": "ab"}))
        (True, False)

    """
    if isinstance(node, (And, Or)):
        return any(uses_text_index(child) for child in node.children)
    if isinstance(node, Not):
        return uses_text_index(node.child)
    return isinstance(node, DocumentMatch) and node.op in ("$contains", "$not_contains") and len(node.pattern) >= _MIN_TRIGRAM


def selection(collection_pk: int, ids: Sequence[str] | None, node: Node | None, text_index: bool = True) -> tuple[str, list[Any]]:
    """SQL condition (on ``records r``) selecting a collection's records with one of ``ids`` matching ``node``.

    ``text_index=False`` tests document substrings with ``instr`` alone, for a collection
    whose full-text index is not built (and cannot be: the store is read-only).

    Example:
        >>> selection(1, ["a"], None)
        ('r.collection_pk = ? AND r.id IN (SELECT value FROM json_each(?)) AND 1', [1, '["a"]'])

    """
    params: list[Any] = [collection_pk]
    id_sql = ids_condition(ids, params)
    filter_sql, filter_params = compile_filter(node, collection_pk, text_index)
    params.extend(filter_params)
    return f"r.collection_pk = ? AND {id_sql} AND {filter_sql}", params


def compile_filter(node: Node | None, collection_pk: int, text_index: bool = True) -> tuple[str, list[Any]]:
    """SQL condition over ``records r`` and its parameters (``"1"`` for no filter)."""
    if node is None:
        return "1", []
    params: list[Any] = []
    sql = _compile(node, collection_pk, params, text_index)
    return sql, params


def _join(parts: list[str], operator: str) -> str:
    """``(a OP b OP ...)``, nested as a balanced tree when long.

    SQLite parses a flat chain of n terms into an expression n levels deep and
    refuses more than 1000 levels, so a long ``$or`` would fail.
    """
    if len(parts) <= _FLAT_TERMS:
        return "(" + f" {operator} ".join(parts) + ")"
    middle = len(parts) // 2
    return f"({_join(parts[:middle], operator)} {operator} {_join(parts[middle:], operator)})"


def _compile(node: Node, pk: int, params: list[Any], text_index: bool) -> str:
    if isinstance(node, And):
        return _join([_compile(child, pk, params, text_index) for child in node.children], "AND")
    if isinstance(node, Or):
        return _join([_compile(child, pk, params, text_index) for child in node.children], "OR")
    if isinstance(node, Not):
        return f"NOT ({_compile(node.child, pk, params, text_index)})"
    if isinstance(node, DocumentMatch):
        return _document(node, params, text_index)
    return _compare(node, pk, params)


def _metadata_subquery(pk: int, key: str, in_array: int, condition: str, params: list[Any], values: list[Any]) -> str:
    params.extend([pk, key, *values])
    return f"SELECT record_rowid FROM record_metadata WHERE collection_pk = ? AND key = ? AND in_array = {in_array} AND {condition}"


# The string tests of the text operators, on ``record_metadata.value`` (its rows of type 's'; "value >= ''" keeps
# the index scan on text, which sorts after every number).
_TEXT_TESTS = {"$text_contains": "instr(value, ?) > 0", "$regex": "ragstore_regex(?, value)"}


def _compare(node: Compare, pk: int, params: list[Any]) -> str:
    op, value = node.op, node.value
    if op == "$exists":
        # Lists have a row per element (never none: empty lists are refused on write); sparse vectors have no row.
        sub = "SELECT record_rowid FROM record_metadata WHERE collection_pk = ? AND key = ?"
        params.extend([pk, node.key])
        return f"r.rowid {'IN' if value else 'NOT IN'} ({sub})"
    positive = {"$not_text_contains": "$text_contains", "$not_regex": "$regex"}.get(op, op)
    if positive in _TEXT_TESTS:
        sub = _metadata_subquery(pk, node.key, 0, f"type = 's' AND value >= '' AND {_TEXT_TESTS[positive]}", params, [value])
        return f"r.rowid {'NOT IN' if op in NEGATED_OPS else 'IN'} ({sub})"
    if op in ("$in", "$nin"):
        kind = value_kind(value[0])
        marks = ", ".join("?" for _ in value)
        sub = _metadata_subquery(pk, node.key, 0, f"{_types_sql(kind)} AND value IN ({marks})", params, [_sql_value(v) for v in value])
        return f"r.rowid {'IN' if op == '$in' else 'NOT IN'} ({sub})"
    kind = value_kind(value)
    if op in _RANGE_OPS:
        # Text sorts after every number in SQLite, so "< ''" keeps the scan on numbers.
        sub = _metadata_subquery(pk, node.key, 0, f"type IN ('i', 'f') AND value {_RANGE_OPS[op]} ? AND value < ''", params, [value])
        return f"r.rowid IN ({sub})"
    if op in ("$eq", "$ne"):
        sub = _metadata_subquery(pk, node.key, 0, f"{_types_sql(kind)} AND value = ?", params, [_sql_value(value)])
        return f"r.rowid {'IN' if op == '$eq' else 'NOT IN'} ({sub})"
    # $contains / $not_contains on a list-valued field
    sub = _metadata_subquery(pk, node.key, 1, f"{_types_sql(kind)} AND value = ?", params, [_sql_value(value)])
    return f"r.rowid {'IN' if op == '$contains' else 'NOT IN'} ({sub})"


def trigram_terms(pattern: str) -> list[str]:
    """At most ``MAX_TRIGRAM_TERMS`` distinct trigrams of ``pattern``, spread along it.

    Every document containing ``pattern`` contains all of them, so they only narrow
    the candidates; ``instr`` then decides. Trigrams with a NUL are left out (FTS5
    reads its query as a C string).

    Example:
        >>> trigram_terms("abcd"), trigram_terms("aaaaaaaa")
        (['abc', 'bcd'], ['aaa'])

    """
    distinct = list(dict.fromkeys(pattern[i : i + _MIN_TRIGRAM] for i in range(len(pattern) - _MIN_TRIGRAM + 1)))
    usable = [t for t in distinct if "\0" not in t]
    if len(usable) <= MAX_TRIGRAM_TERMS:
        return usable
    step = len(usable) / MAX_TRIGRAM_TERMS
    return [usable[int(i * step)] for i in range(MAX_TRIGRAM_TERMS)]


def _document(node: DocumentMatch, params: list[Any], text_index: bool) -> str:
    if node.op in ("$regex", "$not_regex"):
        params.append(node.pattern)
        test = "ragstore_regex(?, r.document)"
        return test if node.op == "$regex" else f"NOT {test}"
    terms = trigram_terms(node.pattern) if text_index and len(node.pattern) >= _MIN_TRIGRAM else []
    if terms:
        # A few single-trigram terms, not one phrase of all of them: FTS5 keeps every
        # position of every phrase term in memory, which grew with the pattern's length
        # times its matches (8,000 'a's against one 100 KB document of 'a's: 7 s and
        # 860 MB); these terms only narrow the rows, and instr() gives chromadb's answer.
        params.append(" AND ".join('"' + t.replace('"', '""') + '"' for t in terms))
        params.append(node.pattern)
        test = "(r.rowid IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?) AND instr(r.document, ?) > 0)"
        return test if node.op == "$contains" else f"NOT {test}"
    params.append(node.pattern)
    if node.op == "$contains":
        return "(r.document IS NOT NULL AND instr(r.document, ?) > 0)"
    return "(r.document IS NULL OR instr(r.document, ?) = 0)"
