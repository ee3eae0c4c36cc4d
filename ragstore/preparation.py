"""Turning user arguments into engine calls, without I/O: shared by the sync and async clients.

``Collection`` and ``AsyncCollection`` (and ``Client`` / ``AsyncClient``) differ only in
how they call the engine and run the embedding function. Everything else lives here:
which records of a write still need embedding (reads and deletes go straight into
:mod:`ragstore.record_requests`, which hold the checks), and the configuration a new
collection is created with.

Example:
    >>> request = prepare_write("add", ["a", "b"], 100, None, None, ["apples", "pears"], None)
    >>> request.texts_to_embed()
    ['apples', 'pears']
    >>> request.without(["a"]).ids
    ['b']

"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import build_embedding_function, describe_embedding_function, embedding_functions_conflict
from ragstore.embeddings.default import default_embedding_function
from ragstore.errors import InvalidArgumentError
from ragstore.record_requests import checked_records
from ragstore.types import CollectionModel, Metadata, RecordSet
from ragstore.validation import check_batch_size, normalize_ids

# ---------------------------------------------------------------------- writes


@dataclasses.dataclass(frozen=True)
class WriteRequest:
    """The validated records of one ``add`` / ``upsert`` / ``update`` call, before embedding."""

    op: str
    ids: list[str]
    embeddings: npt.NDArray[np.float32] | None
    metadatas: Sequence[Metadata | None] | None
    documents: Sequence[str | None] | None
    uris: Sequence[str | None] | None

    def skips_existing(self) -> bool:
        """Whether the engine must first say which ids exist (``add`` never embeds what it will skip)."""
        return self.op == "add" and self.embeddings is None

    def without(self, existing: Iterable[str]) -> WriteRequest:
        """The same request minus the records whose ids are in ``existing``."""
        skip = set(existing)
        keep = [i for i, id_ in enumerate(self.ids) if id_ not in skip]

        def pick(values: Sequence[Any] | None) -> list[Any] | None:
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
    """Check a write whose ids went through :func:`write_ids` (the rules: :func:`checked_records`).

    Raises:
        BatchSizeExceededError: more ids than ``max_batch_size``.
        InvalidArgumentError: malformed input, or (add/upsert) neither embeddings nor documents.

    """
    check_batch_size(len(ids), max_batch_size)
    records = checked_records(op, ids, embeddings, metadatas, documents, uris, embedded=False)
    return WriteRequest(op, records.ids, records.embeddings, records.metadatas, records.documents, records.uris)


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


def schema_embedding_function(schema: Any, embedding_function: Any) -> Any:
    """The function a new collection's handle embeds with, given its ``schema``.

    A schema whose vector index names its own function (``VectorIndexConfig(embedding_function=ef)``)
    gives the collection that function, as in chromadb; the handle keeps the very object
    instead of rebuilding it from its description (which an unregistered function lacks).
    Otherwise, and whenever the caller passed a function, the caller's argument stands.

    Example:
        >>> from ragstore.collection_schema import Schema, VectorIndexConfig
        >>> from ragstore.embeddings.hashing import HashingEmbeddingFunction
        >>> ef = HashingEmbeddingFunction(dim=4)
        >>> schema_embedding_function(Schema().create_index(VectorIndexConfig(embedding_function=ef)), DEFAULT_EMBEDDING) is ef
        True
        >>> schema_embedding_function(Schema(), DEFAULT_EMBEDDING) is DEFAULT_EMBEDDING
        True

    """
    if embedding_function is not DEFAULT_EMBEDDING or schema is None:
        return embedding_function
    keys = getattr(schema, "keys", None)
    embedding = keys.get("#embedding") if isinstance(keys, dict) else None
    index = embedding.float_list.vector_index if embedding is not None and embedding.float_list is not None else None
    ef = index.config.embedding_function if index is not None else None
    described = describe_embedding_function(ef)
    if ef is None or (described is not None and described.get("name") == "default"):
        return embedding_function
    return ef


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
