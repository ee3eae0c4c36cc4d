"""Ray itself: imported only when a distributed job runs, a session to run it in, and the resources it asks for.

``import ragstore`` never imports Ray (it is the ``ragstore[ray]`` extra); this module imports it on first
use through :func:`require_ray`, which turns a missing install into one line that says what to install.
Ray is reached through ``importlib``, typed ``Any``: ragstore type-checks whether Ray is installed or not.

A local Ray instance schedules by *logical* CPUs. Reading and splitting files runs in tasks of
:data:`READ_CPUS`; the embedding actors hold theirs for the whole job. If the actors asked for every CPU
the tasks that feed them could never start and the job would wait forever (seen with two 1-CPU actors on
``ray.init(num_cpus=2)``), so :func:`actor_resources` gives each actor less than a CPU when the pool and
one reading task would not fit otherwise.

Example:
    >>> actor_resources(cluster_cpus=2.0, cluster_gpus=0.0, actors=2)
    ActorResources(cpus=0.75, gpus=0.0)
    >>> actor_resources(cluster_cpus=16.0, cluster_gpus=4.0, actors=4)
    ActorResources(cpus=1.0, gpus=1.0)

"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("ragstore.distributed")

INSTALL_HINT = 'pip install "ragstore[ray]"'
READ_CPUS = 0.5
"""Logical CPUs of one read-and-split task (its time is mostly file reads and parsing; several overlap)."""


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
    """
    ray, _ = require_ray()
    started = not ray.is_initialized()
    if started:
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
