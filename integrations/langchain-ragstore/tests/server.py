"""A real ``ragstore run`` child process on 127.0.0.1 for the HTTP tests (started with ``--port 0``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_START_LINE = re.compile(r"serving (?P<path>.+) at http://(?P<host>[^:\s]+):(?P<port>\d+)")


class RagstoreServer:
    """``python -m ragstore run --path DIR --port 0``; the port is read from its start line."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.host = "127.0.0.1"
        self.port = port
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @classmethod
    def start(cls, path: Path, timeout: float = 60.0) -> RagstoreServer:
        """Start a server storing under ``path`` and wait until it listens."""
        command = [sys.executable, "-m", "ragstore", "run", "--path", str(path), "--host", "127.0.0.1", "--port", "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _START_LINE.search(line)
            if match:
                server = cls(process, int(match["port"]))
                server.output.extend(seen)
                return server
        process.kill()
        process.wait()
        raise RuntimeError(f"ragstore run did not start: {''.join(seen)}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM the server and wait for its exit status (0 on a clean shutdown)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self._reader.join(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
