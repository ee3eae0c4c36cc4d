"""Sparse vectors (chromadb's ``SparseVector``), their transport form, and the sparse embedding-function protocol.

A sparse vector is two parallel lists: strictly ascending, non-negative ``indices``
and their ``values`` (plus optional string ``labels``, sent as ``tokens``). It is what
a sparse index (BM25, SPLADE, a user's own weights) holds per record, and what a
``Knn`` query on a sparse key carries. As in chromadb, a sparse vector is also a
*metadata value*: a sparse index on key ``K`` reads ``metadata[K]``, so that is how
user-supplied sparse vectors reach it.

On the wire (and in stored metadata JSON) a sparse vector is chromadb's transport
form, ``{"#type": "sparse_vector", "indices": [...], "values": [...]}`` (``"tokens"``
added when it has labels). No other metadata value is a dict, so the form is
unambiguous; :func:`metadata_to_json` and :func:`metadata_from_json` convert a
metadata dict either way.

Validation is chromadb's (``chromadb/base_types.py``), raising
:class:`~ragstore.errors.InvalidArgumentError` (a ``ValueError``, the class chromadb
raises) in every mode, with three additions that keep a stored vector exact and
usable: values must be finite (JSON has no NaN), bools are refused as indices or
values, and indices must fit chroma's server type (unsigned 32-bit; Murmur3 hashes
do). Numpy integers and floats (and 1-D arrays) are accepted and stored as Python
numbers; values are stored as floats.

Example:
    >>> v = SparseVector(indices=[3, 17], values=[0.5, 2])
    >>> v.to_dict()
    {'#type': 'sparse_vector', 'indices': [3, 17], 'values': [0.5, 2.0]}
    >>> SparseVector.from_dict(v.to_dict()) == v
    True
    >>> metadata_from_json(metadata_to_json({"bm25": v, "page": 2}))["bm25"] == v
    True

"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import numpy as np

from ragstore.errors import InvalidArgumentError

TYPE_KEY = "#type"
SPARSE_VECTOR_TYPE_VALUE = "sparse_vector"
MAX_SPARSE_INDEX = 2**32 - 1
"""The largest index: chroma's server keeps sparse indices as unsigned 32-bit integers."""

_WIRE_KEYS = frozenset({TYPE_KEY, "indices", "values", "tokens"})


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return cast(list[Any], value.tolist())
    if not isinstance(value, list):
        raise InvalidArgumentError(f"Expected SparseVector {what} to be a list, got {type(value).__name__}")
    return value


def _checked_indices(indices: list[Any]) -> list[int]:
    kinds = set(map(type, indices))
    if kinds - {int}:  # the rare path: numpy ints to convert, or a wrong type to name
        converted = []
        for i, idx in enumerate(indices):
            if isinstance(idx, np.integer):
                idx = int(idx)
            if type(idx) is not int:
                raise InvalidArgumentError(f"SparseVector indices must be integers, got {type(idx).__name__} at position {i}")
            converted.append(idx)
        indices = converted
    else:
        indices = list(indices)
    if indices and (min(indices) < 0 or max(indices) > MAX_SPARSE_INDEX):
        for i, idx in enumerate(indices):
            if idx < 0:
                raise InvalidArgumentError(f"SparseVector indices must be non-negative, got {idx} at position {i}")
            if idx > MAX_SPARSE_INDEX:
                raise InvalidArgumentError(
                    f"SparseVector indices must be at most {MAX_SPARSE_INDEX} (unsigned 32-bit), got {idx} at position {i}"
                )
    for i in range(1, len(indices)):
        if indices[i] <= indices[i - 1]:
            raise InvalidArgumentError(
                "SparseVector indices must be sorted in strictly ascending order, "
                f"found indices[{i}]={indices[i]} <= indices[{i - 1}]={indices[i - 1]}"
            )
    return indices


def _checked_values(values: list[Any]) -> list[float]:
    if set(map(type, values)) - {float, int}:
        for i, val in enumerate(values):
            if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, float, np.integer, np.floating)):
                raise InvalidArgumentError(f"SparseVector values must be numbers, got {type(val).__name__} at position {i}")
    floats = [float(v) for v in values]
    if not math.isfinite(sum(floats)):  # one sum finds NaN and infinity (and, rarely, a harmless overflow)
        for i, val in enumerate(floats):
            if not math.isfinite(val):
                raise InvalidArgumentError(f"SparseVector values must be finite, got {val} at position {i}")
    return floats


@dataclass
class SparseVector:
    """A sparse vector: parallel ``indices`` and ``values``, optional ``labels`` (chromadb's class).

    Args:
        indices: Non-negative ints below 2**32, strictly ascending.
        values: One finite number per index.
        labels: Optional strings, one per index (e.g. the tokens a BM25 vector hashed).

    Raises:
        InvalidArgumentError: A rule above is broken (chromadb's messages).

    Example:
        >>> SparseVector([1, 5], [0.5, 1.0])
        SparseVector(indices=[1, 5], values=[0.5, 1.0], labels=None)
        >>> SparseVector([5, 1], [0.5, 1.0])
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: SparseVector indices must be sorted in strictly ascending order, found ...

    """

    indices: list[int]
    values: list[float]
    labels: list[str] | None = None

    def __post_init__(self) -> None:
        indices = _as_list(self.indices, "indices")
        values = _as_list(self.values, "values")
        if len(indices) != len(values):
            raise InvalidArgumentError(
                f"SparseVector indices and values must have the same length, got {len(indices)} indices and {len(values)} values"
            )
        if self.labels is not None:
            labels = _as_list(self.labels, "labels")
            if len(labels) != len(indices):
                raise InvalidArgumentError(
                    f"SparseVector labels must have the same length as indices and values, got {len(labels)} labels, {len(indices)} indices"
                )
            for i, label in enumerate(labels):
                if not isinstance(label, str):
                    raise InvalidArgumentError(f"SparseVector labels must be strings, got {type(label).__name__} at position {i}")
            self.labels = list(labels)
        self.indices = _checked_indices(indices)
        self.values = _checked_values(values)

    @classmethod
    def trusted(cls, indices: list[int], values: list[float], labels: list[str] | None = None) -> SparseVector:
        """A vector from data that was validated when written (stored metadata): no checks, no copies.

        Example:
            >>> SparseVector.trusted([2], [1.5]).values
            [1.5]

        """
        vector = object.__new__(cls)
        vector.indices, vector.values, vector.labels = indices, values, labels
        return vector

    def to_dict(self) -> dict[str, Any]:
        """The transport form, chromadb's (labels travel as ``tokens``, as its protobuf names them).

        Example:
            >>> SparseVector([1], [2.0], labels=["cat"]).to_dict()
            {'#type': 'sparse_vector', 'indices': [1], 'values': [2.0], 'tokens': ['cat']}

        """
        result: dict[str, Any] = {TYPE_KEY: SPARSE_VECTOR_TYPE_VALUE, "indices": self.indices, "values": self.values}
        if self.labels is not None:
            result["tokens"] = self.labels
        return result

    @classmethod
    def from_dict(cls, d: Any) -> SparseVector:
        """Read the transport form strictly: the ``#type`` tag, ``indices`` and ``values`` required, nothing unknown.

        Example:
            >>> SparseVector.from_dict({"#type": "sparse_vector", "indices": [4], "values": [1.0]})
            SparseVector(indices=[4], values=[1.0], labels=None)

        """
        if not isinstance(d, Mapping) or d.get(TYPE_KEY) != SPARSE_VECTOR_TYPE_VALUE:
            got = d.get(TYPE_KEY) if isinstance(d, Mapping) else type(d).__name__
            raise InvalidArgumentError(f"Expected {TYPE_KEY}='{SPARSE_VECTOR_TYPE_VALUE}', got {got}")
        unknown = set(d) - _WIRE_KEYS
        if unknown:
            raise InvalidArgumentError(f"Unexpected keys in a sparse vector: {sorted(map(str, unknown))}")
        if "indices" not in d or "values" not in d:
            raise InvalidArgumentError("Expected a sparse vector to have 'indices' and 'values'")
        return cls(indices=d["indices"], values=d["values"], labels=d.get("tokens"))


SparseVectors = list[SparseVector]
"""What a sparse embedding function returns (chromadb's ``SparseVectors``)."""


def is_sparse_vector_dict(value: Any) -> bool:
    """Whether ``value`` is a sparse vector in transport form (a dict tagged ``"#type": "sparse_vector"``).

    Example:
        >>> is_sparse_vector_dict({"#type": "sparse_vector", "indices": [], "values": []}), is_sparse_vector_dict({"a": 1})
        (True, False)

    """
    return isinstance(value, dict) and value.get(TYPE_KEY) == SPARSE_VECTOR_TYPE_VALUE


def metadata_to_json(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``metadata`` with each :class:`SparseVector` in transport form (what chromadb's ``serialize_metadata`` sends).

    Example:
        >>> metadata_to_json({"v": SparseVector([1], [1.0]), "n": 1})
        {'v': {'#type': 'sparse_vector', 'indices': [1], 'values': [1.0]}, 'n': 1}

    """
    if metadata is None:
        return None
    return {key: value.to_dict() if isinstance(value, SparseVector) else value for key, value in metadata.items()}


def metadata_from_json(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``metadata`` with each transport-form sparse vector as a validated :class:`SparseVector` (chromadb's ``deserialize_metadata``).

    Example:
        >>> metadata_from_json({"v": {"#type": "sparse_vector", "indices": [1], "values": [1.0]}})
        {'v': SparseVector(indices=[1], values=[1.0], labels=None)}

    """
    if metadata is None:
        return None
    return {key: SparseVector.from_dict(value) if is_sparse_vector_dict(value) else value for key, value in metadata.items()}


def metadatas_to_json(metadatas: Sequence[Mapping[str, Any] | None] | None) -> list[dict[str, Any] | None] | None:
    """:func:`metadata_to_json` over a list (``get`` results, write bodies); ``None`` stays ``None``.

    Example:
        >>> metadatas_to_json([None, {"v": SparseVector([], [])}])
        [None, {'v': {'#type': 'sparse_vector', 'indices': [], 'values': []}}]

    """
    return None if metadatas is None else [metadata_to_json(m) for m in metadatas]


def metadatas_from_json(metadatas: Sequence[Mapping[str, Any] | None] | None) -> list[dict[str, Any] | None] | None:
    """:func:`metadata_from_json` over a list; ``None`` stays ``None``.

    Example:
        >>> metadatas_from_json([{"n": 1}])
        [{'n': 1}]

    """
    return None if metadatas is None else [metadata_from_json(m) for m in metadatas]


# ---------------------------------------------------------------------- sparse embedding functions

D = TypeVar("D", contravariant=True)


def validate_sparse_vectors(vectors: Any) -> SparseVectors:
    """Check a sparse embedding function's output: a non-empty list of :class:`SparseVector` (chromadb's rule).

    Example:
        >>> validate_sparse_vectors([SparseVector([1], [1.0])])
        [SparseVector(indices=[1], values=[1.0], labels=None)]

    """
    if not isinstance(vectors, list):
        raise InvalidArgumentError(f"Expected sparse vectors to be a list, got {type(vectors).__name__}")
    if not vectors:
        raise InvalidArgumentError("Expected sparse vectors to be a non-empty list, got 0 sparse vectors")
    for i, vector in enumerate(vectors):
        if not isinstance(vector, SparseVector):
            raise InvalidArgumentError(f"Expected SparseVector instance at position {i}, got {type(vector).__name__}")
    return vectors


@runtime_checkable
class SparseEmbeddingFunction(Protocol[D]):
    """What turns texts into sparse vectors (chromadb's protocol, ``chromadb.api.types.SparseEmbeddingFunction``).

    Subclass it (as chromadb's own functions do) and implement ``__call__``, ``name``,
    ``get_config`` and ``build_from_config``; ``embed_query`` defaults to ``__call__``.
    A subclass's ``__call__`` output is checked by :func:`validate_sparse_vectors`.
    Being a subclass is what marks a function as sparse (see
    :func:`is_sparse_embedding_function`): a sparse function is never a collection's
    dense embedding function.

    Example:
        >>> class Ones(SparseEmbeddingFunction[list[str]]):
        ...     def __init__(self): pass
        ...     def __call__(self, input): return [SparseVector([0], [1.0]) for _ in input]
        ...     @staticmethod
        ...     def name(): return "ones"
        ...     def get_config(self): return {}
        ...     @staticmethod
        ...     def build_from_config(config): return Ones()
        >>> Ones().embed_query(["a"])
        [SparseVector(indices=[0], values=[1.0], labels=None)]

    """

    @abc.abstractmethod
    def __call__(self, input: D) -> list[SparseVector]:  # noqa: A002 - chromadb's parameter name
        """One sparse vector per input, in order."""

    def embed_query(self, input: D) -> list[SparseVector]:  # noqa: A002
        """Embed query inputs (``__call__`` unless overridden)."""
        return self.__call__(input)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call: Callable[[Any, Any], Any] = cls.__call__

        def checked_call(self: Any, input: Any) -> list[SparseVector]:  # noqa: A002
            return validate_sparse_vectors(call(self, input))

        checked_call.__doc__ = call.__doc__
        cls.__call__ = checked_call  # type: ignore[method-assign]

    @abc.abstractmethod
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Configure the function."""

    @staticmethod
    @abc.abstractmethod
    def name() -> str:
        """The name a collection persists it under."""

    @staticmethod
    @abc.abstractmethod
    def build_from_config(config: dict[str, Any]) -> SparseEmbeddingFunction[D]:
        """Rebuild the function from :meth:`get_config`'s output."""

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """A JSON-serialisable configuration."""

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse a configuration change the function cannot take (accepts all by default)."""
        return

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Refuse an invalid configuration (accepts all by default)."""
        return


def is_sparse_embedding_function(ef: Any) -> bool:
    """Whether ``ef`` is a sparse embedding function: ragstore's or chromadb's ``SparseEmbeddingFunction`` subclass.

    chromadb's class is recognised by name, so ragstore never imports chromadb.

    Example:
        >>> from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction
        >>> from ragstore.embeddings.hashing import HashingEmbeddingFunction
        >>> is_sparse_embedding_function(ChromaBm25EmbeddingFunction()), is_sparse_embedding_function(HashingEmbeddingFunction())
        (True, False)

    """
    cls = ef if isinstance(ef, type) else type(ef)
    return any(base is SparseEmbeddingFunction or base.__name__ == "SparseEmbeddingFunction" for base in cls.__mro__[1:])
