"""One shard replica's engine as an :class:`~ragstore.api.API`, reached through a Ray Serve deployment handle.

Each call is ``handle.call.remote(method, *args)``, waited for with ``result(timeout_s=...)`` (the router
calls from Starlette's thread pool, never from an event loop, where Serve forbids blocking). Errors come
back as one store's: an error ragstore raised on purpose in the replica is raised again as itself (Ray
wraps it in a ``RayTaskError``; its ``cause`` is the original); a replica whose actor died, is being
restarted, or did not answer within the timeout is :class:`~ragstore.errors.ServerConnectionError`,
which tells the :class:`~ragstore.distributed.replica_set.ReplicaSet` to leave it out.

Example:
    >>> HandleAPI(None, shard=1, replica=0).describe()
    'shard 1 replica 0'

"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ragstore.api import WriteOp
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.errors import InternalError, RagstoreError, ServerConnectionError
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import SearchResult
from ragstore.types import DEFAULT_DATABASE, DEFAULT_TENANT, CollectionModel, GetResult, IndexingStatus, QueryResult, RecordSet

if TYPE_CHECKING:
    from ragstore.local.bm25_statistics import Bm25Statistics
    from ragstore.search.ranks import KnnQuery

DEFAULT_TIMEOUT_S = 60.0
"""How long the router waits for a replica before counting it unavailable (a slow answer is a lost replica)."""

# Ray's and Serve's names for "that replica cannot answer" (the classes are looked up by name: Ray is imported lazily).
_UNAVAILABLE = {
    "RayActorError",
    "ActorDiedError",
    "ActorUnavailableError",
    "ActorUnschedulableError",
    "DeploymentUnavailableError",
    "ReplicaUnavailableError",
    "BackPressureError",
    "RequestCancelledError",
    "GetTimeoutError",
    "TimeoutError",
    "NodeDiedError",
    "ObjectLostError",
    "OwnerDiedError",
}


def translated(exc: BaseException, where: str) -> RagstoreError:
    """What a replica call's failure means to the router: the replica's own error, unavailability, or an internal error.

    Example:
        >>> type(translated(TimeoutError("slow"), "shard 0 replica 1")).__name__
        'ServerConnectionError'

    """
    cause = getattr(exc, "cause", None)
    if isinstance(cause, RagstoreError):
        return cause
    if isinstance(exc, RagstoreError) and type(exc).__module__.startswith("ragstore"):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _UNAVAILABLE:
        return ServerConnectionError(f"{where} is unavailable ({type(exc).__name__})")
    return InternalError(f"{where} failed: {type(exc).__name__}: {exc}")


class HandleAPI:
    """The engine of one replica deployment (a :class:`ragstore.distributed.serve.ShardReplica`) as an API.

    Args:
        handle: The deployment's Serve handle.
        shard: The shard's number (for messages).
        replica: The replica's number within its shard.
        timeout_s: Seconds to wait for an answer before the replica counts as unavailable.

    """

    def __init__(self, handle: Any, shard: int, replica: int, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._handle = handle
        self._shard, self._replica = shard, replica
        self._timeout_s = timeout_s

    def describe(self) -> str:
        """Which replica this is, as messages name it."""
        return f"shard {self._shard} replica {self._replica}"

    def _call(self, method: str, *args: Any, engine: bool = True) -> Any:
        """``method(*args)`` of the replica's engine (``engine=False``: a method of the replica itself)."""
        try:
            if engine:
                return self._handle.call.remote(method, *args).result(timeout_s=self._timeout_s)
            return getattr(self._handle, method).remote(*args).result(timeout_s=self._timeout_s)
        except Exception as exc:  # every failure is translated: the server must see ragstore's errors only
            raise translated(exc, self.describe()) from None

    def heartbeat(self) -> int:  # noqa: D102 - each method is the API protocol's, forwarded
        return int(self._call("heartbeat"))

    def get_version(self) -> str:  # noqa: D102
        return str(self._call("get_version"))

    def get_max_batch_size(self) -> int:  # noqa: D102
        return int(self._call("get_max_batch_size"))

    def create_tenant(self, name: str) -> None:  # noqa: D102
        self._call("create_tenant", name)

    def get_tenant(self, name: str) -> str:  # noqa: D102
        return str(self._call("get_tenant", name))

    def create_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:  # noqa: D102
        self._call("create_database", name, tenant)

    def get_database(self, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, str]:  # noqa: D102
        answer: dict[str, str] = self._call("get_database", name, tenant)
        return answer

    def list_databases(self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT) -> list[dict[str, str]]:  # noqa: D102
        answer: list[dict[str, str]] = self._call("list_databases", limit, offset, tenant)
        return answer

    def delete_database(self, name: str, tenant: str = DEFAULT_TENANT) -> None:  # noqa: D102
        self._call("delete_database", name, tenant)

    def create_collection(self, request: CreateCollectionRequest) -> CollectionModel:  # noqa: D102
        answer: CollectionModel = self._call("create_collection", request)
        return answer

    def get_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> CollectionModel:  # noqa: D102
        answer: CollectionModel = self._call("get_collection", name, tenant, database)
        return answer

    def get_collection_by_id(self, collection_id: uuid.UUID) -> CollectionModel:  # noqa: D102
        answer: CollectionModel = self._call("get_collection_by_id", collection_id)
        return answer

    def list_collections(  # noqa: D102
        self, limit: int | None = None, offset: int | None = None, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE
    ) -> list[CollectionModel]:
        answer: list[CollectionModel] = self._call("list_collections", limit, offset, tenant, database)
        return answer

    def count_collections(self, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> int:  # noqa: D102
        return int(self._call("count_collections", tenant, database))

    def delete_collection(self, name: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> None:  # noqa: D102
        self._call("delete_collection", name, tenant, database)

    def modify_collection(self, collection_id: uuid.UUID, request: ModifyCollectionRequest) -> CollectionModel:  # noqa: D102
        answer: CollectionModel = self._call("modify_collection", collection_id, request)
        return answer

    def write(self, collection_id: uuid.UUID, op: WriteOp, records: RecordSet) -> None:  # noqa: D102
        self._call("write", collection_id, op, records)

    def delete(self, collection_id: uuid.UUID, request: DeleteRequest) -> int:  # noqa: D102
        return int(self._call("delete", collection_id, request))

    def get(self, collection_id: uuid.UUID, request: GetRequest) -> GetResult:  # noqa: D102
        answer: GetResult = self._call("get", collection_id, request)
        return answer

    def query(self, collection_id: uuid.UUID, request: QueryRequest) -> QueryResult:  # noqa: D102
        answer: QueryResult = self._call("query", collection_id, request)
        return answer

    def search(self, collection_id: uuid.UUID, request: SearchRequest) -> SearchResult:  # noqa: D102
        answer: SearchResult = self._call("search", collection_id, request)
        return answer

    def count(self, collection_id: uuid.UUID) -> int:  # noqa: D102
        return int(self._call("count", collection_id))

    def get_indexing_status(self, collection_id: uuid.UUID) -> IndexingStatus:  # noqa: D102
        answer: IndexingStatus = self._call("get_indexing_status", collection_id)
        return answer

    def reset(self) -> bool:  # noqa: D102
        return bool(self._call("reset"))

    def bm25_statistics(self, collection_id: uuid.UUID, probes: Sequence[tuple[str, KnnQuery]]) -> list[Bm25Statistics | None]:
        """The replica's BM25 statistics for sparse probes (:mod:`ragstore.local.search_statistics`), which the router sums."""
        answer: list[Bm25Statistics | None] = self._call("bm25_statistics", collection_id, list(probes), engine=False)
        return answer

    def close(self) -> None:
        """Nothing to release here: the replica's store closes when its deployment stops."""

    def snapshot(self) -> bytes:
        """The replica's store as one SQLite file (for :mod:`ragstore.distributed.catch_up`)."""
        data: bytes = self._call("snapshot", engine=False)
        return data

    def replace_with(self, database: bytes) -> None:
        """Replace the replica's store by a snapshot of another's."""
        self._call("replace_with", database, engine=False)
