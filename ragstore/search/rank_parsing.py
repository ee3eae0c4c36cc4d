"""Strict parsing of rank JSON (``{"$knn": ...}``, ``{"$sum": [...]}``, ...) into :mod:`ragstore.search.ranks` objects.

The shape is chromadb's ``Rank.from_dict``: n-ary operators (``$sum $mul $max $min``)
take a list of at least two ranks and are folded with the Python operators (so nested
sums flatten exactly as chromadb's do), ``$sub`` / ``$div`` take ``{"left", "right"}``,
``$abs $exp $log`` take one rank, and ``$knn`` defaults ``key`` to ``"#embedding"`` and
``limit`` to 16. Stricter than chromadb, for untrusted JSON: unknown fields are refused,
numbers must be finite (not bools), Knn keys are ``#embedding`` or a metadata key, and the
limits of :mod:`ragstore.search.limits` hold (depth, nodes, Knn count and limit, query
size). Where chromadb turns a dense query into a float32 array, this keeps a list of
floats, so ``from_dict(to_dict(x))`` gives back ``x`` exactly. A ``str`` query (text the
server must embed) is accepted, which chromadb's ``from_dict`` refuses: its client embeds
text before sending, but ragstore's own clients may leave it to the engine (BM25).

Example:
    >>> parse_rank({"$knn": {"query": [1, 2]}})
    Knn(query=[1.0, 2.0], key='#embedding', limit=16, default=None, return_rank=False)
    >>> parse_rank({"$sum": [{"$val": 1}]})
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: $sum requires at least 2 ranks, got 1 (at rank.$sum)

"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ragstore.errors import InvalidArgumentError
from ragstore.search.keys import EMBEDDING_KEY
from ragstore.search.limits import (
    MAX_KNN_LIMIT,
    MAX_KNN_PER_SEARCH,
    MAX_QUERY_DIMENSION,
    MAX_QUERY_TEXT_LENGTH,
    MAX_RANK_DEPTH,
    MAX_RANK_NODES,
    MAX_SPARSE_NONZEROS,
    invalid_at,
    is_number,
    one_operator,
    positive_count,
    type_name,
)
from ragstore.search.ranks import Knn, KnnQuery, Rank, Val
from ragstore.sparse_vectors import SparseVector, is_sparse_vector_dict
from ragstore.validation import check_text

__all__ = ["check_knn_query", "parse_rank"]

# The Python operators, as chromadb's from_dict builds with them, so trees fold and flatten as its do.
_FOLDS: dict[str, Callable[[Any, Any], Any]] = {
    "$sum": operator.add,
    "$mul": operator.mul,
    "$max": lambda a, b: a.max(b),
    "$min": lambda a, b: a.min(b),
}
_BINARY: dict[str, Callable[[Rank, Rank], Rank]] = {"$sub": operator.sub, "$div": operator.truediv}
_UNARY: dict[str, Callable[[Rank], Rank]] = {"$abs": abs, "$exp": Rank.exp, "$log": Rank.log}
_KNN_FIELDS = frozenset({"query", "key", "limit", "default", "return_rank"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _Budget:
    """Counts nodes and Knn leaves across one expression."""

    def __init__(self) -> None:
        self.nodes = 0
        self.knns = 0


def parse_rank(data: Any, path: str = "rank") -> Rank:
    """A rank expression from JSON, checked; errors name the path of the bad node.

    Example:
        >>> parse_rank({"$mul": [{"$val": -1}, {"$knn": {"query": [0.5], "return_rank": True}}]}).to_dict()
        {'$mul': [{'$val': -1}, {'$knn': {'query': [0.5], 'key': '#embedding', 'limit': 16, 'return_rank': True}}]}

    """
    return _parse(data, path, 1, _Budget())


def _parse(data: Any, path: str, depth: int, budget: _Budget) -> Rank:
    if depth > MAX_RANK_DEPTH:
        raise invalid_at(path, f"Expected rank to be nested at most {MAX_RANK_DEPTH} levels deep")
    budget.nodes += 1
    if budget.nodes > MAX_RANK_NODES:
        raise invalid_at(path, f"Expected a rank expression of at most {MAX_RANK_NODES} nodes")
    op, body = one_operator(data, path, "Rank")
    op_path = f"{path}.{op}"
    if op == "$val":
        if not is_number(body):
            raise invalid_at(op_path, f"$val requires a finite number, got {_describe(body)}")
        return Val(body)
    if op == "$knn":
        budget.knns += 1
        if budget.knns > MAX_KNN_PER_SEARCH:
            raise invalid_at(op_path, f"Expected at most {MAX_KNN_PER_SEARCH} $knn in one rank expression")
        return _parse_knn(body, op_path)
    if op in _FOLDS:
        if not isinstance(body, list):
            raise invalid_at(op_path, f"{op} requires a list, got {type_name(body)}")
        if len(body) < 2:
            raise invalid_at(op_path, f"{op} requires at least 2 ranks, got {len(body)}")
        ranks = [_parse(child, f"{op_path}[{i}]", depth + 1, budget) for i, child in enumerate(body)]
        folded: Rank = functools.reduce(_FOLDS[op], ranks)
        return folded
    if op in _BINARY:
        if not isinstance(body, dict) or set(body) != {"left", "right"}:
            raise invalid_at(op_path, f"{op} requires a dict with exactly 'left' and 'right', got {_describe(body)}")
        left = _parse(body["left"], f"{op_path}.left", depth + 1, budget)
        right = _parse(body["right"], f"{op_path}.right", depth + 1, budget)
        return _BINARY[op](left, right)
    if op in _UNARY:
        if not isinstance(body, dict):
            raise invalid_at(op_path, f"{op} requires a rank dict, got {type_name(body)}")
        child = _parse(body, op_path, depth + 1, budget)
        return _UNARY[op](child)
    raise invalid_at(path, f"Unknown rank operator: {op}")


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, (bool, float, int)) or value is None else type_name(value)


def _parse_knn(body: Any, path: str) -> Knn:
    if not isinstance(body, dict):
        raise invalid_at(path, f"$knn requires a dict, got {type_name(body)}")
    unknown = set(body) - _KNN_FIELDS
    if unknown:
        raise invalid_at(path, f"Unexpected keys in $knn: {sorted(map(str, unknown))}")
    if "query" not in body:
        raise invalid_at(path, "$knn requires 'query' field")
    key = body.get("key", EMBEDDING_KEY)
    if not isinstance(key, str):
        raise invalid_at(f"{path}.key", f"$knn key must be a string, got {type_name(key)}")
    if not key or (key.startswith("#") and key != EMBEDDING_KEY):
        raise invalid_at(f"{path}.key", f"$knn key must be '#embedding' or the metadata key of a sparse index, got {key!r}")
    limit = positive_count(body.get("limit", 16), f"{path}.limit", "$knn limit", MAX_KNN_LIMIT)
    return_rank = body.get("return_rank", False)
    if not isinstance(return_rank, bool):
        raise invalid_at(f"{path}.return_rank", f"$knn return_rank must be a boolean, got {type_name(return_rank)}")
    default = body.get("default")
    if default is not None and not is_number(default):
        raise invalid_at(f"{path}.default", f"$knn default must be a finite number or null, got {_describe(default)}")
    query = check_knn_query(body["query"], f"{path}.query")
    return Knn(query=query, key=key, limit=limit, default=default, return_rank=return_rank)


def check_knn_query(query: Any, path: str = "query") -> KnnQuery:
    """A Knn query, checked: text, a dense vector (list, tuple or numpy array) or a sparse vector.

    Dense vectors come back as a list of floats (one row: ``[[...]]`` is accepted, as
    chromadb accepts it); sparse ones as :class:`SparseVector` (its transport dict or the
    object itself).

    Raises:
        InvalidArgumentError: anything else, an empty, non-finite or over-large vector,
            or over-long text.

    Example:
        >>> check_knn_query(np.array([1, 2], dtype=np.int32))
        [1.0, 2.0]
        >>> check_knn_query({"#type": "sparse_vector", "indices": [7], "values": [1.5]})
        SparseVector(indices=[7], values=[1.5], labels=None)

    """
    if isinstance(query, str):
        if len(query) > MAX_QUERY_TEXT_LENGTH:
            raise invalid_at(path, f"Expected a text query of at most {MAX_QUERY_TEXT_LENGTH} characters, got {len(query)}")
        try:
            check_text(query, "$knn query", None)
        except InvalidArgumentError as exc:
            raise invalid_at(path, str(exc)) from None
        return query
    if isinstance(query, SparseVector) or is_sparse_vector_dict(query):
        return _check_sparse(query, path)
    if isinstance(query, dict):
        raise invalid_at(path, f"Expected dict with #type='sparse_vector', got {sorted(map(str, query))}")
    if isinstance(query, (list, tuple, np.ndarray)):
        return _check_dense(query, path)
    raise invalid_at(path, f"$knn query must be a str, a list of numbers, a numpy array, or a SparseVector dict, got {type_name(query)}")


def _check_sparse(query: Any, path: str) -> SparseVector:
    try:
        vector = query if isinstance(query, SparseVector) else SparseVector.from_dict(query)
    except InvalidArgumentError as exc:
        raise invalid_at(path, str(exc)) from None
    if len(vector.indices) > MAX_SPARSE_NONZEROS:
        raise invalid_at(path, f"Expected a sparse query of at most {MAX_SPARSE_NONZEROS} entries, got {len(vector.indices)}")
    return vector


def _check_dense(query: Any, path: str) -> list[float]:
    try:
        # One row of floats; object arrays (strings, None, nested ragged lists) fail here or below.
        array = np.asarray(query)
    except (ValueError, TypeError):
        raise invalid_at(path, "Expected a dense query to be a list of numbers") from None
    if array.ndim == 2 and array.shape[0] == 1:  # [[...]]: chromadb's normalize_embeddings accepts one row
        array = array[0]
    if array.ndim != 1 or array.dtype.kind not in "iuf" or array.dtype == np.bool_:
        raise invalid_at(path, f"Expected a dense query to be one list of numbers, got shape {array.shape}, dtype {array.dtype}")
    if array.size == 0:
        raise invalid_at(path, "Expected a dense query with at least one value")
    if array.size > MAX_QUERY_DIMENSION:
        raise invalid_at(path, f"Expected a dense query of at most {MAX_QUERY_DIMENSION} dimensions, got {array.size}")
    if isinstance(query, (list, tuple)) and bool in set(map(type, _flat(query))):  # map(type): a C loop, not a Python one
        raise invalid_at(path, "Expected a dense query of numbers, got a bool")
    floats = array.astype(np.float64)
    if not np.isfinite(floats).all() or (np.abs(floats) > _FLOAT32_MAX).any():
        raise invalid_at(path, "Expected a dense query of finite numbers that fit in float32")
    values: list[float] = floats.tolist()
    return values


def _flat(values: list[Any] | tuple[Any, ...]) -> list[Any]:
    if values and isinstance(values[0], (list, tuple)):
        return list(values[0])
    return list(values)
