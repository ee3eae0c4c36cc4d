"""Fixtures: real ragstore stores in every client mode, and a real ``ragstore run`` server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import ragstore

from llama_index.vector_stores.ragstore import RagstoreVectorStore

_START_LINE = re.compile(r"serving (?P<path>.+) at http://(?P<host>[^:\s]+):(?P<port>\d+)")


class RagstoreServer:
    """A ``python -m ragstore run --port 0`` child process on 127.0.0.1."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.host = "127.0.0.1"
        self.output: list[str] = []
        command = [sys.executable, "-m", "ragstore", "run", "--path", str(path), "--port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = _START_LINE.search(line)
            if match:
                self.port = int(match["port"])
                self._reader = threading.Thread(target=self._drain, daemon=True)
                self._reader.start()
                return
        self.process.kill()
        self.process.wait()
        raise RuntimeError(f"ragstore run did not start: {''.join(self.output)}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self) -> int:
        """SIGTERM the server and wait for its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self._reader.join(timeout=60)
            if self.process.stdout is not None:
                self.process.stdout.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagstoreServer]:
    running = RagstoreServer(tmp_path_factory.mktemp("server"))
    yield running
    assert running.stop() == 0, "".join(running.output)


def unique_name() -> str:
    return f"li-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["ephemeral", "persistent", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RagstoreVectorStore]:
    """An empty store on a fresh collection, in the client mode ``mode``."""
    if mode == "ephemeral":
        built = RagstoreVectorStore.from_params(unique_name())
    elif mode == "persistent":
        built = RagstoreVectorStore.from_params(unique_name(), persist_dir=str(tmp_path / "store"))
    else:
        srv: RagstoreServer = request.getfixturevalue("server")
        built = RagstoreVectorStore.from_params(unique_name(), host=srv.host, port=srv.port)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def http_client(server: RagstoreServer) -> Iterator[ragstore.ClientAPI]:
    client = ragstore.HttpClient(host=server.host, port=server.port)
    yield client
    client.close()
