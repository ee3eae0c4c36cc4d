"""From a Search filter to what the engine runs: ragstore's filter tree plus an id restriction.

A Search filter is chromadb's where dict, mixing metadata fields, ``#document`` (substring
and regex) and ``#id``. :func:`compile_where` parses it with :func:`ragstore.filters.parse_search_where`
(the checks every ``where`` gets: 64-bit ints, finite floats, one-type ``$in``, regex
cost, depth and size) into a :data:`ragstore.filters.Node` the SQL compiler runs, and lifts
the ``#id`` conditions out into :class:`SearchFilter` ``ids`` / ``excluded_ids``.

``#id`` conditions must be terms of the top-level AND (or the whole filter): that is an id
restriction the engine applies like ``get(ids=...)``. Under an ``$or`` or a ``$not`` they are refused,
as the SQL compiler has no id predicate inside a tree.

Example:
    >>> from ragstore.search.keys import K
    >>> f = compile_where(K.ID.is_in(["a", "b"]) & (K("page") > 2) & (K.ID != "b"))
    >>> f.ids, f.excluded_ids, f.where
    (('a', 'b'), ('b',), Compare(key='page', op='$gt', value=2))

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ragstore.filters import ID_FIELD, And, Compare, Node, Not, Or, parse_search_where
from ragstore.search.limits import invalid_at
from ragstore.search.where import Where

__all__ = ["SearchFilter", "compile_where"]


@dataclass(frozen=True)
class SearchFilter:
    """What a Search filter asks of the engine.

    Attributes:
        where: The filter on metadata and documents (``None``: none).
        ids: Only these ids may match (``None``: any id); the intersection of every
            ``#id`` ``$eq`` / ``$in`` term, in first-seen order.
        excluded_ids: These ids may not match (every ``#id`` ``$ne`` / ``$nin`` term).

    Example:
        >>> SearchFilter(None, None, ()).matches_all
        True

    """

    where: Node | None
    ids: tuple[str, ...] | None
    excluded_ids: tuple[str, ...]

    @property
    def matches_all(self) -> bool:
        """Whether the filter restricts nothing."""
        return self.where is None and self.ids is None and not self.excluded_ids


def compile_where(where: Where | Mapping[str, Any] | None, path: str = "filter") -> SearchFilter:
    """Parse and check a Search filter (an expression or its dict) into a :class:`SearchFilter`.

    Raises:
        InvalidArgumentError: a malformed filter, or an ``#id`` condition under ``$or``.

    Example:
        >>> compile_where({"$or": [{"#id": "a"}, {"page": 1}]})
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected #id conditions only as terms of the top-level $and, not under $or or $not (at filter)

    """
    data = where.to_dict() if isinstance(where, Where) else where
    node = parse_search_where(dict(data) if data is not None else None, path)
    terms = _conjuncts(node) if node is not None else []
    allowed: dict[str, None] | None = None
    excluded: dict[str, None] = {}
    rest: list[Node] = []
    for term in terms:
        if isinstance(term, Compare) and term.key == ID_FIELD:
            values = term.value if isinstance(term.value, tuple) else (term.value,)
            if term.op in ("$eq", "$in"):
                kept = dict.fromkeys(values) if allowed is None else {v: None for v in allowed if v in values}
                allowed = kept
            else:
                excluded.update(dict.fromkeys(values))
        elif _mentions_id(term):
            raise invalid_at(path, f"Expected {ID_FIELD} conditions only as terms of the top-level $and, not under $or or $not")
        else:
            rest.append(term)
    combined: Node | None = None if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return SearchFilter(combined, None if allowed is None else tuple(allowed), tuple(excluded))


def _conjuncts(node: Node) -> list[Node]:
    """The terms of the top-level AND, nested ANDs flattened (``a & (b & c)`` is three terms)."""
    if isinstance(node, And):
        return [term for child in node.children for term in _conjuncts(child)]
    return [node]


def _mentions_id(node: Node) -> bool:
    if isinstance(node, (And, Or)):
        return any(_mentions_id(child) for child in node.children)
    if isinstance(node, Not):
        return _mentions_id(node.child)
    return isinstance(node, Compare) and node.key == ID_FIELD
