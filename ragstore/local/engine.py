"""``LocalAPI``: the one engine, in memory (``path=None``) or on disk.

It implements :class:`ragstore.api.API` over SQLite (the truth) and one
cached HNSW index per collection (:mod:`ragstore.local.index_cache`). A write is
acknowledged once SQLite has committed it; a background thread inserts its vectors
into the index (:mod:`ragstore.local.indexer`), and queries search what the index
lacks exactly meanwhile (:mod:`ragstore.local.fresh_tail`). Record
reads and deletes arrive as request objects (:mod:`ragstore.record_requests`), which
cannot exist unchecked; record sets and every other argument are checked again here,
by the same functions the clients use. Each public method runs in one SQLite
transaction and maps failures to the :mod:`ragstore.errors` tree. The HTTP server wraps this class,
so all modes share one behaviour.

Example:
    >>> import numpy as np
    >>> from ragstore.types import RecordSet
    >>> api = LocalAPI(None)
    >>> col = api.create_collection(CreateCollectionRequest("demo"))
    >>> api.write(col.id, "add", RecordSet(["a", "b"], np.array([[0, 0], [1, 1]], dtype=np.float32), None, None, None))
    >>> api.query(col.id, QueryRequest(np.array([[0.9, 0.9]], dtype=np.float32), n_results=1))["ids"]
    [['b']]

"""

from __future__ import annotations

import sqlite3
import time
import uuid
import weakref
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ragstore._version import __version__
from ragstore.api import WriteOp, write_op
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.collection_schema.reconcile import reconcile, with_schema
from ragstore.configuration import apply_modification
from ragstore.errors import AuthorizationError, InvalidArgumentError, InvalidDimensionException
from ragstore.filters import Node
from ragstore.local import catalog, records, text_index
from ragstore.local.catalog import CollectionRow
from ragstore.local.database import Database
from ragstore.local.graph_feed import next_label
from ragstore.local.hybrid_query import text_query
from ragstore.local.index_cache import IndexCache
from ragstore.local.reads import get_result, needs_no_catching_up, query_result, search
from ragstore.local.search_executor import SEARCH_RESULT_FIELDS, SearchContext, run_search
from ragstore.local.sparse_index import SparseIndexes
from ragstore.local.sparse_upkeep import write_sparse
from ragstore.local.sql_filters import selection, uses_text_index
from ragstore.names import validate_tenant_or_database_name
from ragstore.readd_warning import warn_existing
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest, checked_records
from ragstore.search import SearchResult, compile_where
from ragstore.settings import Settings
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet
from ragstore.validation import check_batch_size, validate_non_negative_int

MAX_BATCH_SIZE = 16_384
# Deleted labels are remembered this long (per collection) so lagging indexes can
# catch up; past it the oldest are dropped and lagging indexes rebuild from SQLite
# (records.prune_tombstones). A setting of the engine's, so a test can lower it here.
MAX_TOMBSTONES = 100_000


def _shutdown(db: Database, indexes: IndexCache) -> None:
    """Let the indexer finish (``Settings.index_close_wait``), save the indexes, close connections (also at interpreter exit)."""
    indexes.close()
    db.close()


def _non_negative_seconds(value: float | None, name: str) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0):
        raise InvalidArgumentError(f"Expected {name} to be a number of seconds >= 0 or None, got {value!r}")
    return value


class LocalAPI:
    """The in-process engine.

    Args:
        path: Directory of a persistent store, or ``None`` for memory.
        settings: Client settings (``allow_reset``).
        max_response_bytes: Largest answer ``get`` and ``query`` build, in estimated JSON
            bytes; larger ones raise :class:`~ragstore.errors.ResponseTooLargeError` before
            they are built. ``None`` (embedded clients) sets no limit; ``ragstore run``
            passes its ``--max-response-size``, so no request can make the server build
            an unbounded answer.

    """

    def __init__(self, path: str | Path | None, settings: Settings | None = None, *, max_response_bytes: int | None = None) -> None:
        self._path = Path(path).expanduser().resolve() if path is not None else None
        self._settings = settings or Settings()
        self._max_response_bytes = max_response_bytes
        max_unindexed = validate_non_negative_int(self._settings.max_unindexed_records, "max_unindexed_records", None)
        close_wait = _non_negative_seconds(self._settings.index_close_wait, "index_close_wait")
        self._db = Database(self._path)
        self._indexes = IndexCache(self._db, self._path, max_unindexed, close_wait)
        self._sparse = SparseIndexes()  # in memory only: rebuilt from SQLite on first use
        self._rows = catalog.RowCache()  # the read paths' collection rows, reused until the store changes
        # The finalizer must not hold self (it would never be collected): only what it closes.
        self._finalizer = weakref.finalize(self, _shutdown, self._db, self._indexes)

    # ------------------------------------------------------------------ system

    @property
    def path(self) -> Path | None:
        """The store's directory (``None`` in memory)."""
        return self._path

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch."""
        self._db.connection()  # raises when closed
        return time.time_ns()

    def get_version(self) -> str:
        """Ragstore's version."""
        return __version__

    def get_max_batch_size(self) -> int:
        """The largest number of records one write may carry."""
        return MAX_BATCH_SIZE

    def close(self) -> None:
        """Let background indexing finish (``Settings.index_close_wait``), save the indexes, close every connection (idempotent)."""
        self._finalizer()

    def reset(self) -> bool:
        """Delete every collection, database and tenant (only with ``allow_reset``)."""
        if not self._settings.allow_reset:
            raise AuthorizationError("Reset is disabled by config")
        with self._db.write() as conn:
            catalog.delete_everything(conn)
        self._indexes.clear()
        self._sparse.clear()
        self._db.vacuum()
        return True

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> None:
        """Create a tenant."""
        validate_tenant_or_database_name(name, "tenant")
        with self._db.write() as conn:
            catalog.create_tenant(conn, name)

    def get_tenant(self, name: str) -> str:
        """A tenant's name; ``NotFoundError`` when missing."""
        with self._db.read() as conn:
            return catalog.get_tenant(conn, name)

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database in ``tenant``."""
        validate_tenant_or_database_name(name, "database")
        with self._db.write() as conn:
            catalog.create_database(conn, name, tenant)

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """``{"id", "name", "tenant"}``; ``NotFoundError`` when missing."""
        with self._db.read() as conn:
            return {"id": catalog.database_id(conn, tenant, name), "name": name, "tenant": tenant}

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """A tenant's databases."""
        with self._db.read() as conn:
            return catalog.list_databases(
                conn, tenant, validate_non_negative_int(limit, "limit", None), validate_non_negative_int(offset, "offset", None)
            )

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database and all its collections."""
        with self._db.write() as conn:
            ids = catalog.delete_database(conn, name, tenant)
        for collection_id in ids:
            self._indexes.remove_files(collection_id)
        self._sparse.clear()  # keyed by collection pk, which a database delete does not list
        self._db.vacuum()

    # ------------------------------------------------------------------ collections

    def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection, or return the existing one when ``request.get_or_create``."""
        name, metadata, tenant, database = request.name, request.metadata, request.tenant, request.database
        configuration, schema = reconcile(request.configuration, metadata, request.schema)
        config = with_schema(configuration, schema)
        if request.get_or_create:  # an existing collection needs no write transaction (a read-only store has it too)
            with self._db.read() as conn:
                found = catalog.find_by_name(conn, name, tenant, database)
            if found is not None:
                return found.model()
        with self._db.write() as conn:
            existing = catalog.find_by_name(conn, name, tenant, database)
            if existing is not None and request.get_or_create:
                return existing.model()
            return catalog.create_collection_row(conn, name, metadata, config, tenant, database).model()

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name."""
        with self._db.read() as conn:
            return catalog.get_by_name(conn, name, tenant, database).model()

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id."""
        with self._db.read() as conn:
            return catalog.get_by_id(conn, collection_id).model()

    def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order."""
        limit = validate_non_negative_int(limit, "limit", "list_collections")
        offset = validate_non_negative_int(offset, "offset", "list_collections")
        with self._db.read() as conn:
            return [row.model() for row in catalog.list_rows(conn, tenant, database, limit, offset)]

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections there are."""
        with self._db.read() as conn:
            return catalog.count_rows(conn, tenant, database)

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection, its records and its index files."""
        with self._db.write() as conn:
            row = catalog.get_by_name(conn, name, tenant, database)
            deleted = records.count_records(conn, row.pk)
            catalog.delete_collection_row(conn, row.pk)
            remaining = records.count_records(conn)
        self._indexes.forget(row.pk, str(row.id))
        self._sparse.forget(row.pk)
        # Merging the text index rewrites all of it: worth it only when a sizeable share
        # went (so the cost is amortised); small leftovers are merged away by later writes.
        self._db.vacuum(merge_text_index=deleted * 10 >= remaining)

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata, or change search-time configuration."""
        new_metadata, new_configuration = request.new_metadata, request.new_configuration
        with self._db.write() as conn:
            row = catalog.get_by_id(conn, collection_id)
            if new_metadata and "hnsw:space" in new_metadata and new_metadata["hnsw:space"] != row.hnsw.space:
                raise InvalidArgumentError("Changing the distance function of a collection once it is created is not supported currently.")
            config = apply_modification(row.configuration, new_configuration) if new_configuration is not None else None
            catalog.update_collection_row(conn, row, request.new_name, new_metadata, config)
            return catalog.get_by_id(conn, collection_id).model()

    # ------------------------------------------------------------------ writes

    def _checked(self, op: WriteOp, rs: RecordSet) -> RecordSet:
        """Check a write again (the engine trusts no caller): its op, the clients' rules, plus the engine's batch limit."""
        write_op(op)
        check_batch_size(len(rs.ids), MAX_BATCH_SIZE)
        return checked_records(op, rs.ids, rs.embeddings, rs.metadatas, rs.documents, rs.uris, embedded=True)

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Write records as ``op`` says (``add`` skips ids that exist, as chromadb does; ``update`` ignores missing ones)."""
        self._apply(collection_id, op, self._checked(op, records))

    def _apply(self, collection_id: uuid.UUID, op: WriteOp, rs: RecordSet) -> None:
        """A checked write, in one transaction (apart from :meth:`write`, whose ``records`` would hide the module here)."""
        dim = rs.embeddings.shape[1] if rs.embeddings is not None else None
        with self._db.write() as conn:
            row = catalog.get_by_id(conn, collection_id)
            if dim is not None and row.dimension is not None and dim != row.dimension:
                raise InvalidDimensionException(f"Collection expecting embedding with dimension of {row.dimension}, got {dim}")
            seq = row.last_seq + 1
            specs = row.sparse_indexes
            existing = records.existing_rows(conn, row.pk, rs.ids)  # read once: the write, its sparse values and the add warning
            existed = set(existing)
            written = records.write_records(conn, row.pk, seq, op, rs, existing)
            if specs and write_sparse(conn, row.pk, seq, specs, op, rs, existed, written.rowids) and not written.mirrored:
                self._advance(conn, row, seq, dim)  # only sparse values changed: the sparse index must still catch up
            if written.mirrored:
                self._advance(conn, row, seq, dim)
                last_label = next_label(conn) - 1
        if op == "add":
            warn_existing(rs.ids, existed)  # once committed: the ids it skipped, not overwritten (chromadb 0.x logged them)
        if written.mirrored:
            # Acknowledged once committed: the graph is the indexer's work (a writer waits only when too much is left).
            self._indexes.written(row, last_label, dim)

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete the records ``request`` selects; returns how many were really deleted."""
        node, limit = request.filter, request.limit
        with self._db.write() as conn:
            row = catalog.get_by_id(conn, collection_id)
            if uses_text_index(node):
                text_index.ensure_indexed(conn, row.pk)
            sql, params = selection(row.pk, request.ids, node)
            doomed = records.matching_rows(conn, sql, params, limit)
            if not doomed:
                return 0
            seq = row.last_seq + 1
            records.delete_rows(conn, row.pk, doomed, seq)
            self._advance(conn, row, seq, None)
        self._indexes.written(row)  # queries drop the deleted labels at once; the graph drops them in the background
        self._db.reclaim()
        return len(doomed)

    def _ensure_text_index(self, collection_id: uuid.UUID, node: Node | None) -> None:
        """Build the collection's full-text index before its first document filter that needs it.

        A read-only store cannot build it: its document filters test every document instead.
        """
        if not uses_text_index(node) or self._db.read_only:
            return
        with self._db.read() as conn:
            if self._rows.get_by_id(conn, collection_id).text_indexed:
                return
        with self._db.write() as conn:
            text_index.ensure_indexed(conn, catalog.get_by_id(conn, collection_id).pk)

    @staticmethod
    def _advance(conn: sqlite3.Connection, row: CollectionRow, seq: int, dim: int | None) -> None:
        """Record a write that changed vectors or metadata as sequence ``seq`` (pruning old tombstones)."""
        floor = records.prune_tombstones(conn, row.pk, row.last_seq, row.tombstone_floor, MAX_TOMBSTONES)
        catalog.advance(conn, row.pk, seq, floor, dim)

    # ------------------------------------------------------------------ reads

    def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection."""
        with self._db.read() as conn:
            return records.count_records(conn, self._rows.get_by_id(conn, collection_id).pk)

    def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """How far this process's HNSW graph has taken in the collection's writes (see :class:`~ragstore.types.IndexingStatus`)."""
        with self._db.read() as conn:
            return self._indexes.indexing_status(conn, self._rows.get_by_id(conn, collection_id))

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """The records ``request`` selects, in insertion order."""
        self._ensure_text_index(collection_id, request.filter)
        with self._db.read() as conn:
            row = self._rows.get_by_id(conn, collection_id)
            sql, params = selection(row.pk, request.ids, request.filter, row.text_indexed)
            return get_result(conn, sql, params, request.include, request.limit, request.offset, row.dimension, self._max_response_bytes)

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """The ``n_results`` nearest records ``request`` allows, for each query (``mode``: dense, BM25, or both fused)."""
        self._ensure_text_index(collection_id, request.filter)
        if request.mode != "dense":  # BM25 alone or fused (local/hybrid_query), in one snapshot
            with self._db.read() as conn:
                row = self._rows.get_by_id(conn, collection_id)
                hits = text_query(conn, self._indexes, self._sparse, row, request)
                return query_result(conn, hits, request.include, row.dimension, self._max_response_bytes)
        queries = request.vectors
        # Usually the caches are current and the query needs no snapshot (two statements
        # fewer); only a query that must load or catch up a cache reads in a transaction.
        with self._db.read(snapshot=False) as conn:
            row = self._rows.get_by_id(conn, collection_id)
            if row.dimension is None or needs_no_catching_up(self._indexes, row, request.n_results, request.filter, request.ids):
                return self._query(conn, row, queries, request)
        with self._db.read() as conn:
            return self._query(conn, self._rows.get_by_id(conn, collection_id), queries, request)

    def _query(self, conn: sqlite3.Connection, row: CollectionRow, queries: npt.NDArray[np.float32], request: QueryRequest) -> QueryResult:
        if row.dimension is not None and queries.shape[1] != row.dimension:
            raise InvalidDimensionException(f"Collection expecting embedding with dimension of {row.dimension}, got {queries.shape[1]}")
        if row.dimension is None or request.ids == []:
            hits: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = [(np.empty(0, np.int64), np.empty(0, np.float32))] * len(
                queries
            )
        else:
            hits = search(conn, self._indexes, row, queries, request.n_results, request.filter, request.ids)
        return query_result(conn, hits, request.include, row.dimension, self._max_response_bytes)

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Run Search API searches (filter, dense and sparse Knn, fusion, grouping, paging) in one snapshot."""
        for one in request.searches:
            self._ensure_text_index(collection_id, compile_where(one.parts().where).where)
        with self._db.read() as conn:
            row = self._rows.get_by_id(conn, collection_id)
            specs = {spec.key: spec for spec in row.sparse_indexes}
            context = SearchContext(conn, self._indexes, self._sparse, row, specs, self._max_response_bytes)
            payloads = [run_search(context, one) for one in request.searches]
        return SearchResult({name: [p[name] for p in payloads] for name in SEARCH_RESULT_FIELDS})
