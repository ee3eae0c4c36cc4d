"""A collection's sparse indexes as plain data, for the engine (which maintains and scores them) and the clients (which embed queries).

BM25 is engine-owned: an index whose embedding function is chroma's BM25 (``chroma_bm25``)
and which has a ``source_key`` is maintained by the engine from the source text, with the
function's ``k`` and ``b`` (chroma's defaults 1.2 and 0.75 when the config leaves them out).
Every other sparse index scores the vectors the records carry in ``metadata[key]`` by dot product.

Example:
    >>> schema = {"keys": {"bm25": {"sparse_vector": {"sparse_vector_index": {"enabled": True, "config": {
    ...     "source_key": "#document", "embedding_function": {"name": "chroma_bm25", "type": "known", "config": {"k": 1.5}}}}}}}}
    >>> [(s.key, s.source_key, s.bm25, s.k, s.b) for s in sparse_indexes(schema)]
    [('bm25', '#document', True, 1.5, 0.75)]

"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

BM25_FUNCTION_NAME = "chroma_bm25"
DEFAULT_BM25_K = 1.2
DEFAULT_BM25_B = 0.75


@dataclasses.dataclass(frozen=True)
class SparseIndexSpec:
    """One enabled sparse index.

    Attributes:
        key: The metadata key the index reads (and that search ranks name: ``Knn(key=...)``).
        source_key: ``#document`` or a metadata key the vector is derived from; ``None``
            when the records carry the vectors themselves.
        embedding_function: The function's description (``{"type": "known", "name", "config"}``),
            or ``None``; it embeds query texts (and, with a ``source_key``, the source).
        bm25: Whether the engine derives BM25 term counts from the source text and scores with
            the collection's statistics (a ``chroma_bm25`` function with a ``source_key``).
        k: BM25's term-frequency saturation (``None`` unless ``bm25``).
        b: BM25's length normalisation (``None`` unless ``bm25``).

    """

    key: str
    source_key: str | None
    embedding_function: dict[str, Any] | None
    bm25: bool
    k: float | None = None
    b: float | None = None


def _as_json(schema: Any) -> Mapping[str, Any]:
    if isinstance(schema, Mapping):
        return schema
    serialize = getattr(schema, "serialize_to_json", None)
    if callable(serialize):
        return serialize()  # type: ignore[no-any-return]
    raise TypeError(f"Expected a Schema or its JSON, got {type(schema).__name__}")


def sparse_indexes(schema: Any) -> list[SparseIndexSpec]:
    """The enabled sparse indexes of ``schema`` (a :class:`~ragstore.collection_schema.Schema` or its JSON), in key order.

    ``None`` (no schema) has none. chromadb allows at most one per collection; the list form
    leaves room for more.

    Example:
        >>> sparse_indexes(None)
        []

    """
    if schema is None:
        return []
    specs: list[SparseIndexSpec] = []
    for key, value_types in (_as_json(schema).get("keys") or {}).items():
        index = ((value_types or {}).get("sparse_vector") or {}).get("sparse_vector_index")
        if not index or not index.get("enabled", True):
            continue
        config = index.get("config") or {}
        function = config.get("embedding_function")
        described = dict(function) if isinstance(function, Mapping) and function.get("type") == "known" else None
        source_key = config.get("source_key")
        bm25 = described is not None and described.get("name") == BM25_FUNCTION_NAME and source_key is not None
        function_config = (described or {}).get("config") or {}
        specs.append(
            SparseIndexSpec(
                key=key,
                source_key=source_key,
                embedding_function=described,
                bm25=bm25,
                k=float(function_config.get("k", DEFAULT_BM25_K)) if bm25 else None,
                b=float(function_config.get("b", DEFAULT_BM25_B)) if bm25 else None,
            )
        )
    return specs


def bm25_schema(key: str = "bm25") -> Any:
    """A schema with a BM25 index on the documents (for ``query(mode="hybrid")`` and the Search API's BM25 ``Knn``).

    The same as ``Schema().create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT,
    embedding_function=ChromaBm25EmbeddingFunction()), key=key)``, chromadb's way to declare it.

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("bm25-example", schema=bm25_schema())
        >>> [spec.key for spec in sparse_indexes(col.schema) if spec.bm25]
        ['bm25']

    """
    from ragstore.collection_schema.index_configs import SparseVectorIndexConfig
    from ragstore.collection_schema.schema import Schema
    from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction  # late: the embeddings package reads schemas

    config = SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25EmbeddingFunction())
    return Schema().create_index(config=config, key=key)


def has_bm25_index(schema: Any) -> bool:
    """Whether ``schema`` (a Schema, its JSON, or ``None``) declares a BM25 index.

    Example:
        >>> has_bm25_index(None), has_bm25_index(bm25_schema())
        (False, True)

    """
    return any(spec.bm25 for spec in sparse_indexes(schema))
