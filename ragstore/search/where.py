"""Where expressions of the Search API: chromadb 1.5.9's classes, operators and wire form.

``Key("a") == 1`` builds :class:`Eq`; ``&`` and ``|`` build :class:`And` / :class:`Or`,
flattening as chromadb does (``a & b & c`` is one ``And`` of three). ``to_dict()`` is
chromadb's: ``{"a": {"$eq": 1}}``, ``{"$and": [...]}``. :meth:`Where.from_dict` rebuilds
the objects from that form as chromadb's does (a one-element ``$and`` is its element, a
bare value means ``$eq``), but strictly, for untrusted JSON: every refusal is an
:class:`~ragstore.errors.InvalidArgumentError` naming the bad node's path, and the
values are checked as ragstore checks a ``where`` (64-bit ints, finite floats, ``$in``
lists of one type, regex cost) by compiling the tree (:mod:`ragstore.search.filtering`).

Example:
    >>> from ragstore.search import K
    >>> ((K("page") > 2) & (K("lang") == "en")).to_dict()
    {'$and': [{'page': {'$gt': 2}}, {'lang': {'$eq': 'en'}}]}
    >>> Where.from_dict({"lang": "en"})
    Eq(key='lang', value='en')

"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

from ragstore.search.limits import MAX_FILTER_DEPTH, invalid_at, type_name

__all__ = ["And", "Contains", "Eq", "Gt", "Gte", "In", "Lt", "Lte", "Ne", "Nin", "NotContains", "NotRegex", "Or", "Regex", "Where"]

# Operand types chromadb's Where.from_dict accepts for $contains (and ragstore for $eq ... $lte).
_SCALAR = (str, int, float, bool)


@dataclass
class Where:
    """Base class of where expressions; combine them with ``&`` (AND) and ``|`` (OR).

    Example:
        >>> from ragstore.search import K
        >>> ((K("a") == 1) | (K("b") == 2) | (K("c") == 3)).to_dict()
        {'$or': [{'a': {'$eq': 1}}, {'b': {'$eq': 2}}, {'c': {'$eq': 3}}]}

    """

    def to_dict(self) -> dict[str, Any]:
        """The JSON form chromadb's client sends."""
        raise NotImplementedError("Subclasses must implement to_dict()")

    @staticmethod
    def from_dict(data: Any, path: str = "where") -> Where:
        """Rebuild a where expression from its JSON form, refusing anything malformed.

        Args:
            data: ``{field: value}``, ``{field: {op: operand}}`` or ``{"$and"|"$or": [...]}``.
            path: Where ``data`` sits in the request, for error messages.

        Raises:
            InvalidArgumentError: malformed, naming the path of the bad node.

        Example:
            >>> Where.from_dict({"$and": [{"a": {"$in": [1, 2]}}, {"#document": {"$contains": "x"}}]})
            And(conditions=[In(key='a', values=[1, 2]), Contains(key='#document', value='x')])

        """
        where = _parse(data, path, 1)
        # Imported here: filtering imports this module. Compiling the dict as sent checks every
        # value, with the paths of the dict (folding may have flattened the objects).
        from ragstore.search.filtering import compile_where

        compile_where(data, path)
        return where

    def __and__(self, other: Where) -> And:
        """``a & b``: flattens nested ``And`` as chromadb does."""
        if not isinstance(other, Where):
            return NotImplemented
        left = self.conditions if isinstance(self, And) else [self]
        right = other.conditions if isinstance(other, And) else [other]
        return And(left + right)

    def __or__(self, other: Where) -> Or:
        """``a | b``: flattens nested ``Or`` as chromadb does."""
        if not isinstance(other, Where):
            return NotImplemented
        left = self.conditions if isinstance(self, Or) else [self]
        right = other.conditions if isinstance(other, Or) else [other]
        return Or(left + right)


@dataclass
class And(Where):
    """All conditions hold."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$and": [...]}``."""
        return {"$and": [c.to_dict() for c in self.conditions]}


@dataclass
class Or(Where):
    """At least one condition holds."""

    conditions: list[Where]

    def to_dict(self) -> dict[str, Any]:
        """``{"$or": [...]}``."""
        return {"$or": [c.to_dict() for c in self.conditions]}


@dataclass
class Eq(Where):
    """``key == value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$eq": value}}``."""
        return {self.key: {"$eq": self.value}}


@dataclass
class Ne(Where):
    """``key != value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$ne": value}}``."""
        return {self.key: {"$ne": self.value}}


@dataclass
class Gt(Where):
    """``key > value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$gt": value}}``."""
        return {self.key: {"$gt": self.value}}


@dataclass
class Gte(Where):
    """``key >= value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$gte": value}}``."""
        return {self.key: {"$gte": self.value}}


@dataclass
class Lt(Where):
    """``key < value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$lt": value}}``."""
        return {self.key: {"$lt": self.value}}


@dataclass
class Lte(Where):
    """``key <= value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$lte": value}}``."""
        return {self.key: {"$lte": self.value}}


@dataclass
class In(Where):
    """The key's value is one of ``values``."""

    key: str
    values: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$in": values}}``."""
        return {self.key: {"$in": self.values}}


@dataclass
class Nin(Where):
    """The key's value is none of ``values``."""

    key: str
    values: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$nin": values}}``."""
        return {self.key: {"$nin": self.values}}


@dataclass
class Contains(Where):
    """On ``#document``: substring match. On a metadata key: the array holds ``value``."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$contains": value}}``."""
        return {self.key: {"$contains": self.value}}


@dataclass
class NotContains(Where):
    """The negation of :class:`Contains`."""

    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$not_contains": value}}``."""
        return {self.key: {"$not_contains": self.value}}


@dataclass
class Regex(Where):
    """The key's text matches ``pattern`` (chroma supports it on ``#document`` only)."""

    key: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$regex": pattern}}``."""
        return {self.key: {"$regex": self.pattern}}


@dataclass
class NotRegex(Where):
    """The key's text does not match ``pattern``."""

    key: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        """``{key: {"$not_regex": pattern}}``."""
        return {self.key: {"$not_regex": self.pattern}}


_COMPARISONS: dict[str, type[Eq | Ne | Gt | Gte | Lt | Lte]] = {"$eq": Eq, "$ne": Ne, "$gt": Gt, "$gte": Gte, "$lt": Lt, "$lte": Lte}


def _parse(data: Any, path: str, depth: int) -> Where:
    """The parse of chromadb's Where.from_dict, with paths, a depth bound and operand types checked."""
    if depth > MAX_FILTER_DEPTH:
        raise invalid_at(path, f"Expected where to be nested at most {MAX_FILTER_DEPTH} levels deep")
    if not isinstance(data, dict):
        raise invalid_at(path, f"Expected dict for Where, got {type_name(data)}")
    if not data:
        raise invalid_at(path, "Where dict cannot be empty")
    for logical in ("$and", "$or"):
        if logical in data:
            return _parse_logical(data, logical, path, depth)
    if len(data) != 1:
        raise invalid_at(path, f"Where dict must contain exactly one field, got {len(data)}")
    field, condition = next(iter(data.items()))
    if not isinstance(field, str):
        raise invalid_at(path, f"Field name must be a string, got {type_name(field)}")
    field_path = f"{path}.{field}"
    if not isinstance(condition, dict):
        if not isinstance(condition, _SCALAR):
            raise invalid_at(field_path, f"Expected a str, int, float, bool or operator dict, got {type_name(condition)}")
        return Eq(field, condition)
    if len(condition) != 1:
        raise invalid_at(field_path, f"Operator dict for field '{field}' must contain exactly one operator, got {len(condition)}")
    op, value = next(iter(condition.items()))
    op_path = f"{field_path}.{op}"
    if op in _COMPARISONS:
        if not isinstance(value, _SCALAR):
            raise invalid_at(op_path, f"{op} requires a str, int, float, or bool, got {type_name(value)}")
        return _COMPARISONS[op](field, value)
    if op in ("$in", "$nin"):
        if not isinstance(value, list):
            raise invalid_at(op_path, f"{op} requires a list, got {type_name(value)}")
        return In(field, value) if op == "$in" else Nin(field, value)
    if op in ("$contains", "$not_contains"):
        if not isinstance(value, _SCALAR):
            raise invalid_at(op_path, f"{op} requires a str, int, float, or bool, got {type_name(value)}")
        return Contains(field, value) if op == "$contains" else NotContains(field, value)
    if op in ("$regex", "$not_regex"):
        if not isinstance(value, str):
            raise invalid_at(op_path, f"{op} requires a string pattern, got {type_name(value)}")
        return Regex(field, value) if op == "$regex" else NotRegex(field, value)
    raise invalid_at(field_path, f"Unknown operator: {op}")


def _parse_logical(data: dict[Any, Any], logical: str, path: str, depth: int) -> Where:
    children = data[logical]
    if not isinstance(children, list):
        raise invalid_at(path, f"{logical} must be a list, got {type_name(children)}")
    if not children:
        raise invalid_at(path, f"{logical} requires at least one condition")
    if len(data) > 1:
        raise invalid_at(path, f"{logical} cannot be combined with other fields in the same dict")
    conditions = [_parse(child, f"{path}.{logical}[{i}]", depth + 1) for i, child in enumerate(children)]
    # chromadb folds with & and |, so a one-condition $and/$or is that condition and nested
    # $and inside $and flatten; doing the same keeps from_dict(to_dict(x)) equal to chromadb's.
    combine = operator.and_ if logical == "$and" else operator.or_
    return functools.reduce(combine, conditions)
