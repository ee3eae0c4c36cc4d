"""Export and import (issue 18): JSON Lines round trips bit-exact, and a bad file changes nothing.

Real stores throughout: the Python API over every client mode, the click commands on SQLite stores,
and one pipe between two real processes (``ragstore export ... | ragstore import -``).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result

import ragstore
from ragstore.cli.errors import RagstoreGroup
from ragstore.cli.transfer import export_command, import_command
from ragstore.sparse_vectors import SparseVector
from ragstore.transfer import export_collection, import_collection
from tests.indexing import indexed

INCLUDE = ["documents", "metadatas", "uris", "embeddings"]
N = 1234


@click.group(cls=RagstoreGroup)
@click.option("--debug", is_flag=True)
def cli(debug: bool) -> None:
    """The commands as the ragstore group runs them: a user's error becomes one ``Error:`` line."""


cli.add_command(export_command)
cli.add_command(import_command)


def invoke(*args: str, input: bytes | None = None) -> Result:  # noqa: A002 - CliRunner's name
    return CliRunner(env={"RAGSTORE_AUTH_TOKEN": None, "RAGSTORE_DEBUG": None}).invoke(cli, list(args), input=input)


def awkward_embeddings(n: int, dim: int = 16) -> np.ndarray:
    """float32 values a decimal round trip through float64 text could get wrong: subnormals, -0.0, extremes, 1/3."""
    values = np.random.default_rng(7).standard_normal((n, dim)).astype(np.float32)
    values[0, :6] = [np.float32(1e-45), -0.0, np.finfo(np.float32).max, np.finfo(np.float32).tiny, np.float32(1 / 3), -np.float32(1e-40)]
    return values


def fill(collection: ragstore.Collection, n: int = N) -> None:
    metadatas: list[Any] = []
    for k in range(n):
        if k % 7 == 0:
            metadatas.append(None)
        else:  # 1 and 1.0 and True must come back as an int, a float and a bool
            metadatas.append({"int": k, "float": float(k), "bool": k % 2 == 0, "text": f"ü{k}", "one": 1, "onef": 1.0, "yes": True})
    metadatas[1]["sparse"] = SparseVector(indices=[3, 90], values=[0.25, 1e-7])
    for start in range(0, n, 500):
        stop = min(start + 500, n)
        collection.add(
            ids=[f"id-{k}" for k in range(start, stop)],
            embeddings=awkward_embeddings(n)[start:stop],
            documents=[None if k % 5 == 0 else f"document {k} about topic {k % 13}" for k in range(start, stop)],
            metadatas=metadatas[start:stop],
            uris=[f"file:///{k}" if k % 3 == 0 else None for k in range(start, stop)],
        )


def make_source(client: ragstore.ClientAPI, name: str = "source") -> ragstore.Collection:
    collection = client.create_collection(
        name,
        schema=ragstore.bm25_schema(),
        configuration={"hnsw": {"space": "cosine", "ef_search": 77}},
        metadata={"owner": "ops", "version": 2, "ratio": 2.0, "on": False},
        embedding_function=ragstore.HashingEmbeddingFunction(dim=16),
    )
    fill(collection)
    return collection


def assert_same(a: ragstore.Collection, b: ragstore.Collection) -> None:
    left, right = a.get(include=INCLUDE), b.get(include=INCLUDE)  # type: ignore[arg-type]
    assert left["ids"] == right["ids"]
    assert left["documents"] == right["documents"]
    assert left["uris"] == right["uris"]
    assert left["metadatas"] == right["metadatas"]
    for x, y in zip(left["metadatas"] or [], right["metadatas"] or [], strict=True):  # == says 1 == 1.0 == True; types must match too
        assert [type(v) for v in (x or {}).values()] == [type(v) for v in (y or {}).values()]
    assert np.asarray(left["embeddings"]).dtype == np.float32
    assert np.asarray(left["embeddings"]).tobytes() == np.asarray(right["embeddings"]).tobytes()
    assert a.configuration == b.configuration
    assert a.metadata == b.metadata
    assert a.schema is not None and b.schema is not None
    assert a.schema.serialize_to_json() == b.schema.serialize_to_json()
    queries = awkward_embeddings(N)[[2, 40, 999]]
    # Both from their graphs (an exact search of what a graph still lacks gives equal distances, not equal bits).
    indexed(a)
    indexed(b)
    qa, qb = a.query(query_embeddings=queries, n_results=10), b.query(query_embeddings=queries, n_results=10)
    assert qa["ids"] == qb["ids"]
    assert qa["distances"] == qb["distances"]
    search = ragstore.Search().rank(ragstore.Knn(query="topic 4", key="bm25")).limit(10)
    assert a.search(search)["ids"] == b.search(search)["ids"]  # the BM25 index was rebuilt from the documents


@pytest.mark.parametrize("embeddings", ["base64", "floats"])
def test_round_trip_is_bit_exact_in_every_mode(client: ragstore.ClientAPI, embeddings: Any) -> None:
    source = make_source(client)
    buffer = io.BytesIO()
    assert export_collection(source, buffer, batch_size=300, embeddings=embeddings) == N
    copy = import_collection(client, io.BytesIO(buffer.getvalue()), name="copy", batch_size=200)
    assert copy.count() == N
    assert_same(source, client.get_collection("copy"))
    assert client.get_collection("copy").embedding_function.name() == "ragstore_hashing"  # by name, rebuilt


def test_a_modified_configuration_and_an_empty_collection_travel(client: ragstore.ClientAPI) -> None:
    source = client.create_collection("empty-one", configuration={"hnsw": {"space": "ip"}}, embedding_function=None)
    source.modify(configuration={"hnsw": {"ef_search": 31}})
    buffer = io.BytesIO()
    assert export_collection(source, buffer) == 0
    copy = import_collection(client, io.BytesIO(buffer.getvalue()), name="empty-two")
    assert copy.count() == 0
    assert copy.configuration == client.get_collection("empty-one").configuration
    assert copy.configuration["hnsw"]["ef_search"] == 31


@pytest.mark.parametrize("function", [None, ragstore.HashingEmbeddingFunction(dim=4)])
@pytest.mark.parametrize("schema", [None, ragstore.bm25_schema()])
def test_exporting_the_import_gives_the_same_file(client: ragstore.ClientAPI, function: Any, schema: Any) -> None:
    source = client.create_collection("first", schema=schema, metadata={"a": 1}, embedding_function=function)
    source.add(ids=["x", "y"], embeddings=awkward_embeddings(2, dim=8)[:, 2:6], documents=["one", None])
    first, second = io.BytesIO(), io.BytesIO()
    export_collection(source, first)
    export_collection(import_collection(client, io.BytesIO(first.getvalue()), name="again"), second)
    assert second.getvalue() == first.getvalue().replace(b'"name":"first"', b'"name":"again"', 1)


def test_progress_reports_each_batch(client: ragstore.ClientAPI) -> None:
    source = make_source(client)
    seen: list[tuple[int, int]] = []
    buffer = io.BytesIO()
    export_collection(source, buffer, batch_size=500, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(500, N), (1000, N), (N, N)]
    seen.clear()
    import_collection(client, io.BytesIO(buffer.getvalue()), name="copy", batch_size=600, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(600, N), (1200, N), (N, N)]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, bytes]:
    """A store with the source collection, and its export made by the command (standard output)."""
    store = tmp_path / "a"
    with ragstore.PersistentClient(str(store)) as client:
        make_source(client)
    result = invoke("export", str(store), "--collection", "source", "--batch-size", "100")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"Exported {N:,} records of 'source'."
    return store, result.stdout_bytes


def test_commands_round_trip_between_stores(exported: tuple[Path, bytes], tmp_path: Path) -> None:
    store, data = exported
    (tmp_path / "docs.jsonl").write_bytes(data)
    result = invoke("import", str(tmp_path / "docs.jsonl"), "--path", str(tmp_path / "b"), "--collection", "copy")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"Imported {N:,} records into 'copy'."
    with ragstore.PersistentClient(str(store)) as a, ragstore.PersistentClient(str(tmp_path / "b")) as b:
        assert_same(a.get_collection("source"), b.get_collection("copy"))


def test_export_to_a_file_writes_it_whole_or_not_at_all(exported: tuple[Path, bytes], tmp_path: Path) -> None:
    store, data = exported
    target = tmp_path / "out.jsonl"
    assert invoke("export", str(store), "-c", "source", "-o", str(target)).exit_code == 0
    assert target.read_bytes() == data
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not the temporary's private 0600
    missing = invoke("export", str(store), "-c", "nope", "-o", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == [f"Error: Collection [nope] does not exist in {store} (see: ragstore collections)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out.jsonl"]  # no file, no leftover temporary


def _cut(data: bytes, where: str) -> bytes:
    lines = data.splitlines(keepends=True)
    if where == "mid-line":
        return data[: len(data) // 2]
    if where == "no-trailer":
        return b"".join(lines[:-1])
    if where == "header-only":
        return lines[0]
    if where == "bad-json":
        return b"".join([*lines[:500], b'{"id": "x", "embed\n', *lines[500:]])
    if where == "bad-base64":
        return b"".join([*lines[:500], lines[500].replace(b'"embedding":"', b'"embedding":"!'), *lines[501:]])
    if where == "short-vector":
        record = json.loads(lines[500])
        record["embedding"] = record["embedding"][:8]  # 6 bytes of a float32 vector
        return b"".join([*lines[:500], json.dumps(record).encode() + b"\n", *lines[501:]])
    if where == "repeated-id":
        return b"".join([*lines[:-1], lines[3], lines[-1]]).replace(b'"records":1234', b'"records":1235')
    if where == "empty":
        return b""
    raise AssertionError(where)


@pytest.mark.parametrize(
    "where", ["mid-line", "no-trailer", "header-only", "bad-json", "bad-base64", "short-vector", "repeated-id", "empty"]
)
def test_a_truncated_or_corrupt_file_is_one_line_and_leaves_nothing(exported: tuple[Path, bytes], tmp_path: Path, where: str) -> None:
    _, data = exported
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_cut(data, where))
    target = tmp_path / "b"
    with ragstore.PersistentClient(str(target)) as client:
        client.create_collection("keep", embedding_function=None).add(ids=["k"], embeddings=[[1.0, 2.0]])
    result = invoke("import", str(bad), "--path", str(target), "--batch-size", "100")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    with ragstore.PersistentClient(str(target)) as client:
        assert [c.name for c in client.list_collections()] == ["keep"]
        assert client.get_collection("keep").count() == 1


def test_the_error_names_the_line_and_the_cause(exported: tuple[Path, bytes], tmp_path: Path) -> None:
    _, data = exported
    (tmp_path / "cut.jsonl").write_bytes(_cut(data, "no-trailer"))
    (tmp_path / "json.jsonl").write_bytes(_cut(data, "bad-json"))
    cut = invoke("import", str(tmp_path / "cut.jsonl"), "--path", str(tmp_path / "b"))
    assert f"the file ends after {N} records without the export's last line (it is truncated)" in cut.output
    broken = invoke("import", str(tmp_path / "json.jsonl"), "--path", str(tmp_path / "b"))
    assert "line 501: not JSON" in broken.output


def test_import_never_touches_an_existing_collection(exported: tuple[Path, bytes]) -> None:
    store, data = exported
    result = invoke("import", "-", "--path", str(store), input=data)  # the same name: 'source'
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: Collection [source] already exists")
    with ragstore.PersistentClient(str(store)) as client:
        assert client.get_collection("source").count() == N


def test_a_pipe_between_two_processes(exported: tuple[Path, bytes], tmp_path: Path) -> None:
    store, _ = exported
    run = "import sys; from ragstore.cli.{0} import {1}; {1}(sys.argv[1:])"
    export = [sys.executable, "-c", run.format("transfer", "export_command"), str(store), "-c", "source"]
    importer = [sys.executable, "-c", run.format("transfer", "import_command"), "-", "--path", str(tmp_path / "b"), "-c", "piped"]
    with subprocess.Popen(export, stdout=subprocess.PIPE) as producer:
        consumer = subprocess.run(importer, stdin=producer.stdout, capture_output=True, text=True, timeout=120, check=False)
    assert producer.returncode == 0 and consumer.returncode == 0, consumer.stderr
    with ragstore.PersistentClient(str(store)) as a, ragstore.PersistentClient(str(tmp_path / "b")) as b:
        assert_same(a.get_collection("source"), b.get_collection("piped"))


def test_the_bar_shows_on_a_terminal_and_nothing_elsewhere() -> None:
    from rich.console import Console

    from ragstore.cli.transfer import _progress

    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with _progress(terminal, "import") as show:
        assert show is not None
        show(500, 1234)
        show(1234, 1234)
    assert "1234/1234" in terminal.file.getvalue()  # type: ignore[attr-defined]
    with _progress(Console(file=io.StringIO(), force_terminal=False), "import") as show:
        assert show is None  # a log or a pipe gets the summary line only
