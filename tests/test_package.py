"""The package surface: exports, docstrings, chromadb drop-in use, the quickstart."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from servers import RunningServer

import ragstore

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in ragstore.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in ragstore.__all__:
        assert hasattr(ragstore, name), name


def test_public_names_have_docstrings_with_examples_where_callable() -> None:
    for name in ragstore.__all__:
        obj = getattr(ragstore, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
    for name in ("EphemeralClient", "PersistentClient", "Client"):
        assert "Example:" in (inspect.getdoc(getattr(ragstore, name)) or "")


def test_chromadb_names_exist() -> None:
    for name in ("Client", "EphemeralClient", "PersistentClient", "Settings", "Collection", "GetResult", "QueryResult", "NotFoundError"):
        assert hasattr(ragstore, name)
    assert ragstore.DuplicateIDError.__mro__.index(ragstore.InvalidArgumentError) > 0
    assert issubclass(ragstore.InvalidArgumentError, ValueError)


SEED_WRITE = """
import ragstore as chromadb
client = chromadb.Client()
client = chromadb.EphemeralClient()
col = client.get_or_create_collection("docs")
col.add(documents=["Ephemeral text"], ids=["e1"], metadatas=[{"source": "a.md"}])
assert col.query(query_texts=["ephemeral"], n_results=5, where={"source": "a.md"})["ids"] == [["e1"]]

client = chromadb.PersistentClient(path=PATH)
col = client.get_or_create_collection("docs")
col.add(documents=["Persisted text", "Other words"], ids=["p1", "p2"], metadatas=[{"source": "a.md"}, {"source": "b.md"}])
print(col.query(query_texts=["persisted"], n_results=5, where={"source": "a.md"})["ids"])
"""

SEED_READ = """
import json
import ragstore as chromadb
col = chromadb.PersistentClient(path=PATH).get_collection("docs")
result = col.query(query_texts=["persisted"], n_results=5, where={"source": "a.md"})
print(json.dumps({"count": col.count(), "ids": result["ids"], "docs": result["documents"]}))
"""


def _run(script: str, path: Path) -> str:
    code = f"PATH = {str(path)!r}\n" + textwrap.dedent(script)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_seed_snippet_runs_as_chromadb_and_persists_across_processes(tmp_path: Path) -> None:
    store = tmp_path / "db"
    assert _run(SEED_WRITE, store) == "[['p1']]"
    read = json.loads(_run(SEED_READ, store))
    assert read == {"count": 2, "ids": [["p1"]], "docs": [["Persisted text"]]}


SEED_HTTP = """
import ragstore as chromadb
client = chromadb.HttpClient(host="localhost", port=PORT, ssl=False, headers={"X-Request-Source": "seed"})
client.heartbeat()
col = client.get_or_create_collection("docs")
col.add(documents=["Persisted text", "Other words"], ids=["p1", "p2"], metadatas=[{"source": "a.md"}, {"source": "b.md"}])
print(col.query(query_texts=["persisted"], n_results=5, where={"source": "a.md"})["ids"])
"""


def test_seed_snippet_runs_as_chromadb_against_ragstore_run(tmp_path: Path) -> None:
    # The server as the seed starts it (`ragstore run --path ./chroma_data`), on a free port.
    server = RunningServer.start(tmp_path / "chroma_data")
    try:
        code = f"PORT = {server.port}\n" + textwrap.dedent(SEED_HTTP)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[['p1']]"
    finally:
        assert server.stop() == 0
    # What the server stored is on disk: a local client on the same path reads it back.
    read = json.loads(_run(SEED_READ, tmp_path / "chroma_data"))
    assert read == {"count": 2, "ids": [["p1"]], "docs": [["Persisted text"]]}


def test_quickstart_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "--path", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "new process sees 4 records" in done.stdout
    assert "the server sees 4 records" in done.stdout  # the third mode: HttpClient against `ragstore run`
    assert (tmp_path / "data" / "ragstore.sqlite3").exists()
