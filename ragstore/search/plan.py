"""``Search`` (one search payload), ``Limit`` and ``Select``: chromadb 1.5.9's request side.

A ``Search`` holds a where filter, a rank expression, a grouping, a page and a selection.
Its builder methods return a **new** ``Search`` (the receiver is never changed; the parts
are shared, not copied), so a base search can be refined several ways. The constructor
takes objects or their JSON forms (a where dict, a rank dict, an int limit, a list of
select keys), as chromadb's does. ``to_dict()`` is chromadb's wire form, always with the
five fields ``filter``, ``rank``, ``group_by``, ``limit``, ``select``;
:meth:`Search.from_dict` reads it back strictly.

``Select`` keys: ``#id`` (ids are always returned), ``#document``, ``#embedding``,
``#metadata`` (the whole metadata), ``#score``, or a metadata field name (that field, in
the result's metadata). No keys: ids only. chromadb keeps select keys in a set, so the
order of its ``to_dict()["select"]["keys"]`` depends on string hashing; ragstore keeps the
caller's order (deduplicated), the one difference in wire form.

Example:
    >>> from ragstore.search import K, Knn
    >>> s = Search().where(K("lang") == "en").rank(Knn(query=[0.1])).limit(5, offset=10).select(K.DOCUMENT, K.SCORE)
    >>> s.to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'filter': {'lang': {'$eq': 'en'}}, 'rank': {'$knn': {'query': [0.1], 'key': '#embedding', 'limit': 16}},
     'group_by': {}, 'limit': {'offset': 10, 'limit': 5}, 'select': {'keys': ['#document', '#score']}}

"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from ragstore.search.grouping import GroupBy
from ragstore.search.keys import DOCUMENT_KEY, EMBEDDING_KEY, ID_KEY, METADATA_KEY, SCORE_KEY, Key, key_name
from ragstore.search.limits import MAX_SEARCH_LIMIT, MAX_SELECT_KEYS, invalid_at, positive_count, type_name
from ragstore.search.ranks import Rank
from ragstore.search.where import Where
from ragstore.validation import INT64_MAX

__all__ = ["Limit", "ReadLevel", "Search", "SearchParts", "Select"]

SPECIAL_SELECT_KEYS = (ID_KEY, DOCUMENT_KEY, EMBEDDING_KEY, METADATA_KEY, SCORE_KEY)


class ReadLevel(str, enum.Enum):
    """How fresh a search must be (chromadb's enum).

    ragstore has no write-ahead log apart from its index, so every level reads every committed write.

    Example:
        >>> ReadLevel("index_only") is ReadLevel.INDEX_ONLY
        True

    """

    INDEX_AND_WAL = "index_and_wal"
    INDEX_ONLY = "index_only"
    INDEX_AND_BOUNDED_WAL = "index_and_bounded_wal"


@dataclass
class Limit:
    """A page: skip ``offset`` results, return at most ``limit`` (``None``: all).

    Example:
        >>> Limit(limit=10).to_dict()
        {'offset': 0, 'limit': 10}

    """

    offset: int = 0
    limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"offset": n}`` plus ``"limit"`` when set."""
        result: dict[str, Any] = {"offset": self.offset}
        if self.limit is not None:
            result["limit"] = self.limit
        return result

    @staticmethod
    def from_dict(data: Any, path: str = "limit") -> Limit:
        """``{"offset": n, "limit": m}`` (both optional), checked.

        Example:
            >>> Limit.from_dict({"limit": 0})
            Traceback (most recent call last):
            ...
            ragstore.errors.InvalidArgumentError: Limit limit must be positive and at most 100000, got 0 (at limit.limit)

        """
        if not isinstance(data, dict):
            raise invalid_at(path, f"Expected dict for Limit, got {type_name(data)}")
        unexpected = set(data) - {"offset", "limit"}
        if unexpected:
            raise invalid_at(path, f"Unexpected keys in Limit dict: {sorted(map(str, unexpected))}")
        offset = data.get("offset", 0)
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise invalid_at(f"{path}.offset", f"Limit offset must be an integer, got {type_name(offset)}")
        if not 0 <= offset <= INT64_MAX:
            raise invalid_at(f"{path}.offset", f"Limit offset must be non-negative and fit in 64 bits, got {offset}")
        limit = data.get("limit")
        if limit is not None:
            limit = positive_count(limit, f"{path}.limit", "Limit limit", MAX_SEARCH_LIMIT)
        return Limit(offset=offset, limit=limit)


@dataclass
class Select:
    """Which fields a search returns besides ids (see the module docstring for the keys).

    Example:
        >>> Select(keys=[Key.DOCUMENT, "title", "#document"]).to_dict()
        {'keys': ['#document', 'title']}

    """

    keys: Collection[Key | str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"keys": [...]}``, names deduplicated in order."""
        return {"keys": list(dict.fromkeys(key_name(k) for k in self.keys))}

    @staticmethod
    def from_dict(data: Any, path: str = "select") -> Select:
        """``{"keys": [...]}``, checked: strings; ``#``-names must be one of the five special keys.

        Example:
            >>> Select.from_dict({"keys": ["#score", "title"]}).to_dict()
            {'keys': ['#score', 'title']}

        """
        if not isinstance(data, dict):
            raise invalid_at(path, f"Expected dict for Select, got {type_name(data)}")
        unexpected = set(data) - {"keys"}
        if unexpected:
            raise invalid_at(path, f"Unexpected keys in Select dict: {sorted(map(str, unexpected))}")
        keys = data.get("keys", [])
        if not isinstance(keys, list):
            raise invalid_at(f"{path}.keys", f"Select keys must be a list, got {type_name(keys)}")
        if len(keys) > MAX_SELECT_KEYS:
            raise invalid_at(f"{path}.keys", f"Select keys must number at most {MAX_SELECT_KEYS}, got {len(keys)}")
        for i, k in enumerate(keys):
            if not isinstance(k, str) or not k:
                raise invalid_at(f"{path}.keys[{i}]", f"Select key must be a non-empty string, got {k!r}")
            if k.startswith("#") and k not in SPECIAL_SELECT_KEYS:
                raise invalid_at(
                    f"{path}.keys[{i}]", f"Select key starting with '#' must be one of {', '.join(SPECIAL_SELECT_KEYS)}, got {k!r}"
                )
        return Select(keys=[Key(k) for k in dict.fromkeys(keys)])


class SearchParts(NamedTuple):
    """The five parts of a :class:`Search`, for the engine to read."""

    where: Where | None
    rank: Rank | None
    group_by: GroupBy
    limit: Limit
    select: Select


class Search:
    """One search payload; build it directly or with the chained builder methods.

    Args:
        where: A where expression or its dict (``None``: no filter).
        rank: A rank expression or its dict (``None``: no ranking, records in index order).
        group_by: A ``GroupBy`` or its dict.
        limit: A ``Limit``, its dict, or an int (offset 0).
        select: A ``Select``, its dict, or a list/set of key names.

    Raises:
        TypeError: a part of the wrong type (as chromadb).
        InvalidArgumentError: a malformed dict.

    Example:
        >>> Search(where={"a": 1}, limit=3, select=["#id"]).to_dict()["limit"]
        {'offset': 0, 'limit': 3}

    """

    def __init__(
        self,
        where: Where | dict[str, Any] | None = None,
        rank: Rank | dict[str, Any] | None = None,
        group_by: GroupBy | dict[str, Any] | None = None,
        limit: Limit | dict[str, Any] | int | None = None,
        select: Select | dict[str, Any] | list[str] | set[str] | None = None,
    ) -> None:
        if isinstance(limit, int):  # a bool too, as chromadb; from_dict then refuses it
            limit = {"limit": limit, "offset": 0}
        if isinstance(select, (list, set)):
            select = {"keys": list(select)}
        self._where = _coerce(where, Where, "where")
        self._rank = _coerce(rank, Rank, "rank")
        self._group_by = _coerce(group_by, GroupBy, "group_by") or GroupBy()
        self._limit = _coerce(limit, Limit, "limit", "int") or Limit()
        self._select = _coerce(select, Select, "select", "list", "set") or Select()

    def __repr__(self) -> str:
        return f"Search({self.to_dict()!r})"

    def parts(self) -> SearchParts:
        """The parts as objects (chromadb keeps them in private attributes).

        Example:
            >>> Search(limit=2).parts().limit
            Limit(offset=0, limit=2)

        """
        return SearchParts(self._where, self._rank, self._group_by, self._limit, self._select)

    def to_dict(self) -> dict[str, Any]:
        """The wire form chromadb sends: ``filter``, ``rank``, ``group_by``, ``limit``, ``select``."""
        return {
            "filter": self._where.to_dict() if self._where is not None else None,
            "rank": self._rank.to_dict() if self._rank is not None else None,
            "group_by": self._group_by.to_dict(),
            "limit": self._limit.to_dict(),
            "select": self._select.to_dict(),
        }

    @staticmethod
    def from_dict(data: Any, path: str = "search") -> Search:
        """Read a search from the wire form, strictly (every field optional, nothing unknown).

        Raises:
            InvalidArgumentError: malformed, naming the path of the bad node
                (``search.rank.$sum[1].$knn.limit``).

        Example:
            >>> Search.from_dict({"rank": {"$knn": {"query": [1.0], "limit": -1}}})
            Traceback (most recent call last):
            ...
            ragstore.errors.InvalidArgumentError: $knn limit must be positive and at most 100000, got -1 (at search.rank.$knn.limit)

        """
        if not isinstance(data, dict):
            raise invalid_at(path, f"Expected dict for Search, got {type_name(data)}")
        unexpected = set(data) - set(_WIRE_PARTS)
        if unexpected:
            raise invalid_at(path, f"Unexpected keys in Search dict: {sorted(map(str, unexpected))}")
        parts: dict[str, Any] = {}
        for wire_name, (name, cls) in _WIRE_PARTS.items():
            value = data.get(wire_name)
            if value is None or (wire_name == "filter" and value == {}):  # {} is no filter, as in ragstore's where (chromadb sends null)
                continue
            parts[name] = cls.from_dict(value, f"{path}.{wire_name}")
        return Search(**parts)

    def _with(self, **changes: Any) -> Search:
        parts = self.parts()._asdict()
        parts.update(changes)
        return Search(**parts)

    def where(self, where: Where | dict[str, Any] | None) -> Search:
        """A new search with this filter (``None`` removes it)."""
        return self._with(where=where)

    def rank(self, rank_expr: Rank | dict[str, Any] | None) -> Search:
        """A new search with this rank expression."""
        return self._with(rank=rank_expr)

    def group_by(self, group_by: GroupBy | dict[str, Any] | None) -> Search:
        """A new search with this grouping."""
        return self._with(group_by=group_by)

    def limit(self, limit: int, offset: int = 0) -> Search:
        """A new search returning at most ``limit`` results after skipping ``offset``."""
        return self._with(limit=Limit(offset=offset, limit=limit))

    def select(self, *keys: Key | str) -> Search:
        """A new search returning these fields (replacing the previous selection)."""
        return self._with(select=Select(keys=list(dict.fromkeys(keys))))

    def select_all(self) -> Search:
        """A new search returning documents, embeddings, metadata and scores."""
        return self._with(select=Select(keys=[Key.DOCUMENT, Key.EMBEDDING, Key.METADATA, Key.SCORE]))


_Part = TypeVar("_Part", Where, Rank, GroupBy, Limit, Select)


def _coerce(part: Any, cls: type[_Part], name: str, *other_forms: str) -> _Part | None:
    """A constructor argument as a ``cls``: ``None`` and a ``cls`` as they are, a dict read by ``cls.from_dict``.

    The caller turns ``None`` into the empty part where the part has one (the parts are dataclasses, always true).

    Raises:
        TypeError: anything else, in chromadb's words (``other_forms`` are the forms its caller turned into a dict).

    """
    if part is None or isinstance(part, cls):
        return part
    if isinstance(part, dict):
        return cls.from_dict(part)
    forms = ", ".join([f"a {cls.__name__} object", "dict", *other_forms, "or None"])
    raise TypeError(f"{name} must be {forms}, got {type_name(part)}")


# The wire form's fields, in to_dict's order, with the constructor argument and the class each is read into.
_WIRE_PARTS: dict[str, tuple[str, type[Where | Rank | GroupBy | Limit | Select]]] = {
    "filter": ("where", Where),
    "rank": ("rank", Rank),
    "group_by": ("group_by", GroupBy),
    "limit": ("limit", Limit),
    "select": ("select", Select),
}
