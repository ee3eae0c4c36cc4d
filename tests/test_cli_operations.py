"""The operations commands as a user runs them: real ``python -m ragstore`` processes on a real store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

import ragstore
from ragstore.testing import RunningServer


def ragstore_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragstore", *args], capture_output=True, text=True, timeout=120)


def test_backup_check_and_restore_round_trip_from_the_command_line(tmp_path: Path) -> None:
    store, backup, restored = tmp_path / "store", tmp_path / "backup", tmp_path / "restored"
    with ragstore.PersistentClient(path=store) as client:
        col = client.create_collection("docs", embedding_function=None)
        col.add(
            ids=[f"r{i}" for i in range(50)], embeddings=np.random.default_rng(3).random((50, 4)), documents=[f"doc {i}" for i in range(50)]
        )
    assert ragstore_cli("backup", str(store), str(backup)).returncode == 0
    checked = ragstore_cli("check", str(backup))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert ragstore_cli("restore", str(backup), str(restored)).returncode == 0
    refused = ragstore_cli("restore", str(backup), str(restored))  # not empty any more
    assert refused.returncode == 1 and refused.stderr.startswith("Error:") and len(refused.stderr.strip().splitlines()) == 1
    with ragstore.PersistentClient(path=restored) as client:
        got = client.get_collection("docs").get(ids=["r7"], include=["documents"])
    assert got["documents"] == ["doc 7"]


def test_export_piped_into_import_copies_a_collection(tmp_path: Path) -> None:
    store, other = tmp_path / "store", tmp_path / "other"
    vectors = np.random.default_rng(4).random((30, 4)).astype(np.float32)
    with ragstore.PersistentClient(path=store) as client:
        client.create_collection("docs", embedding_function=None).add(ids=[f"r{i}" for i in range(30)], embeddings=vectors)
    exported = subprocess.run(
        [sys.executable, "-m", "ragstore", "export", str(store), "--collection", "docs"], capture_output=True, timeout=120
    )
    assert exported.returncode == 0, exported.stderr
    imported = subprocess.run(
        [sys.executable, "-m", "ragstore", "import", "-", "--path", str(other)], input=exported.stdout, capture_output=True, timeout=120
    )
    assert imported.returncode == 0, imported.stderr
    with ragstore.PersistentClient(path=other) as client:
        got = client.get_collection("docs").get(include=["embeddings"])
    assert got["ids"] == [f"r{i}" for i in range(30)] and np.asarray(got["embeddings"]).tobytes() == vectors.tobytes()


def test_the_operations_commands_are_listed_and_refuse_a_path_without_a_store(tmp_path: Path) -> None:
    listed = ragstore_cli("--help").stdout
    for command in ("backup", "restore", "check", "import-chroma", "export", "import"):
        assert f"  {command} " in listed
    for args in (["backup", str(tmp_path / "nope"), str(tmp_path / "dest")], ["import-chroma", str(tmp_path / "nope")]):
        result = ragstore_cli(*args)
        assert result.returncode == 1 and result.stderr.startswith("Error:") and "Traceback" not in result.stderr, result.stderr
    assert ragstore_cli("check", str(tmp_path / "nope")).returncode == 2  # cannot check
    assert not (tmp_path / "nope").exists() and not (tmp_path / "dest").exists()


def test_a_server_run_with_a_backup_dir_takes_backups_behind_its_token(tmp_path: Path) -> None:
    with ragstore.PersistentClient(path=tmp_path / "store") as client:
        client.create_collection("docs", embedding_function=None).add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
    server = RunningServer.start(tmp_path / "store", ["--auth-token", "s3cret", "--backup-dir", str(tmp_path / "backups")])
    try:
        url = f"{server.url}/api/v2/ragstore/backups"
        assert httpx.post(url, json={"name": "nightly"}).status_code == 401
        answer = httpx.post(url, json={"name": "nightly"}, headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code == 200 and answer.json()["records"] == 2, answer.text
    finally:
        assert server.stop() == 0
    assert ragstore_cli("check", str(tmp_path / "backups" / "nightly")).returncode == 0
    without = RunningServer.start(tmp_path / "store")  # no --backup-dir: no backup route
    try:
        assert httpx.post(f"{without.url}/api/v2/ragstore/backups", json={"name": "x"}).status_code == 404
    finally:
        assert without.stop() == 0
