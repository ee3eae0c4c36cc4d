"""The engine's cached collection rows (``catalog.RowCache``): reused for reads, never across a change.

A stale row would answer from an old catalog: a query that misses records another
process added (``dimension`` and ``last_seq`` live in the row), a count of a collection
another process deleted. Each test caches the row with a read, changes the catalog from
somewhere else (another process, another thread, the same connection), and reads again.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

import ragstore
from ragstore.errors import NotFoundError
from ragstore.local import catalog
from ragstore.local.database import Database

REPO = Path(__file__).resolve().parent.parent


def _in_another_process(path: Path, code: str) -> None:
    """Run ``code`` with ``client`` open on the store at ``path``, in a new interpreter."""
    script = f"import numpy as np, ragstore\nwith ragstore.PersistentClient({str(path)!r}) as client:\n" + "".join(
        f"    {line}\n" for line in code.splitlines()
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, timeout=120)


def test_a_query_sees_the_first_records_another_process_adds(tmp_path: Path) -> None:
    with ragstore.PersistentClient(tmp_path) as client:
        collection = client.create_collection("docs", embedding_function=None)
        assert collection.query(query_embeddings=[[0.0, 0.0]], n_results=1)["ids"] == [[]]  # cached: no dimension, nothing stored
        _in_another_process(tmp_path, 'client.get_collection("docs").add(ids=["a", "b"], embeddings=[[0.0, 0.0], [5.0, 5.0]])')
        assert collection.query(query_embeddings=[[4.0, 4.0]], n_results=1)["ids"] == [["b"]]
        assert collection.count() == 2


def test_a_read_fails_once_another_process_deletes_the_collection(tmp_path: Path) -> None:
    with ragstore.PersistentClient(tmp_path) as client:
        collection = client.create_collection("docs", embedding_function=None)
        collection.add(ids=["a"], embeddings=[[1.0, 2.0]])
        assert collection.count() == 1
        _in_another_process(
            tmp_path, 'client.delete_collection("docs")\nclient.create_collection("docs").add(ids=["x"], embeddings=[[1.0, 2.0]])'
        )
        with pytest.raises(NotFoundError):
            collection.count()
        with pytest.raises(NotFoundError):
            collection.query(query_embeddings=[[1.0, 2.0]], n_results=1)
        assert client.get_collection("docs").get()["ids"] == ["x"]


@pytest.mark.parametrize("path", [None, "store"])
def test_a_read_sees_another_threads_write(tmp_path: Path, path: str | None) -> None:
    with ragstore.connect(tmp_path / path if path else None) as client:
        collection = client.create_collection("docs", embedding_function=None)
        assert collection.query(query_embeddings=[[0.0, 0.0]], n_results=1)["ids"] == [[]]
        writer = threading.Thread(target=lambda: collection.add(ids=["a"], embeddings=[[1.0, 1.0]]))
        writer.start()
        writer.join()
        assert collection.query(query_embeddings=[[0.0, 0.0]], n_results=1)["ids"] == [["a"]]
        collection.modify(name="renamed")
        deleter = threading.Thread(target=lambda: client.delete_collection("renamed"))
        deleter.start()
        deleter.join()
        with pytest.raises(NotFoundError):
            collection.count()


@pytest.mark.parametrize("path", [None, "store"])
def test_a_row_is_reused_only_while_nothing_changes(tmp_path: Path, path: str | None) -> None:
    db = Database(tmp_path / path if path else None)
    rows = catalog.RowCache()
    with db.write() as conn:
        created = catalog.create_collection_row(conn, "docs", None, {"hnsw": {}}, "default_tenant", "default_database")
    with db.read() as conn:
        first = rows.get_by_id(conn, created.id)
        assert rows.get_by_id(conn, created.id) is first
    with db.write() as conn:  # the same connection writes: its total_changes moves
        catalog.advance(conn, created.pk, 1, 0, 4)
    with db.read() as conn:
        second = rows.get_by_id(conn, created.id)
    assert (first.last_seq, first.dimension, second.last_seq, second.dimension) == (0, None, 1, 4)
    with pytest.raises(NotFoundError), db.read() as conn:
        rows.get_by_id(conn, uuid.uuid4())
    db.close()


def test_a_thread_keeps_at_most_max_rows(tmp_path: Path) -> None:
    db = Database(tmp_path)
    rows = catalog.RowCache()
    with db.write() as conn:
        made = [
            catalog.create_collection_row(conn, f"c{i:04d}", None, {"hnsw": {}}, "default_tenant", "default_database")
            for i in range(rows.MAX_ROWS + 1)
        ]
    with db.read() as conn:
        for row in made:
            assert rows.get_by_id(conn, row.id).id == row.id
        assert rows.get_by_id(conn, made[-1].id) is rows.get_by_id(conn, made[-1].id)
        assert len(rows._local.rows) == 1  # full at the last one: started over
    db.close()


def test_rows_stay_shared_but_answers_stay_the_callers(tmp_path: Path) -> None:
    """A cached row's dictionaries are shared between calls; what a client gets back is its own copy."""
    with ragstore.PersistentClient(tmp_path) as client:
        collection = client.create_collection("docs", metadata={"topic": "fruit"}, embedding_function=None)
        collection.add(ids=["a"], embeddings=np.ones((1, 3), dtype=np.float32), metadatas=[{"n": 1}])
        answer = collection.get(include=["metadatas"])
        answer["metadatas"][0]["n"] = 99
        assert collection.get(include=["metadatas"])["metadatas"] == [{"n": 1}]
        assert client.get_collection("docs").metadata == {"topic": "fruit"}
