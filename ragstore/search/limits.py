"""The bounds a search request must respect, and the error that names where it did not.

chromadb's client checks little (any positive ``Knn`` limit, any nesting depth, any
number of ``Knn`` leaves); Chroma Cloud caps results by account quota. ragstore's server
parses untrusted JSON, so every ``from_dict`` in :mod:`ragstore.search` enforces these
limits and raises :class:`~ragstore.errors.InvalidArgumentError` naming the path of the
bad node, e.g. ``rank.$sum[1].$knn.limit``.

Example:
    >>> str(invalid_at("rank.$knn.limit", "Expected $knn limit to be positive, got 0"))
    'Expected $knn limit to be positive, got 0 (at rank.$knn.limit)'

"""

from __future__ import annotations

import math
from typing import Any

from ragstore.errors import InvalidArgumentError
from ragstore.filters import MAX_FILTER_DEPTH, MAX_FILTER_SIZE
from ragstore.validation import MAX_QUERY_RESULTS

__all__ = [
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_SIZE",
    "MAX_GROUP_KEYS",
    "MAX_KNN_LIMIT",
    "MAX_KNN_PER_SEARCH",
    "MAX_QUERY_DIMENSION",
    "MAX_QUERY_TEXT_LENGTH",
    "MAX_RANK_DEPTH",
    "MAX_RANK_NODES",
    "MAX_SEARCH_LIMIT",
    "MAX_SELECT_KEYS",
    "MAX_SPARSE_NONZEROS",
    "invalid_at",
    "is_number",
    "one_operator",
    "positive_count",
    "type_name",
]

# An Rrf over n ranks compiles to depth 4 + the ranks' own depth; 32 leaves room for
# hand-written arithmetic around it and keeps every recursive walk far from Python's
# recursion limit (1,000).
MAX_RANK_DEPTH = 32
# Nodes of one rank expression (Val, Knn and operators): the evaluator's work per record.
MAX_RANK_NODES = 1_000
# Knn leaves per search: each is one index probe (HNSW or the sparse index).
MAX_KNN_PER_SEARCH = 32
# Candidates per Knn, and records per search result: the same bound as query n_results.
MAX_KNN_LIMIT = MAX_QUERY_RESULTS
MAX_SEARCH_LIMIT = MAX_QUERY_RESULTS
# The widest common embedding models have 4,096 or 8,192 dimensions.
MAX_QUERY_DIMENSION = 65_536
# Entries of one sparse query vector (SparseVector itself bounds each index to u32, as chroma's server).
MAX_SPARSE_NONZEROS = 65_536
# A text query the server embeds (ragstore's own clients may send one; chromadb's embed first).
MAX_QUERY_TEXT_LENGTH = 100_000
MAX_SELECT_KEYS = 1_000
MAX_GROUP_KEYS = 100


def invalid_at(path: str, message: str) -> InvalidArgumentError:
    """The error for a bad node at ``path`` of a search request.

    Example:
        >>> invalid_at("limit.offset", "Expected offset to be an int").args[0]
        'Expected offset to be an int (at limit.offset)'

    """
    return InvalidArgumentError(f"{message} (at {path})")


def type_name(value: Any) -> str:
    """The type name chromadb's messages use (``"list"``, ``"NoneType"``, ...).

    Example:
        >>> type_name([1])
        'list'

    """
    return type(value).__name__


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool (JSON numbers; NaN and inf cannot be ranked or sent).

    Example:
        >>> is_number(1), is_number(2.5), is_number(True), is_number(float("nan"))
        (True, True, False, False)

    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # math.isfinite(10**400) would raise OverflowError; ints are finite
    return isinstance(value, float) and math.isfinite(value)


def positive_count(value: Any, path: str, what: str, most: int) -> int:
    """``value`` if it is an int from 1 to ``most`` (a bool is not), for ``what`` (``"$knn limit"``, ...).

    Example:
        >>> positive_count(5, "limit.limit", "Limit limit", 10)
        5
        >>> positive_count(True, "rank.$knn.limit", "$knn limit", 10)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: $knn limit must be an integer, got bool (at rank.$knn.limit)

    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_at(path, f"{what} must be an integer, got {type_name(value)}")
    if not 0 < value <= most:
        raise invalid_at(path, f"{what} must be positive and at most {most}, got {value}")
    return value


def one_operator(data: Any, path: str, what: str) -> tuple[Any, Any]:
    """The operator and body of a one-operator dict such as ``{"$sum": [...]}``, refusing any other shape.

    Example:
        >>> one_operator({"$max_k": {"k": 1}}, "aggregate", "Aggregate")
        ('$max_k', {'k': 1})
        >>> one_operator({}, "rank", "Rank")
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Rank dict must contain exactly one operator, got 0 (at rank)

    """
    if not isinstance(data, dict):
        raise invalid_at(path, f"Expected dict for {what}, got {type_name(data)}")
    if len(data) != 1:
        raise invalid_at(path, f"{what} dict must contain exactly one operator, got {len(data)}")
    return next(iter(data.items()))
