"""``GroupBy`` with ``MinK`` / ``MaxK``: keep the best k records per group of metadata values.

Records are grouped by the values of ``keys`` (metadata fields); within each group the
aggregate keeps the ``k`` records with the smallest (``MinK``) or largest (``MaxK``)
values of its own ``keys``, compared in order (``[K("priority"), K.SCORE]`` breaks ties
on the score). The kept records are flattened and sorted by score. A ``GroupBy`` without
keys or without an aggregate means no grouping and serialises to ``{}``.

Example:
    >>> from ragstore.search.keys import K
    >>> GroupBy(keys=K("category"), aggregate=MinK(keys=K.SCORE, k=3)).to_dict()
    {'keys': ['category'], 'aggregate': {'$min_k': {'keys': ['#score'], 'k': 3}}}

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from ragstore.search.keys import SCORE_KEY, Key, key_name
from ragstore.search.limits import MAX_GROUP_KEYS, MAX_SEARCH_LIMIT, invalid_at, one_operator, positive_count, type_name

__all__ = ["Aggregate", "GroupBy", "KeyOrKeys", "MaxK", "MinK"]

KeyOrKeys = Union[Key, str, Sequence[Union[Key, str]]]
"""One key or several (chromadb's ``OneOrMany[Union[Key, str]]``)."""


def _key_names(keys: KeyOrKeys) -> list[str]:
    """Key names, as chromadb's ``_keys_to_strings`` gives them: one key becomes a list of one."""
    if isinstance(keys, (Key, str)):
        return [key_name(keys)]
    return [key_name(k) for k in keys]


def _parse_keys(keys: Any, path: str, what: str, *, allow_score: bool) -> list[Key | str]:
    if not isinstance(keys, list):
        raise invalid_at(path, f"{what} keys must be a list, got {type_name(keys)}")
    if not keys:
        raise invalid_at(path, f"{what} keys cannot be empty")
    if len(keys) > MAX_GROUP_KEYS:
        raise invalid_at(path, f"{what} keys must number at most {MAX_GROUP_KEYS}, got {len(keys)}")
    for i, k in enumerate(keys):
        if not isinstance(k, str) or not k:
            raise invalid_at(f"{path}[{i}]", f"{what} key must be a non-empty string, got {k!r}")
        if k.startswith("#") and not (allow_score and k == SCORE_KEY):
            allowed = "a metadata key or '#score'" if allow_score else "a metadata key"
            raise invalid_at(f"{path}[{i}]", f"{what} key must be {allowed}, got {k!r}")
    return [Key(k) for k in keys]  # chromadb's _strings_to_keys


@dataclass
class Aggregate:
    """Base class of the per-group selections (``MinK``, ``MaxK``)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form chromadb's client sends."""
        raise NotImplementedError("Subclasses must implement to_dict()")

    @staticmethod
    def from_dict(data: Any, path: str = "aggregate") -> Aggregate:
        """``{"$min_k" | "$max_k": {"keys": [...], "k": n}}``, checked.

        Example:
            >>> Aggregate.from_dict({"$max_k": {"keys": ["year"], "k": 2}}).to_dict()
            {'$max_k': {'keys': ['year'], 'k': 2}}

        """
        op, body = one_operator(data, path, "Aggregate")
        op_path = f"{path}.{op}"
        cls = _AGGREGATES.get(op)
        if cls is None:
            raise invalid_at(path, f"Unknown aggregate operator: {op}")
        if not isinstance(body, dict):
            raise invalid_at(op_path, f"{op} requires a dict, got {type_name(body)}")
        if set(body) != {"keys", "k"}:
            raise invalid_at(op_path, f"{op} requires exactly 'keys' and 'k', got {sorted(map(str, body))}")
        keys = _parse_keys(body["keys"], f"{op_path}.keys", op, allow_score=True)
        return cls(keys=keys, k=positive_count(body["k"], f"{op_path}.k", f"{op} k", MAX_SEARCH_LIMIT))


@dataclass
class _KeepK(Aggregate):
    """Base of ``MinK`` and ``MaxK``: ``{op: {"keys": [...], "k": k}}``."""

    keys: KeyOrKeys
    k: int
    _op: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """``{op: {"keys": [...], "k": k}}``."""
        return {self._op: {"keys": _key_names(self.keys), "k": self.k}}


@dataclass
class MinK(_KeepK):
    """Keep the ``k`` records with the smallest ``keys`` values per group (``K.SCORE``: the best): ``{"$min_k": ...}``."""

    _op = "$min_k"


@dataclass
class MaxK(_KeepK):
    """Keep the ``k`` records with the largest ``keys`` values per group: ``{"$max_k": ...}``."""

    _op = "$max_k"


_AGGREGATES: dict[str, type[_KeepK]] = {cls._op: cls for cls in (MinK, MaxK)}


@dataclass
class GroupBy:
    """Group by metadata ``keys``, keep what ``aggregate`` selects in each group.

    Example:
        >>> GroupBy().to_dict()
        {}

    """

    keys: KeyOrKeys = field(default_factory=list)
    aggregate: Aggregate | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"keys": [...], "aggregate": {...}}``, or ``{}`` when either is missing."""
        if not self.keys or self.aggregate is None:
            return {}
        return {"keys": _key_names(self.keys), "aggregate": self.aggregate.to_dict()}

    @staticmethod
    def from_dict(data: Any, path: str = "group_by") -> GroupBy:
        """``{}`` (no grouping) or ``{"keys": [...], "aggregate": {...}}``, checked.

        Example:
            >>> GroupBy.from_dict({"keys": ["a"], "aggregate": {"$min_k": {"keys": ["#score"], "k": 1}}}).to_dict()
            {'keys': ['a'], 'aggregate': {'$min_k': {'keys': ['#score'], 'k': 1}}}

        """
        if not isinstance(data, dict):
            raise invalid_at(path, f"Expected dict for GroupBy, got {type_name(data)}")
        if not data:
            return GroupBy()
        if set(data) != {"keys", "aggregate"}:
            raise invalid_at(path, f"GroupBy requires exactly 'keys' and 'aggregate', got {sorted(map(str, data))}")
        keys = _parse_keys(data["keys"], f"{path}.keys", "GroupBy", allow_score=False)
        return GroupBy(keys=keys, aggregate=Aggregate.from_dict(data["aggregate"], f"{path}.aggregate"))
