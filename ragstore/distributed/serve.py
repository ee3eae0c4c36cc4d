"""Sharded, replicated serving on Ray Serve: ``ragstore serve --ray``.

The application is ``shards x replicas`` deployments of :class:`ShardReplica` (each with exactly one
Serve replica, owning a persistent store at ``PATH/shard-<i>/replica-<j>`` on its node's disk) and one
router deployment, :class:`Router`, that serves ``create_app(ShardedAPI(handles), config)`` through
``serve.ingress``: the same REST v2 API, auth, limits and errors as ``ragstore run``.

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

import importlib
import logging
import os
import threading
from typing import Any

from ragstore.distributed.handle_api import DEFAULT_TIMEOUT_S, HandleAPI
from ragstore.distributed.runtime import RayNotInstalledError
from ragstore.distributed.sharded_api import ShardedAPI
from ragstore.errors import RagstoreError

APP_NAME = "ragstore"
WATCH_S = 5.0
"""How often the router looks for stale replicas that answer again, to catch them up."""
logger = logging.getLogger("ragstore.distributed")


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

    def _open(self) -> Any:
        from ragstore.local import LocalAPI
        from ragstore.settings import Settings

        return LocalAPI(self._path, Settings(allow_reset=self._allow_reset), max_response_bytes=self._max_response_bytes)

    def call(self, method: str, *args: Any) -> Any:
        """``method(*args)`` of the replica's engine (only the API's own method names)."""
        if method.startswith("_") or method == "close":
            raise AttributeError(f"Not an engine call: {method}")
        return getattr(self._api, method)(*args)

    def bm25_statistics(self, collection_id: Any, probes: list[tuple[str, Any]]) -> list[Any]:
        """The store's BM25 statistics for sparse probes (:mod:`ragstore.local.search_statistics`), which the router sums."""
        from ragstore.local.search_statistics import bm25_statistics

        return list(bm25_statistics(self._api, collection_id, probes))

    def snapshot(self) -> bytes:
        """The store's SQLite file as of one commit (an online backup), for a stale replica to catch up from."""
        import tempfile
        from pathlib import Path

        from ragstore.backup import backup
        from ragstore.local.database import DATABASE_FILENAME

        with tempfile.TemporaryDirectory() as tmp:
            backup(self._path, Path(tmp) / "snapshot")
            return (Path(tmp) / "snapshot" / DATABASE_FILENAME).read_bytes()

    def replace_with(self, database: bytes) -> None:
        """Replace the store by a snapshot of another replica's (the router holds the shard's writes meanwhile)."""
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

    def check_health(self) -> None:
        """Serve's health check: the store answers (a closed or broken store makes Serve restart the replica)."""
        self._api.heartbeat()

    def __del__(self) -> None:
        # Serve calls __del__ when it stops a replica: the store saves its index files then.
        self._api.close()


class Router:
    """The router: ragstore's REST v2 server over every shard's replica deployments.

    Args:
        shards: Per shard, the handles of its replica deployments (Serve passes handles for bound deployments).
        config: The server's guards (token, body limit, ...), as ``ragstore run`` builds them.
        timeout_s: Seconds to wait for a replica before it counts as unavailable.

    """

    def __init__(self, shards: list[list[Any]], config: Any, timeout_s: float = DEFAULT_TIMEOUT_S, watch_s: float = WATCH_S) -> None:
        self._api = ShardedAPI([[HandleAPI(h, i, j, timeout_s) for j, h in enumerate(replicas)] for i, replicas in enumerate(shards)])
        self._config = config
        self._stopped = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(watch_s,), name="ragstore-catch-up", daemon=True)
        self._watcher.start()

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

    def __del__(self) -> None:
        self._stopped.set()

    def __serve_build_asgi_app__(self) -> Any:
        """The app Serve runs on this deployment (``serve.ingress`` with no app asks for it after ``__init__``)."""
        from ragstore.server.app import create_app

        return create_app(self._api, self._config)


def build_app(
    path: str | os.PathLike[str],
    shards: int,
    replicas: int,
    config: Any,
    *,
    allow_reset: bool = False,
    max_response_bytes: int | None = None,
    replica_cpus: float = 1.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Any:
    """The Serve application of a sharded service (run it with ``serve.run(app, name=APP_NAME, route_prefix="/")``).

    Args:
        path: Root folder; replica ``j`` of shard ``i`` keeps its store in :func:`replica_path`.
        shards: Number of shards (fixes where each record lives: keep it for the life of the data).
        replicas: Replicas per shard.
        config: A :class:`ragstore.server.app.ServerConfig`.
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
    router = serve.deployment(serve.ingress()(Router))
    return router.options(name="router", num_replicas=1, ray_actor_options={"num_cpus": replica_cpus}).bind(bound, config, timeout_s)


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
        allow_reset=allow_reset,
        max_response_bytes=max_response_bytes,
        replica_cpus=replica_cpus,
        timeout_s=timeout_s,
    )
    serve.start(http_options={"host": host, "port": port})
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    return f"http://{host}:{port}"


def stop_service() -> None:
    """Delete the sharded service's application (its replicas close their stores) and stop Serve."""
    serve = require_serve()
    serve.delete(APP_NAME)
    serve.shutdown()
