"""Real ``ragstore run`` processes for tests that need a socket (not in-process ASGI).

``RunningServer.start(path, ...)`` launches ``python -m ragstore run --port 0``,
waits for its start line to learn the port, and ``stop()`` sends SIGTERM and
waits for a clean exit. ``RunningServer.launch(command, start_line, ...)`` does
the same for any server program that prints its port (the web chatbot).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_START_LINE = re.compile(r"serving (?P<path>.+) at http://(?P<host>[^:\s]+):(?P<port>\d+)")


class RunningServer:
    """A ``ragstore run`` child process bound to a free port on 127.0.0.1."""

    def __init__(self, process: subprocess.Popen[str], port: int, path: Path) -> None:
        self.process = process
        self.port = port
        self.path = path
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @classmethod
    def start(cls, path: Path, extra_args: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 60.0) -> RunningServer:
        """Start a server on ``path`` and wait until it listens."""
        command = [sys.executable, "-m", "ragstore", "run", "--path", str(path), "--port", "0", *extra_args]
        return cls.launch(command, _START_LINE, path, env=env, timeout=timeout)

    @classmethod
    def launch(
        cls,
        command: Sequence[str],
        start_line: re.Pattern[str],
        path: Path,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
        cwd: Path | None = None,
    ) -> RunningServer:
        """Run ``command`` and wait for a line matching ``start_line`` (with a ``port`` group)."""
        process = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = start_line.search(line)
            if match:
                server = cls(process, int(match["port"]), path)
                server.output.extend(seen)
                return server
        process.kill()
        process.wait()
        process.stdout.close()  # else the unclosed pipe is an unraisable ResourceWarning (an error under -W error)
        raise RuntimeError(f"{command[:4]} did not start: {''.join(seen)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Signal the server and wait for it to exit; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._reader.join(timeout=60)  # the output is complete once the pipe is drained
            if self.process.stdout is not None:
                self.process.stdout.close()
