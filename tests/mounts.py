"""Real file systems for tests: a small tmpfs (a disk that fills up) and read-only bind mounts.

Mounting needs root (or CAP_SYS_ADMIN). Where the machine cannot mount, a test skips
and says why; under CI, which runs as root, it fails instead, so a lost privilege
never passes quietly.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


def _unmount(point: Path) -> None:
    # A lazy unmount as a fallback: a server that is being stopped may still hold a file.
    if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
        _run("umount", "-l", str(point))


@contextmanager
def _mounted(*mount: str, point: Path, remount: tuple[str, ...] = ()) -> Iterator[Path]:
    point.mkdir(parents=True, exist_ok=True)
    try:
        _run("mount", *mount, str(point))
    except (OSError, subprocess.CalledProcessError) as exc:
        message = f"this machine cannot mount file systems (needs root or CAP_SYS_ADMIN): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        if remount:
            _run("mount", *remount, str(point))
        yield point
    finally:
        _unmount(point)


def small_disk(point: Path, size: str = "20m") -> AbstractContextManager[Path]:
    """A real tmpfs of ``size`` at ``point``."""
    return _mounted("-t", "tmpfs", "-o", f"size={size}", "tmpfs", point=point)


def read_only_view(source: Path, point: Path) -> AbstractContextManager[Path]:
    """``source`` seen read-only at ``point`` (a read-only bind mount; ``point`` may be ``source``)."""
    return _mounted("--bind", str(source), point=point, remount=("-o", "remount,ro,bind"))
