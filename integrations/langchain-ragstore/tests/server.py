"""A real ``ragstore run`` child process on 127.0.0.1 for the HTTP tests: :class:`ragstore.testing.RunningServer`."""

from __future__ import annotations

from ragstore.testing import RunningServer as RagstoreServer

__all__ = ["RagstoreServer"]
