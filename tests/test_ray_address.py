"""A Ray address where nothing answers fails within seconds with one message naming it (issue 20).

Ray's own connection retries wait minutes without a word (``ray.init(address="127.0.0.1:1")`` was still
waiting after 60 s); ``ragstore.distributed.runtime.check_reachable`` opens a TCP connection first. Every
address here is real and unreachable: port 1 of this machine (nothing listens there, so the connection is
refused) and a host name under ``.invalid`` (which never resolves). No Ray instance is started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ragstore
from ragstore.distributed import ray_ingest
from ragstore.distributed.runtime import RayUnreachableError, check_reachable, ray_session

NOBODY = "127.0.0.1:1"
QUICK_S = 15.0  # "within a few seconds", with room for a loaded machine; Ray alone takes minutes


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m ragstore ARGS`` and its wall time (a timeout far below Ray's own retries)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RAGSTORE_", "RAY_ADDRESS"))} | (env or {})
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ragstore", *args], capture_output=True, text=True, timeout=90, env=environment)
    return done, time.perf_counter() - started


@pytest.fixture(autouse=True)
def no_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


def test_ray_session_refuses_an_address_where_nothing_listens_within_seconds() -> None:
    started = time.perf_counter()
    with pytest.raises(RayUnreachableError) as caught, ray_session(NOBODY):
        pytest.fail("joined a cluster at 127.0.0.1:1")
    assert time.perf_counter() - started < QUICK_S
    assert caught.value.address == NOBODY and caught.value.reason == "connection refused"
    assert str(caught.value).startswith("No Ray cluster answers at 127.0.0.1:1: connection refused. Start one (ray start --head)")


def test_the_address_from_ray_address_is_checked_and_named_as_coming_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", NOBODY)
    for address in (None, "auto"):  # Ray reads RAY_ADDRESS for both
        with pytest.raises(RayUnreachableError, match=r"at 127\.0\.0\.1:1 \(from RAY_ADDRESS\): connection refused"):
            check_reachable(address)
    check_reachable("local")  # a new local instance, whatever RAY_ADDRESS says


def test_an_unknown_host_and_a_ray_client_address_are_named_as_given() -> None:
    with pytest.raises(RayUnreachableError, match=r"at ray://no-such-host\.invalid: unknown host 'no-such-host\.invalid'"):
        check_reachable("ray://no-such-host.invalid")  # Ray Client's port (10001) when none is given
    with pytest.raises(RayUnreachableError, match=r"at ray://127\.0\.0\.1:1: connection refused"):
        check_reachable("ray://127.0.0.1:1")


def test_python_ingest_fails_fast_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("apples and pears")
    collection = ragstore.EphemeralClient().create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())
    started = time.perf_counter()
    with pytest.raises(RayUnreachableError, match=r"127\.0\.0\.1:1"):
        ray_ingest(collection, [tmp_path], address=NOBODY)
    assert time.perf_counter() - started < QUICK_S
    assert collection.count() == 0


def test_serve_command_says_so_in_one_line_within_seconds() -> None:
    done, seconds = cli("serve", "--ray", "--ray-address", NOBODY, "--port", "8765")
    assert seconds < QUICK_S, done.stderr
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "Error: No Ray cluster answers at 127.0.0.1:1: connection refused. Start one (ray start --head) or give the address "
        "of a running cluster's head: HOST:6379 (its GCS port), ray://HOST:10001 (Ray Client), or auto on one of its nodes."
    ]


def test_serve_command_names_ray_address_when_it_comes_from_there() -> None:
    done, seconds = cli("serve", "--ray", "--port", "8765", env={"RAY_ADDRESS": NOBODY})
    assert seconds < QUICK_S and done.returncode == 1
    assert "No Ray cluster answers at 127.0.0.1:1 (from RAY_ADDRESS): connection refused." in done.stderr


def test_ingest_command_fails_before_opening_the_store(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("apples and pears")
    store = tmp_path / "store"
    done, seconds = cli("ingest", str(docs), "-c", "docs", "--path", str(store), "--embedding", "hashing", "--ray", "--ray-address", NOBODY)
    assert seconds < QUICK_S, done.stderr
    assert done.returncode == 1
    assert "Error: No Ray cluster answers at 127.0.0.1:1: connection refused." in done.stderr
    assert not store.exists()  # refused before the store (and the collection) was made
