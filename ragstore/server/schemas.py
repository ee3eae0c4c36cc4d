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

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Include = Literal["distances", "documents", "embeddings", "metadatas", "uris"]
Embeddings = list[list[float]] | list[str]
Metadata = dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class AddRecords(_Model):
    """Records to add or upsert; arrays are parallel (one entry per record)."""

    ids: list[str]
    embeddings: Embeddings = Field(description="Float arrays, or base64 strings of little-endian float32.")
    metadatas: list[Metadata | None] | None = None
    documents: list[str | None] | None = None
    uris: list[str | None] | None = None


class UpdateRecords(_Model):
    """New values for existing records; omitted fields stay as they are."""

    ids: list[str]
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

    ids: list[str] | None = None
    include: list[Include] = ["documents", "metadatas"]
    limit: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)


class DeleteRecords(Filters):
    """Which records to delete (ids and/or filters)."""

    ids: list[str] | None = None
    limit: int | None = Field(default=None, ge=0)


class QueryRecords(Filters):
    """Nearest-neighbour search: one result list per query embedding."""

    query_embeddings: Embeddings
    ids: list[str] | None = None
    include: list[Include] = ["documents", "metadatas", "distances"]
    n_results: int = Field(default=10, ge=0)


class CreateCollection(_Model):
    """A new collection (``get_or_create`` returns an existing one instead of 409)."""

    name: str
    metadata: Metadata | None = None
    configuration: dict[str, Any] | None = None
    get_or_create: bool = False


class UpdateCollection(_Model):
    """Rename, replace metadata, or change search-time configuration."""

    new_name: str | None = None
    new_metadata: Metadata | None = None
    new_configuration: dict[str, Any] | None = None


class CreateNamed(_Model):
    """A new tenant or database."""

    name: str


class Collection(_Model):
    """A collection as the server describes it."""

    id: str
    name: str
    configuration_json: dict[str, Any]
    schema_: Any = Field(default=None, alias="schema")
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


class DeleteResponse(_Model):
    """How many records were really deleted."""

    deleted: int


class Database(_Model):
    """A database of a tenant."""

    id: str
    name: str
    tenant: str


class Error(_Model):
    """Every error: Chroma's error name and a message."""

    error: str
    message: str


def body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body of a route."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}
