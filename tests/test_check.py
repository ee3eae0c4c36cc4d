"""``ragstore check`` on real stores, damaged as disks and bugs damage them, then repaired.

Each test makes a store through the public client (a BM25 collection with documents,
deletes and a full-text index, and a plain one), closes it, damages one thing with plain
file or SQLite operations, and checks the report, the exit status, the repair, and that
the repaired store answers the queries the undamaged one answered.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import ragstore
from ragstore.check import check_store
from ragstore.cli.check import check
from ragstore.errors import StorageError
from ragstore.local import index_files
from ragstore.local.database import DATABASE_FILENAME
from ragstore.local.index_cache import INDEX_DIRECTORY

N = 600
WORDS = ["apples", "pears", "plums", "cherries", "grapes", "lemons", "figs"]


def _make_store(path: Path) -> None:
    rng = np.random.default_rng(3)
    with ragstore.PersistentClient(str(path)) as client:
        docs = client.create_collection("docs", schema=ragstore.bm25_schema())
        texts = [f"record {i} is about {WORDS[i % 7]} and {WORDS[(i * 3) % 7]}, batch {i // 50}" for i in range(N)]
        docs.add(ids=[f"r{i}" for i in range(N)], embeddings=rng.random((N, 8)).tolist(), documents=texts)
        docs.get(where_document={"$contains": "apples"}, limit=1)  # builds the full-text index
        docs.delete(ids=["r1", "r2"])
        client.create_collection("plain").add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "store"
    _make_store(path)
    return path


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(pristine, copy)
    return copy


def _answers(path: Path) -> dict[str, Any]:
    """What the store answers: nearest neighbours, a document filter, and BM25 ranking."""
    with ragstore.PersistentClient(str(path)) as client:
        docs = client.get_collection("docs", embedding_function=None)
        vector = [0.5] * 8
        return {
            "dense": docs.query(query_embeddings=[vector], n_results=10)["ids"],
            "contains": sorted(docs.get(where_document={"$contains": "pears and cherries"})["ids"]),
            "bm25": docs.query(query_texts=["cherries grapes"], n_results=N, mode="bm25")["ids"],
            "count": docs.count(),
        }


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path / DATABASE_FILENAME, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _index_folder(path: Path, name: str = "docs") -> Path:
    with ragstore.PersistentClient(str(path)) as client:
        collection_id = str(client.get_collection(name, embedding_function=None).id)
    return path / INDEX_DIRECTORY / collection_id


def _run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(check, [str(path), *args])
    return result.exit_code, result.output


def _check_then_repair(path: Path, expected: str) -> None:
    """The damage is reported (exit 1) and changes nothing; --repair mends it (exit 1, says so); then the store is sound."""
    status, output = _run(path)
    assert status == 1, output
    assert expected in output and "--repair:" in output and "run again with --repair" in output
    assert _run(path)[1] == output  # a check alone repaired nothing
    status, output = _run(path, "--repair")
    assert status == 1 and "repaired:" in output and "--repair:" not in output, output
    status, output = _run(path)
    assert (status, output.splitlines()[-1]) == (0, "No problems found."), output


def test_a_sound_store_checks_clean_with_its_counts(store: Path) -> None:
    status, output = _run(store)
    assert status == 0, output
    assert f"collection docs: {N - 2} records, {N - 2} documents, 2 tombstones, dimension 8" in output
    assert "sqlite: ok" in output and "text index: ok (1 collections indexed)" in output
    assert "collection docs: sparse index 'bm25': ok" in output
    assert "collection docs: vector index: ok" in output and "collection plain: vector index: ok" in output


def test_a_truncated_index_file_is_reported_and_rebuilt(store: Path, pristine: Path) -> None:
    [graph] = _index_folder(store).glob("index-*.bin")
    size = graph.stat().st_size
    with graph.open("r+b") as handle:
        handle.truncate(size // 2)
    _check_then_repair(store, f"collection docs: vector index: {graph.name} has {size // 2} bytes, {size} were saved")
    assert not graph.exists()  # the bad files went with the repair
    assert _answers(store) == _answers(pristine)


def test_a_flipped_byte_fails_the_checksum(store: Path) -> None:
    [labels] = _index_folder(store).glob("labels-*.npy")
    data = bytearray(labels.read_bytes())
    data[-1] ^= 0xFF
    labels.write_bytes(bytes(data))
    _check_then_repair(store, f"{labels.name} fails its XXH3 checksum")


def test_index_files_that_miss_a_record_fail_coverage(store: Path, pristine: Path) -> None:
    """Intact files (checksums right) that a bug wrote without one record's label."""
    folder = _index_folder(store)
    meta = json.loads((folder / "meta.json").read_text())
    hnsw = {key: meta[key] for key in ("space", "max_neighbors", "ef_construction")}
    saved = index_files.read(folder, meta["collection_id"], meta["dim"], hnsw, meta["seq"], 0)
    assert saved is not None
    index_files.write(folder, meta["collection_id"], saved.graph, set(sorted(saved.labels)[1:]), meta["dim"], hnsw, meta["seq"])
    _check_then_repair(store, "lack 1 records they should hold, hold 0 labels of no record")
    assert _answers(store) == _answers(pristine)


def test_deleted_sparse_rows_are_recomputed(store: Path, pristine: Path) -> None:
    _sql(store, "DELETE FROM sparse_terms WHERE record_rowid % 10 = 0")
    damaged = _answers(store)
    _check_then_repair(store, "collection docs: sparse index 'bm25': 60 records' values differ from their records")
    assert damaged["bm25"] != _answers(pristine)["bm25"]  # the damage was visible to searches
    assert _answers(store) == _answers(pristine)


def test_a_repair_reaches_a_process_that_holds_the_sparse_index_in_memory(store: Path, pristine: Path) -> None:
    """The repair stamps the records with a new sequence, so an open client's in-memory index catches up."""
    _sql(store, "DELETE FROM sparse_terms WHERE record_rowid % 3 = 0")
    with ragstore.PersistentClient(str(store)) as client:
        docs = client.get_collection("docs", embedding_function=None)
        before = docs.query(query_texts=["cherries grapes"], n_results=N, mode="bm25")["ids"]
        assert check_store(store, repair=True).problems
        after = docs.query(query_texts=["cherries grapes"], n_results=N, mode="bm25")["ids"]
    assert before != after == _answers(pristine)["bm25"]


def test_sparse_values_under_a_foreign_key_are_removed(store: Path) -> None:
    _sql(store, "UPDATE sparse_terms SET key = 'other' WHERE record_rowid = 10")
    status, output = _run(store)
    assert status == 1 and "1 values are stored under a key or collection the index does not have" in output
    assert "1 records' values differ" in output
    assert _run(store, "--repair")[0] == 1
    assert _run(store)[0] == 0


def test_a_corrupt_text_index_is_rebuilt(store: Path, pristine: Path) -> None:
    _sql(store, "UPDATE documents_fts_data SET block = zeroblob(length(block)) WHERE id > 10")
    _check_then_repair(store, "text index: FTS5 integrity-check failed (database disk image is malformed)")
    assert _answers(store) == _answers(pristine)


def test_documents_missing_from_the_text_index_are_found(store: Path, pristine: Path) -> None:
    """Documents un-indexed and never indexed again (a write that skipped :func:`text_index.index_rowids`)."""
    _sql(
        store,
        "INSERT INTO documents_fts (documents_fts, rowid, document) "
        "SELECT 'delete', rowid, document FROM records WHERE document LIKE '%pears and cherries%'",
    )
    assert _answers(store)["contains"] == [] != _answers(pristine)["contains"]
    _check_then_repair(store, f"{len(_answers(pristine)['contains'])} documents are not indexed, 0 indexed rows have no indexed document")
    assert _answers(store) == _answers(pristine)


def test_the_index_folder_of_a_deleted_collection_is_removed(store: Path) -> None:
    (store / INDEX_DIRECTORY / "0badc0de").mkdir()
    _check_then_repair(store, "index folder 0badc0de: belongs to no collection")
    assert not (store / INDEX_DIRECTORY / "0badc0de").exists()


def test_damage_to_the_records_is_reported_but_not_repairable(store: Path) -> None:
    _sql(
        store,
        "PRAGMA foreign_keys = OFF",
        "INSERT INTO record_metadata (collection_pk, record_rowid, key, type, in_array, value) VALUES (1, 999999, 'k', 's', 0, 'v')",
        "UPDATE records SET seq = 1000 WHERE id = 'r7'",
    )
    for args in ((), ("--repair",)):
        status, output = _run(store, *args)
        assert status == 1, output
        assert "sqlite: 1 rows refer to rows that are gone (in record_metadata) (not repairable by check: restore a backup)" in output
        assert "collection docs: 1 records are newer than the collection's sequence" in output
        assert output.splitlines()[-1].endswith("2 not repairable (restore a backup)")


@pytest.mark.parametrize("kind", ["missing", "not-sqlite", "newer-schema"])
def test_what_cannot_be_checked_exits_2_and_changes_nothing(store: Path, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nothing-here"
    if kind == "not-sqlite":
        target.mkdir()
        (target / DATABASE_FILENAME).write_text("these are not the pages you are looking for" * 100)
    elif kind == "newer-schema":
        target = store
        _sql(store, "PRAGMA user_version = 99")
    before = sorted((p.name, p.stat().st_size) for p in target.rglob("*")) if target.exists() else None
    for args in ((), ("--repair",)):
        status, output = _run(target, *args)
        assert status == 2, output
        assert output.startswith(f"Error: Cannot check {target}") and len(output.strip().splitlines()) == 1
    assert (sorted((p.name, p.stat().st_size) for p in target.rglob("*")) if target.exists() else None) == before
    with pytest.raises(StorageError):
        check_store(target)


_WRITER = """
import sys, numpy as np, ragstore
rng = np.random.default_rng(int(sys.argv[2]))
with ragstore.PersistentClient(sys.argv[1]) as client:
    docs = client.get_collection("docs", embedding_function=None)
    for batch in range(int(sys.argv[3])):
        ids = [f"w{batch}-{j}" for j in range(100)]
        docs.add(ids=ids, embeddings=rng.random((100, 8)).tolist(), documents=[f"written {i} about grapes and figs" for i in ids])
        docs.delete(ids=[f"w{batch}-0"])
        docs.query(query_embeddings=[[0.5] * 8], n_results=3)  # catches the index up, and saves it now and then
        print(batch, flush=True)
"""


def _writer(path: Path, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "1", str(batches)], stdout=subprocess.PIPE, text=True)


def test_checks_beside_a_writing_process_find_nothing_wrong(store: Path) -> None:
    """Each collection is checked in one read transaction, so a writer's commits are never half seen."""
    reports = []
    with _writer(store, 30) as writer:
        while writer.poll() is None or not reports:
            reports.append(check_store(store))
        writer.communicate()
    assert writer.returncode == 0
    assert len(reports) >= 2
    assert [finding.line() for report in reports for finding in report.problems] == []


def test_a_repair_beside_a_writing_process_keeps_every_write(store: Path, pristine: Path) -> None:
    _sql(store, "DELETE FROM sparse_terms WHERE record_rowid % 4 = 0", "INSERT INTO documents_fts (documents_fts) VALUES ('delete-all')")
    with _writer(store, 20) as writer:
        assert writer.stdout is not None
        writer.stdout.readline()  # it is writing
        report = check_store(store, repair=True)
        assert writer.poll() is None  # the repair ran while it wrote
        writer.communicate()
    assert writer.returncode == 0
    assert len(report.problems) == 2 and all(finding.repaired for finding in report.problems), report.lines()
    assert check_store(store).exit_status == 0
    with ragstore.PersistentClient(str(store)) as client:
        docs = client.get_collection("docs", embedding_function=None)
        assert docs.count() == N - 2 + 20 * 99
        assert len(docs.get(where_document={"$contains": "about grapes and figs"})["ids"]) == 20 * 99
    assert _answers(pristine)["contains"] == sorted(set(_answers(store)["contains"]))
