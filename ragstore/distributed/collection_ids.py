"""One collection, one id per replica: how a router finds a collection on every shard's replicas.

``LocalAPI.create_collection`` draws a fresh UUID for each new collection and cannot be given one,
so the same collection has a different id on every replica of every shard. The router hands out the
id that replica 0 of shard 0 (the *authority*) gave, and keeps, per collection, the id each replica
gave (learnt when the router creates the collection, or looked up by name the first time the router
sees the id: the authority names the collection, each replica is asked for that name). Ids are never
reused, so an entry that outlived its collection only makes the request fail with ``NotFoundError``.
An engine that took the id at creation would make every id the same and this module unnecessary.

Example:
    >>> from ragstore.collection_requests import CreateCollectionRequest
    >>> from ragstore.distributed.replica_set import ReplicaSet
    >>> from ragstore.local import LocalAPI
    >>> shards = [ReplicaSet(0, [LocalAPI(None)]), ReplicaSet(1, [LocalAPI(None)])]
    >>> models = [s.replicas[0].create_collection(CreateCollectionRequest("docs")) for s in shards]
    >>> ids = CollectionIds(shards)
    >>> ids.of(models[0].id) == [[models[0].id], [models[1].id]]
    True

"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from ragstore.api import API
from ragstore.distributed.replica_set import ReplicaSet
from ragstore.errors import NotFoundError, ServerConnectionError
from ragstore.types import CollectionModel

MemberIds = list[list[uuid.UUID | None]]
"""Per shard, per replica: the collection's id there (``None``: that replica does not hold it or did not answer)."""


class CollectionIds:
    """The ids of each router-visible collection on every replica of every shard (a cache, filled on demand)."""

    def __init__(self, shards: Sequence[ReplicaSet]) -> None:
        self._shards = shards
        self._known: dict[uuid.UUID, MemberIds] = {}
        self._lock = threading.Lock()

    @property
    def authority(self) -> API:
        """Replica 0 of shard 0: its ids are the ones clients see; ``ServerConnectionError`` once it is stale."""
        first = self._shards[0]
        if 0 in first.stale:
            raise ServerConnectionError("Replica 0 of shard 0, which holds the collection ids clients use, is unavailable")
        return first.replicas[0]

    def remember(self, collection_id: uuid.UUID, ids: MemberIds) -> None:
        """Record what a creation learnt."""
        with self._lock:
            self._known[collection_id] = ids

    def forget(self, collection_id: uuid.UUID | None = None) -> None:
        """Drop one collection's ids (all of them with ``None``: after a database delete or a reset)."""
        with self._lock:
            if collection_id is None:
                self._known.clear()
            else:
                self._known.pop(collection_id, None)

    def copy_replica(self, shard: int, source: int, target: int) -> None:
        """Replica ``target`` of ``shard`` now holds a copy of ``source``'s store, ids included."""
        with self._lock:
            for ids in self._known.values():
                ids[shard][target] = ids[shard][source]

    def of(self, collection_id: uuid.UUID) -> MemberIds:
        """The collection's id on every replica; ``NotFoundError`` when the authority does not have it."""
        with self._lock:
            known = self._known.get(collection_id)
        if known is not None:
            return known
        model = self.authority.get_collection_by_id(collection_id)
        ids = [[self._lookup(shard, replica, model) for replica in range(len(shard.replicas))] for shard in self._shards]
        ids[0][0] = model.id
        self.remember(collection_id, ids)
        return ids

    @staticmethod
    def _lookup(shard: ReplicaSet, replica: int, model: CollectionModel) -> uuid.UUID | None:
        if replica in shard.stale:
            return None
        try:
            return shard.replicas[replica].get_collection(model.name, model.tenant, model.database).id
        except (ServerConnectionError, NotFoundError):  # it cannot serve this collection: requests use the other replicas
            return None
