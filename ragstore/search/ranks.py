"""Rank expressions of the Search API: ``Knn``, ``Val``, arithmetic and ``Rrf``, as chromadb 1.5.9 builds them.

A rank scores each candidate record; **lower is better** (Knn yields distances). The
operators build trees exactly as chromadb's do, with no constant folding:
``a + b + c`` is one ``Sum`` of three, ``a * 0.5`` is ``Mul([a, Val(0.5)])``, ``-a`` is
``Mul([Val(-1), a])``, ``a - b`` and ``a / b`` are binary ``Sub`` / ``Div``, and
``a.max(b).max(c)`` is one ``Max`` of three. ``Rrf`` is not a wire node: its
``to_dict()`` compiles to ``-(w1 / (k + r1) + w2 / (k + r2) + ...)``.

Example:
    >>> (Knn(query=[0.1, 0.2]) * 0.8 + Val(0.5) * 0.2).to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'$sum': [{'$mul': [{'$knn': {'query': [0.1, 0.2], 'key': '#embedding', 'limit': 16}}, {'$val': 0.8}]},
              {'$mul': [{'$val': 0.5}, {'$val': 0.2}]}]}

"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError
from ragstore.search.keys import Key, key_name
from ragstore.search.operand_lists import OperandList
from ragstore.sparse_vectors import SparseVector

if TYPE_CHECKING:
    from ragstore.local.bm25_statistics import Bm25Statistics

__all__ = ["Abs", "Div", "Exp", "KnnQuery", "Knn", "Log", "Max", "Min", "Mul", "Rank", "Rrf", "Sub", "Sum", "Val"]

KnnQuery = Union[str, list[float], SparseVector, npt.NDArray[Any]]
"""What a Knn searches with: text (embedded by the collection), a dense vector or a sparse vector."""


def _operand(other: Any) -> Rank | None:
    """``other`` as a rank: a Rank as is, a number as ``Val`` (None: not an operand)."""
    if isinstance(other, Rank):
        return other
    if isinstance(other, (int, float)):  # chromadb's test; bool passes it there too
        return Val(other)
    if isinstance(other, (np.integer, np.floating)):  # chromadb would keep them, unserialisable
        return Val(other.item())
    if isinstance(other, numbers.Real):
        return Val(float(other))
    return None


_R = TypeVar("_R")


def _arithmetic(method: Callable[[Rank, Rank], _R]) -> Callable[[Rank, Rank | float], _R]:
    """An operator method that receives its other operand as a Rank (a number as ``Val``).

    Anything else gets ``NotImplemented``, so Python tries the other side's operator, then raises TypeError.
    """

    @functools.wraps(method)
    def operator(self: Rank, other: Rank | float) -> _R:
        operand = _operand(other)
        return NotImplemented if operand is None else method(self, operand)

    return operator


def _function_operand(function: str, other: Any) -> Rank:
    """``other`` as the operand of ``.max()`` / ``.min()``, which raise where an operator returns NotImplemented."""
    operand = _operand(other)
    if operand is None:
        raise TypeError(f"{function}() takes a Rank or a number, got {type(other).__name__}")
    return operand


@dataclass
class Rank:
    """Base class of rank expressions: ``+ - * /``, unary ``-``, ``abs()``, ``.exp() .log() .max() .min()``.

    Example:
        >>> abs(Knn(query=[1.0]) - 0.5).to_dict()
        {'$abs': {'$sub': {'left': {'$knn': {'query': [1.0], 'key': '#embedding', 'limit': 16}}, 'right': {'$val': 0.5}}}}

    """

    def to_dict(self) -> dict[str, Any]:
        """The JSON form chromadb's client sends."""
        raise NotImplementedError("Subclasses must implement to_dict()")

    @staticmethod
    def from_dict(data: Any, path: str = "rank") -> Rank:
        """Rebuild a rank expression from its JSON form, refusing anything malformed.

        Args:
            data: ``{"$knn": {...}}``, ``{"$val": x}``, ``{"$sum": [...]}``, ... as ``to_dict`` makes.
            path: Where ``data`` sits in the request, for error messages.

        Raises:
            InvalidArgumentError: malformed or over a limit, naming the bad node's path.

        Example:
            >>> Rank.from_dict({"$sum": [{"$val": 1}, {"$val": 2}]})
            Sum(ranks=[Val(value=1), Val(value=2)])

        """
        from ragstore.search.rank_parsing import parse_rank  # rank_parsing builds these classes

        return parse_rank(data, path)

    @_arithmetic
    def __add__(self, other: Rank) -> Sum:
        """``a + b``: flattens nested sums."""
        return Sum._flattened(self, other)

    @_arithmetic
    def __radd__(self, other: Rank) -> Sum:
        """``2 + a``."""
        return other + self

    @_arithmetic
    def __sub__(self, other: Rank) -> Sub:
        """``a - b``."""
        return Sub(self, other)

    @_arithmetic
    def __rsub__(self, other: Rank) -> Sub:
        """``2 - a``."""
        return Sub(other, self)

    @_arithmetic
    def __mul__(self, other: Rank) -> Mul:
        """``a * b``: flattens nested products."""
        return Mul._flattened(self, other)

    @_arithmetic
    def __rmul__(self, other: Rank) -> Mul:
        """``2 * a``."""
        return other * self

    @_arithmetic
    def __truediv__(self, other: Rank) -> Div:
        """``a / b``."""
        return Div(self, other)

    @_arithmetic
    def __rtruediv__(self, other: Rank) -> Div:
        """``2 / a``."""
        return Div(other, self)

    def __neg__(self) -> Mul:
        """``-a`` is ``Mul([Val(-1), a])`` (not flattened, as chromadb)."""
        return Mul([Val(-1), self])

    def __abs__(self) -> Abs:
        """``abs(a)``."""
        return Abs(self)

    def abs(self) -> Abs:
        """``|a|``."""
        return Abs(self)

    def exp(self) -> Exp:
        """``e ** a``."""
        return Exp(self)

    def log(self) -> Log:
        """Natural logarithm of ``a``."""
        return Log(self)

    def max(self, other: Rank | float) -> Max:
        """The larger of ``a`` and ``other``; flattens nested ``Max``."""
        return Max._flattened(self, _function_operand("max", other))

    def min(self, other: Rank | float) -> Min:
        """The smaller of ``a`` and ``other``; flattens nested ``Min``."""
        return Min._flattened(self, _function_operand("min", other))


@dataclass
class _Unary(Rank):
    """Base of the one-operand functions: ``{op: rank}``."""

    rank: Rank
    _op: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """``{op: rank}``."""
        return {self._op: self.rank.to_dict()}


@dataclass
class _Binary(Rank):
    """Base of the two-operand operators: ``{op: {"left": ..., "right": ...}}``."""

    left: Rank
    right: Rank
    _op: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """``{op: {"left": ..., "right": ...}}``."""
        return {self._op: {"left": self.left.to_dict(), "right": self.right.to_dict()}}


@dataclass
class _Nary(OperandList, Rank):
    """Base of the operators over a list of ranks: ``{op: [...]}``, flattened when combined."""

    ranks: list[Rank]
    _operands = "ranks"


@dataclass
class Abs(_Unary):
    """``|rank|``: ``{"$abs": rank}``."""

    _op = "$abs"


@dataclass
class Div(_Binary):
    """``left / right``: ``{"$div": {"left": ..., "right": ...}}``."""

    _op = "$div"


@dataclass
class Exp(_Unary):
    """``e ** rank``: ``{"$exp": rank}``."""

    _op = "$exp"


@dataclass
class Log(_Unary):
    """``ln(rank)``: ``{"$log": rank}``."""

    _op = "$log"


@dataclass
class Max(_Nary):
    """The largest of ``ranks``: ``{"$max": [...]}``."""

    _op = "$max"


@dataclass
class Min(_Nary):
    """The smallest of ``ranks``: ``{"$min": [...]}``."""

    _op = "$min"


@dataclass
class Mul(_Nary):
    """The product of ``ranks``: ``{"$mul": [...]}``."""

    _op = "$mul"


@dataclass
class Sub(_Binary):
    """``left - right``: ``{"$sub": {"left": ..., "right": ...}}``."""

    _op = "$sub"


@dataclass
class Sum(_Nary):
    """The sum of ``ranks``: ``{"$sum": [...]}``."""

    _op = "$sum"


@dataclass
class Val(Rank):
    """A constant.

    Example:
        >>> Val(0.5).to_dict()
        {'$val': 0.5}

    """

    value: float

    def to_dict(self) -> dict[str, Any]:
        """``{"$val": value}``."""
        return {"$val": self.value}


@dataclass
class Knn(Rank):
    """Nearest neighbours of ``query`` on ``key``: each candidate's distance (or 0-based rank).

    Args:
        query: Text (the collection embeds it: its embedding function on ``#embedding``, the
            schema's sparse function on a sparse key), a dense vector, or a :class:`SparseVector`.
        key: ``"#embedding"`` (``K.EMBEDDING``) or the metadata key of a sparse index.
        limit: Candidates this Knn contributes (chromadb's default 16).
        default: Score of records outside those candidates; ``None`` drops them from the result.
        return_rank: Score by position (0, 1, ...) instead of distance, as ``Rrf`` needs.
        statistics: BM25 statistics to score with instead of the store's own: set by a sharded store's
            router (the sums over its shards) on the searches it sends them. Not part of the wire form,
            of equality or of ``repr``.

    Example:
        >>> Knn(query="hello", key="bm25", limit=100, return_rank=True).to_dict()
        {'$knn': {'query': 'hello', 'key': 'bm25', 'limit': 100, 'return_rank': True}}

    """

    query: KnnQuery
    key: Key | str = Key.EMBEDDING
    limit: int = 16
    default: float | None = None
    return_rank: bool = False
    statistics: Bm25Statistics | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"$knn": {...}}``: ``default`` and ``return_rank`` only when set, as chromadb."""
        query: Any = self.query
        if isinstance(query, SparseVector):
            query = query.to_dict()
        elif isinstance(query, np.ndarray):
            query = query.tolist()
        result: dict[str, Any] = {"query": query, "key": key_name(self.key), "limit": self.limit}
        if self.default is not None:
            result["default"] = self.default
        if self.return_rank:
            result["return_rank"] = self.return_rank
        return {"$knn": result}


@dataclass
class Rrf(Rank):
    """Reciprocal rank fusion: ``-sum(w_i / (k + rank_i))`` (negated: lower is better).

    Args:
        ranks: The rankings to fuse, usually ``Knn(..., return_rank=True)``.
        k: Smoothing constant (60, as in the literature and chromadb).
        weights: One non-negative weight per rank (1.0 each when omitted).
        normalize: Scale the weights to sum to 1.

    Raises:
        InvalidArgumentError: from ``to_dict()``, on no ranks, ``k <= 0``, a weight count
            that differs from the rank count, a negative weight, or all-zero weights with
            ``normalize`` (chromadb raises ``ValueError``, which this error is).

    Example:
        >>> Rrf([Knn(query=[1.0], return_rank=True)], k=10).to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'$mul': [{'$val': -1}, {'$div': {'left': {'$val': 1.0}, 'right': {'$sum': [{'$val': 10},
            {'$knn': {'query': [1.0], 'key': '#embedding', 'limit': 16, 'return_rank': True}}]}}}]}

    """

    ranks: list[Rank]
    k: int = 60
    weights: list[float] | None = None
    normalize: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The arithmetic this fusion compiles to (there is no ``$rrf`` on the wire)."""
        return self.compile().to_dict()

    def compile(self) -> Rank:
        """The equivalent arithmetic expression, built with chromadb's operators.

        Example:
            >>> Rrf([Val(0.0)], k=1).compile()
            Mul(ranks=[Val(value=-1), Div(left=Val(value=1.0), right=Sum(ranks=[Val(value=1), Val(value=0.0)]))])

        """
        if not self.ranks:
            raise InvalidArgumentError("RRF requires at least one rank")
        if self.k <= 0:
            raise InvalidArgumentError(f"k must be positive, got {self.k}")
        if self.weights is not None:
            if len(self.weights) != len(self.ranks):
                raise InvalidArgumentError(f"Number of weights ({len(self.weights)}) must match number of ranks ({len(self.ranks)})")
            if any(w < 0.0 for w in self.weights):
                raise InvalidArgumentError("All weights must be non-negative")
        weights = self.weights if self.weights else [1.0] * len(self.ranks)
        if self.normalize:
            total = sum(weights)
            if total == 0:
                raise InvalidArgumentError("Sum of weights must be positive when normalize=True")
            weights = [w / total for w in weights]
        terms = [w / (self.k + rank) for w, rank in zip(weights, self.ranks, strict=True)]
        fused: Rank = terms[0]
        for term in terms[1:]:
            fused = fused + term
        return -fused
