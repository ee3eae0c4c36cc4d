"""Request and response shapes of the REST v2 API, for the OpenAPI document only.

The handlers do not validate with these models: they parse bodies with
``orjson`` and hand them to the engine, which checks everything (one set of
checks for local and remote callers, and no per-float pydantic cost on large
batches). These models describe the same shapes as ``chroma run``'s own
OpenAPI document so ``/docs`` is useful.

Example:
    >>> "ids" in AddRecords.model_json_schema()["properties"]
    True

"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ragstore.local.engine import MAX_BATCH_SIZE
from ragstore.names import COLLECTION_NAME_PATTERN
from ragstore.validation import INT64_MAX, MAX_ID_LENGTH, MAX_QUERY_EMBEDDINGS, MAX_QUERY_RESULTS

Include = Literal["distances", "documents", "embeddings", "metadatas", "uris"]
Embeddings = list[list[float]] | list[str]
Metadata = dict[str, Any]
RecordId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
WrittenIds = Annotated[list[RecordId], Field(min_length=1, max_length=MAX_BATCH_SIZE)]
Ids = Annotated[list[RecordId] | None, Field(description="Only these records (null: no restriction).")]
Count = Annotated[int | None, Field(ge=0, le=INT64_MAX)]
QueryEmbeddings = (
    Annotated[list[list[float]], Field(min_length=1, max_length=MAX_QUERY_EMBEDDINGS)]
    | Annotated[list[str], Field(min_length=1, max_length=MAX_QUERY_EMBEDDINGS)]
)

# Parameters of the routes themselves, described for the document only: the engine checks
# them (so every mode answers the same message), and FastAPI would word its own.
_COUNT_RANGE = {"minimum": 0, "maximum": INT64_MAX}
CollectionIdPath = Annotated[str, Path(description="The collection's UUID.", json_schema_extra={"format": "uuid"})]
CollectionNamePath = Annotated[str, Path(description="The collection's name.", json_schema_extra={"pattern": COLLECTION_NAME_PATTERN})]
LimitQuery = Annotated[int | None, Query(description="At most this many (default: all).", json_schema_extra=_COUNT_RANGE)]
OffsetQuery = Annotated[int | None, Query(description="Skip this many first.", json_schema_extra=_COUNT_RANGE)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class AddRecords(_Model):
    """Records to add or upsert; arrays are parallel (one entry per record)."""

    ids: WrittenIds
    embeddings: Embeddings = Field(description="Float arrays, or base64 strings of little-endian float32.")
    metadatas: list[Metadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class UpdateRecords(_Model):
    """New values for existing records; omitted fields stay as they are."""

    ids: WrittenIds
    embeddings: list[list[float] | None] | list[str | None] | None = None
    metadatas: list[Metadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class Filters(_Model):
    """Metadata (``where``) and document (``where_document``) filters."""

    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None


class GetRecords(Filters):
    """Which records to return, and which fields."""

    ids: Ids = None
    include: list[Include] = ["documents", "metadatas"]
    limit: Count = None
    offset: Count = None


class DeleteRecords(Filters):
    """Which records to delete (ids and/or filters)."""

    ids: Ids = None
    limit: Count = None


class QueryRecords(Filters):
    """Nearest-neighbour search: one result list per query embedding.

    At most ``MAX_QUERY_EMBEDDINGS`` query embeddings, and query embeddings x
    ``n_results`` at most ``MAX_QUERY_RESULTS``.
    """

    query_embeddings: QueryEmbeddings | None = Field(description="Required unless mode is 'bm25'.")
    ids: Ids = None
    include: list[Include] = ["documents", "metadatas", "distances"]
    n_results: int = Field(default=10, ge=1, le=MAX_QUERY_RESULTS)
    mode: Literal["dense", "hybrid", "bm25"] = Field(
        default="dense", description="ragstore: 'hybrid' fuses dense and BM25 (DBSF), 'bm25' ranks by BM25 alone; both need query_texts."
    )
    query_texts: list[str] | None = Field(default=None, description="ragstore: the texts BM25 searches (mode 'hybrid' or 'bm25').")


class SearchRecords(_Model):
    """chromadb's Search API: searches as ``Search.to_dict()`` writes them, checked strictly on the server.

    Each has ``filter``, ``rank``, ``group_by``, ``limit`` and ``select`` (see docs/search-api.md).
    """

    searches: list[dict[str, Any]] = Field(max_length=64)
    read_level: Literal["index_and_wal", "index_only", "index_and_bounded_wal"] = "index_and_wal"


class CreateCollection(_Model):
    """A new collection (``get_or_create`` returns an existing one instead of 409)."""

    name: str = Field(pattern=COLLECTION_NAME_PATTERN)
    metadata: Metadata | None = None
    configuration: dict[str, Any] | None = None
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="chromadb's Schema.serialize_to_json(): a sparse index, index flags or the vector index (not with configuration's).",
    )
    get_or_create: bool = False


class UpdateCollection(_Model):
    """Rename, replace metadata, or change search-time configuration."""

    new_name: str | None = Field(default=None, pattern=COLLECTION_NAME_PATTERN)
    new_metadata: Metadata | None = None
    new_configuration: dict[str, Any] | None = None


class CreateNamed(_Model):
    """A new tenant or database."""

    name: str


class Collection(_Model):
    """A collection as the server describes it."""

    id: uuid.UUID
    name: str
    configuration_json: dict[str, Any]
    schema_: dict[str, Any] = Field(alias="schema", description="chromadb's Schema JSON; its vector index mirrors configuration_json.")
    metadata: Metadata | None = None
    dimension: int | None = None
    tenant: str
    database: str
    log_position: int = 0
    version: int = 0


class GetResponse(_Model):
    """Records in insertion order; fields not in ``include`` are ``null``."""

    ids: list[str]
    embeddings: list[list[float]] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None
    metadatas: list[Metadata | None] | None = None
    include: list[Include]


class QueryResponse(_Model):
    """One list per query embedding, nearest first."""

    ids: list[list[str]]
    embeddings: list[list[list[float]]] | None = None
    documents: list[list[str | None]] | None = None
    uris: list[list[str | None]] | None = None
    metadatas: list[list[Metadata | None]] | None = None
    distances: list[list[float]] | None = None
    include: list[Include]


class SearchResponse(_Model):
    """One column per search (``null`` where that search did not select the field), best first; lower scores are better."""

    ids: list[list[str]]
    documents: list[list[str | None] | None] | None = None
    embeddings: list[list[list[float] | None] | None] | None = None
    metadatas: list[list[Metadata | None] | None] | None = None
    scores: list[list[float | None] | None] | None = None
    select: list[list[str]]


class IndexingStatus(_Model):
    """How far the vector index has taken in the collection's writes (chromadb's fields; see ``ragstore.IndexingStatus``)."""

    num_indexed_ops: int
    num_unindexed_ops: int
    total_ops: int
    op_indexing_progress: float


class DeleteResponse(_Model):
    """How many records were really deleted."""

    deleted: int


class Database(_Model):
    """A database of a tenant."""

    id: uuid.UUID
    name: str
    tenant: str


class Error(_Model):
    """Every error: Chroma's error name and a message."""

    error: str
    message: str


def body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body of a route."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}
