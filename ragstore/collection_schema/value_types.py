"""The value types of a schema (string, float_list, sparse_vector, int, float, bool) and their indexes.

A :class:`ValueTypes` says, for one key (or for the defaults), which index each kind of
value gets; each index is an ``enabled`` flag and a config. The JSON names are chromadb's
(``"int"`` for :attr:`ValueTypes.int_value`, ``"string_inverted_index"``, ...), and so is the
order of keys in :func:`value_types_to_json`.

Example:
    >>> from ragstore.collection_schema.index_configs import IntInvertedIndexConfig
    >>> types = ValueTypes(int_value=IntValueType(IntInvertedIndexType(False, IntInvertedIndexConfig())))
    >>> value_types_to_json(types)
    {'int': {'int_inverted_index': {'enabled': False, 'config': {}}}}
    >>> value_types_from_json(value_types_to_json(types)) == types
    True

"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from ragstore.collection_schema.index_configs import (
    BoolInvertedIndexConfig,
    FloatInvertedIndexConfig,
    FtsIndexConfig,
    IntInvertedIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
    config_from_json,
    config_to_json,
)
from ragstore.errors import InvalidArgumentError

ConfigT = TypeVar("ConfigT")


@dataclasses.dataclass
class _IndexType(Generic[ConfigT]):
    """An index of a value type: whether it is on, and its config (the classes below name chromadb's seven kinds).

    Each kind is a class of its own, as in chromadb, so ``repr``, equality and ``isinstance`` tell them apart.
    """

    enabled: bool
    config: ConfigT


class FtsIndexType(_IndexType[FtsIndexConfig]):
    """Whether full-text search is on, and its config."""


class VectorIndexType(_IndexType[VectorIndexConfig]):
    """Whether the vector index is on, and its config."""


class SparseVectorIndexType(_IndexType[SparseVectorIndexConfig]):
    """Whether a sparse vector index is on, and its config."""


class StringInvertedIndexType(_IndexType[StringInvertedIndexConfig]):
    """Whether the string inverted index is on, and its config."""


class IntInvertedIndexType(_IndexType[IntInvertedIndexConfig]):
    """Whether the int inverted index is on, and its config."""


class FloatInvertedIndexType(_IndexType[FloatInvertedIndexConfig]):
    """Whether the float inverted index is on, and its config."""


class BoolInvertedIndexType(_IndexType[BoolInvertedIndexConfig]):
    """Whether the bool inverted index is on, and its config."""


@dataclasses.dataclass
class StringValueType:
    """The indexes of string values."""

    fts_index: FtsIndexType | None = None
    string_inverted_index: StringInvertedIndexType | None = None


@dataclasses.dataclass
class FloatListValueType:
    """The index of dense vectors."""

    vector_index: VectorIndexType | None = None


@dataclasses.dataclass
class SparseVectorValueType:
    """The index of sparse vectors."""

    sparse_vector_index: SparseVectorIndexType | None = None


@dataclasses.dataclass
class IntValueType:
    """The index of int values."""

    int_inverted_index: IntInvertedIndexType | None = None


@dataclasses.dataclass
class FloatValueType:
    """The index of float values."""

    float_inverted_index: FloatInvertedIndexType | None = None


@dataclasses.dataclass
class BoolValueType:
    """The index of bool values."""

    bool_inverted_index: BoolInvertedIndexType | None = None


@dataclasses.dataclass
class ValueTypes:
    """The indexes of every kind of value, for one key or for the defaults (``None``: not said)."""

    string: StringValueType | None = None
    float_list: FloatListValueType | None = None
    sparse_vector: SparseVectorValueType | None = None
    int_value: IntValueType | None = None
    float_value: FloatValueType | None = None
    boolean: BoolValueType | None = None


# (JSON name, ValueTypes attribute, value type class, ((JSON index name = attribute, index type class, config class), ...))
LAYOUT: tuple[tuple[str, str, type[Any], tuple[tuple[str, type[Any], type[Any]], ...]], ...] = (
    (
        "string",
        "string",
        StringValueType,
        (("fts_index", FtsIndexType, FtsIndexConfig), ("string_inverted_index", StringInvertedIndexType, StringInvertedIndexConfig)),
    ),
    ("float_list", "float_list", FloatListValueType, (("vector_index", VectorIndexType, VectorIndexConfig),)),
    ("sparse_vector", "sparse_vector", SparseVectorValueType, (("sparse_vector_index", SparseVectorIndexType, SparseVectorIndexConfig),)),
    ("int", "int_value", IntValueType, (("int_inverted_index", IntInvertedIndexType, IntInvertedIndexConfig),)),
    ("float", "float_value", FloatValueType, (("float_inverted_index", FloatInvertedIndexType, FloatInvertedIndexConfig),)),
    ("bool", "boolean", BoolValueType, (("bool_inverted_index", BoolInvertedIndexType, BoolInvertedIndexConfig),)),
)

# config class -> (ValueTypes attribute, value type class, index attribute, index type class)
PLACE: dict[type[Any], tuple[str, type[Any], str, type[Any]]] = {
    config_cls: (attr, value_cls, index_name, index_cls)
    for _, attr, value_cls, indexes in LAYOUT
    for index_name, index_cls, config_cls in indexes
}


def value_types_to_json(value_types: ValueTypes) -> dict[str, Any]:
    """The value types that are set, with their indexes that are set (chromadb's ``Schema._serialize_value_types``)."""
    out: dict[str, Any] = {}
    for json_name, attr, _, indexes in LAYOUT:
        value_type = getattr(value_types, attr)
        if value_type is None:
            continue
        section: dict[str, Any] = {}
        for index_name, _, _ in indexes:
            index = getattr(value_type, index_name)
            if index is not None:
                section[index_name] = {"enabled": index.enabled, "config": config_to_json(index.config)}
        out[json_name] = section
    return out


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"Expected {what} to be an object, got {type(value).__name__}")
    return value


def value_types_from_json(data: Any, where: str = "schema") -> ValueTypes:
    """Value types from untrusted JSON (as chromadb's ``Schema._deserialize_value_types``; unknown names refused)."""
    data = _object(data, where)
    known = {json_name for json_name, *_ in LAYOUT}
    unknown = [k for k in data if k not in known]
    if unknown:
        raise InvalidArgumentError(f"Unknown value type {unknown[0]!r} in {where}, expected one of {', '.join(sorted(known))}")
    result = ValueTypes()
    for json_name, attr, value_cls, indexes in LAYOUT:
        if json_name not in data:
            continue
        section = _object(data[json_name], f"{where}.{json_name}")
        names = [name for name, _, _ in indexes]
        for k in section:
            if k not in names:
                raise InvalidArgumentError(f"Unknown index {k!r} in {where}.{json_name}, expected {' or '.join(names)}")
        built: dict[str, Any] = {}
        for index_name, index_cls, config_cls in indexes:
            if index_name not in section:
                continue
            index = _object(section[index_name], f"{where}.{json_name}.{index_name}")
            enabled = index.get("enabled", True)
            if not isinstance(enabled, bool):
                raise InvalidArgumentError(f"Expected {where}.{json_name}.{index_name}.enabled to be a boolean, got {enabled!r}")
            built[index_name] = index_cls(enabled, config_from_json(config_cls, index.get("config")))
        setattr(result, attr, value_cls(**built))
    return result
