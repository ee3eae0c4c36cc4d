"""Bringing a stale replica back: a snapshot of a healthy replica of its shard, restored in its place.

A replica that missed a write is *stale* (:mod:`ragstore.distributed.replica_set`): the router stopped
using it. Once it answers again (Serve restarted it, or it was only slow), :func:`catch_up` makes it
equal to a live replica of its shard and returns it to service:

1. It takes the router's catalog lock and the shard's write lock, so no write and no catalog change
   goes by while it works (the shard's writes wait: a catch-up costs a snapshot, a copy and a restore).
2. A live replica takes an online backup of its store (:func:`ragstore.backup.backup`: every write it
   acknowledged is in it) and sends the SQLite file, the store's whole truth (the vector indexes are
   rebuilt from it on first use).
3. The stale replica closes its store, restores the snapshot over it (:func:`ragstore.backup.restore`)
   and opens it again. Its collections now carry the source replica's ids, which the router records.

Since the locks are held from the snapshot to the restore, "the writes since the snapshot" are none.
Replica 0 of shard 0 is never caught up this way: its collection ids are the ones clients hold, and a
copy would give it another replica's.

Example:
    >>> from ragstore.local import LocalAPI
    >>> isinstance(LocalAPI(None), Snapshots)  # an in-process store cannot be caught up: only Serve replicas
    False

"""

from __future__ import annotations

import logging
import threading
from typing import Protocol, runtime_checkable

from ragstore.distributed.collection_ids import CollectionIds
from ragstore.distributed.replica_set import ReplicaSet
from ragstore.errors import InvalidArgumentError

logger = logging.getLogger("ragstore.distributed")


@runtime_checkable
class Snapshots(Protocol):
    """A replica that can hand out a snapshot of its store and be replaced by one."""

    def snapshot(self) -> bytes:
        """The store's SQLite file as of one commit (an online backup)."""
        ...

    def replace_with(self, database: bytes) -> None:
        """Replace the store by ``database`` (a :meth:`snapshot`), and go on serving it."""
        ...


def catch_up(shards: list[ReplicaSet], ids: CollectionIds, catalog_lock: threading.Lock, shard: int, replica: int) -> int:
    """Make ``replica`` of ``shard`` a copy of a live replica of it and use it again; the replica copied from.

    Raises:
        InvalidArgumentError: The replica is the authority, or cannot take a snapshot.
        ServerConnectionError: No other live replica to copy from, or one of the two does not answer.

    """
    if (shard, replica) == (0, 0):
        raise InvalidArgumentError("Replica 0 of shard 0 holds the collection ids clients use: it cannot be replaced by a copy")
    replicas = shards[shard]
    target = replicas.replicas[replica]
    if not isinstance(target, Snapshots):
        raise InvalidArgumentError(f"Replica {replica} of shard {shard} cannot be caught up (it takes no snapshot)")
    with catalog_lock, replicas.write_lock:
        sources = [i for i in replicas.live() if i != replica]
        if not sources:
            raise replicas.unavailable(f"no live replica to copy replica {replica} from")
        source = replicas.replicas[sources[0]]
        if not isinstance(source, Snapshots):
            raise InvalidArgumentError(f"Replica {sources[0]} of shard {shard} takes no snapshot")
        target.replace_with(source.snapshot())
        ids.copy_replica(shard, sources[0], replica)
        replicas.stale.discard(replica)
    logger.warning("shard %d replica %d caught up from replica %d", shard, replica, sources[0])
    return sources[0]
