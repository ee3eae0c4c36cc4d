"""Real ``ragstore run`` processes for tests that need a socket: the library's own :mod:`ragstore.testing`.

``RunningServer.start(path, ...)`` launches ``python -m ragstore run --port 0`` and reads its port from the
start line; ``RunningServer.launch(command, start_line, ...)`` does the same for any server program that
prints its port (the web chatbot). Re-exported here so the test modules keep one short import.
"""

from __future__ import annotations

from ragstore.testing import RunningServer

__all__ = ["RunningServer"]
