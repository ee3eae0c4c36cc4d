"""Chroma's REST v2 wire format, the requests: the JSON codec, embeddings and record bodies.

The pure encoding shared by the server and both HTTP clients; the server's
answers (collections, results, errors) are in :mod:`ragstore.http.wire_answers`.
Nothing here does I/O. The server decodes request bodies with these
functions (so untrusted input meets the same checks as local calls), and
the clients write them, so both ends agree by construction.

Embeddings travel as JSON float arrays or, faster, as base64 strings of
little-endian float32 (what chromadb's client sends when the server's
pre-flight check says ``supports_base64_encoding``). Responses always use
float arrays, as ``chroma run`` does.

Example:
    >>> import numpy as np
    >>> payload = encode_embeddings(np.array([[1.0, 2.0]], dtype=np.float32))
    >>> payload
    ['AACAPwAAAEA=']
    >>> decode_embeddings(payload, "add").tolist()
    [[1.0, 2.0]]

"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import SparseVector
from ragstore.types import RecordSet
from ragstore.validation import normalize_embeddings

API_PREFIX = "/api/v2"
JSON_CONTENT_TYPE = "application/json"
TRACE_HEADER = "chroma-trace-id"  # the request id every answer carries; chromadb's client copies it onto its errors


# ---------------------------------------------------------------------- JSON


def _encode_other(value: Any) -> Any:
    """What orjson cannot write itself: a :class:`SparseVector` in chromadb's tagged transport form, other dataclasses as fields."""
    if isinstance(value, SparseVector):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)  # what orjson writes for a dataclass by itself
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes (numpy arrays included, NaN as ``null``, sparse vectors tagged as chromadb tags them).

    The sparse vectors in metadata are found by orjson's own walk (``default`` runs only for
    what it cannot write), so bodies without any cost nothing more.

    Example:
        >>> dumps({"bm25": SparseVector([3], [0.5])})
        b'{"bm25":{"#type":"sparse_vector","indices":[3],"values":[0.5]}}'

    """
    return orjson.dumps(value, default=_encode_other, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_PASSTHROUGH_DATACLASS)


def loads(body: bytes | str) -> Any:
    r"""Parse JSON; malformed input is an :class:`InvalidArgumentError`.

    Example:
        >>> loads(b'{"a": 1}')
        {'a': 1}
        >>> loads(b'{"a": "\xff"}')
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected the request body to be UTF-8 encoded JSON: byte 7 (0xff) is not valid UTF-8

    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if isinstance(body, bytes):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as bad:
                # orjson's own message ("surrogates not allowed") names the wrong problem.
                byte = body[bad.start]
                raise InvalidArgumentError(
                    f"Expected the request body to be UTF-8 encoded JSON: byte {bad.start} (0x{byte:02x}) is not valid UTF-8"
                ) from None
        raise InvalidArgumentError(f"Failed to parse the request body as JSON: {exc}") from None


# Top-level fields holding no metadata or filter numbers, skipped by _has_huge_float:
# vectors (checked by normalize_embeddings) and strings. Walking a full batch's vectors,
# ids and documents took 94 ms per 16,384 records; its metadata alone takes a few.
_NO_INTEGERS = frozenset({"embeddings", "query_embeddings", "ids", "documents", "uris", "include"})
_INT64_BOUND = 2.0**63


def _has_huge_float(body: dict[str, Any]) -> bool:
    """Whether a float of magnitude 2**63 or more occurs in a body's metadata or filters.

    orjson parses integers beyond 64 bits as floats, so 2**70 in metadata would be
    stored as 1.18e21 where a local call is refused; such a float is the only trace.
    """
    stack = [value for key, value in body.items() if key not in _NO_INTEGERS]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not -_INT64_BOUND < item < _INT64_BOUND:
                return True
        elif kind is list:
            stack += item
        elif kind is dict:
            stack += item.values()
    return False


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """Parse a request body that must be a JSON object (an empty body is ``{}``).

    Integers keep their exact value (however large), so the engine refuses one that
    does not fit in 64 bits exactly as it refuses it from a local caller.

    Example:
        >>> json_object(b'{"metadatas": [{"n": 1180591620717411303424}]}', "add")
        {'metadatas': [{'n': 1180591620717411303424}]}

    """
    if not body.strip():
        return {}
    value = loads(body)
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"Expected the {what} request body to be a JSON object, got {type(value).__name__}")
    if _has_huge_float(value):  # rare: parse again with the standard library, which keeps big integers
        parsed: dict[str, Any] = json.loads(body)
        return parsed
    return value


def json_list(data: dict[str, Any], key: str, op: str) -> list[Any] | None:
    """``data[key]``, which the wire format requires to be an array (or absent / ``null``).

    The Python API accepts one id or document where it expects many; the wire does not,
    so ``{"ids": "x"}`` is refused rather than read as ``["x"]``.

    Example:
        >>> json_list({"ids": "x"}, "ids", "get")
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected ids in the get request body to be an array, got str

    """
    value = data.get(key)
    if value is None or isinstance(value, list):
        return value
    raise InvalidArgumentError(f"Expected {key} in the {op} request body to be an array, got {type(value).__name__}")


# ---------------------------------------------------------------------- embeddings


def encode_embeddings(embeddings: npt.NDArray[np.float32]) -> list[str]:
    """One base64 string of little-endian float32 per row.

    Example:
        >>> encode_embeddings(np.array([[1.0], [2.0]], dtype=np.float32))
        ['AACAPw==', 'AAAAQA==']

    """
    rows = np.ascontiguousarray(embeddings, dtype="<f4")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]


def decode_embeddings(payload: Any, op: str) -> npt.NDArray[np.float32]:
    """Float arrays or base64 strings (not mixed) → a checked ``(n, d)`` float32 array.

    Raises:
        InvalidArgumentError: not a list, mixed forms, bad base64, ragged, NaN or inf.

    Example:
        >>> decode_embeddings([[1, 2], [3, 4]], "add").dtype
        dtype('float32')
        >>> decode_embeddings(["AACAPw==", [2.0]], "add")
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected embeddings to be all float arrays or all base64 strings in add, not a mix

    """
    if isinstance(payload, list) and payload and all(isinstance(item, str) for item in payload):
        try:
            raw = [base64.b64decode(item, validate=True) for item in payload]
        except (binascii.Error, ValueError):
            raise InvalidArgumentError(f"Expected base64-encoded float32 embeddings in {op}") from None
        sizes = {len(r) for r in raw}
        if len(sizes) != 1 or next(iter(sizes)) % 4:
            raise InvalidArgumentError(f"Expected base64 embeddings of equal length, a multiple of 4 bytes, in {op}")
        array = np.frombuffer(b"".join(raw), dtype="<f4").reshape(len(raw), -1)
        return normalize_embeddings(array.astype(np.float32), op)
    if isinstance(payload, list) and any(isinstance(item, str) for item in payload):
        raise InvalidArgumentError(f"Expected embeddings to be all float arrays or all base64 strings in {op}, not a mix")
    if not isinstance(payload, list):
        raise InvalidArgumentError(f"Expected embeddings to be a list in {op}, got {type(payload).__name__}")
    return normalize_embeddings(payload, op)


def decode_update_embeddings(payload: Any, op: str) -> npt.NDArray[np.float32] | None:
    """Like :func:`decode_embeddings`, but ``null`` (or all-``null`` items) means "keep the vectors".

    Example:
        >>> decode_update_embeddings([None, None], "update") is None
        True

    """
    if payload is None or (isinstance(payload, list) and payload and all(item is None for item in payload)):
        return None
    if isinstance(payload, list) and any(item is None for item in payload):
        raise InvalidArgumentError(f"Expected either every embedding or none in {op}; ragstore cannot update only some vectors")
    return decode_embeddings(payload, op)


# ---------------------------------------------------------------------- records


def records_to_json(records: RecordSet) -> dict[str, Any]:
    """A record set as an add/upsert/update body (embeddings as base64).

    Example:
        >>> records_to_json(RecordSet(["a"], np.array([[1.0]], dtype=np.float32), None, ["text"], None))
        {'ids': ['a'], 'embeddings': ['AACAPw=='], 'metadatas': None, 'documents': ['text'], 'uris': None}

    """
    return {
        "ids": records.ids,
        "embeddings": encode_embeddings(records.embeddings) if records.embeddings is not None else None,
        "metadatas": list(records.metadatas) if records.metadatas is not None else None,
        "documents": list(records.documents) if records.documents is not None else None,
        "uris": list(records.uris) if records.uris is not None else None,
    }


def records_from_json(data: dict[str, Any], op: str) -> RecordSet:
    """An add/upsert/update body as a record set; the engine validates the rest.

    Example:
        >>> records_from_json({"ids": ["a"], "embeddings": [[1, 2]]}, "add").embeddings.tolist()
        [[1.0, 2.0]]

    """
    ids = json_list(data, "ids", op)
    if ids is None:
        raise InvalidArgumentError(f"Expected ids in the {op} request body")
    if op == "update":
        embeddings = decode_update_embeddings(data.get("embeddings"), op)
    elif data.get("embeddings") is None:
        raise InvalidArgumentError(f"Expected embeddings in the {op} request body (clients embed documents before sending)")
    else:
        embeddings = decode_embeddings(data["embeddings"], op)
    fields = [json_list(data, key, op) for key in ("metadatas", "documents", "uris")]
    return RecordSet(ids, embeddings, *fields)
