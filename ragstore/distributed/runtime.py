"""Ray itself: imported only when a distributed job runs, a session to run it in, and the resources it asks for.

``import ragstore`` never imports Ray (it is the ``ragstore[ray]`` extra); this module imports it on first
use through :func:`require_ray`, which turns a missing install into one line that says what to install.
Ray is reached through ``importlib``, typed ``Any``: ragstore type-checks whether Ray is installed or not.

A local Ray instance schedules by *logical* CPUs. Reading and splitting files runs in tasks of
:data:`READ_CPUS`; the embedding actors hold theirs for the whole job. If the actors asked for every CPU
the tasks that feed them could never start and the job would wait forever (seen with two 1-CPU actors on
``ray.init(num_cpus=2)``), so :func:`actor_resources` gives each actor less than a CPU when the pool and
one reading task would not fit otherwise.

Joining a cluster at an address where nothing answers would wait in Ray's own connection retries for minutes
without a word (measured with Ray 2.60 on ``127.0.0.1:1``: still waiting after 60 s; even with Ray's knobs
``RAY_gcs_rpc_server_connect_timeout_s=2`` and ``RAY_gcs_server_port_wait_time_s=1`` it took 35 s, as the
wait for the cluster id has a 30 s timeout of its own), so :func:`ray_session` first opens a TCP connection to
the address with a :data:`CONNECT_TIMEOUT_S` timeout (:func:`check_reachable`) and raises
:class:`RayUnreachableError` naming the address when that fails.

Example:
    >>> actor_resources(cluster_cpus=2.0, cluster_gpus=0.0, actors=2)
    ActorResources(cpus=0.75, gpus=0.0)
    >>> actor_resources(cluster_cpus=16.0, cluster_gpus=4.0, actors=4)
    ActorResources(cpus=1.0, gpus=1.0)

"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("ragstore.distributed")

INSTALL_HINT = 'pip install "ragstore[ray]"'
READ_CPUS = 0.5
"""Logical CPUs of one read-and-split task (its time is mostly file reads and parsing; several overlap)."""
CONNECT_TIMEOUT_S = 5.0
"""Seconds :func:`check_reachable` waits for a TCP connection to a cluster's address (a live head answers in milliseconds)."""
RAY_CLIENT_PORT = 10001
"""The port of ``ray://HOST`` when the address names none (Ray Client's default)."""


class RayNotInstalledError(ImportError):
    """Ray (or Ray Data) is not installed: the distributed commands need the ``ragstore[ray]`` extra.

    Example:
        >>> str(RayNotInstalledError())
        'Distributed ingest runs on Ray, which is not installed: pip install "ragstore[ray]"'

    """

    def __init__(self, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"Distributed ingest runs on Ray, which is not installed: {INSTALL_HINT}{suffix}")


class RayJobError(RuntimeError):
    r"""A Ray job failed in a task or an actor (after Ray's retries); the message is the error as the worker raised it.

    Ray reports a worker's error as its own exception class whose text is the whole remote traceback; this one
    says the worker's error in one line, with Ray's exception as its ``__cause__``.

    Example:
        >>> remote = "ray::FlatMap(file_rows)() (pid=1)\n  File ...\nValueError: bad chunk\n\nThe above exception ..."
        >>> str(RayJobError.of(RuntimeError(remote)))
        'The Ray job failed: ValueError: bad chunk'

    """

    @classmethod
    def of(cls, error: BaseException) -> RayJobError:
        """The error for Ray's ``error``: the first ``Type: message`` line of the worker's traceback, else Ray's first line."""
        lines = _ANSI.sub("", str(error)).splitlines()
        first = next((line for line in lines if _RAISED.match(line)), lines[0] if lines else type(error).__name__)
        return cls(f"The Ray job failed: {first}")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the worker's name in its traceback text
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


class RayUnreachableError(ConnectionError):
    """Nothing answers at the Ray address to join: raised within seconds, instead of Ray's minutes of silent retries.

    Args:
        address: The address as given (``HOST:PORT``, ``ray://HOST:PORT``, or what ``auto`` found).
        reason: Why the connection failed (refused, no answer within the timeout, unknown host).
        source: Where the address came from, when not from the caller (``RAY_ADDRESS``).

    Example:
        >>> error = RayUnreachableError("127.0.0.1:1", "connection refused", source="RAY_ADDRESS")
        >>> str(error).split(". ")[0]
        'No Ray cluster answers at 127.0.0.1:1 (from RAY_ADDRESS): connection refused'
        >>> isinstance(error, ConnectionError)  # an OSError: the command line reports it in one line
        True

    """

    def __init__(self, address: str, reason: str, source: str | None = None) -> None:
        self.address, self.reason, self.source = address, reason, source
        where = f"{address} (from {source})" if source else address
        super().__init__(
            f"No Ray cluster answers at {where}: {reason}. Start one (ray start --head) or give the address of a running cluster's "
            "head: HOST:6379 (its GCS port), ray://HOST:10001 (Ray Client), or auto on one of its nodes."
        )


def check_reachable(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`RayUnreachableError` unless a TCP connection to the cluster ``ray.init(address=address)`` would join opens.

    The address is resolved by Ray's rules: ``None`` or ``auto`` read ``RAY_ADDRESS``; ``auto`` without it finds a
    cluster started on this machine (Ray's own lookup, which fails fast by itself when there is none); ``None``
    without it, and ``local``, start a new local instance, so there is nothing to check. An open port is all this
    proves: a port that answers but is no Ray head (a dashboard's, say) is left to Ray to find out.

    Args:
        address: What the caller passes to ``ray.init``.
        timeout_s: Seconds to wait for the connection.

    Raises:
        RayUnreachableError: The connection was refused, did not open within ``timeout_s``, or the host is unknown.

    Example:
        >>> check_reachable("local")  # a new local instance: nothing to reach
        >>> try:
        ...     check_reachable("127.0.0.1:1")  # nothing listens on port 1
        ... except RayUnreachableError as exc:
        ...     print(exc.reason)
        connection refused

    """
    source = None
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):
        address, source = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    if address == "auto":
        address = _auto_address()
    if address is None or address == "local":
        return
    host_port = _host_port(address)
    if host_port is None:  # no port: Ray reports the malformed address itself, at once
        return
    try:
        socket.create_connection(host_port, timeout=timeout_s).close()
    except socket.gaierror as exc:
        raise RayUnreachableError(address, f"unknown host {host_port[0]!r} ({exc.strerror})", source) from exc
    except TimeoutError as exc:
        raise RayUnreachableError(address, f"no answer within {timeout_s:g} s", source) from exc
    except OSError as exc:
        raise RayUnreachableError(address, (exc.strerror or str(exc)).lower(), source) from exc


def _auto_address() -> str | None:
    """The cluster ``auto`` means on this machine (Ray's lookup: ``ray start``'s record, or a running GCS), or ``None``."""
    try:
        services = importlib.import_module("ray._private.services")
        found: str | None = services.get_ray_address_from_environment("auto", None)
    except Exception:  # Ray's private helper moved, or found nothing: ray.init then says what is wrong itself
        return None
    return found


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST[:PORT]`` (IPv6 hosts in brackets); ``None`` without a port.

    Example:
        >>> _host_port("ray://head"), _host_port("10.0.0.5:6379"), _host_port("[::1]:6379"), _host_port("head")
        (('head', 10001), ('10.0.0.5', 6379), ('::1', 6379), None)

    """
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://").split("/", 1)[0]
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or host.endswith(":"):  # no port, or a bare IPv6 address
        return (rest.strip("[]"), RAY_CLIENT_PORT) if client else None
    return host.strip("[]"), int(port)


def require_ray() -> tuple[Any, Any]:
    """``(ray, ray.data)``, imported now.

    Raises:
        RayNotInstalledError: Ray or Ray Data (its ``data`` extra: pyarrow, pandas) is missing.

    """
    try:
        ray = importlib.import_module("ray")
        data = importlib.import_module("ray.data")
    except ImportError as exc:
        raise RayNotInstalledError(str(exc)) from exc
    return ray, data


@contextmanager
def ray_session(address: str | None, *, log_to_driver: bool = True) -> Iterator[Any]:
    """The ``ray`` module, connected: to ``address``, or to the instance this process already joined, or a new local one.

    ``log_to_driver=False`` keeps the workers' output (a loader's warnings) out of this process's stderr, where a
    progress display would be torn by it; it stays in the Ray session's log files.

    A Ray this process had already initialised is used as it is (``address`` then only has to agree with it,
    which Ray does not let us check cheaply, so it is not checked) and left running; one started here is shut
    down on the way out. Without an address, Ray's own rules apply: ``RAY_ADDRESS`` if set, else a new local
    instance with every CPU of this machine.

    Raises:
        RayUnreachableError: Nothing answers at the address to join (:func:`check_reachable`): said within seconds,
            where Ray's own retries would wait for minutes without a word.

    """
    ray, _ = require_ray()
    started = not ray.is_initialized()
    if started:
        check_reachable(address)
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=log_to_driver)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


@dataclass(frozen=True)
class ActorResources:
    """What one embedding actor reserves: logical CPUs and GPUs."""

    cpus: float
    gpus: float


def actor_resources(
    *, cluster_cpus: float, cluster_gpus: float, actors: int, cpus: float | None = None, gpus: float | None = None
) -> ActorResources:
    """The CPUs and GPUs each of ``actors`` embedding actors asks for.

    A request the cluster cannot hold now is only warned about: an autoscaling cluster (KubeRay's head often
    has no CPU of its own) adds nodes for it, while a fixed one never will and the job waits.

    Args:
        cluster_cpus: The cluster's logical CPUs now (``ray.cluster_resources()["CPU"]``).
        cluster_gpus: Its GPUs now (0 without any).
        actors: The pool's size.
        cpus: CPUs per actor as the user asked (default: 1, or less so the pool and one read task fit).
        gpus: GPUs per actor as the user asked (default: 1 when the cluster has a GPU per actor, else 0).

    Raises:
        ValueError: ``actors`` is below 1.

    Example:
        >>> actor_resources(cluster_cpus=2.0, cluster_gpus=0.0, actors=1)
        ActorResources(cpus=1.0, gpus=0.0)
        >>> actor_resources(cluster_cpus=0.0, cluster_gpus=0.0, actors=2)  # nothing yet: ask for whole CPUs, let it scale
        ActorResources(cpus=1.0, gpus=0.0)

    """
    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    room = cluster_cpus - READ_CPUS
    if cpus is None:
        cpus = min(1.0, room / actors) if room > 0 else 1.0
    if actors * cpus > room:
        logger.warning(
            "%d embedding actor(s) of %g CPU(s) and a read task of %g need %g CPUs; the Ray cluster has %g now: the job waits "
            "until it has them (an autoscaling cluster adds nodes; a fixed one never will)",
            actors,
            cpus,
            READ_CPUS,
            actors * cpus + READ_CPUS,
            cluster_cpus,
        )
    if gpus is None:
        # One GPU per actor when there are enough; a model shares a GPU badly with another process's model.
        gpus = 1.0 if cluster_gpus >= actors else 0.0
    return ActorResources(cpus=cpus, gpus=gpus)
