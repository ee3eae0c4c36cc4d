"""ragstore beyond one machine, on Ray (the ``ragstore[ray]`` extra): distributed ingest with Ray Data.

Importing this package does not import Ray; running a job does, and without Ray it raises
:class:`RayNotInstalledError`, which names the extra to install. ``ragstore ingest PATHS --ray``
runs :func:`ray_ingest` from the command line; ``docs/scale-out.md`` says how to run it on a
multi-node cluster or KubeRay.

Example:
    >>> from ragstore.distributed import RayNotInstalledError
    >>> issubclass(RayNotInstalledError, ImportError)  # so `except ImportError` around an optional feature catches it
    True

"""

from __future__ import annotations

from ragstore.distributed.ingest import FILES_PER_TASK, ray_ingest
from ragstore.distributed.runtime import RayJobError, RayNotInstalledError

__all__ = ["FILES_PER_TASK", "RayJobError", "RayNotInstalledError", "ray_ingest"]
