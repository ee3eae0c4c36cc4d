"""Chroma's REST v2 wire format, the server's answers: collections, results, indexing status and errors.

The other half of :mod:`ragstore.http.wire` (which holds the JSON codec and the
request bodies): each answer has a writer the server uses and a reader the
clients use, side by side, so both ends agree by construction. Nothing here does I/O.

Example:
    >>> import uuid
    >>> from ragstore.types import CollectionModel
    >>> model = CollectionModel(uuid.uuid4(), "docs", {"topic": "a"}, {}, 3)
    >>> back = collection_from_json(orjson.loads(orjson.dumps(collection_to_json(model))))
    >>> back.id == model.id, back.name, back.metadata, back.dimension
    (True, 'docs', {'topic': 'a'}, 3)
    >>> error_from_json(404, orjson.dumps(error_to_json(NotFoundError("gone"))))
    NotFoundError('gone')

"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.collection_schema.reconcile import render_schema
from ragstore.errors import InvalidArgumentError, InvalidDimensionException, NotFoundError, RagstoreError, error_class_for
from ragstore.search.result import SearchResult
from ragstore.sparse_vectors import metadata_from_json
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult

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
    """A collection as ``chroma run`` describes it.

    Example:
        >>> body = collection_to_json(CollectionModel(uuid.UUID(int=1), "docs", None, {}, 3))
        >>> body["id"], body["name"], body["dimension"], body["configuration_json"]
        ('00000000-0000-0000-0000-000000000001', 'docs', 3, {'spann': None, 'embedding_function': None})

    """
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
    """The inverse of :func:`collection_to_json` (the schema's vector index drawn again from the configuration).

    Example:
        >>> model = collection_from_json({"id": str(uuid.UUID(int=1)), "name": "docs", "configuration_json": {"spann": None}})
        >>> model.name, model.configuration_json, model.tenant
        ('docs', {}, 'default_tenant')

    """
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
    """A collection id from a URL path; a malformed one is an :class:`InvalidArgumentError`.

    Example:
        >>> parse_collection_id("not-a-uuid")
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Invalid collection ID format, expected UUID, got 'not-a-uuid'

    """
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidArgumentError(f"Invalid collection ID format, expected UUID, got {text[:100]!r}") from None


# ---------------------------------------------------------------------- results


# What a get and a query result share, under one name in the result and on the wire (a query adds distances).
_SHARED_RESULT_FIELDS = ("ids", "embeddings", "documents", "uris", "metadatas")


def get_result_to_json(result: GetResult) -> dict[str, Any]:
    """A ``GetResult`` as the wire's ``GetResponse`` (``included`` becomes ``include``).

    Example:
        >>> result = GetResult(ids=["a"], embeddings=None, documents=["x"], uris=None, data=None, metadatas=None, included=["documents"])
        >>> get_result_to_json(result)
        {'ids': ['a'], 'embeddings': None, 'documents': ['x'], 'uris': None, 'metadatas': None, 'include': ['documents']}

    """
    return _result_to_json(result)


def get_result_from_json(data: dict[str, Any], include: Sequence[str]) -> GetResult:
    """The inverse of :func:`get_result_to_json` (embeddings back to float32 arrays).

    Example:
        >>> get_result_from_json({"ids": ["a"], "embeddings": [[1.0, 2.0]]}, ["embeddings"])["embeddings"].dtype
        dtype('float32')

    """
    embeddings = data.get("embeddings")
    return cast(GetResult, _result_from_json(data, include, _matrix(embeddings) if embeddings is not None else None))


def query_result_to_json(result: QueryResult) -> dict[str, Any]:
    """A ``QueryResult`` as the wire's ``QueryResponse``.

    Example:
        >>> fields = dict.fromkeys(["embeddings", "documents", "uris", "data", "metadatas"])
        >>> body = query_result_to_json(QueryResult(ids=[["a"]], distances=[[0.5]], included=["distances"], **fields))
        >>> body["distances"], body["include"]
        ([[0.5]], ['distances'])

    """
    return _result_to_json(result, "distances")


def query_result_from_json(data: dict[str, Any], include: Sequence[str]) -> QueryResult:
    """The inverse of :func:`query_result_to_json`.

    Example:
        >>> result = query_result_from_json({"ids": [["a"], []], "distances": [[0.5], []]}, ["distances"])
        >>> result["ids"], result["distances"], result["included"]
        ([['a'], []], [[0.5], []], ['distances'])

    """
    embeddings = data.get("embeddings")
    decoded = [_matrix(rows) for rows in embeddings] if embeddings is not None else None
    return cast(QueryResult, _result_from_json(data, include, decoded, "distances"))


def search_result_from_json(data: Any) -> SearchResult:
    """A ``SearchResult`` as the server sent it, sparse vectors in metadata back as :class:`SparseVector`.

    Example:
        >>> tagged = {"#type": "sparse_vector", "indices": [3], "values": [0.5]}
        >>> search_result_from_json({"ids": [["a"]], "metadatas": [[{"bm25": tagged}]]})["metadatas"][0][0]["bm25"]
        SparseVector(indices=[3], values=[0.5], labels=None)

    """
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
