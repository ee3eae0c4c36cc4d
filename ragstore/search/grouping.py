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
from typing import Any, Union

from ragstore.search.keys import SCORE_KEY, Key, key_name
from ragstore.search.limits import MAX_GROUP_KEYS, MAX_SEARCH_LIMIT, invalid_at, type_name

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
        if not isinstance(data, dict):
            raise invalid_at(path, f"Expected dict for Aggregate, got {type_name(data)}")
        if len(data) != 1:
            raise invalid_at(path, f"Aggregate dict must contain exactly one operator, got {len(data)}")
        op, body = next(iter(data.items()))
        op_path = f"{path}.{op}"
        if op not in ("$min_k", "$max_k"):
            raise invalid_at(path, f"Unknown aggregate operator: {op}")
        if not isinstance(body, dict):
            raise invalid_at(op_path, f"{op} requires a dict, got {type_name(body)}")
        if set(body) != {"keys", "k"}:
            raise invalid_at(op_path, f"{op} requires exactly 'keys' and 'k', got {sorted(map(str, body))}")
        keys = _parse_keys(body["keys"], f"{op_path}.keys", op, allow_score=True)
        k = body["k"]
        if isinstance(k, bool) or not isinstance(k, int):
            raise invalid_at(f"{op_path}.k", f"{op} k must be an integer, got {type_name(k)}")
        if not 0 < k <= MAX_SEARCH_LIMIT:
            raise invalid_at(f"{op_path}.k", f"{op} k must be positive and at most {MAX_SEARCH_LIMIT}, got {k}")
        return MinK(keys=keys, k=k) if op == "$min_k" else MaxK(keys=keys, k=k)


@dataclass
class MinK(Aggregate):
    """Keep the ``k`` records with the smallest ``keys`` values per group (``K.SCORE``: the best)."""

    keys: KeyOrKeys
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$min_k": {"keys": [...], "k": k}}``."""
        return {"$min_k": {"keys": _key_names(self.keys), "k": self.k}}


@dataclass
class MaxK(Aggregate):
    """Keep the ``k`` records with the largest ``keys`` values per group."""

    keys: KeyOrKeys
    k: int

    def to_dict(self) -> dict[str, Any]:
        """``{"$max_k": {"keys": [...], "k": k}}``."""
        return {"$max_k": {"keys": _key_names(self.keys), "k": self.k}}


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
