"""The HTTP servers the HTTP rows talk to: ``python -m ragstore run`` and ``chroma run``, one fresh server per worker.

A worker starts its own server on a temporary store, so the server's peak RSS (``VmHWM``
from ``/proc``, read just before the server is stopped) belongs to that repeat alone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    """A server process; ``port`` waits until it answers, so the caller can do other work while it boots."""

    proc: subprocess.Popen[bytes]
    log: Path
    what: str
    probe: Callable[[], int | None]  # the port once the server is ready, else None
    _port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = _wait(self.proc, self.probe, self.what, self.log)
        return self._port

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory (``VmHWM``) of the server and any children it spawned, in MiB; ``None`` if unreadable."""
        pids, total, seen = [self.proc.pid], 0, False
        while pids:
            pid = pids.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                total, seen = total + int(match.group(1)), True
            pids.extend(_children(pid))
        return total / 1024 if seen else None

    def stop(self) -> None:
        """SIGTERM (a graceful stop for both servers), then SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            out.extend(int(child) for child in (task / "children").read_text().split())
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], int | None], what: str, log: Path, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready:\n{log.read_text(errors='replace')[-2000:]}")
        port = ready()
        if port is not None:
            return port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def _start_ragstore(path: str, log: Path) -> Server:
    """``python -m ragstore run --port 0``; the port comes from its start line, read by :func:`ragstore.testing.start_line_port`.

    Not :class:`ragstore.testing.RunningServer`, which blocks until the start line: here the server boots while
    this process imports the client library, and its output goes to a log file rather than a pipe.
    """
    with log.open("wb") as out:
        # The command is spelled here, not taken from ragstore.testing: importing ragstore first would end that overlap.
        proc = subprocess.Popen(
            [sys.executable, "-m", "ragstore", "run", "--path", path, "--port", "0"], stdout=out, stderr=subprocess.STDOUT
        )

    def ready() -> int | None:
        from ragstore.testing import start_line_port  # first called after the caller imported ragstore (see above)

        return start_line_port(log.read_text(errors="replace"))

    return Server(proc, log, "ragstore server", ready)


def _start_chroma(path: str, log: Path) -> Server:
    """``chroma run`` on a free port, ready once ``/api/v2/heartbeat`` answers."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(chroma), "run", "--path", path, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)

    def ready() -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as response:
                return port if response.status == 200 else None
        except OSError:
            return None

    return Server(proc, log, "chroma server", ready)


@contextmanager
def running_server(kind: str, root: Path) -> Iterator[Server]:
    """A ``kind`` ("ragstore" or "chromadb") server booting on ``root/store``, logging to ``root/server.log``; stopped at exit."""
    store = root / "store"
    store.mkdir()
    server = (_start_ragstore if kind == "ragstore" else _start_chroma)(str(store), root / "server.log")
    try:
        yield server
    finally:
        server.stop()
