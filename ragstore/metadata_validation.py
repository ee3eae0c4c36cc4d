"""The rules for metadata: one record's (scalars, homogeneous lists, sparse vectors) and a collection's (scalars).

Values must round-trip through SQLite and JSON exactly: ints fit in 64 bits, floats
are finite, strings are valid Unicode, and lists hold one scalar type. Keys starting
with ``$`` or ``#`` are reserved for filters and Chroma's own fields.

A record's value may also be a :class:`~ragstore.sparse_vectors.SparseVector`, as in
chromadb: that is how sparse vectors reach a sparse index on that key. Its transport
form (``{"#type": "sparse_vector", ...}``, what chromadb's clients send) is accepted and
turned into one, as chromadb's ``normalize_metadata`` does; so is chromadb's own
``SparseVector`` class. Sparse vectors are stored whole and given back by ``get`` and
``query``; ``where`` filters see a key holding one as absent (no filter operator
compares sparse vectors).

Example:
    >>> normalize_metadatas({"page": 3, "tags": ["a", "b"]}, "add", allow_none_values=False)
    [{'page': 3, 'tags': ['a', 'b']}]
    >>> normalize_metadatas({"bm25": {"#type": "sparse_vector", "indices": [7], "values": [0.5]}}, "add", allow_none_values=False)
    [{'bm25': SparseVector(indices=[7], values=[0.5], labels=None)}]
    >>> validate_collection_metadata({"topic": "fruit"})
    {'topic': 'fruit'}

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import SparseVector, is_sparse_vector_dict
from ragstore.validation import INT64_MAX, INT64_MIN, check_text, invalid, short_repr

RESERVED_METADATA_KEY = "chroma:document"


def validate_metadata_value(key: str, value: Any, op: str | None, *, allow_none: bool) -> None:
    """Check one metadata value: a scalar, ``None`` (when allowed), a homogeneous non-empty list or a :class:`SparseVector`."""
    if value is None:
        if not allow_none:
            raise invalid(
                f"Expected metadata value for key '{key}' to be a str, int, float, bool, SparseVector or list, got None "
                "(None deletes a key only in update and upsert)",
                op,
            )
        return
    if isinstance(value, SparseVector):
        return  # checked when it was built
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise invalid(f"Expected metadata int value for key '{key}' to fit in 64 bits, got {value}", op)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(f"Expected metadata float value for key '{key}' to be finite, got {value}", op)
        return
    if isinstance(value, str):
        check_text(value, f"metadata value for key '{key}'", op)
        return
    if isinstance(value, list):
        if not value:
            raise invalid(f"Expected metadata list value for key '{key}' to be non-empty", op)
        kinds = {scalar_tag(v) for v in value}
        if len(kinds) != 1 or None in kinds:
            raise invalid(
                f"Expected metadata list value for key '{key}' to contain only str, int, float, or bool "
                f"and all elements must be the same type, got {short_repr(value)}",
                op,
            )
        for v in value:
            validate_metadata_value(key, v, op, allow_none=False)
        return
    raise invalid(
        f"Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, got {short_repr(value)} "
        f"which is a {type(value).__name__}",
        op,
    )


def as_sparse_vector(value: Any, op: str | None) -> SparseVector | None:
    """``value`` as a :class:`SparseVector` if it is one in another form (transport dict, chromadb's class), else ``None``.

    Example:
        >>> as_sparse_vector({"#type": "sparse_vector", "indices": [1], "values": [2.0]}, "add")
        SparseVector(indices=[1], values=[2.0], labels=None)
        >>> as_sparse_vector({"a": 1}, "add") is None
        True

    """
    try:
        if is_sparse_vector_dict(value):
            return SparseVector.from_dict(value)
        if type(value).__name__ == "SparseVector" and not isinstance(value, SparseVector) and callable(getattr(value, "to_dict", None)):
            return SparseVector.from_dict(value.to_dict())  # chromadb's class: ragstore never imports chromadb
    except InvalidArgumentError as exc:
        raise invalid(str(exc), op) from None
    return None


def scalar_tag(value: Any) -> str | None:
    """A metadata scalar's type as one letter (``b``, ``i``, ``f``, ``s``), ``None`` for anything else.

    A list must hold one tag; the stored ``record_metadata`` rows keep it (:mod:`ragstore.local.records`).
    ``bool`` is tested first: it is an ``int`` to Python but its own type to a filter.

    Example:
        >>> [scalar_tag(v) for v in (True, 2, 2.5, "x", None)]
        ['b', 'i', 'f', 's', None]

    """
    if isinstance(value, str):  # the most common value, so tested first
        return "s"
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    return None


def _plain_metadata(metadata: dict[Any, Any]) -> bool:
    """Whether ``metadata`` is certainly valid: str keys and plain finite scalars (the usual case).

    ``False`` only means "look closer": :func:`validate_metadata` then checks every rule
    and names the problem. Ingestion validates every record twice (client and engine),
    so this fast path is most of a write's validation time.
    """
    if not metadata:
        return False
    texts: list[str] = []
    for key, value in metadata.items():
        if type(key) is not str or not key or key[0] in "$#" or key == RESERVED_METADATA_KEY:
            return False
        kind = type(value)
        if kind is str:
            texts.append(value)
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif kind is not bool:
            return False
    try:  # one encode finds a lone surrogate in any key or value
        "".join([*metadata, *texts]).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_metadata(metadata: Any, op: str | None, *, allow_none_values: bool) -> dict[str, Any]:
    """Check one record's metadata dict and return a plain ``dict`` copy.

    Raises:
        InvalidArgumentError: empty dict, non-str/empty/reserved keys, bad values.

    Example:
        >>> validate_metadata({"page": 3, "tags": ["a", "b"]}, "add", allow_none_values=False)
        {'page': 3, 'tags': ['a', 'b']}

    """
    if type(metadata) is dict and _plain_metadata(metadata):
        return dict(metadata)
    if not isinstance(metadata, Mapping):
        raise invalid(f"Expected metadata to be a dict or None, got {short_repr(metadata)} as metadata", op)
    if len(metadata) == 0:
        raise invalid("Expected metadata to be a non-empty dict, got 0 metadata attributes", op)
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise invalid(f"Expected metadata key to be a str, got {key!r} which is a {type(key).__name__}", op)
        if key == RESERVED_METADATA_KEY:
            raise invalid(f"Expected metadata to not contain the reserved key {RESERVED_METADATA_KEY}", op)
        if key == "" or key[0] in "$#":
            raise invalid(f"Expected metadata key to be a non-empty str not starting with '$' or '#', got {key!r}", op)
        check_text(key, "metadata key", op)
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            value = value.item()
        if isinstance(value, tuple):
            value = list(value)
        converted = as_sparse_vector(value, op)
        if converted is not None:
            value = converted
        validate_metadata_value(key, value, op, allow_none=allow_none_values)
        out[key] = list(value) if isinstance(value, list) else value
    return out


def normalize_metadatas(metadatas: Any, op: str | None, *, allow_none_values: bool) -> list[dict[str, Any] | None]:
    """Turn one metadata dict or many into a checked list (``None`` entries kept).

    Example:
        >>> normalize_metadatas({"a": 1}, "add", allow_none_values=False)
        [{'a': 1}]

    """
    if isinstance(metadatas, Mapping):
        metadatas = [metadatas]
    if not isinstance(metadatas, Sequence) or isinstance(metadatas, str):
        raise invalid(f"Expected metadatas to be a list of dicts, got {short_repr(metadatas)}", op)
    return [None if m is None else validate_metadata(m, op, allow_none_values=allow_none_values) for m in metadatas]


def validate_collection_metadata(metadata: Any) -> dict[str, Any] | None:
    """Check a collection's metadata: ``None`` or a non-empty dict of scalars."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidArgumentError(f"Expected collection metadata to be a dict or None, got {short_repr(metadata)}")
    if len(metadata) == 0:
        raise InvalidArgumentError("Validation error: metadata: Metadata cannot be empty")
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or key == "":
            raise InvalidArgumentError(f"Expected collection metadata key to be a non-empty str, got {key!r}")
        check_text(key, "collection metadata key", None)
        if isinstance(value, (list, SparseVector)) or value is None or as_sparse_vector(value, None) is not None:
            raise InvalidArgumentError(
                f"Expected collection metadata value for key '{key}' to be a str, int, float or bool, got {short_repr(value)}"
            )
        validate_metadata_value(key, value, None, allow_none=False)
        out[key] = value
    return out
