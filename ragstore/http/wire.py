"""Chroma's REST v2 wire format: the pure encoding shared by the server and both HTTP clients.

Nothing here does I/O. The server decodes request bodies with these
functions (so untrusted input meets the same checks as local calls) and the
clients decode responses with them, so both ends agree by construction.

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
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.collection_schema.reconcile import render_schema
from ragstore.errors import InvalidArgumentError, InvalidDimensionException, NotFoundError, RagstoreError, error_class_for
from ragstore.search.result import SearchResult
from ragstore.sparse_vectors import SparseVector, metadata_from_json
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet
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
    """One base64 string of little-endian float32 per row."""
    rows = np.ascontiguousarray(embeddings, dtype="<f4")
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]


def decode_embeddings(payload: Any, op: str) -> npt.NDArray[np.float32]:
    """Float arrays or base64 strings (not mixed) → a checked ``(n, d)`` float32 array.

    Raises:
        InvalidArgumentError: not a list, mixed forms, bad base64, ragged, NaN or inf.

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
    """Like :func:`decode_embeddings`, but ``null`` (or all-``null`` items) means "keep the vectors"."""
    if payload is None or (isinstance(payload, list) and payload and all(item is None for item in payload)):
        return None
    if isinstance(payload, list) and any(item is None for item in payload):
        raise InvalidArgumentError(f"Expected either every embedding or none in {op}; ragstore cannot update only some vectors")
    return decode_embeddings(payload, op)


# ---------------------------------------------------------------------- records


def records_to_json(records: RecordSet) -> dict[str, Any]:
    """A record set as an add/upsert/update body (embeddings as base64)."""
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


# ---------------------------------------------------------------------- collections


def schema_to_json(model: CollectionModel) -> dict[str, Any]:
    """The collection's ``schema`` as ``chroma run`` describes it, its vector index drawn from the configuration.

    chromadb's client rewrites this schema locally after ``modify(configuration=...)`` and
    raises if it lacks the vector index, and it embeds sparse queries with the sparse index's
    function named here. The vector index's function is ``legacy`` (none): ``configuration_json``
    carries the real one, and chromadb would otherwise rebuild its own downloading default (or
    warn about a ragstore-only name).

    Example:
        >>> import uuid
        >>> model = CollectionModel(uuid.uuid4(), "docs", None, {"hnsw": {"space": "ip", "ef_search": 50}}, None)
        >>> config = schema_to_json(model)["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
        >>> config["space"], config["hnsw"]["ef_search"], config["embedding_function"]
        ('ip', 50, {'type': 'legacy'})

    """
    return render_schema(model.serialized_schema, model.configuration_json, functions=False)


def collection_to_json(model: CollectionModel) -> dict[str, Any]:
    """A collection as ``chroma run`` describes it."""
    config = dict(model.configuration_json)
    config.setdefault("spann", None)
    config.setdefault("embedding_function", None)
    return {
        "id": str(model.id),
        "name": model.name,
        "configuration_json": config,
        "schema": schema_to_json(model),
        "metadata": model.metadata,
        "dimension": model.dimension,
        "tenant": model.tenant,
        "database": model.database,
        "log_position": 0,
        "version": 0,
    }


def collection_from_json(data: Any) -> CollectionModel:
    """The inverse of :func:`collection_to_json` (the schema's vector index drawn again from the configuration)."""
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"Expected a collection object from the server, got {type(data).__name__}")
    config = {k: v for k, v in (data.get("configuration_json") or {}).items() if not (k == "spann" and v is None)}
    schema = data.get("schema")
    return CollectionModel(
        id=uuid.UUID(data["id"]),
        name=data["name"],
        metadata=data.get("metadata"),
        configuration_json=config,
        dimension=data.get("dimension"),
        tenant=data.get("tenant", DEFAULT_TENANT),
        database=data.get("database", DEFAULT_DATABASE),
        serialized_schema=render_schema(schema if isinstance(schema, dict) else None, config),
    )


def parse_collection_id(text: str) -> uuid.UUID:
    """A collection id from a URL path; a malformed one is an :class:`InvalidArgumentError`."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidArgumentError(f"Invalid collection ID format, expected UUID, got {text[:100]!r}") from None


# ---------------------------------------------------------------------- results


# What a get and a query result share, under one name in the result and on the wire (a query adds distances).
_SHARED_RESULT_FIELDS = ("ids", "embeddings", "documents", "uris", "metadatas")


def get_result_to_json(result: GetResult) -> dict[str, Any]:
    """A ``GetResult`` as the wire's ``GetResponse`` (``included`` becomes ``include``)."""
    return _result_to_json(result)


def get_result_from_json(data: dict[str, Any], include: Sequence[str]) -> GetResult:
    """The inverse of :func:`get_result_to_json` (embeddings back to float32 arrays)."""
    embeddings = data.get("embeddings")
    return cast(GetResult, _result_from_json(data, include, _matrix(embeddings) if embeddings is not None else None))


def query_result_to_json(result: QueryResult) -> dict[str, Any]:
    """A ``QueryResult`` as the wire's ``QueryResponse``."""
    return _result_to_json(result, "distances")


def query_result_from_json(data: dict[str, Any], include: Sequence[str]) -> QueryResult:
    """The inverse of :func:`query_result_to_json`."""
    embeddings = data.get("embeddings")
    decoded = [_matrix(rows) for rows in embeddings] if embeddings is not None else None
    return cast(QueryResult, _result_from_json(data, include, decoded, "distances"))


def search_result_from_json(data: Any) -> SearchResult:
    """A ``SearchResult`` as the server sent it, sparse vectors in metadata back as :class:`SparseVector`."""
    metadatas = data.get("metadatas") if isinstance(data, dict) else None
    if metadatas is not None:
        data = data | {"metadatas": [None if rows is None else _sparse_vectors_read(rows) for rows in metadatas]}
    return SearchResult(data)


def indexing_status_to_json(status: IndexingStatus) -> dict[str, Any]:
    """Chromadb's ``indexing_status`` answer: the four fields by name.

    Example:
        >>> indexing_status_to_json(IndexingStatus(1, 0, 1, 1.0))
        {'num_indexed_ops': 1, 'num_unindexed_ops': 0, 'total_ops': 1, 'op_indexing_progress': 1.0}

    """
    return dataclasses.asdict(status)


def indexing_status_from_json(data: Any) -> IndexingStatus:
    """An :class:`IndexingStatus` from the server's answer (chromadb's client reads the same four keys).

    Example:
        >>> indexing_status_from_json({"num_indexed_ops": 1, "num_unindexed_ops": 0, "total_ops": 1, "op_indexing_progress": 1.0})
        IndexingStatus(num_indexed_ops=1, num_unindexed_ops=0, total_ops=1, op_indexing_progress=1.0)

    """
    return IndexingStatus(
        num_indexed_ops=int(data["num_indexed_ops"]),
        num_unindexed_ops=int(data["num_unindexed_ops"]),
        total_ops=int(data["total_ops"]),
        op_indexing_progress=float(data["op_indexing_progress"]),
    )


def _result_to_json(result: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    body = {name: result[name] for name in (*_SHARED_RESULT_FIELDS, *extra)}
    body["include"] = result["included"]
    return body


def _result_from_json(data: dict[str, Any], include: Sequence[str], embeddings: Any, *extra: str) -> dict[str, Any]:
    # ``embeddings`` comes decoded (its nesting differs between get and query); the rest is read as sent.
    result = {"ids": data["ids"], "embeddings": embeddings, "documents": data.get("documents"), "uris": data.get("uris")}
    metadatas = data.get("metadatas")
    if metadatas is not None:
        metadatas = [_sparse_vectors_read(row) for row in metadatas] if extra else _sparse_vectors_read(metadatas)
    result |= {"included": list(include), "data": None, "metadatas": metadatas}
    return result | {name: data.get(name) for name in extra}


def _sparse_vectors_read(metadatas: list[Any]) -> list[Any]:
    """``metadatas`` with their tagged sparse vectors as :class:`SparseVector` (the same list when none holds an object value).

    The scan costs 3 ms per 16,384 records of five keys; rebuilding every dict would cost twice that.
    """
    if not any(type(m) is dict and dict in map(type, m.values()) for m in metadatas):
        return metadatas
    return [metadata_from_json(m) if type(m) is dict else m for m in metadatas]


def _matrix(rows: list[list[float]]) -> npt.NDArray[np.float32]:
    array = np.asarray(rows, dtype=np.float32)
    return array if array.ndim == 2 else array.reshape(len(rows), 0)


# ---------------------------------------------------------------------- errors


# Errors ``chroma run`` sends as ``InvalidArgumentError`` although chromadb's client knows a
# name for them that maps to a class *outside* its ``InvalidArgumentError`` (so code written as
# ``except chromadb.errors.InvalidArgumentError`` would miss them): they travel under chroma's
# name, and ragstore's own name rides along in ``ragstore_error`` for ragstore's client.
_SENT_AS_CHROMA = {InvalidDimensionException.wire_name: InvalidArgumentError.wire_name}


def error_to_json(exc: RagstoreError) -> dict[str, str]:
    """``{"error": <wire name>, "message": ...}`` for an error the server sends.

    Example:
        >>> from ragstore.errors import NotFoundError
        >>> error_to_json(NotFoundError("Collection [x] does not exist"))
        {'error': 'NotFoundError', 'message': 'Collection [x] does not exist'}
        >>> error_to_json(InvalidDimensionException("Collection expecting embedding with dimension of 3, got 2"))["error"]
        'InvalidArgumentError'

    """
    name = exc.name()
    if name in _SENT_AS_CHROMA:
        return {"error": _SENT_AS_CHROMA[name], "message": exc.message, "ragstore_error": name}
    return {"error": name, "message": exc.message}


def error_from_json(status: int, body: bytes) -> RagstoreError:
    """The error a server's non-2xx answer stands for, as the same class it was raised as.

    Example:
        >>> type(error_from_json(404, b'{"error": "NotFoundError", "message": "gone"}')).__name__
        'NotFoundError'
        >>> type(error_from_json(400, b'{"error": "InvalidArgumentError", "message": "d", "ragstore_error": "InvalidDimension"}')).__name__
        'InvalidDimensionException'

    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        name = data["ragstore_error"] if isinstance(data.get("ragstore_error"), str) else data["error"]
        return error_class_for(name)(str(data.get("message", "")))
    text = body.decode("utf-8", "replace").strip()[:500]
    if status == 404:
        return NotFoundError(f"HTTP 404 from the server: {text or 'Not Found'}")
    return RagstoreError(f"HTTP {status} from the server: {text}")
