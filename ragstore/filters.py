"""Parse ``where`` and ``where_document`` dicts into a small, checked AST.

The grammar is chromadb's (see ``Where`` below). Parsing happens once, in the
client and again in the engine; the storage layer compiles the AST to SQL
(:mod:`ragstore.local.sql_filters`). Errors name the path of the bad node.

::

    Where         := {field: scalar} | {field: {op: operand}} | {"$and"|"$or": [Where, Where, ...]}
                   | {"$not": Where}
                     field "#document" takes $contains / $not_contains only
    op            := $eq $ne $gt $gte $lt $lte $in $nin $contains $not_contains
                   | $exists $text_contains $not_text_contains $regex $not_regex
    WhereDocument := {"$contains"|"$not_contains"|"$regex"|"$not_regex": str}
                   | {"$and"|"$or": [WhereDocument, WhereDocument, ...]} | {"$not": WhereDocument}

Ragstore's extensions (chromadb has none of them; every mode and the Search API's filter
take them, with the same meaning):

- ``{"$not": W}`` matches exactly the records ``W`` does not match (so ``$not`` of an
  ``$eq`` is its ``$ne``: records lacking the key match).
- ``{field: {"$exists": true}}`` matches records whose metadata holds ``field`` (any
  type, lists too); ``false`` the others.
- ``{field: {"$text_contains": s}}`` matches records whose ``field`` is a string holding
  ``s`` (case-sensitive, as a document ``$contains``); ``{field: {"$regex": p}}`` those
  whose string ``field`` matches the RE2 pattern ``p`` anywhere (as a document ``$regex``).
  Not named ``$contains``: on metadata that is chromadb's array membership. Non-string
  values and absent keys never match; ``$not_text_contains`` / ``$not_regex`` are the
  exact negations, so they match them.

The Search API's filter (:func:`parse_search_where`) is the same ``Where`` with three
differences, chromadb's: ``#document`` also takes ``$regex`` / ``$not_regex``, ``#id``
takes ``$eq`` / ``$ne`` / ``$in`` / ``$nin`` on ids (kept as ``Compare("#id", ...)`` for
:mod:`ragstore.search.filtering` to turn into an id restriction), and a one-condition
``$and`` / ``$or`` is that condition.

Example:
    >>> parse_where({"$and": [{"page": {"$gt": 2}}, {"lang": "en"}]})
    And(children=(Compare(key='page', op='$gt', value=2), Compare(key='lang', op='$eq', value='en')))

"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Union

from ragstore.errors import InvalidArgumentError
from ragstore.validation import INT64_MAX, INT64_MIN, check_text

MAX_FILTER_DEPTH = 32
MAX_REGEX_LENGTH = 4096
# A $contains is verified with instr() on the rows the text index proposes; in the worst
# case (stored text built to nearly match, "aab" + 100 KB of "a" against 4,096 "a"s and
# a "b") that costs ~60 ns per stored character at this length, and grows with it.
MAX_CONTAINS_LENGTH = 4096
MAX_FILTER_SIZE = 10_000
COMPARISON_OPS = ("$gt", "$gte", "$lt", "$lte", "$ne", "$eq", "$in", "$nin", "$contains", "$not_contains")
# Ragstore's own metadata operators (see the module docstring); negated ones match what their positive form does not.
TEXT_OPS = ("$text_contains", "$not_text_contains", "$regex", "$not_regex")
EXTENSION_OPS = ("$exists", *TEXT_OPS)
WHERE_OPS = COMPARISON_OPS + EXTENSION_OPS
NEGATED_OPS = ("$ne", "$nin", "$not_contains", "$not_text_contains", "$not_regex")
NOT_OP = "$not"
DOCUMENT_OPS = ("$contains", "$not_contains", "$regex", "$not_regex")
LOGICAL_OPS = ("$and", "$or")
DOCUMENT_FIELD = "#document"
ID_FIELD = "#id"
ID_OPS = ("$eq", "$ne", "$in", "$nin")


@dataclasses.dataclass(frozen=True)
class Compare:
    """A metadata comparison: ``key op value`` (``value`` is a tuple for $in/$nin)."""

    key: str
    op: str
    value: Any


@dataclasses.dataclass(frozen=True)
class DocumentMatch:
    """A document condition: ``$contains``, ``$not_contains``, ``$regex`` or ``$not_regex``."""

    op: str
    pattern: str


@dataclasses.dataclass(frozen=True)
class Not:
    """The child does not hold (ragstore's ``$not``)."""

    child: Node


@dataclasses.dataclass(frozen=True)
class And:
    """All children hold."""

    children: tuple[Node, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    """At least one child holds."""

    children: tuple[Node, ...]


Node = Union[Compare, DocumentMatch, And, Or, Not]


def _error(message: str, path: str, op: str | None) -> InvalidArgumentError:
    suffix = f" in {op}." if op else ""
    return InvalidArgumentError(f"{message} (at {path}){suffix}")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _check_int_range(value: Any, path: str, op: str | None) -> None:
    """Reject operands no stored value can equal, before SQLite sees them."""
    # Stored ints are 64-bit (larger ones are rejected on write), and SQLite cannot bind larger ones.
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise _error(f"Expected where operand int value to fit in 64 bits, got {value}", path, op)
    # SQLite binds NaN as NULL, which would make $ne match everything; stored floats are finite.
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(f"Expected where operand float value to be finite, got {value}", path, op)
    if isinstance(value, str):
        _check_str(value, "where operand", path, op)


def _check_str(value: str, what: str, path: str, op: str | None) -> None:
    try:
        check_text(value, what, None)
    except InvalidArgumentError as exc:
        raise _error(str(exc), path, op) from None


def _filter_size(node: Node) -> int:
    """Leaves plus ``$in`` values: a bound on the SQL the filter compiles to."""
    if isinstance(node, (And, Or)):
        return sum(_filter_size(child) for child in node.children)
    if isinstance(node, Not):
        return _filter_size(node.child)
    if isinstance(node, Compare) and isinstance(node.value, tuple):
        return 1 + len(node.value)
    return 1


def _check_size(node: Node, path: str, op: str | None) -> Node:
    size = _filter_size(node)
    if size > MAX_FILTER_SIZE:
        raise _error(f"Expected a filter of at most {MAX_FILTER_SIZE} conditions and $in/$nin values, got {size}", path, op)
    return node


def value_kind(value: Any) -> str:
    """Which values compare with ``value``: ``"bool"``, ``"number"`` (ints and floats alike) or ``"str"``.

    ``$in`` lists must hold one kind, and the SQL compiler picks the stored types a kind matches.

    Example:
        >>> value_kind(True), value_kind(2), value_kind(2.5), value_kind("a")
        ('bool', 'number', 'number', 'str')

    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "str"


def parse_where(where: Any, op: str | None = None) -> Node | None:
    """Parse a ``where`` dict; ``None`` or ``{}`` means no filter.

    Args:
        where: The user's filter.
        op: Operation name for error messages.

    Raises:
        InvalidArgumentError: malformed filter, naming the bad node's path.

    Example:
        >>> parse_where({"color": {"$in": ["red", "blue"]}})
        Compare(key='color', op='$in', value=('red', 'blue'))

    """
    return _parse_top(where, "where", _parse_where, op)


def parse_search_where(where: Any, path: str = "filter") -> Node | None:
    """Parse the ``filter`` of a Search (chromadb's Search dialect of ``where``); ``None`` or ``{}`` means no filter.

    Raises:
        InvalidArgumentError: malformed filter, naming the bad node's path.

    Example:
        >>> parse_search_where({"$and": [{"#document": {"$regex": "^a"}}, {"#id": {"$in": ["x"]}}]})
        And(children=(DocumentMatch(op='$regex', pattern='^a'), Compare(key='#id', op='$in', value=('x',))))
        >>> parse_search_where({"$or": [{"page": 1}]})
        Compare(key='page', op='$eq', value=1)

    """
    return _parse_top(where, path, _parse_search_where, None)


def _parse_search_where(where: Any, path: str, depth: int, op: str | None) -> Node:
    return _parse_where(where, path, depth, op, search=True)


def _parse_top(value: Any, path: str, parse: Callable[[Any, str, int, str | None], Node], op: str | None) -> Node | None:
    # ``None`` and ``{}`` mean no filter; anything else is parsed from depth 1 and its size bounded.
    if value is None or (isinstance(value, dict) and not value):
        return None
    return _check_size(parse(value, path, 1, op), path, op)


def _only_item(node: Any, what: str, path: str, depth: int, op: str | None) -> tuple[Any, Any]:
    """The one ``(key, value)`` of a filter node, after the checks every node takes (depth, a dict, one entry)."""
    if depth > MAX_FILTER_DEPTH:
        raise _error(f"Expected {what} to be nested at most {MAX_FILTER_DEPTH} levels deep", path, op)
    if not isinstance(node, dict):
        raise _error(f"Expected {what} to be a dict, got {node!r}", path, op)
    if len(node) != 1:
        raise _error(f"Expected {what} to have exactly one operator, got {node!r}", path, op)
    return next(iter(node.items()))


def _parse_where(where: Any, path: str, depth: int, op: str | None, search: bool = False) -> Node:
    key, value = _only_item(where, "where", path, depth, op)
    if not isinstance(key, str):
        raise _error(f"Expected where key to be a str, got {key!r}", path, op)
    if key in LOGICAL_OPS:
        if search:  # chromadb's Search folds a one-condition $and/$or to that condition
            if not isinstance(value, list) or not value:
                raise _error("Expected where value for $and or $or to be a non-empty list of where expressions", path, op)
        elif not isinstance(value, list) or len(value) < 2:
            raise _error("Expected where value for $and or $or to be a list with at least two where expressions", path, op)
        children = tuple(_parse_where(child, f"{path}.{key}[{i}]", depth + 1, op, search) for i, child in enumerate(value))
        if len(children) == 1:
            return children[0]
        return And(children) if key == "$and" else Or(children)
    if key == NOT_OP:
        return Not(_parse_where(value, f"{path}.{key}", depth + 1, op, search))
    if key.startswith("$"):
        raise _error(f"Expected where key to be a metadata field name or a logical operator ($and, $or, $not), got {key}", path, op)
    field_path = f"{path}.{key}"
    if key == DOCUMENT_FIELD:
        return _parse_document_field(value, field_path, op, search)
    if search and key == ID_FIELD:
        return _parse_id_field(value, field_path)
    if search and key.startswith("#"):
        raise _error(f"Expected a search filter key to be a metadata field name, {DOCUMENT_FIELD} or {ID_FIELD}, got {key}", path, op)
    if _is_scalar(value):
        _check_int_range(value, field_path, op)
        return Compare(key, "$eq", value)
    if not isinstance(value, dict):
        raise _error(f"Expected where value to be a str, int, float, or operator expression, got {value!r}", field_path, op)
    if len(value) != 1:
        raise _error(f"Expected operator expression to have exactly one operator, got {value!r}", field_path, op)
    operator, operand = next(iter(value.items()))
    if operator not in WHERE_OPS:
        raise _error(f"Expected where operator to be one of {', '.join(WHERE_OPS)}, got {operator}", field_path, op)
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise _error(f"Expected operand value for operator $exists to be true or false, got {operand!r}", field_path, op)
        return Compare(key, operator, operand)
    if operator in TEXT_OPS:
        return Compare(key, operator, _text_operand(operator, operand, field_path, op))
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise _error(f"Expected operand value to be an int or a float for operator {operator}, got {operand!r}", field_path, op)
        _check_int_range(operand, field_path, op)
        return Compare(key, operator, operand)
    if operator in ("$in", "$nin"):
        if (
            not isinstance(operand, list)
            or not operand
            or not all(_is_scalar(v) for v in operand)
            or len({value_kind(v) for v in operand}) != 1
        ):
            raise _error(
                f"Expected where operand value to be a non-empty list, and all values to be of the same type got {operand!r}",
                field_path,
                op,
            )
        for value in operand:
            _check_int_range(value, field_path, op)
        return Compare(key, operator, tuple(operand))
    if not _is_scalar(operand):
        raise _error(
            f"Expected where operand value to be a str, int, float, or bool for operator {operator}, got {operand!r}", field_path, op
        )
    _check_int_range(operand, field_path, op)
    return Compare(key, operator, operand)


def _text_operand(operator: str, operand: Any, path: str, op: str | None, noun: str = "where operand") -> str:
    """The checked pattern of a text operator, on metadata (``noun``: where operand) or on the document.

    The same bounds hold for both: a non-empty string, RE2-checked for ``$regex``/``$not_regex``,
    at most ``MAX_CONTAINS_LENGTH`` characters for the substring operators.
    """
    if not isinstance(operand, str) or not operand:
        raise _error(f"Expected {noun} value for operator {operator} to be a non-empty str, got {operand!r}", path, op)
    _check_str(operand, noun, path, op)
    if operator in ("$regex", "$not_regex"):
        _check_regex(operand, f"{path}.{operator}", op)
    elif len(operand) > MAX_CONTAINS_LENGTH:
        raise _error(
            f"Expected {operator} text to be at most {MAX_CONTAINS_LENGTH} characters (MAX_CONTAINS_LENGTH), got {len(operand)}",
            f"{path}.{operator}",
            op,
        )
    return operand


def _parse_document_field(value: Any, path: str, op: str | None, search: bool = False) -> Node:
    # A where (chromadb's validate_where) takes the two substring operators; a Search filter all four.
    allowed = DOCUMENT_OPS if search else ("$contains", "$not_contains")
    names = " or ".join(allowed) if len(allowed) == 2 else ", ".join(allowed)
    if not isinstance(value, dict) or len(value) != 1:
        raise _error(f"Expected {DOCUMENT_FIELD} to be an operator expression with {names}, got {value!r}", path, op)
    operator, operand = next(iter(value.items()))
    if operator not in allowed:
        raise _error(f"Expected {DOCUMENT_FIELD} operator to be {names}, got {operator}", path, op)
    return _document_match(operator, operand, path, op)


def _parse_id_field(value: Any, path: str) -> Compare:
    """``#id`` in a Search filter: ``$eq`` / ``$ne`` an id, ``$in`` / ``$nin`` a non-empty list of ids."""
    operator: Any
    operand: Any
    if isinstance(value, str):
        operator, operand = "$eq", value
    elif isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ID_OPS:
        operator, operand = next(iter(value.items()))
    else:
        raise _error(f"Expected {ID_FIELD} to be an id or an operator expression with {', '.join(ID_OPS)}, got {value!r}", path, None)
    if operator in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand or not all(isinstance(v, str) for v in operand):
            raise _error(f"Expected {ID_FIELD} {operator} operand to be a non-empty list of ids (str), got {operand!r}", path, None)
        for id_ in operand:
            _check_str(id_, "id", path, None)
        return Compare(ID_FIELD, operator, tuple(operand))
    if not isinstance(operand, str):
        raise _error(f"Expected {ID_FIELD} {operator} operand to be an id (str), got {operand!r}", path, None)
    _check_str(operand, "id", path, None)
    return Compare(ID_FIELD, operator, operand)


def parse_where_document(where_document: Any, op: str | None = None) -> Node | None:
    """Parse a ``where_document`` dict; ``None`` or ``{}`` means no filter.

    Example:
        >>> parse_where_document({"$contains": "hnsw"})
        DocumentMatch(op='$contains', pattern='hnsw')

    """
    return _parse_top(where_document, "where_document", _parse_document, op)


def _parse_document(node: Any, path: str, depth: int, op: str | None) -> Node:
    operator, operand = _only_item(node, "where document", path, depth, op)
    if operator in LOGICAL_OPS:
        if not isinstance(operand, list) or len(operand) < 2:
            raise _error("Expected document value for $and or $or to be a list with at least two where document expressions", path, op)
        children = tuple(_parse_document(child, f"{path}.{operator}[{i}]", depth + 1, op) for i, child in enumerate(operand))
        return And(children) if operator == "$and" else Or(children)
    if operator == NOT_OP:
        return Not(_parse_document(operand, f"{path}.{operator}", depth + 1, op))
    if operator not in DOCUMENT_OPS:
        allowed = ", ".join(DOCUMENT_OPS + LOGICAL_OPS + (NOT_OP,))
        raise _error(f"Expected where document operator to be one of {allowed}, got {operator}", path, op)
    return _document_match(operator, operand, path, op)


def _document_match(operator: str, operand: Any, path: str, op: str | None) -> DocumentMatch:
    """A checked document condition (from ``where_document`` or a ``where`` on ``#document``)."""
    return DocumentMatch(operator, _text_operand(operator, operand, path, op, noun="where document operand"))


def _check_regex(pattern: str, path: str, op: str | None) -> None:
    # Imported here so the regex engine's own import cost is paid only by regex users.
    from ragstore.regex import RegexError, compile_regex

    if len(pattern) > MAX_REGEX_LENGTH:
        raise _error(f"Expected regex to be at most {MAX_REGEX_LENGTH} characters, got {len(pattern)}", path, op)
    try:
        compile_regex(pattern)
    except RegexError as exc:
        kind = "too costly" if "too costly" in str(exc) else "syntax error"
        raise _error(f"Regex {kind}: {exc}", path, op) from exc


def combine(*nodes: Node | None) -> Node | None:
    """AND together the given filters, dropping ``None``.

    Example:
        >>> combine(None, DocumentMatch("$contains", "a"))
        DocumentMatch(op='$contains', pattern='a')

    """
    present = tuple(n for n in nodes if n is not None)
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return And(present)
