"""Record metadata held in memory as columns, and ``where`` filters evaluated over them.

SQLite answers every filter (:mod:`ragstore.local.sql_filters`), but finding the
10,000 matches of ``{"cluster": {"$lt": 5}}`` among 100,000 records takes it
tens of milliseconds; numpy does it in a fraction of one. :class:`KeyColumn`
keeps one metadata key's values, one slot per record (slots are positions in
:class:`ragstore.local.columns.RecordColumns`), and :func:`evaluate` turns a
filter AST (:mod:`ragstore.filters`) into a boolean mask over the slots.

The semantics are exactly the SQL compiler's (chromadb's):

- ``$eq $in`` and the range operators need the key present with a scalar of a
  comparable type; ints and floats compare numerically (exactly, also beyond
  2**53); bools only match bools; range operators only match numbers.
- ``$ne`` and ``$nin`` are the negations, so they also match records without the key.
- list values only match through ``$contains`` / ``$not_contains``.
- ragstore's extensions: ``$not`` inverts its child's mask; ``$exists`` is "the slot is
  not absent"; ``$text_contains`` / ``$regex`` test each distinct string of the key once
  (its dictionary), then select the slots by code; their negations invert.
- a key holding a sparse vector counts as absent (:class:`~ragstore.local.columns.RecordColumns` never stores
  one, as SQLite's ``record_metadata`` holds no row for it).

Document conditions (``$contains`` on ``#document``, ``where_document``) stay in
SQLite: :func:`evaluate` answers ``None`` for a filter holding one.

Example:
    >>> from ragstore.filters import parse_where
    >>> page = KeyColumn(capacity=4)
    >>> for slot, value in enumerate([1, 2.5, "2", True]):
    ...     page.set(slot, value)
    >>> evaluate(parse_where({"page": {"$gte": 2}}), {"page": page}, 4).tolist()
    [False, True, False, False]
    >>> evaluate(parse_where({"page": {"$ne": 1}}), {"page": page}, 4).tolist()
    [False, True, True, True]

"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.filters import NEGATED_OPS, And, Compare, DocumentMatch, Node, Not, Or
from ragstore.regex import compile_regex

Mask = npt.NDArray[np.bool_]

ABSENT, INT, FLOAT, STR, BOOL, LIST = range(6)
_EXACT_FLOAT_INT = 2**53  # ints up to this size convert to float without rounding
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$eq": operator.eq,
}


def _element_key(value: Any) -> tuple[str, Any]:
    """How a list element is looked up: bools apart from numbers, 1 and 1.0 alike."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)  # hash(1) == hash(1.0), so both find the same entry
    return ("s", value)


class KeyColumn:
    """The values of one metadata key, one slot per record.

    ``kind`` says what each slot holds (``ABSENT``, ``INT``, ``FLOAT``, ``STR``,
    ``BOOL`` or ``LIST``); ints and bools live in ``ints``, floats in ``floats``,
    strings as codes into a per-key dictionary, and list elements in an inverted
    map from element to slots. Arrays are allocated on first use.

    Args:
        capacity: How many slots to allocate.

    """

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.uint8)
        self.ints: npt.NDArray[np.int64] | None = None
        self.floats: npt.NDArray[np.float64] | None = None
        self.codes: npt.NDArray[np.int32] | None = None
        self.strings: dict[str, int] = {}
        self.elements: dict[tuple[str, Any], set[int]] = {}
        self.slot_elements: dict[int, list[tuple[str, Any]]] = {}

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` slots (new slots are absent)."""
        self.kind = _resized(self.kind, capacity)
        self.ints = _resized(self.ints, capacity) if self.ints is not None else None
        self.floats = _resized(self.floats, capacity) if self.floats is not None else None
        self.codes = _resized(self.codes, capacity) if self.codes is not None else None

    def set(self, slot: int, value: Any) -> None:
        """Store ``value`` in an absent slot (see :meth:`clear`)."""
        if isinstance(value, bool):
            self._int_array()[slot] = int(value)
            self.kind[slot] = BOOL
        elif isinstance(value, int):
            self._int_array()[slot] = value
            self.kind[slot] = INT
        elif isinstance(value, float):
            if self.floats is None:
                self.floats = np.zeros(len(self.kind), dtype=np.float64)
            self.floats[slot] = value
            self.kind[slot] = FLOAT
        elif isinstance(value, str):
            if self.codes is None:
                self.codes = np.full(len(self.kind), -1, dtype=np.int32)
            self.codes[slot] = self.strings.setdefault(value, len(self.strings))
            self.kind[slot] = STR
        else:  # a list of scalars of one type (validated on write)
            keys = [_element_key(v) for v in value]
            for key in keys:
                self.elements.setdefault(key, set()).add(slot)
            self.slot_elements[slot] = keys
            self.kind[slot] = LIST

    def _int_array(self) -> npt.NDArray[np.int64]:
        if self.ints is None:
            self.ints = np.zeros(len(self.kind), dtype=np.int64)
        return self.ints

    def clear(self, slot: int) -> None:
        """Make ``slot`` absent (before it gets a new value, or when its record goes)."""
        if self.kind[slot] == LIST:
            for key in self.slot_elements.pop(slot):
                holders = self.elements[key]
                holders.discard(slot)
                if not holders:
                    del self.elements[key]
        self.kind[slot] = ABSENT

    def compact(self, keep: npt.NDArray[np.int64], capacity: int) -> None:
        """Keep only the slots ``keep`` (ascending), renumbered ``0..len(keep)-1``."""
        self.kind = _resized(self.kind[keep], capacity)
        self.ints = _resized(self.ints[keep], capacity) if self.ints is not None else None
        self.floats = _resized(self.floats[keep], capacity) if self.floats is not None else None
        self.codes = _resized(self.codes[keep], capacity) if self.codes is not None else None
        renumber = {int(old): new for new, old in enumerate(keep.tolist()) if int(old) in self.slot_elements}
        self.slot_elements = {renumber[old]: keys for old, keys in self.slot_elements.items() if old in renumber}
        self.elements = {}
        for slot, keys in self.slot_elements.items():
            for key in keys:
                self.elements.setdefault(key, set()).add(slot)

    # ------------------------------------------------------------------ conditions (masks over n slots)

    def equals(self, value: Any, n: int) -> Mask:
        """Slots holding a scalar equal to ``value`` (``$eq``)."""
        kind = self.kind[:n]
        if isinstance(value, bool):
            return (kind == BOOL) & (self.ints[:n] == int(value)) if self.ints is not None else np.zeros(n, dtype=bool)
        if isinstance(value, str):
            code = self.strings.get(value)
            if code is None or self.codes is None:
                return np.zeros(n, dtype=bool)
            same: Mask = (kind == STR) & (self.codes[:n] == code)
            return same
        return self.compare("$eq", value, n)

    def one_of(self, values: Iterable[Any], n: int) -> Mask:
        """Slots holding a scalar equal to any of ``values`` (``$in``; values share one type)."""
        values = list(values)
        if values and isinstance(values[0], str) and self.codes is not None:
            codes = [self.strings[v] for v in values if v in self.strings]
            listed: Mask = (self.kind[:n] == STR) & np.isin(self.codes[:n], codes)
            return listed
        mask = np.zeros(n, dtype=bool)
        for value in values:  # numbers and bools: few values, each exact (see compare)
            mask |= self.equals(value, n)
        return mask

    def compare(self, op: str, value: int | float, n: int) -> Mask:
        """Numeric slots ``x`` with ``x op value`` (``$gt $gte $lt $lte``, and ``$eq`` on a number)."""
        kind = self.kind[:n]
        mask = np.zeros(n, dtype=bool)
        if self.ints is not None:
            mask |= (kind == INT) & _compare_ints(self.ints[:n], op, value)
        if self.floats is not None:
            mask |= (kind == FLOAT) & _compare_floats(self.floats[:n], kind == FLOAT, op, value)
        return mask

    def present(self, n: int) -> Mask:
        """Slots holding any value (``$exists``)."""
        held: Mask = self.kind[:n] != ABSENT
        return held

    def text_matches(self, op: str, pattern: str, n: int) -> Mask:
        """Slots holding a string that contains ``pattern`` (``$text_contains``) or matches it as RE2 (``$regex``)."""
        if self.codes is None:
            return np.zeros(n, dtype=bool)
        if op == "$regex":
            search = compile_regex(pattern).search
            codes = [code for text, code in self.strings.items() if search(text) is not None]
        else:
            codes = [code for text, code in self.strings.items() if pattern in text]
        # The dictionary keeps strings no slot holds any more; the kind test leaves those out.
        found: Mask = (self.kind[:n] == STR) & np.isin(self.codes[:n], codes)
        return found

    def contains(self, value: Any, n: int) -> Mask:
        """Slots holding a list with an element equal to ``value`` (``$contains``)."""
        mask = np.zeros(n, dtype=bool)
        holders = self.elements.get(_element_key(value))
        if holders:
            mask[np.fromiter(holders, dtype=np.int64, count=len(holders))] = True
        return mask


def _resized(array: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    """``array`` cut or extended to ``capacity`` (new entries zero, or -1 for string codes)."""
    if len(array) >= capacity:
        return array[:capacity].copy()
    fill = -1 if array.dtype == np.int32 else 0
    return np.concatenate([array, np.full(capacity - len(array), fill, dtype=array.dtype)])


def _compare_ints(ints: npt.NDArray[np.int64], op: str, value: int | float) -> Mask:
    """``ints op value``, exactly, for an int or float ``value`` (numpy would round the ints to floats)."""
    if isinstance(value, float):
        if value == math.floor(value) and _INT64_MIN <= value <= _INT64_MAX:
            value = int(value)
        elif value > _INT64_MAX or value < _INT64_MIN:  # beyond every stored int
            above = value > 0
            return np.full(len(ints), op in (("$lt", "$lte") if above else ("$gt", "$gte")), dtype=bool)
        elif op == "$eq":
            return np.zeros(len(ints), dtype=bool)  # no int equals a fraction
        else:  # x < 2.5 <=> x <= 2 and x > 2.5 <=> x >= 3
            op, value = ("$lte", math.floor(value)) if op in ("$lt", "$lte") else ("$gte", math.ceil(value))
    mask: Mask = np.asarray(_OPS[op](ints, value), dtype=bool)
    return mask


def _compare_floats(floats: npt.NDArray[np.float64], present: Mask, op: str, value: int | float) -> Mask:
    """``floats op value`` for an int or float ``value``; ints too large to convert exactly compare in Python."""
    if isinstance(value, float) or abs(value) <= _EXACT_FLOAT_INT:
        exact: Mask = np.asarray(_OPS[op](floats, float(value)), dtype=bool)
        return exact
    mask = np.zeros(len(floats), dtype=bool)
    compare = _OPS[op]
    for slot in np.flatnonzero(present).tolist():  # rare: Python compares int and float exactly
        mask[slot] = compare(float(floats[slot]), value)
    return mask


def supported(node: Node) -> bool:
    """Whether :func:`evaluate` can answer ``node`` (no document conditions in it)."""
    if isinstance(node, (And, Or)):
        return all(supported(child) for child in node.children)
    if isinstance(node, Not):
        return supported(node.child)
    return not isinstance(node, DocumentMatch)


def evaluate(node: Node, keys: Mapping[str, KeyColumn], n: int) -> Mask | None:
    """A mask over the first ``n`` slots of the records matching ``node``; ``None`` if unsupported.

    Dead slots are the caller's to mask out. For an example, see the module docstring.
    """
    if not supported(node):
        return None
    return _evaluate(node, keys, n)


def _evaluate(node: Node, keys: Mapping[str, KeyColumn], n: int) -> Mask:
    if isinstance(node, And):
        mask = _evaluate(node.children[0], keys, n)
        for child in node.children[1:]:
            mask &= _evaluate(child, keys, n)
        return mask
    if isinstance(node, Or):
        mask = _evaluate(node.children[0], keys, n)
        for child in node.children[1:]:
            mask |= _evaluate(child, keys, n)
        return mask
    if isinstance(node, Not):
        return ~_evaluate(node.child, keys, n)
    assert isinstance(node, Compare)
    column = keys.get(node.key)
    negated = node.op in NEGATED_OPS or (node.op == "$exists" and not node.value)
    if column is None:  # no record has the key: only the negations match
        return np.full(n, negated, dtype=bool)
    if node.op == "$exists":
        mask = column.present(n)
    elif node.op in ("$text_contains", "$not_text_contains"):
        mask = column.text_matches("$text_contains", node.value, n)
    elif node.op in ("$regex", "$not_regex"):
        mask = column.text_matches("$regex", node.value, n)
    elif node.op in ("$eq", "$ne"):
        mask = column.equals(node.value, n)
    elif node.op in ("$in", "$nin"):
        mask = column.one_of(node.value, n)
    elif node.op in ("$contains", "$not_contains"):
        mask = column.contains(node.value, n)
    else:
        mask = column.compare(node.op, node.value, n)
    return ~mask if negated else mask
