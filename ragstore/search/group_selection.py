"""Applying a ``GroupBy``: per group of equal metadata values, the ``k`` records its aggregate keeps, then by score.

The one implementation of :mod:`ragstore.search.grouping`'s rule, over ranked candidates and their
metadata: the local engine runs it on a search's candidates (:mod:`ragstore.local.search_executor`),
a sharded store's router on the candidates it merged from its shards
(:mod:`ragstore.distributed.sharded_search`). Within a group, records compare by the aggregate's keys
in order (``#score`` is the record's score; a missing value sorts last, numbers before strings), then
by candidate position; the kept records are ordered by score, then label.

Example:
    >>> import numpy as np
    >>> from ragstore.search.grouping import GroupBy, MinK
    >>> labels, scores = np.array([4, 5, 6]), np.array([0.1, 0.2, 0.3])
    >>> metadatas = {4: {"c": "x"}, 5: {"c": "x"}, 6: {"c": "y"}}
    >>> kept, _ = select_groups(GroupBy(keys=["c"], aggregate=MinK(keys=["#score"], k=1)), labels, scores, metadatas)
    >>> kept.tolist()
    [4, 6]

"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.search.grouping import GroupBy, MaxK, MinK
from ragstore.search.keys import SCORE_KEY, key_name

__all__ = ["metadata_keys", "select_groups"]


def metadata_keys(group_by: GroupBy) -> list[str]:
    """The metadata keys grouping reads: the group's keys and the aggregate's (``#score`` aside).

    Example:
        >>> metadata_keys(GroupBy(keys=["c"], aggregate=MinK(keys=["#score", "p"], k=1)))
        ['c', 'p']

    """
    aggregate = group_by.aggregate
    keys = _names(group_by.keys) + (_names(aggregate.keys) if isinstance(aggregate, (MinK, MaxK)) else [])
    return [k for k in dict.fromkeys(keys) if k != SCORE_KEY]


def select_groups(
    group_by: GroupBy,
    labels: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    metadatas: Mapping[int, Mapping[str, Any] | None],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The records ``group_by`` keeps of ``labels`` (ranked, with ``scores``), ``metadatas[label]`` holding the keys it reads."""
    aggregate = group_by.aggregate
    assert isinstance(aggregate, (MinK, MaxK))
    group_keys = _names(group_by.keys)
    order_keys = _names(aggregate.keys)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        meta = metadatas.get(label) or {}
        groups.setdefault(tuple(_hashable(meta.get(k)) for k in group_keys), []).append(position)
    descending = isinstance(aggregate, MaxK)
    kept: list[int] = []
    for members in groups.values():

        def sort_key(position: int) -> tuple[Any, ...]:
            meta = metadatas.get(int(labels[position])) or {}
            values = [float(scores[position]) if k == SCORE_KEY else meta.get(k) for k in order_keys]
            return (*(_ordered(v, descending) for v in values), position)

        kept.extend(sorted(members, key=sort_key)[: aggregate.k])
    chosen = np.array(sorted(kept, key=lambda p: (float(scores[p]), int(labels[p]))), dtype=np.int64)
    return labels[chosen], scores[chosen]


def _names(keys: Any) -> list[str]:
    return [key_name(k) for k in (keys if isinstance(keys, (list, tuple)) else [keys])]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _ordered(value: Any, descending: bool) -> tuple[int, Any]:
    """A sort key putting missing values last and numbers before strings, ``descending`` for MaxK."""
    if value is None:
        return (2, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, -value if descending else value)
    return (1, _Reversed(value) if descending else value)


@dataclasses.dataclass(frozen=True)
class _Reversed:
    value: Any

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)
