"""Sharded, replicated serving on Ray Serve: ``ragstore serve --ray``.

The application is ``shards x replicas`` deployments of :class:`ShardReplica` (each with exactly one
Serve replica, owning a persistent store at ``PATH/shard-<i>/replica-<j>`` on its node's disk) and one
router deployment, :class:`Router`, that serves ``create_app(ShardedAPI(handles), config)`` on its own
HTTP server (:mod:`ragstore.distributed.router_http`; Serve runs without its HTTP proxy, which cost
~10 ms a request here): the same REST v2 API, auth, limits and errors as ``ragstore run``.

Why a deployment per (shard, replica) rather than one deployment per shard with ``num_replicas=R``:
a Serve handle sends each call to *one* replica of its deployment, chosen by load, so a write could
not be made to reach every replica of a shard (``handle.broadcast`` reaches every running replica,
but Serve documents it for rare control-plane calls, without back-pressure and without saying which
replica answered). With one replica per deployment the router addresses each replica by name, waits
for every live one before acknowledging a write, and a replica that Serve restarts opens the same
directory again (its name, ``replica-<j>``, does not change with Serve's replica id). The router also
runs a watcher that catches up stale replicas once they answer again (:mod:`ragstore.distributed.catch_up`).

Example:
    >>> replica_path("/data", 1, 0)
    '/data/shard-1/replica-0'

"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from typing import Any

from ragstore.distributed.handle_api import DEFAULT_TIMEOUT_S, HandleAPI
from ragstore.distributed.router_http import RouterHttp
from ragstore.distributed.runtime import RayNotInstalledError
from ragstore.distributed.sharded_api import ShardedAPI
from ragstore.errors import RagstoreError

APP_NAME = "ragstore"
WATCH_S = 5.0
"""How often the router looks for stale replicas that answer again, to catch them up."""
logger = logging.getLogger("ragstore.distributed")
READS = frozenset(
    {
        "heartbeat",
        "get_version",
        "get_max_batch_size",
        "get_tenant",
        "get_database",
        "list_databases",
        "get_collection",
        "get_collection_by_id",
        "list_collections",
        "count_collections",
        "count",
        "get_indexing_status",
        "get",
        "query",
        "search",
    }
)
"""Engine methods that only read: a replica runs them on its event loop (see :meth:`ShardReplica.call`)."""


def replica_path(root: str | os.PathLike[str], shard: int, replica: int) -> str:
    """The store directory of one replica under the service's ``--path``."""
    return os.path.join(os.fspath(root), f"shard-{shard}", f"replica-{replica}")


def require_serve() -> Any:
    """``ray.serve``, imported now; :class:`RayNotInstalledError` without the ``ragstore[ray]`` extra."""
    try:
        return importlib.import_module("ray.serve")
    except ImportError as exc:
        raise RayNotInstalledError(str(exc)) from exc


class ShardReplica:
    """One replica of one shard: a persistent store whose engine methods the router calls by name.

    Args:
        path: The replica's store directory (created when missing).
        allow_reset: Whether ``reset`` may delete everything (``--allow-reset``).
        max_response_bytes: The largest answer this replica builds (``--max-response-size``).

    """

    def __init__(self, path: str, allow_reset: bool = False, max_response_bytes: int | None = None) -> None:
        self._path = path
        self._allow_reset, self._max_response_bytes = allow_reset, max_response_bytes
        self._api = self._open()
        # Set while replace_with swaps the store (closed, restored, reopened): engine calls wait for it on the
        # event loop instead of meeting a closed store. Only the loop reads and sets it.
        self._swap: asyncio.Future[None] | None = None

    async def _store(self) -> Any:
        """The engine, once no swap is under way."""
        while self._swap is not None:
            await asyncio.shield(self._swap)
        return self._api

    def _open(self) -> Any:
        from ragstore.local import LocalAPI
        from ragstore.settings import Settings

        return LocalAPI(self._path, Settings(allow_reset=self._allow_reset), max_response_bytes=self._max_response_bytes)

    async def call(self, method: str, *args: Any) -> Any:
        """``method(*args)`` of the replica's engine (only the API's own method names).

        Reads run on the replica's event loop: Serve runs a sync method in a worker thread, and that
        handoff cost ~2.5 ms a call on this shared machine (a driver's handle calling ``heartbeat``,
        interleaved: p50 5.5 ms in a thread, 3.0 ms on the loop). Writes and catalog changes still run
        in a thread: a long write must not hold the loop, which also dispatches reads and health checks.
        """
        if method.startswith("_") or method == "close":
            raise AttributeError(f"Not an engine call: {method}")
        engine_method = getattr(await self._store(), method)
        if method in READS:
            return engine_method(*args)
        return await asyncio.to_thread(engine_method, *args)

    async def bm25_statistics(self, collection_id: Any, probes: list[tuple[str, Any]]) -> list[Any]:
        """The store's BM25 statistics for sparse probes (:mod:`ragstore.local.search_statistics`), which the router sums (a read)."""
        from ragstore.local.search_statistics import bm25_statistics

        return list(bm25_statistics(await self._store(), collection_id, probes))

    def snapshot(self) -> bytes:
        """The store's SQLite file as of one commit (an online backup), for a stale replica to catch up from."""
        import tempfile
        from pathlib import Path

        from ragstore.backup import backup
        from ragstore.local.database import DATABASE_FILENAME

        with tempfile.TemporaryDirectory() as tmp:
            backup(self._path, Path(tmp) / "snapshot")
            return (Path(tmp) / "snapshot" / DATABASE_FILENAME).read_bytes()

    async def replace_with(self, database: bytes) -> None:
        """Replace the store by a snapshot of another replica's (the router holds the shard's writes meanwhile).

        Engine calls that arrive meanwhile wait for the new store (a read on the event loop cannot be halfway:
        the loop runs one at a time, and this starts on it).
        """
        await self._store()  # one swap at a time
        self._swap = asyncio.get_running_loop().create_future()
        try:
            await asyncio.to_thread(self._replace, database)
        finally:
            self._swap.set_result(None)
            self._swap = None

    def _replace(self, database: bytes) -> None:
        import tempfile
        from pathlib import Path

        from ragstore.backup import restore
        from ragstore.local.database import DATABASE_FILENAME

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "snapshot"
            folder.mkdir()
            (folder / DATABASE_FILENAME).write_bytes(database)
            self._api.close()
            try:
                restore(folder, self._path, force=True)
            finally:
                self._api = self._open()  # the restored store, or the old one if the restore failed

    def process_id(self) -> int:
        """The replica's process id (to find it in ``ps``, profile it, or kill it in a failure drill)."""
        return os.getpid()

    async def check_health(self) -> None:
        """Serve's health check: the store answers (a closed or broken store makes Serve restart the replica)."""
        (await self._store()).heartbeat()

    def __del__(self) -> None:
        # Serve calls __del__ when it stops a replica: the store saves its index files then. An instance
        # whose __init__ never ran (ray.remote's wrapper makes one) has no store to close.
        api = getattr(self, "_api", None)
        if api is not None:
            api.close()


class Router:
    """The router: ragstore's REST v2 server over every shard's replica deployments, listening on ``host:port``.

    Args:
        shards: Per shard, the handles of its replica deployments (Serve passes handles for bound deployments).
        config: The server's guards (token, body limit, ...), as ``ragstore run`` builds them.
        host: The address the router's HTTP server binds.
        port: Its port.
        timeout_s: Seconds to wait for a replica before it counts as unavailable.
        watch_s: Seconds between two rounds of the catch-up watcher.

    """

    def __init__(
        self,
        shards: list[list[Any]],
        config: Any,
        host: str,
        port: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        watch_s: float = WATCH_S,
    ) -> None:
        from ragstore.server.app import create_app

        self._api = ShardedAPI([[HandleAPI(h, i, j, timeout_s) for j, h in enumerate(replicas)] for i, replicas in enumerate(shards)])
        self._stopped = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(watch_s,), name="ragstore-catch-up", daemon=True)
        self._watcher.start()
        self._http = RouterHttp(create_app(self._api, config), host, port)

    def _watch(self, every_s: float) -> None:
        """Every ``every_s`` seconds, catch up each stale replica that answers again (never the authority)."""
        while not self._stopped.wait(every_s):
            for shard in self._api.shards:
                for replica in sorted(shard.stale):
                    if (shard.shard, replica) == (0, 0):
                        continue
                    try:
                        shard.replicas[replica].heartbeat()
                        self._api.catch_up(shard.shard, replica)
                    except RagstoreError as exc:  # still down, or no live replica to copy: try again next round
                        logger.info("shard %d replica %d not caught up yet: %s", shard.shard, replica, exc)

    def check_health(self) -> None:
        """Serve's health check: the HTTP server still runs (else Serve restarts the router, which listens again)."""
        if not self._http.alive():
            raise RuntimeError("The router's HTTP server stopped")

    def __del__(self) -> None:
        # Serve calls __del__ when it stops the router: the port is free again for the next one.
        self._stopped.set()
        http = getattr(self, "_http", None)
        if http is not None:
            http.stop()


def build_app(
    path: str | os.PathLike[str],
    shards: int,
    replicas: int,
    config: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_reset: bool = False,
    max_response_bytes: int | None = None,
    replica_cpus: float = 1.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Any:
    """The Serve application of a sharded service (run it with ``serve.run(app, name=APP_NAME, route_prefix=None)``).

    Args:
        path: Root folder; replica ``j`` of shard ``i`` keeps its store in :func:`replica_path`.
        shards: Number of shards (fixes where each record lives: keep it for the life of the data).
        replicas: Replicas per shard.
        config: A :class:`ragstore.server.app.ServerConfig`.
        host: The address the router listens on (an address of the node that calls this: the router runs there).
        port: The router's port.
        allow_reset: Let ``POST /api/v2/reset`` delete everything.
        max_response_bytes: Each replica's answer limit.
        replica_cpus: Logical CPUs each replica (and the router) asks Ray for.
        timeout_s: Seconds the router waits for a replica.

    """
    if shards < 1 or replicas < 1:
        raise ValueError(f"Expected at least one shard and one replica, got {shards} x {replicas}")
    serve = require_serve()
    replica = serve.deployment(ShardReplica)
    bound = [
        [
            replica.options(
                name=f"shard-{i}-replica-{j}",
                num_replicas=1,
                ray_actor_options={"num_cpus": replica_cpus},
                health_check_period_s=2,
                health_check_timeout_s=10,
            ).bind(replica_path(path, i, j), allow_reset, max_response_bytes)
            for j in range(replicas)
        ]
        for i in range(shards)
    ]
    ray = importlib.import_module("ray")
    here = {f"node:{ray.util.get_node_ip_address()}": 0.001}  # the router listens on an address of this node
    router = serve.deployment(Router).options(
        name="router", num_replicas=1, ray_actor_options={"num_cpus": replica_cpus, "resources": here}, health_check_period_s=2
    )
    return router.bind(bound, config, host, port, timeout_s)


def start_service(
    path: str | os.PathLike[str],
    shards: int,
    replicas: int,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    auth_token: str | None = None,
    allow_reset: bool = False,
    max_body_size: int = 64 * 1024 * 1024,
    max_response_bytes: int | None = 32 * 1024 * 1024,
    allow_hosts: tuple[str, ...] = (),
    replica_cpus: float | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> str:
    """Deploy the sharded service on the Ray instance this process has joined; its URL once every replica is up.

    ``replica_cpus=None`` shares the cluster's CPUs out (at most one each) among the replicas and the router,
    so a small local instance can hold them all. Stop it with :func:`stop_service`.
    """
    from pathlib import Path

    from ragstore.server.app import ServerConfig
    from ragstore.server.origin import HostPolicy
    from ragstore.server.run import url_of

    serve = require_serve()
    ray = importlib.import_module("ray")
    if replica_cpus is None:
        replica_cpus = min(1.0, float(ray.cluster_resources().get("CPU", 1.0)) / (shards * replicas + 1))
    config = ServerConfig(auth_token=auth_token or None, max_body_size=max_body_size, hosts=HostPolicy.for_bind(host, allow_hosts))
    root = Path(path).expanduser().resolve()
    app = build_app(
        root,
        shards,
        replicas,
        config,
        host=host,
        port=port,
        allow_reset=allow_reset,
        max_response_bytes=max_response_bytes,
        replica_cpus=replica_cpus,
        timeout_s=timeout_s,
    )
    serve.start(http_options={"location": "NoServer"})  # the router listens itself (router_http)
    serve.run(app, name=APP_NAME, route_prefix=None, blocking=False)
    return url_of(host, port)


def stop_service() -> None:
    """Delete the sharded service's application (its replicas close their stores) and stop Serve."""
    serve = require_serve()
    serve.delete(APP_NAME)
    serve.shutdown()
