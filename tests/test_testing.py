"""``ragstore.testing``: real ``ragstore run`` children on free ports, and what happens when one will not start or stop."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ragstore
from ragstore.testing import START_LINE, RunningServer, run_server, start_line_port

HERMETIC = {"RAGSTORE_AUTH_TOKEN": "", "RAGSTORE_AUTH_TOKEN_FILE": ""}  # empty means unset: the caller's environment never decides


def test_run_server_serves_the_store_and_stops_cleanly(tmp_path: Path) -> None:
    with run_server(tmp_path / "store", env=HERMETIC) as server, run_server(tmp_path / "other", env=HERMETIC) as other:
        assert server.port != other.port and server.url == f"http://127.0.0.1:{server.port}"
        assert start_line_port("".join(server.output)) == server.port
        client = server.client()
        try:
            client.create_collection("docs").add(ids=["a"], embeddings=[[1.0, 0.0]])
        finally:
            client.close()
        assert server.path == tmp_path / "store"
    assert server.returncode == 0 and server.process.poll() == 0 and server.process.stdout is not None and server.process.stdout.closed
    reopened = ragstore.PersistentClient(path=str(tmp_path / "store"))
    try:
        assert reopened.get_collection("docs").count() == 1  # the server wrote where it was told
    finally:
        reopened.close()


def test_auth_token_is_required_and_sent_by_client(tmp_path: Path) -> None:
    with run_server(tmp_path / "store", env=HERMETIC, auth_token="t0k-for-tests") as server:
        assert "auth on" in "".join(server.output)
        client = server.client()
        try:
            assert client.list_collections() == []
        finally:
            client.close()
        with pytest.raises(ragstore.errors.AuthenticationError):
            ragstore.HttpClient(host=server.host, port=server.port)  # checks its tenant on the way in, without the token


def test_extra_arguments_reach_the_command_line(tmp_path: Path) -> None:
    with run_server(tmp_path / "store", "--allow-reset", env=HERMETIC) as server:
        assert "reset allowed" in "".join(server.output)


def test_a_server_that_fails_to_start_is_reported_with_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"exited with status 1: .*missing") as caught:
        RunningServer.start(tmp_path / "store", ["--auth-token-file", str(tmp_path / "missing")], env=HERMETIC)
    assert "did not start" not in str(caught.value)


def test_a_silent_program_times_out_and_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not start in 0.5 s"):
        RunningServer.launch([sys.executable, "-c", "import time; time.sleep(60)"], START_LINE, Path("."), timeout=0.5)
    assert time.monotonic() - started < 10  # the timeout holds even though the program never writes a line


def test_launch_reads_any_start_line_and_stop_kills_a_server_that_ignores_sigterm() -> None:
    program = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up on 4321', flush=True); time.sleep(60)"
    server = RunningServer.launch([sys.executable, "-c", program], re.compile(r"up on (?P<port>\d+)"), Path("."))
    assert server.port == 4321 and server.output == ["up on 4321\n"]
    with pytest.raises(subprocess.TimeoutExpired):
        server.stop(timeout=0.5)
    assert server.returncode is not None and server.returncode < 0  # killed, and waited for
