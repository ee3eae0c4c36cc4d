"""Where expressions of the Search API: chromadb 1.5.9's classes, operators and wire form.

``Key("a") == 1`` builds :class:`Eq`; ``&`` and ``|`` build :class:`And` / :class:`Or`,
flattening as chromadb does (``a & b & c`` is one ``And`` of three). ``to_dict()`` is
chromadb's: ``{"a": {"$eq": 1}}``, ``{"$and": [...]}``. :meth:`Where.from_dict` rebuilds
the objects from that form as chromadb's does (a one-element ``$and`` is its element, a
bare value means ``$eq``), but strictly, for untrusted JSON: every refusal is an
:class:`~ragstore.errors.InvalidArgumentError` naming the bad node's path, and the
values are checked as ragstore checks a ``where`` (64-bit ints, finite floats, ``$in``
lists of one type, regex cost) by compiling the tree (:mod:`ragstore.search.filtering`).

Ragstore's extensions (:mod:`ragstore.filters` says what they match; chromadb has none):
``~w`` is :class:`Not` (``{"$not": w}``), :class:`Exists` (``{key: {"$exists": bool}}``),
:class:`TextContains` / :class:`NotTextContains` (substrings of string metadata), and
:class:`Regex` / :class:`NotRegex` on metadata keys as well as on ``#document``.

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
from typing import Any, ClassVar

from ragstore.search.limits import MAX_FILTER_DEPTH, invalid_at, type_name
from ragstore.search.operand_lists import OperandList

__all__ = [
    "And",
    "Contains",
    "Eq",
    "Exists",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "Ne",
    "Nin",
    "Not",
    "NotContains",
    "NotRegex",
    "NotTextContains",
    "Or",
    "Regex",
    "TextContains",
    "Where",
]

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
        return And._flattened(self, other)

    def __or__(self, other: Where) -> Or:
        """``a | b``: flattens nested ``Or`` as chromadb does."""
        if not isinstance(other, Where):
            return NotImplemented
        return Or._flattened(self, other)

    def __invert__(self) -> Not:
        """``~w``: ragstore's ``$not``, the records ``w`` does not match.

        Example:
            >>> from ragstore.search import K
            >>> (~(K("lang") == "en")).to_dict()
            {'$not': {'lang': {'$eq': 'en'}}}

        """
        return Not(self)


@dataclass
class Not(Where):
    """The condition does not hold (a ragstore extension): ``{"$not": {...}}``."""

    condition: Where

    def to_dict(self) -> dict[str, Any]:
        """``{"$not": condition}``."""
        return {"$not": self.condition.to_dict()}


@dataclass
class _Logical(OperandList, Where):
    """Base of ``And`` and ``Or``: ``{op: [...]}``, flattened when combined."""

    conditions: list[Where]
    _operands = "conditions"


@dataclass
class And(_Logical):
    """All conditions hold: ``{"$and": [...]}``."""

    _op = "$and"


@dataclass
class Or(_Logical):
    """At least one condition holds: ``{"$or": [...]}``."""

    _op = "$or"


@dataclass
class _FieldCondition(Where):
    """Base of the conditions on one field: ``{key: {op: operand}}``.

    Each family below holds its operand in the field chromadb names (``value``, ``values``,
    ``pattern``; ragstore's ``text``, ``present``), names that field in ``_operand`` (as
    :class:`~ragstore.search.operand_lists.OperandList` names its list), and says which operand
    types :meth:`Where.from_dict` accepts for it.
    """

    key: str
    _op: ClassVar[str]
    _operand: ClassVar[str]  # the dataclass field holding the operand: "value", "values", ...
    _operand_types: ClassVar[tuple[type, ...]]
    _operand_wanted: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """``{key: {op: operand}}``."""
        return {self.key: {self._op: getattr(self, self._operand)}}


@dataclass
class _ValueCondition(_FieldCondition):
    """Base of the conditions on one value: comparisons, ``$contains`` and ``$not_contains``."""

    value: Any
    _operand = "value"
    _operand_types = _SCALAR
    _operand_wanted = "a str, int, float, or bool"


@dataclass
class _ListCondition(_FieldCondition):
    """Base of ``$in`` and ``$nin``."""

    values: list[Any]
    _operand = "values"
    _operand_types = (list,)
    _operand_wanted = "a list"


@dataclass
class _PatternCondition(_FieldCondition):
    """Base of ``$regex`` and ``$not_regex``."""

    pattern: str
    _operand = "pattern"
    _operand_types = (str,)
    _operand_wanted = "a string pattern"


@dataclass
class _TextCondition(_FieldCondition):
    """Base of ``$text_contains`` and ``$not_text_contains`` (ragstore extensions)."""

    text: str
    _operand = "text"
    _operand_types = (str,)
    _operand_wanted = "a str"


@dataclass
class Exists(_FieldCondition):
    """The record's metadata holds the key (``present=False``: lacks it), a ragstore extension: ``{key: {"$exists": present}}``."""

    present: bool = True
    _op = "$exists"
    _operand = "present"
    _operand_types = (bool,)
    _operand_wanted = "true or false"


@dataclass
class TextContains(_TextCondition):
    """The key's value is a string holding ``text`` (case-sensitive): ``{key: {"$text_contains": text}}``."""

    _op = "$text_contains"


@dataclass
class NotTextContains(_TextCondition):
    """The negation of :class:`TextContains` (also matches records lacking the key): ``{key: {"$not_text_contains": text}}``."""

    _op = "$not_text_contains"


@dataclass
class Eq(_ValueCondition):
    """``key == value``: ``{key: {"$eq": value}}``."""

    _op = "$eq"


@dataclass
class Ne(_ValueCondition):
    """``key != value``: ``{key: {"$ne": value}}``."""

    _op = "$ne"


@dataclass
class Gt(_ValueCondition):
    """``key > value``: ``{key: {"$gt": value}}``."""

    _op = "$gt"


@dataclass
class Gte(_ValueCondition):
    """``key >= value``: ``{key: {"$gte": value}}``."""

    _op = "$gte"


@dataclass
class Lt(_ValueCondition):
    """``key < value``: ``{key: {"$lt": value}}``."""

    _op = "$lt"


@dataclass
class Lte(_ValueCondition):
    """``key <= value``: ``{key: {"$lte": value}}``."""

    _op = "$lte"


@dataclass
class In(_ListCondition):
    """The key's value is one of ``values``: ``{key: {"$in": values}}``."""

    _op = "$in"


@dataclass
class Nin(_ListCondition):
    """The key's value is none of ``values``: ``{key: {"$nin": values}}``."""

    _op = "$nin"


@dataclass
class Contains(_ValueCondition):
    """On ``#document``: substring match. On a metadata key: the array holds ``value``. ``{key: {"$contains": value}}``."""

    _op = "$contains"


@dataclass
class NotContains(_ValueCondition):
    """The negation of :class:`Contains`: ``{key: {"$not_contains": value}}``."""

    _op = "$not_contains"


@dataclass
class Regex(_PatternCondition):
    """The key's text matches the RE2 ``pattern``: ``{key: {"$regex": pattern}}``.

    chroma takes it on ``#document`` only; ragstore on string metadata too.
    """

    _op = "$regex"


@dataclass
class NotRegex(_PatternCondition):
    """The key's text does not match ``pattern``: ``{key: {"$not_regex": pattern}}``."""

    _op = "$not_regex"


_FIELD_OPERATORS: dict[str, type[_ValueCondition | _ListCondition | _PatternCondition | _TextCondition | Exists]] = {
    cls._op: cls
    for cls in (Eq, Ne, Gt, Gte, Lt, Lte, In, Nin, Contains, NotContains, Regex, NotRegex, TextContains, NotTextContains, Exists)
}


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
    if "$not" in data:
        if len(data) > 1:
            raise invalid_at(path, "$not cannot be combined with other fields in the same dict")
        return Not(_parse(data["$not"], f"{path}.$not", depth + 1))
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
    cls = _FIELD_OPERATORS.get(op)
    if cls is None:
        raise invalid_at(field_path, f"Unknown operator: {op}")
    if not _takes(cls, value):
        raise invalid_at(f"{field_path}.{op}", f"{op} requires {cls._operand_wanted}, got {type_name(value)}")
    return cls(field, value)


def _takes(cls: type[_FieldCondition], operand: Any) -> bool:
    # A function, not an inline isinstance: mypy would narrow the operand to every family's types at once.
    return isinstance(operand, cls._operand_types)


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
