"""A store's BM25 statistics for a search's sparse ``Knn`` probes: what a sharded store's router asks each shard.

A sharded store scores BM25 with the collection's statistics, not a shard's
(:mod:`ragstore.local.bm25_statistics`): before a search with a BM25 ``Knn``, the router asks
every shard for its statistics of each probe's query terms, sums them, and sets the sums on the
``Knn`` leaves it sends (``Knn.statistics``). This module answers the first question for a
:class:`~ragstore.local.LocalAPI`, in one read snapshot, through the code its own searches use
(:func:`ragstore.local.search_executor.bm25_statistics`): a text query is embedded by the index's
function, a sparse vector's indices are its terms.

It is not a method of the :class:`~ragstore.api.API` protocol: only a router needs it, and the
clients and the HTTP server have no use for it. It reads the engine's caches as ``LocalAPI.search``
does (the same package: the engine's attributes are its own).

Example:
    >>> from ragstore import ChromaBm25EmbeddingFunction, K, Schema, SparseVectorIndexConfig
    >>> from ragstore.collection_requests import CreateCollectionRequest
    >>> from ragstore.types import RecordSet
    >>> import numpy as np
    >>> api = LocalAPI(None)
    >>> schema = Schema().create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT,
    ...     embedding_function=ChromaBm25EmbeddingFunction()), key="bm25")
    >>> col = api.create_collection(CreateCollectionRequest("docs", schema=schema.serialize_to_json())).id
    >>> api.write(col, "add", RecordSet(["a", "b"], np.zeros((2, 2), np.float32), None, ["cats chase mice", "dogs"], None))
    >>> [stats] = bm25_statistics(api, col, [("bm25", "cats")])
    >>> stats.documents, stats.total_length, stats.frequencies
    (2, 4.0, (1,))
    >>> api.close()

"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ragstore.local import search_executor
from ragstore.local.bm25_statistics import Bm25Statistics
from ragstore.local.engine import LocalAPI
from ragstore.search.ranks import KnnQuery

__all__ = ["bm25_statistics"]


def bm25_statistics(api: LocalAPI, collection_id: uuid.UUID, probes: Sequence[tuple[str, KnnQuery]]) -> list[Bm25Statistics | None]:
    """Per ``(key, query)`` probe, this store's BM25 statistics (``None`` where the key's sparse index is not BM25).

    Raises:
        InvalidArgumentError: a key without a sparse index, or a query of the wrong kind (as a search would).
        NotFoundError: no such collection.

    """
    with api._db.read() as conn:
        row = api._rows.get_by_id(conn, collection_id)
        specs = {spec.key: spec for spec in row.sparse_indexes}
        ctx = search_executor.SearchContext(conn, api._indexes, api._sparse, row, specs)
        return [search_executor.bm25_statistics(ctx, key, query) for key, query in probes]
