"""The replicas of one shard: every write goes to each live replica, a read to one of them.

A replica is any :class:`~ragstore.api.API`; one that cannot be reached says so with
:class:`~ragstore.errors.ServerConnectionError` (the Ray Serve handles raise it when a replica's actor
is dead or unreachable). A write is acknowledged once every live replica has committed it. A replica
that could not take a write has missed it: it is marked *stale* and this router never reads from it
or writes to it again until it is brought up to date (:mod:`ragstore.distributed.catch_up` does that for
Ray Serve replicas). A shard whose replicas are all stale or unreachable makes
every request that needs it fail with ``ServerConnectionError`` naming the shard, never a partial
answer.

Writes to one shard are serialised (one lock per shard): two writes of the same id must reach every
replica in the same order, or the replicas would disagree.

Example:
    >>> from ragstore.local import LocalAPI
    >>> replicas = ReplicaSet(0, [LocalAPI(None), LocalAPI(None)])
    >>> replicas.write(lambda api, replica: api.create_database("notes"))
    [None, None]
    >>> replicas.read(lambda api, replica: api.get_database("notes")["name"])
    'notes'

"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from ragstore.api import API
from ragstore.errors import RagstoreError, ServerConnectionError

T = TypeVar("T")
logger = logging.getLogger("ragstore.distributed")


class ReplicaSet:
    """The replicas of shard ``shard`` (``replicas[0]`` first; at least one).

    Args:
        shard: The shard's number (for error messages).
        replicas: One engine per replica.

    """

    def __init__(self, shard: int, replicas: Sequence[API]) -> None:
        if not replicas:
            raise ValueError(f"Shard {shard} needs at least one replica")
        self.shard = shard
        self.replicas = list(replicas)
        self.stale: set[int] = set()
        self.write_lock = threading.Lock()
        """Held by each write to the shard, and by a catch-up (which must see no write go by)."""
        self._turn = itertools.count()

    def live(self) -> list[int]:
        """The replicas this router still uses, in order.

        Example:
            >>> from ragstore.local import LocalAPI
            >>> ReplicaSet(0, [LocalAPI(None)]).live()
            [0]

        """
        return [i for i in range(len(self.replicas)) if i not in self.stale]

    def unavailable(self, detail: str = "") -> ServerConnectionError:
        """The error of a request that needs this shard when no replica of it answers."""
        suffix = f": {detail}" if detail else ""
        return ServerConnectionError(f"Shard {self.shard} has no live replica ({len(self.replicas)} configured){suffix}")

    def read(self, call: Callable[[API, int], T]) -> T:
        """``call(replica, index)`` on one live replica (taken in turn); the next one when it cannot be reached."""
        live = self.live()
        if not live:
            raise self.unavailable()
        start = next(self._turn)
        last: ServerConnectionError | None = None
        for k in range(len(live)):
            index = live[(start + k) % len(live)]
            try:
                return call(self.replicas[index], index)
            except ServerConnectionError as exc:
                last = exc
        raise self.unavailable(str(last)) from last

    def write(self, call: Callable[[API, int], T]) -> list[T]:
        """``call(replica, index)`` on every live replica, one write at a time for the shard; each one's answer.

        A replica that cannot be reached is marked stale and left out; the write still succeeds when
        another replica committed it. An error that the store raised on purpose (a bad argument, a
        missing collection) is raised once every replica has answered.
        """
        with self.write_lock:
            answers: list[T] = []
            failure: RagstoreError | None = None
            for index in self.live():
                try:
                    answers.append(call(self.replicas[index], index))
                except ServerConnectionError as exc:
                    logger.warning("shard %d replica %d missed a write and is no longer used: %s", self.shard, index, exc)
                    self.stale.add(index)
                except RagstoreError as exc:
                    failure = failure or exc
            if failure is not None:
                raise failure
            if not answers:
                raise self.unavailable()
            return answers

    def close(self) -> None:
        """Close every replica's engine."""
        for replica in self.replicas:
            try:
                replica.close()
            except RagstoreError:  # one replica that cannot close (unreachable) must not keep the others open
                logger.warning("shard %d: a replica could not be closed", self.shard, exc_info=True)
