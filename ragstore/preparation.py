"""Turning user arguments into engine calls, without I/O: shared by the sync and async clients.

``Collection`` and ``AsyncCollection`` (and ``Client`` / ``AsyncClient``) differ only in
how they call the engine and run the embedding function. Everything else lives here:
one-or-many normalisation, validation, include checks, which records still need
embedding, and the configuration a new collection is created with.

Example:
    >>> request = prepare_write("add", ["a", "b"], 100, None, None, ["apples", "pears"], None)
    >>> request.texts_to_embed()
    ['apples', 'pears']
    >>> request.without(["a"]).ids
    ['b']
    >>> prepare_get("a", None, 5, None, None, ["documents"], has_data_loader=False)
    GetArgs(ids=['a'], where=None, where_document=None, limit=5, offset=None, include=['documents'])

"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import build_embedding_function, describe_embedding_function, embedding_functions_conflict
from ragstore.embeddings.default import default_embedding_function
from ragstore.errors import BatchSizeExceededError, InvalidArgumentError
from ragstore.filters import parse_where, parse_where_document
from ragstore.types import CollectionModel, RecordSet
from ragstore.validation import (
    check_lengths,
    check_query_size,
    normalize_documents,
    normalize_embeddings,
    normalize_ids,
    normalize_metadatas,
    normalize_uris,
    validate_include,
    validate_n_results,
    validate_non_negative_int,
)

# ---------------------------------------------------------------------- writes


@dataclasses.dataclass(frozen=True)
class WriteRequest:
    """The validated records of one ``add`` / ``upsert`` / ``update`` call, before embedding."""

    op: str
    ids: list[str]
    embeddings: npt.NDArray[np.float32] | None
    metadatas: list[dict[str, Any] | None] | None
    documents: list[str | None] | None
    uris: list[str | None] | None

    def skips_existing(self) -> bool:
        """Whether the engine must first say which ids exist (``add`` never embeds what it will skip)."""
        return self.op == "add" and self.embeddings is None

    def without(self, existing: Iterable[str]) -> WriteRequest:
        """The same request minus the records whose ids are in ``existing``."""
        skip = set(existing)
        keep = [i for i, id_ in enumerate(self.ids) if id_ not in skip]

        def pick(values: list[Any] | None) -> list[Any] | None:
            return [values[i] for i in keep] if values is not None else None

        return dataclasses.replace(
            self,
            ids=[self.ids[i] for i in keep],
            metadatas=pick(self.metadatas),
            documents=pick(self.documents),
            uris=pick(self.uris),
        )

    def texts_to_embed(self) -> list[str] | None:
        """The documents to embed, or ``None`` when the caller gave embeddings (or no documents)."""
        if self.embeddings is not None or self.documents is None:
            return None
        return [d for d in self.documents if d is not None]

    def record_set(self, embeddings: npt.NDArray[np.float32] | None = None) -> RecordSet:
        """The records for the engine, with ``embeddings`` computed from :meth:`texts_to_embed` if given."""
        vectors = embeddings if embeddings is not None else self.embeddings
        return RecordSet(self.ids, vectors, self.metadatas, self.documents, self.uris)


def write_ids(op: str, ids: Any, images: Any) -> list[str]:
    """The first step of a write: reject images and normalise the ids (before asking the batch limit)."""
    if images is not None:
        raise InvalidArgumentError(f"ragstore does not embed images; pass embeddings instead in {op}.")
    return normalize_ids(ids, op)


def prepare_write(op: str, ids: list[str], max_batch_size: int, embeddings: Any, metadatas: Any, documents: Any, uris: Any) -> WriteRequest:
    """Validate a write whose ids went through :func:`write_ids`.

    Raises:
        BatchSizeExceededError: more ids than ``max_batch_size``.
        InvalidArgumentError: malformed input, or (add/upsert) neither embeddings nor documents.

    """
    if len(ids) > max_batch_size:
        raise BatchSizeExceededError(f"Batch size {len(ids)} exceeds maximum batch size {max_batch_size}")
    vectors = normalize_embeddings(embeddings, op) if embeddings is not None else None
    metas = normalize_metadatas(metadatas, op, allow_none_values=op != "add") if metadatas is not None else None
    docs = normalize_documents(documents, op, allow_none=vectors is not None) if documents is not None else None
    uri_list = normalize_uris(uris, op) if uris is not None else None
    check_lengths(op, ids=ids, embeddings=vectors, metadatas=metas, documents=docs, uris=uri_list)
    if vectors is None and docs is None:
        if op == "add":
            raise InvalidArgumentError("Exactly one of documents, uris, images must be provided in add.")
        if op == "upsert":
            raise InvalidArgumentError("Exactly one of documents, images must be provided in upsert.")
    return WriteRequest(op, ids, vectors, metas, docs, uri_list)


# ---------------------------------------------------------------------- deletes and reads


class DeleteArgs(NamedTuple):
    """A checked ``delete`` call, in the engine's argument order (after the collection id)."""

    ids: list[str] | None
    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    limit: int | None


def prepare_delete(ids: Any, where: Any, where_document: Any, limit: int | None) -> DeleteArgs:
    """Check a ``delete`` call: something to select by, well-formed ids and filters."""
    if ids is None and not where and not where_document:
        raise InvalidArgumentError("At least one of ids, where, or where_document must be provided in delete.")
    id_list = normalize_ids(ids, "delete") if ids is not None else None
    parse_where(where, "delete")
    parse_where_document(where_document, "delete")
    return DeleteArgs(id_list, where or None, where_document or None, limit)


class GetArgs(NamedTuple):
    """A checked ``get`` call, in the engine's argument order (after the collection id)."""

    ids: list[str] | None
    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    limit: int | None
    offset: int | None
    include: list[str]


def check_include(include: Any, op: str, *, allow_distances: bool, has_data_loader: bool) -> list[str]:
    """Validate ``include``; ``"data"`` needs a data loader on the collection."""
    checked = validate_include(include, op, allow_distances=allow_distances)
    if "data" in checked and not has_data_loader:
        raise InvalidArgumentError("You must set a data loader on the collection if loading from URIs.")
    return checked


def prepare_get(
    ids: Any, where: Any, limit: int | None, offset: int | None, where_document: Any, include: Any, *, has_data_loader: bool
) -> GetArgs:
    """Check a ``get`` call (arguments in ``Collection.get``'s order)."""
    checked = check_include(include, "get", allow_distances=False, has_data_loader=has_data_loader)
    id_list = normalize_ids(ids, "get") if ids is not None else None
    validate_non_negative_int(limit, "limit", "get")
    validate_non_negative_int(offset, "offset", "get")
    parse_where(where, "get")
    parse_where_document(where_document, "get")
    return GetArgs(id_list, where or None, where_document or None, limit, offset, [i for i in checked if i != "data"])


class QueryArgs(NamedTuple):
    """A checked ``query`` call: either ``embeddings`` or ``texts`` (to embed) is set."""

    embeddings: npt.NDArray[np.float32] | None
    texts: list[str] | None
    n_results: int
    ids: list[str] | None
    where: dict[str, Any] | None
    where_document: dict[str, Any] | None
    include: list[str]


def prepare_query(
    query_embeddings: Any,
    query_texts: Any,
    query_images: Any,
    query_uris: Any,
    ids: Any,
    n_results: int,
    where: Any,
    where_document: Any,
    include: Any,
    *,
    has_data_loader: bool,
) -> QueryArgs:
    """Check a ``query`` call (arguments in ``Collection.query``'s order), before any embedding."""
    if query_images is not None or query_uris is not None:
        raise InvalidArgumentError("ragstore does not embed images or URIs; pass query_embeddings or query_texts in query.")
    if query_embeddings is None and query_texts is None:
        raise InvalidArgumentError("At least one of one of embeddings, documents, images, uris must be provided in query.")
    if query_embeddings is not None and query_texts is not None:
        raise InvalidArgumentError("Expected only one of query_embeddings or query_texts in query, got both.")
    checked = check_include(include, "query", allow_distances=True, has_data_loader=has_data_loader)
    n_results = validate_n_results(n_results)
    parse_where(where, "query")
    parse_where_document(where_document, "query")
    vectors, texts = None, None
    if query_embeddings is not None:
        vectors = normalize_embeddings(query_embeddings, "query")
    else:
        given = normalize_documents(query_texts, "query", allow_none=False)
        if not given:
            raise InvalidArgumentError("Expected query_texts to be a non-empty list in query.")
        texts = [t for t in given if t is not None]
    check_query_size(len(vectors) if vectors is not None else len(texts or []), n_results)
    id_list = None
    if ids is not None:
        id_list = [] if isinstance(ids, (list, tuple)) and len(ids) == 0 else normalize_ids(ids, "query")
    return QueryArgs(vectors, texts, n_results, id_list, where or None, where_document or None, [i for i in checked if i != "data"])


# ---------------------------------------------------------------------- collections (client side)


class _DefaultEmbedding:
    """Marker for "no embedding function given": use the persisted or default one."""

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"


DEFAULT_EMBEDDING = _DefaultEmbedding()


def creation_configuration(
    configuration: dict[str, Any] | None, metadata: dict[str, Any] | None, embedding_function: Any
) -> dict[str, Any]:
    """The configuration a new collection is created with: the given one plus the function's description.

    ``embedding_function`` is the caller's (:data:`DEFAULT_EMBEDDING` for the default,
    ``None`` for none). Its ``default_space()``, if any, becomes the HNSW space unless
    one was chosen.

    Example:
        >>> from ragstore.embeddings.hashing import HashingEmbeddingFunction
        >>> creation_configuration({"hnsw": {"ef_search": 50}}, None, HashingEmbeddingFunction(dim=4))["hnsw"]
        {'ef_search': 50, 'space': 'l2'}

    """
    ef = default_embedding_function() if embedding_function is DEFAULT_EMBEDDING else embedding_function
    config = dict(configuration or {})
    config["embedding_function"] = describe_embedding_function(ef)
    hnsw = config.get("hnsw")
    legacy_space = isinstance(metadata, dict) and "hnsw:space" in metadata
    if ef is not None and not legacy_space and not (isinstance(hnsw, dict) and "space" in hnsw):
        default_space = getattr(ef, "default_space", None)
        space = default_space() if callable(default_space) else None
        if space in ("l2", "cosine", "ip"):
            config["hnsw"] = {**(hnsw or {}), "space": space}
    return config


def check_schema(schema: Any) -> None:
    """Reject ``schema=`` (chromadb's newer alternative to ``configuration=``), which ragstore lacks."""
    if schema is not None:
        raise InvalidArgumentError("ragstore does not support schema=; use configuration= instead")


def resolve_embedding_function(model: CollectionModel, embedding_function: Any) -> Any | None:
    """The function a collection handle embeds with, given what the collection persisted.

    With :data:`DEFAULT_EMBEDDING`, the persisted function is rebuilt when it is
    registered here; otherwise there is none, and embedding texts fails with a clear
    error instead of silently using a different model. A given function must not
    conflict with the persisted one.
    """
    persisted = model.configuration_json.get("embedding_function")
    if embedding_function is DEFAULT_EMBEDDING:
        return build_embedding_function(persisted)
    conflict = embedding_functions_conflict(persisted, embedding_function)
    if conflict:
        raise InvalidArgumentError(conflict)
    return embedding_function
