"""chromadb's collection ``Schema``: which indexes a collection has, in every mode.

``create_collection(name, schema=Schema().create_index(...))`` declares a sparse index (for
hybrid search), turns inverted indexes off, or configures the dense vector index, as with
chromadb 1.5.9. The classes and their JSON are chromadb's (:mod:`.schema`, :mod:`.index_configs`,
:mod:`.value_types`); the server-side rules and what ragstore refuses are in :mod:`.validation`;
how a schema and a configuration agree is :mod:`.reconcile`; :func:`sparse_indexes` gives the
sparse indexes as data.

Example:
    >>> from ragstore.collection_schema import Schema, SparseVectorIndexConfig, sparse_indexes
    >>> class Counts:
    ...     def __call__(self, input): return []
    >>> schema = Schema().create_index(SparseVectorIndexConfig(embedding_function=Counts()), key="splade")
    >>> [spec.key for spec in sparse_indexes(schema)]
    ['splade']

"""

from __future__ import annotations

from ragstore.collection_schema.cmek import Cmek, CmekProvider
from ragstore.collection_schema.index_configs import (
    BoolInvertedIndexConfig,
    FloatInvertedIndexConfig,
    FtsIndexConfig,
    HnswIndexConfig,
    IndexConfig,
    IntInvertedIndexConfig,
    SpannIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
)
from ragstore.collection_schema.schema import Schema, schema_json
from ragstore.collection_schema.sparse_indexes import SparseIndexSpec, bm25_schema, has_bm25_index, sparse_indexes
from ragstore.collection_schema.value_types import (
    BoolInvertedIndexType,
    BoolValueType,
    FloatInvertedIndexType,
    FloatListValueType,
    FloatValueType,
    FtsIndexType,
    IntInvertedIndexType,
    IntValueType,
    SparseVectorIndexType,
    SparseVectorValueType,
    StringInvertedIndexType,
    StringValueType,
    ValueTypes,
    VectorIndexType,
)

__all__ = [
    "BoolInvertedIndexConfig",
    "BoolInvertedIndexType",
    "BoolValueType",
    "Cmek",
    "CmekProvider",
    "FloatInvertedIndexConfig",
    "FloatInvertedIndexType",
    "FloatListValueType",
    "FloatValueType",
    "FtsIndexConfig",
    "FtsIndexType",
    "HnswIndexConfig",
    "IndexConfig",
    "IntInvertedIndexConfig",
    "IntInvertedIndexType",
    "IntValueType",
    "Schema",
    "SpannIndexConfig",
    "SparseIndexSpec",
    "SparseVectorIndexConfig",
    "SparseVectorIndexType",
    "SparseVectorValueType",
    "StringInvertedIndexConfig",
    "StringInvertedIndexType",
    "StringValueType",
    "ValueTypes",
    "VectorIndexConfig",
    "VectorIndexType",
    "schema_json",
    "bm25_schema",
    "has_bm25_index",
    "sparse_indexes",
]
