"""Public value types: metadata, include values, results and the collection record.

Results are plain dicts (``TypedDict``) shaped exactly as chromadb's, so code
that indexes ``result["ids"][0]`` works unchanged.

Example:
    >>> from ragstore.types import GetResult
    >>> r: GetResult = {"ids": ["a"], "embeddings": None, "documents": ["x"],
    ...                 "uris": None, "data": None, "metadatas": [None],
    ...                 "included": ["documents", "metadatas"]}
    >>> r["ids"]
    ['a']

"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Literal, TypedDict, Union

import numpy as np
import numpy.typing as npt

from ragstore.sparse_vectors import SparseVector

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"

Scalar = Union[str, int, float, bool]
MetadataValue = Union[Scalar, SparseVector, list[str], list[int], list[float], list[bool], None]
Metadata = Mapping[str, MetadataValue]
ID = str
IDs = list[ID]
Document = str
Documents = list[Document]
Embedding = npt.NDArray[np.float32]
Embeddings = list[Embedding]
Metadatas = list[Metadata]
UpdateMetadata = Mapping[str, MetadataValue]
CollectionMetadata = dict[str, Any]
UpdateCollectionMetadata = dict[str, Any]
URI = str
URIs = list[URI]
Where = dict[str, Any]
WhereDocument = dict[str, Any]
Space = Literal["l2", "cosine", "ip"]


class TokenTransportHeader(str, Enum):
    """Where a client sends its token (``Settings.chroma_auth_token_transport_header``), as chromadb names them.

    Example:
        >>> TokenTransportHeader.X_CHROMA_TOKEN.value
        'X-Chroma-Token'

    """

    AUTHORIZATION = "Authorization"
    X_CHROMA_TOKEN = "X-Chroma-Token"


IncludeValue = Literal["documents", "embeddings", "metadatas", "distances", "uris", "data"]
Include = list[IncludeValue]
INCLUDE_VALUES: tuple[str, ...] = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
DEFAULT_GET_INCLUDE: tuple[str, ...] = ("metadatas", "documents")
DEFAULT_QUERY_INCLUDE: tuple[str, ...] = ("metadatas", "documents", "distances")
PEEK_INCLUDE: tuple[str, ...] = ("metadatas", "documents", "embeddings")


class GetResult(TypedDict):
    """What ``Collection.get`` returns: one entry per record, in insertion order."""

    ids: list[str]
    embeddings: npt.NDArray[np.float32] | None
    documents: list[str | None] | None
    uris: list[str | None] | None
    data: Any
    metadatas: list[dict[str, Any] | None] | None
    included: list[str]


class QueryResult(TypedDict):
    """What ``Collection.query`` returns: an outer list with one entry per query."""

    ids: list[list[str]]
    embeddings: list[npt.NDArray[np.float32]] | None
    documents: list[list[str | None]] | None
    uris: list[list[str | None]] | None
    data: Any
    metadatas: list[list[dict[str, Any] | None]] | None
    distances: list[list[float]] | None
    included: list[str]


@dataclasses.dataclass(frozen=True)
class CollectionModel:
    """A collection's stored description, as the engine and the wire know it.

    Attributes:
        id: The collection's UUID (stable across renames).
        name: Its current name.
        metadata: User metadata, or ``None``.
        configuration_json: ``{"hnsw": {...}, "embedding_function": ...}``.
        dimension: Embedding dimension, fixed by the first write (``None`` before).
        tenant: Owning tenant.
        database: Owning database.
        serialized_schema: The collection's schema as chromadb's JSON (``Schema.serialize_to_json()``),
            its vector index drawn from ``configuration_json``; ``None`` only where no engine
            said (a model built by hand).

    """

    id: uuid.UUID
    name: str
    metadata: dict[str, Any] | None
    configuration_json: dict[str, Any]
    dimension: int | None
    tenant: str = DEFAULT_TENANT
    database: str = DEFAULT_DATABASE
    serialized_schema: dict[str, Any] | None = None


@dataclasses.dataclass
class IndexingStatus:
    """How much of a collection the vector index has taken in (``Collection.get_indexing_status()``).

    chromadb's type, field for field. chromadb counts log records; ragstore has no log, and
    counts the changes its HNSW graph must apply: each record's current vector, plus each
    vector removed (a deleted record, or the old vector of a record given a new one) that
    the graph has not dropped yet. A write is searchable before it is indexed (queries
    search unindexed records exactly), so this says how far the background indexer is,
    not what a query sees. In a local client it describes that process's graph.

    Attributes:
        num_indexed_ops: Changes the graph has applied.
        num_unindexed_ops: Changes waiting for the indexer.
        total_ops: Their sum: the collection's records plus the removals not applied yet.
        op_indexing_progress: ``num_indexed_ops / total_ops``, 1.0 for an empty collection.

    Example:
        >>> IndexingStatus(num_indexed_ops=3, num_unindexed_ops=1, total_ops=4, op_indexing_progress=0.75).op_indexing_progress
        0.75

    """

    num_indexed_ops: int
    num_unindexed_ops: int
    total_ops: int
    op_indexing_progress: float


@dataclasses.dataclass(frozen=True)
class RecordSet:
    """Validated records on their way into the engine (already embedded).

    ``embeddings`` is an ``(n, d)`` float32 array, or ``None`` for an update
    that leaves vectors alone. Per-record ``None`` in ``documents``/``uris``
    means "no value" on add and "leave unchanged" on update/upsert.
    """

    ids: list[str]
    embeddings: npt.NDArray[np.float32] | None
    metadatas: Sequence[Metadata | None] | None
    documents: Sequence[str | None] | None
    uris: Sequence[str | None] | None
