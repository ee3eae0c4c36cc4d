"""``ShardedAPI``: ragstore's :class:`~ragstore.api.API` over several shards, each a set of replicas.

The catalog (tenants, databases, collections with their configuration and schema) is global: a
change goes to every replica of every shard, replica 0 of shard 0 (the authority) first for a
creation and last for a deletion, so a change that fails halfway can be retried (the others
tolerate "already exists" and "not found"); reads of it come from the authority. Records are
routed by a stable hash of their id (:mod:`ragstore.distributed.shard_routing`) to one shard, where
every live replica takes the write (:mod:`ragstore.distributed.replica_set`). Reads fan out to every
shard in parallel and merge (:mod:`ragstore.distributed.merge`): a dense query returns the nearest
of each shard's nearest, ``count`` sums, ``get`` pages over one fixed interleaving of the shards.

Search API searches (:mod:`ragstore.distributed.sharded_search`) rank with the collection's BM25
statistics, summed over the shards, and evaluate ``Rrf`` and rank arithmetic once over the merged
candidates. What a sharded store does not do yet, with a clear error instead of a wrong answer:
``query(mode="bm25" | "hybrid")`` and searches without a rank raise
:class:`~ragstore.errors.UnimplementedError`. Writes that span shards
are not atomic across them: a write that fails on one shard may have been committed on another.

The backends are any engines: in-process ``LocalAPI`` stores in the tests, Ray Serve deployments
behind ``ragstore serve --ray`` (:mod:`ragstore.distributed.serve`). ``create_app(ShardedAPI(...))``
serves it as ragstore's REST v2 API.

Example:
    >>> import numpy as np
    >>> from ragstore.local import LocalAPI
    >>> from ragstore.types import RecordSet
    >>> api = ShardedAPI([LocalAPI(None), LocalAPI(None)])
    >>> col = api.create_collection(CreateCollectionRequest("demo"))
    >>> vectors = np.array([[0, 0], [1, 1], [2, 2], [3, 3]], dtype=np.float32)
    >>> api.write(col.id, "add", RecordSet(["a", "b", "c", "d"], vectors, None, None, None))
    >>> api.count(col.id), api.query(col.id, QueryRequest(np.array([[2.1, 2.1]], dtype=np.float32), n_results=2))["ids"]
    (4, [['c', 'd']])
    >>> api.close()

"""

from __future__ import annotations

import copy
import dataclasses
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from ragstore.api import API, WriteOp, write_op
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.distributed.collection_ids import CollectionIds
from ragstore.distributed.merge import merge_get, merge_query
from ragstore.distributed.replica_set import ReplicaSet
from ragstore.distributed.shard_routing import split_ids, split_records
from ragstore.distributed.sharded_search import (
    RESULT_FIELDS,
    merge_one,
    plan,
    shard_request,
    shard_statistics,
    sparse_probes,
    statistics_by_probe,
    unsupported,
)
from ragstore.errors import (
    InvalidDimensionException,
    NotFoundError,
    RagstoreError,
    ServerConnectionError,
    UnimplementedError,
    UniqueConstraintError,
)
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest, checked_records
from ragstore.search import SearchResult
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet
from ragstore.validation import check_batch_size

T = TypeVar("T")

NOT_SHARDED = "is not available on a sharded store yet: BM25 scores need collection-wide statistics (see docs/scale-out.md)"


class ShardedAPI:
    """The :class:`~ragstore.api.API` of a store split over shards.

    Args:
        shards: One entry per shard: an engine, or a sequence of engines (its replicas, replica 0 first).
            The number of shards fixes where every record lives: open a sharded store with the same
            number (and order) of shards every time.

    """

    def __init__(self, shards: Sequence[API | Sequence[API]]) -> None:
        if not shards:
            raise ValueError("A sharded store needs at least one shard")
        self._shards = [ReplicaSet(i, list(s) if isinstance(s, (list, tuple)) else [s]) for i, s in enumerate(shards)]  # type: ignore[list-item]
        self._ids = CollectionIds(self._shards)
        self._dimensions: dict[uuid.UUID, int] = {}
        self._batch_limit: int | None = None  # an engine constant: asked once, not on every write
        # Every record request over HTTP first reads its collection's description (the route checks its scope);
        # asking the authority each time was one more hop per request. Changes made through this router drop
        # an entry; one made through another router is not seen here (see docs/scale-out.md).
        self._models: dict[uuid.UUID, CollectionModel] = {}
        self._catalog_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(self._shards)), thread_name_prefix="ragstore-shards")

    @property
    def shards(self) -> list[ReplicaSet]:
        """The shards, with their replicas and which of them this router has stopped using."""
        return self._shards

    def catch_up(self, shard: int, replica: int) -> int:
        """Bring a stale replica up to date from a live one of its shard and use it again (:mod:`.catch_up`)."""
        from ragstore.distributed.catch_up import catch_up

        return catch_up(self._shards, self._ids, self._catalog_lock, shard, replica)

    # ------------------------------------------------------------------ plumbing

    def _each_shard(self, call: Callable[[ReplicaSet], T]) -> list[T]:
        """``call`` on every shard at once; the answers in shard order (the first error is raised).

        Shard 0 runs in the calling thread, the others in the pool: one thread handoff less per request.
        """
        if len(self._shards) == 1:
            return [call(self._shards[0])]
        others = [self._pool.submit(call, shard) for shard in self._shards[1:]]
        try:
            first = call(self._shards[0])
        except BaseException:
            futures.wait(others)  # no call outlives the request
            raise
        return [first, *(future.result() for future in others)]

    def _on_collection(self, collection_id: uuid.UUID, shard: ReplicaSet, call: Callable[[API, uuid.UUID], T]) -> Callable[[API, int], T]:
        """A replica call on ``collection_id`` under the id that replica knows it by."""
        ids = self._ids.of(collection_id)[shard.shard]

        def on_replica(api: API, replica: int) -> T:
            local = ids[replica]
            if local is None:
                raise ServerConnectionError(f"replica {replica} of shard {shard.shard} does not hold collection {collection_id}")
            return call(api, local)

        return on_replica

    def _read(self, collection_id: uuid.UUID, shard: ReplicaSet, call: Callable[[API, uuid.UUID], T]) -> T:
        return shard.read(self._on_collection(collection_id, shard, call))

    def _write(self, collection_id: uuid.UUID, shard: ReplicaSet, call: Callable[[API, uuid.UUID], T]) -> T:
        return shard.write(self._on_collection(collection_id, shard, call))[0]

    def _members(self) -> list[tuple[ReplicaSet, int]]:
        return [(shard, replica) for shard in self._shards for replica in range(len(shard.replicas))]

    def _everywhere(self, call: Callable[[API], T], tolerated: tuple[type[RagstoreError], ...], authority_first: bool) -> T:
        """A catalog change on every replica of every shard: the authority's answer.

        The others tolerate ``tolerated`` (what a change retried after failing halfway finds); one
        that cannot be reached has missed the change and is no longer used.
        """
        members = self._members()
        order = members if authority_first else members[::-1]
        answer: T | None = None
        with self._catalog_lock:
            for shard, replica in order:
                authority = shard.shard == 0 and replica == 0
                if replica in shard.stale:
                    if authority:
                        self._ids.authority  # noqa: B018 - raises the authority's unavailability
                    continue
                try:
                    result = call(shard.replicas[replica])
                except ServerConnectionError:
                    if authority:
                        raise
                    shard.stale.add(replica)
                    continue
                except tolerated:
                    if authority:
                        raise
                    continue
                if authority:
                    answer = result
        return answer  # type: ignore[return-value]

    # ------------------------------------------------------------------ system

    def heartbeat(self) -> int:
        """Nanoseconds since the epoch; ``ServerConnectionError`` when a shard has no live replica."""
        return max(self._each_shard(lambda shard: shard.read(lambda api, _: api.heartbeat())))

    def get_version(self) -> str:
        """The authority's version."""
        return self._ids.authority.get_version()

    def get_max_batch_size(self) -> int:
        """The smallest batch size any shard takes (a write may put all its records on one shard)."""
        if self._batch_limit is None:
            self._batch_limit = min(self._each_shard(lambda shard: shard.read(lambda api, _: api.get_max_batch_size())))
        return self._batch_limit

    def close(self) -> None:
        """Close every replica's engine (idempotent)."""
        self._pool.shutdown(wait=True)
        for shard in self._shards:
            shard.close()

    def reset(self) -> bool:
        """Reset every replica of every shard (only where their settings allow it)."""
        self._everywhere(lambda api: api.reset(), (), authority_first=True)
        self._ids.forget()
        self._models.clear()
        self._dimensions.clear()
        return True

    # ------------------------------------------------------------------ tenants and databases

    def create_tenant(self, name: str) -> None:
        """Create a tenant on every shard."""
        self._everywhere(lambda api: api.create_tenant(name), (UniqueConstraintError,), authority_first=True)

    def get_tenant(self, name: str) -> str:
        """A tenant's name, from the authority."""
        return self._ids.authority.get_tenant(name)

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Create a database on every shard."""
        self._everywhere(lambda api: api.create_database(name, tenant), (UniqueConstraintError,), authority_first=True)

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:
        """A database, as the authority knows it."""
        return self._ids.authority.get_database(name, tenant)

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:
        """A tenant's databases, from the authority."""
        return self._ids.authority.list_databases(limit, offset, tenant)

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a database on every shard (the authority last)."""
        self._everywhere(lambda api: api.delete_database(name, tenant), (NotFoundError,), authority_first=False)
        self._ids.forget()
        self._models.clear()

    # ------------------------------------------------------------------ collections

    def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:
        """Create a collection on every replica of every shard (the authority first, whose model is the answer)."""
        with self._catalog_lock:
            model = self._ids.authority.create_collection(request)
            others = dataclasses.replace(request, get_or_create=True)  # the same collection, created or found
            ids: list[list[uuid.UUID | None]] = []
            for shard in self._shards:
                ids.append([])
                for replica in range(len(shard.replicas)):
                    if shard.shard == 0 and replica == 0:
                        ids[-1].append(model.id)
                    elif replica in shard.stale:
                        ids[-1].append(None)
                    else:
                        try:
                            ids[-1].append(shard.replicas[replica].create_collection(others).id)
                        except ServerConnectionError:
                            shard.stale.add(replica)
                            ids[-1].append(None)
            self._ids.remember(model.id, ids)
        return self._described(model)

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:
        """A collection by name, from the authority."""
        return self._described(self._ids.authority.get_collection(name, tenant, database))

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:
        """A collection by id, from the authority."""
        known = self._models.get(collection_id)
        if known is None or known.dimension is None:
            return self._described(self._ids.authority.get_collection_by_id(collection_id))
        return copy.deepcopy(known)  # the caller's own copy: the server may not change it, a library user might

    def list_collections(
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        """Collections in creation order, from the authority."""
        return [self._described(model) for model in self._ids.authority.list_collections(limit, offset, tenant, database)]

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:
        """How many collections the database holds, from the authority."""
        return self._ids.authority.count_collections(tenant, database)

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:
        """Delete a collection on every replica of every shard (the authority last)."""
        collection_id = self._ids.authority.get_collection(name, tenant, database).id
        self._everywhere(lambda api: api.delete_collection(name, tenant, database), (NotFoundError,), authority_first=False)
        self._ids.forget(collection_id)
        self._models.pop(collection_id, None)
        self._dimensions.pop(collection_id, None)

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:
        """Rename, replace metadata or change search-time configuration everywhere (the authority first)."""
        ids = self._ids.of(collection_id)
        model: CollectionModel | None = None
        with self._catalog_lock:
            for shard, replica in self._members():
                local = ids[shard.shard][replica]
                if local is None or replica in shard.stale:
                    continue
                try:
                    changed = shard.replicas[replica].modify_collection(local, request)
                except ServerConnectionError:
                    if shard.shard == 0 and replica == 0:
                        raise
                    shard.stale.add(replica)
                    continue
                model = model or changed
        assert model is not None  # the authority answered or raised
        return self._described(model)

    def _described(self, model: CollectionModel) -> CollectionModel:
        """The authority's description with the collection's dimension (shard 0 may hold none of its records), remembered."""
        if model.dimension is None:
            model = dataclasses.replace(model, dimension=self._dimension(model.id))
        self._models[model.id] = model
        return copy.deepcopy(model)

    # ------------------------------------------------------------------ writes

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:
        """Write each record on its shard (every live replica of it); checked here first, so no shard takes a bad write."""
        write_op(op)
        check_batch_size(len(records.ids), self.get_max_batch_size())
        checked = checked_records(op, records.ids, records.embeddings, records.metadatas, records.documents, records.uris, embedded=True)
        dim = checked.embeddings.shape[1] if checked.embeddings is not None else None
        known = self._dimension(collection_id)
        if dim is not None and known is not None and dim != known:
            # Each shard checks only against its own records: a shard still empty would take any dimension.
            raise InvalidDimensionException(f"Collection expecting embedding with dimension of {known}, got {dim}")
        parts = split_records(checked, len(self._shards))

        def write_shard(shard: ReplicaSet) -> None:
            part = parts[shard.shard]
            if part is not None:
                self._write(collection_id, shard, lambda api, local: api.write(local, op, part))

        self._each_shard(write_shard)
        if dim is not None and known is None:
            self._dimensions.setdefault(collection_id, dim)

    def _dimension(self, collection_id: uuid.UUID) -> int | None:
        """The collection's dimension once any shard has one (it never changes after that)."""
        known = self._dimensions.get(collection_id)
        if known is not None:
            return known
        dims = self._each_shard(
            lambda shard: self._read(collection_id, shard, lambda api, local: api.get_collection_by_id(local).dimension)
        )
        found = next((d for d in dims if d is not None), None)
        if found is not None:
            self._dimensions[collection_id] = found
        return found

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:
        """Delete what ``request`` selects on every shard; how many records went."""
        if request.limit is not None:  # which records "the first limit" are is the merged order's answer
            doomed = self.get(
                collection_id, GetRequest(request.ids, request.where, request.where_document, limit=request.limit, include=[])
            )
            if not doomed["ids"]:
                return 0
            request = DeleteRequest(doomed["ids"], request.where, request.where_document)
        per_shard = split_ids(request.ids, len(self._shards)) if request.ids is not None else None

        def delete_shard(shard: ReplicaSet) -> int:
            ids = per_shard[shard.shard] if per_shard is not None else None
            if per_shard is not None and not ids:
                return 0
            part = DeleteRequest(ids, request.where, request.where_document)
            return self._write(collection_id, shard, lambda api, local: api.delete(local, part))

        return sum(self._each_shard(delete_shard))

    # ------------------------------------------------------------------ reads

    def count(self, collection_id: uuid.UUID) -> int:
        """Records in the collection: the shards' counts summed."""
        return sum(self._each_shard(lambda shard: self._read(collection_id, shard, lambda api, local: api.count(local))))

    def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:
        """The shards' indexing progress summed (each from one replica)."""
        parts = self._each_shard(lambda shard: self._read(collection_id, shard, lambda api, local: api.get_indexing_status(local)))
        indexed, unindexed = sum(p.num_indexed_ops for p in parts), sum(p.num_unindexed_ops for p in parts)
        total = indexed + unindexed
        return IndexingStatus(indexed, unindexed, total, indexed / total if total else 1.0)

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:
        """The records ``request`` selects, interleaved by their position within their shard (see :mod:`.merge`)."""
        per_shard = split_ids(request.ids, len(self._shards)) if request.ids is not None else None
        wanted = None if request.limit is None else (request.offset or 0) + request.limit

        def get_shard(shard: ReplicaSet) -> GetResult:
            ids = per_shard[shard.shard] if per_shard is not None else None
            if per_shard is not None and not ids:
                self._ids.of(collection_id)  # a missing collection is NotFoundError all the same
                return _empty_get(request.include)
            part = GetRequest(ids, request.where, request.where_document, wanted, None, request.include)
            return self._read(collection_id, shard, lambda api, local: api.get(local, part))

        return merge_get(self._each_shard(get_shard), request.offset, request.limit)

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:
        """Each query's ``n_results`` nearest records over all shards (dense queries only)."""
        if request.mode != "dense":
            raise UnimplementedError(f"query with mode={request.mode!r} {NOT_SHARDED}")
        include = tuple(request.include)
        asked = include if "distances" in include else (*include, "distances")  # the merge ranks by distance
        per_shard = split_ids(request.ids, len(self._shards)) if request.ids is not None else None

        def query_shard(shard: ReplicaSet) -> QueryResult:
            ids = per_shard[shard.shard] if per_shard is not None else None
            part = dataclasses.replace(request, ids=ids, include=asked)
            return self._read(collection_id, shard, lambda api, local: api.query(local, part))

        return merge_query(self._each_shard(query_shard), request.n_results, include)

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:
        """Ranked searches over the shards (:mod:`.sharded_search`): BM25 with the collection's statistics, one rank evaluation.

        Searches without a rank raise UnimplementedError.
        """
        self._ids.of(collection_id)  # a missing collection is NotFoundError first
        for one in request.searches:
            reason = unsupported(one)
            if reason is not None:
                raise UnimplementedError(f"The Search API with {reason} is not available on a sharded store (see docs/scale-out.md)")
        probes = sparse_probes(request.searches)
        statistics = {}
        if probes:  # a round trip first, for the statistics the BM25 probes score with
            reports = self._each_shard(
                lambda shard: self._read(collection_id, shard, lambda api, local: shard_statistics(api, local, probes))
            )
            statistics = statistics_by_probe(probes, reports)
        planned = [plan(one, statistics) for one in request.searches]
        part = shard_request(request, planned)
        answers = self._each_shard(lambda shard: self._read(collection_id, shard, lambda api, local: api.search(local, part)))
        firsts = np.cumsum([0] + [len(p.asked) for p in planned]).tolist()
        merged = [merge_one(p, answers, first) for p, first in zip(planned, firsts, strict=False)]
        return SearchResult({name: [m[name] for m in merged] for name in RESULT_FIELDS})


def _empty_get(include: Sequence[str]) -> GetResult:
    """A shard's answer when none of the requested ids lives there."""
    return {
        "ids": [],
        "embeddings": np.empty((0, 0), dtype=np.float32) if "embeddings" in include else None,
        "documents": [] if "documents" in include else None,
        "uris": [] if "uris" in include else None,
        "data": None,
        "metadatas": [] if "metadatas" in include else None,
        "included": list(include),
    }
