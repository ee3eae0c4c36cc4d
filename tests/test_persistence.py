"""PersistentClient on real files: reopening, the index cache, deleting, freeing space, tombstones.

The HNSW index on disk is a cache of SQLite: whatever happens to it (missing, torn,
garbage, foreign, stale), a new client must answer exactly as before. Expected
answers come from brute force over the records the test knows are there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import ragstore
import ragstore.local.engine as engine
from ragstore.configuration import default_hnsw
from ragstore.local.index import VectorIndex, exact_search

DIM = 8  # low enough that hnswlib's graph reaches (practically) every node
REPO = Path(__file__).resolve().parents[1]
Vectors = npt.NDArray[np.float32]


# ---------------------------------------------------------------- helpers


def vectors(seed: int, n: int, dim: int = DIM) -> Vectors:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def collection(client: ragstore.ClientAPI, name: str = "docs", **kwargs: object) -> ragstore.Collection:
    return client.get_or_create_collection(name, embedding_function=None, **kwargs)  # type: ignore[arg-type]


def index_dir(path: Path, col: ragstore.Collection) -> Path:
    return path / "indexes" / str(col.id)


def store_seqs(path: Path, col: ragstore.Collection) -> tuple[int, int]:
    """``(last_seq, tombstone_floor)`` straight from SQLite."""
    with contextlib.closing(sqlite3.connect(path / "ragstore.sqlite3")) as conn:
        row = conn.execute("SELECT last_seq, tombstone_floor FROM collections WHERE id = ?", (str(col.id),)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def read_meta(path: Path, col: ragstore.Collection) -> dict[str, object]:
    meta = json.loads((index_dir(path, col) / "meta.json").read_text())
    assert isinstance(meta, dict)
    return meta


def brute_force(truth: dict[str, Vectors], queries: Vectors, k: int) -> tuple[list[list[str]], list[list[float]]]:
    ids = sorted(truth)
    matrix = np.stack([truth[i] for i in ids])
    top, distances = exact_search(queries, np.arange(len(ids)), matrix, k, "l2")
    return [[ids[j] for j in row] for row in top], distances.tolist()


def assert_queries_exact(col: ragstore.Collection, truth: dict[str, Vectors], queries: Vectors, k: int = 10) -> None:
    """The collection answers ``queries`` exactly like brute force over ``truth``."""
    expected_ids, expected_distances = brute_force(truth, queries, k)
    got = col.query(query_embeddings=queries, n_results=k, include=["distances"])
    assert got["ids"] == expected_ids
    assert got["distances"] is not None
    np.testing.assert_allclose(np.array(got["distances"]), np.array(expected_distances), rtol=1e-4, atol=1e-4)


def assert_all_present(col: ragstore.Collection, truth: dict[str, Vectors]) -> None:
    """Exactly the ids of ``truth`` are stored, with their vectors, and each is its own nearest neighbour."""
    assert col.count() == len(truth)
    got = col.get(include=["embeddings"])
    assert sorted(got["ids"]) == sorted(truth)
    assert got["embeddings"] is not None
    for id_, vector in zip(got["ids"], got["embeddings"], strict=True):
        np.testing.assert_array_equal(vector, truth[id_])
    ids = sorted(truth)
    own = col.query(query_embeddings=np.stack([truth[i] for i in ids]), n_results=1, include=["distances"])
    assert own["distances"] is not None
    misses = [id_ for id_, hit, d in zip(ids, own["ids"], own["distances"], strict=True) if hit != [id_] or d[0] > 1e-4]
    # HNSW is approximate: hnswlib may leave a rare node unreachable (~1 in 10^4 random vectors).
    # A vector missing from the index makes many misses; and each miss must still be stored.
    assert len(misses) <= max(1, len(ids) // 500), misses[:5]
    for id_ in misses:
        exact = col.query(query_embeddings=truth[id_], ids=[id_], n_results=1, include=["distances"])
        assert exact["ids"] == [[id_]] and exact["distances"] is not None and exact["distances"][0][0] < 1e-4
    everything = col.query(query_embeddings=truth[ids[0]], n_results=len(truth) + 5, include=[])
    assert sorted(everything["ids"][0]) == ids


def fill(col: ragstore.Collection, prefix: str, seed: int, n: int) -> dict[str, Vectors]:
    vecs = vectors(seed, n)
    ids = [f"{prefix}{i}" for i in range(n)]
    col.add(
        ids=ids,
        embeddings=vecs,
        documents=[f"document {prefix}{i}" for i in range(n)],
        metadatas=[{"i": i, "group": i % 3, "prefix": prefix} for i in range(n)],
    )
    return dict(zip(ids, vecs, strict=True))


# ---------------------------------------------------------------- reopening


def test_close_and_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "store"
    queries = vectors(99, 20)
    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        truth = fill(col, "r", 1, 300)
        col.update(ids=["r1", "r2"], embeddings=vectors(2, 2), metadatas=[{"i": 1, "changed": True}, {"i": 2, "changed": True}])
        truth["r1"], truth["r2"] = vectors(2, 2)
        col.delete(ids=["r3", "r4", "r5"])
        for gone in ("r3", "r4", "r5"):
            del truth[gone]
        before = col.get(include=["embeddings", "documents", "metadatas"])
        before_query = col.query(query_embeddings=queries, n_results=7)
        assert_queries_exact(col, truth, queries)
    assert (index_dir(path, col) / "meta.json").exists()
    assert read_meta(path, col)["seq"] == store_seqs(path, col)[0]

    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        after = col.get(include=["embeddings", "documents", "metadatas"])
        assert after["ids"] == before["ids"]
        assert after["documents"] == before["documents"]
        assert after["metadatas"] == before["metadatas"]
        assert after["embeddings"] is not None and before["embeddings"] is not None
        np.testing.assert_array_equal(after["embeddings"], before["embeddings"])
        assert after["metadatas"] is not None and after["metadatas"][1] == {"i": 1, "changed": True, "group": 1, "prefix": "r"}
        after_query = col.query(query_embeddings=queries, n_results=7)
        assert after_query["ids"] == before_query["ids"]
        assert after_query["documents"] == before_query["documents"]
        assert after_query["metadatas"] == before_query["metadatas"]
        assert after_query["distances"] is not None and before_query["distances"] is not None
        np.testing.assert_allclose(after_query["distances"], before_query["distances"], rtol=1e-5, atol=1e-6)
        assert_all_present(col, truth)
        assert_queries_exact(col, truth, queries)


WRITER_WITHOUT_CLOSE = """
import os, sys
import numpy as np
import ragstore
client = ragstore.PersistentClient(sys.argv[1])
col = client.get_or_create_collection("docs", embedding_function=None)
vecs = np.random.default_rng(7).standard_normal((250, {dim})).astype(np.float32)
col.add(ids=[f"x{{i}}" for i in range(250)], embeddings=vecs, documents=[f"doc {{i}}" for i in range(250)])
col.delete(ids=["x0", "x1"])
print(col.count(), flush=True)
if sys.argv[2] == "hard":
    os._exit(0)  # no atexit hooks: nothing saves the index
"""


@pytest.mark.parametrize("how", ["exit", "hard"])
def test_process_that_exits_without_close(tmp_path: Path, how: str) -> None:
    path = tmp_path / "store"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_WITHOUT_CLOSE.format(dim=DIM))
    done = subprocess.run([sys.executable, str(script), str(path), how], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "248"
    assert done.stderr == ""
    truth = {f"x{i}": v for i, v in enumerate(vectors(7, 250))}
    del truth["x0"], truth["x1"]
    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        meta_file = index_dir(path, col) / "meta.json"
        if how == "exit":
            # The engine saves unsaved index changes at interpreter exit.
            assert meta_file.exists()
            assert read_meta(path, col)["seq"] == store_seqs(path, col)[0]
        else:
            assert not meta_file.exists()  # 250 changes < sync_threshold: never saved, must be rebuilt
        assert col.get(ids=["x5"], include=["documents"])["documents"] == ["doc 5"]
        assert_all_present(col, truth)
        assert_queries_exact(col, truth, vectors(8, 15))


# ---------------------------------------------------------------- the index cache


def _truncate(fraction: float) -> Callable[[Path, Path], None]:
    def corrupt(directory: Path, _other: Path) -> None:
        (binary,) = directory.glob("index-*.bin")
        size = binary.stat().st_size
        with binary.open("r+b") as handle:
            handle.truncate(int(size * fraction))

    return corrupt


def _garbage(pattern: str) -> Callable[[Path, Path], None]:
    def corrupt(directory: Path, _other: Path) -> None:
        (target,) = directory.glob(pattern)
        size = target.stat().st_size
        target.write_bytes(np.random.default_rng(5).integers(0, 256, size, dtype=np.uint8).tobytes())
        assert target.stat().st_size == size

    return corrupt


def _flip_one_byte(directory: Path, _other: Path) -> None:
    (binary,) = directory.glob("index-*.bin")
    data = bytearray(binary.read_bytes())
    data[len(data) // 2] ^= 0xFF
    binary.write_bytes(bytes(data))


def _flip_vector_signs(directory: Path, _other: Path) -> None:
    # Loadable but wrong: hnswlib's header and links intact, one bit flipped in every stored float.
    (binary,) = directory.glob("index-*.bin")
    data = bytearray(binary.read_bytes())
    header = struct.Struct("<6QiI3QdQ")
    _offset0, _capacity, count, per_element, _label_offset, data_offset, *_rest = header.unpack_from(data)
    for element in range(count):
        start = header.size + element * per_element + data_offset
        floats = np.frombuffer(bytes(data[start : start + 4 * DIM]), dtype="<f4")
        data[start : start + 4 * DIM] = (-floats).astype("<f4").tobytes()
    binary.write_bytes(bytes(data))


def _meta_text(text: str) -> Callable[[Path, Path], None]:
    def corrupt(directory: Path, _other: Path) -> None:
        (directory / "meta.json").write_text(text)

    return corrupt


def _meta_change(**changes: object) -> Callable[[Path, Path], None]:
    def corrupt(directory: Path, _other: Path) -> None:
        meta = json.loads((directory / "meta.json").read_text())
        for key, value in changes.items():
            meta[key] = value(meta) if callable(value) else value
        (directory / "meta.json").write_text(json.dumps(meta))

    return corrupt


def _truncate_meta(directory: Path, _other: Path) -> None:
    meta = directory / "meta.json"
    meta.write_bytes(meta.read_bytes()[:40])


def _remove_folder(directory: Path, _other: Path) -> None:
    shutil.rmtree(directory)


def _remove(pattern: str) -> Callable[[Path, Path], None]:
    def corrupt(directory: Path, _other: Path) -> None:
        for target in directory.glob(pattern):
            target.unlink()

    return corrupt


def _foreign(directory: Path, other: Path) -> None:
    shutil.rmtree(directory)
    shutil.copytree(other, directory)


def _foreign_binary(directory: Path, other: Path) -> None:
    # The other collection's index file (same size: same count and dimension) under this one's name.
    (mine,) = directory.glob("index-*.bin")
    (theirs,) = other.glob("index-*.bin")
    assert mine.stat().st_size == theirs.stat().st_size
    shutil.copyfile(theirs, mine)


CORRUPTIONS: dict[str, Callable[[Path, Path], None]] = {
    "folder-deleted": _remove_folder,
    "meta-deleted": _remove("meta.json"),
    "index-file-deleted": _remove("index-*.bin"),
    "labels-file-deleted": _remove("labels-*.npy"),
    "index-truncated-half": _truncate(0.5),
    "index-truncated-empty": _truncate(0.0),
    "index-garbage-same-size": _garbage("index-*.bin"),
    "index-one-byte-flipped": _flip_one_byte,
    "index-vector-signs-flipped": _flip_vector_signs,
    "labels-garbage-same-size": _garbage("labels-*.npy"),
    "meta-invalid-json": _meta_text("{not json"),
    "meta-truncated": _truncate_meta,
    "meta-empty": _meta_text(""),
    "meta-json-list": _meta_text("[]"),
    "meta-json-null": _meta_text("null"),
    "meta-json-number": _meta_text("17"),
    "meta-wrong-collection-id": _meta_change(collection_id=str(uuid.uuid4())),
    "meta-seq-beyond-store": _meta_change(seq=lambda m: m["seq"] + 5),
    "meta-seq-negative": _meta_change(seq=-1),
    "meta-seq-not-int": _meta_change(seq="3"),
    "meta-points-at-missing-file": _meta_change(token="0-1-deadbeef"),
    "meta-files-wrong-type": _meta_change(files=[]),
    "meta-wrong-dimension": _meta_change(dim=DIM + 1),
    "meta-wrong-space": _meta_change(space="cosine"),
    "meta-unknown-format": _meta_change(format=99),
    "foreign-folder": _foreign,
    "foreign-index-file": _foreign_binary,
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_damaged_index_cache_costs_a_rebuild_never_an_answer(tmp_path: Path, corruption: str) -> None:
    path = tmp_path / "store"
    queries = vectors(123, 25)
    # One build thread: hnswlib's multi-threaded inserts make a graph (and so approximate
    # answers) that differs from build to build; this test compares answers across a rebuild.
    single = {"hnsw": {"num_threads": 1}}
    with ragstore.PersistentClient(path) as client:
        col, other = collection(client, "coll-a", configuration=single), collection(client, "coll-b", configuration=single)
        truth = fill(col, "a", 11, 400)
        fill(other, "b", 12, 400)  # same count and dimension: its files have the same sizes
        expected = col.query(query_embeddings=queries, n_results=10, include=["distances", "documents"])
        assert_queries_exact(col, truth, queries)
    directory, other_directory = index_dir(path, col), index_dir(path, other)
    assert (directory / "meta.json").exists() and (other_directory / "meta.json").exists()

    CORRUPTIONS[corruption](directory, other_directory)

    with ragstore.PersistentClient(path) as client:
        col = collection(client, "coll-a")
        assert col.count() == 400
        got = col.query(query_embeddings=queries, n_results=10, include=["distances", "documents"])
        assert got["ids"] == expected["ids"]
        assert got["documents"] == expected["documents"]
        assert got["distances"] is not None and expected["distances"] is not None
        np.testing.assert_allclose(got["distances"], expected["distances"], rtol=1e-5, atol=1e-6)
        assert_all_present(col, truth)
        # Writing still works, and the new record is found.
        new = vectors(321, 1)
        col.add(ids=["fresh"], embeddings=new)
        truth["fresh"] = new[0]
        assert col.query(query_embeddings=new, n_results=1)["ids"] == [["fresh"]]
        # The other collection was not disturbed.
        assert collection(client, "coll-b").count() == 400

    # The cache is repaired: a valid index covering everything was saved at close.
    meta = read_meta(path, col)
    assert meta["collection_id"] == str(col.id)
    assert meta["seq"] == store_seqs(path, col)[0]
    hnsw = default_hnsw()  # the collection was created with the defaults
    loaded = VectorIndex.load(directory, str(col.id), DIM, hnsw, store_seqs(path, col)[0], 0)
    assert loaded is not None and len(loaded.labels) == 401
    with ragstore.PersistentClient(path) as client:
        col = collection(client, "coll-a")
        assert_queries_exact(col, truth, queries)
        assert col.count() == 401


def test_stale_index_file_catches_up(tmp_path: Path) -> None:
    path = tmp_path / "store"
    backup = tmp_path / "backup"
    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        truth = fill(col, "s", 21, 400)
    shutil.copytree(index_dir(path, col), backup)
    stale_seq = read_meta(path, col)["seq"]

    with ragstore.PersistentClient(path) as client:  # another client writes more, then saves a newer index
        col = collection(client)
        truth.update(fill(col, "t", 22, 200))
        deleted = [f"s{i}" for i in range(0, 400, 4)]
        col.delete(ids=deleted)
        for id_ in deleted:
            del truth[id_]
        moved = [f"s{i}" for i in range(1, 100, 4)]
        col.update(ids=moved, embeddings=vectors(23, len(moved)))
        old_vectors = np.stack([truth[i] for i in moved])
        truth.update(zip(moved, vectors(23, len(moved)), strict=True))
        col.upsert(ids=["s0", "brand-new"], embeddings=vectors(24, 2))  # s0 comes back under a new label
        truth.update(zip(["s0", "brand-new"], vectors(24, 2), strict=True))

    shutil.rmtree(index_dir(path, col))
    shutil.copytree(backup, index_dir(path, col))  # back to the stale (but intact) file
    last_seq, floor = store_seqs(path, col)
    assert isinstance(stale_seq, int) and floor <= stale_seq < last_seq

    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        assert_all_present(col, truth)
        assert_queries_exact(col, truth, vectors(25, 30))
        # A moved record is no longer found at its old place.
        old = col.query(query_embeddings=old_vectors, n_results=1, include=["distances"])
        assert old["distances"] is not None and min(d[0] for d in old["distances"]) > 1e-3


def test_second_client_sees_writes_without_reopening(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as reader_client, ragstore.PersistentClient(path) as writer_client:
        reader = collection(reader_client)
        writer = collection(writer_client)
        truth = fill(writer, "w", 31, 200)
        assert_all_present(reader, truth)
        for round_ in range(3):
            truth.update(fill(writer, f"round{round_}-", 32 + round_, 150))
            gone = sorted(truth)[:30]
            writer.delete(ids=gone)
            for id_ in gone:
                del truth[id_]
            assert_all_present(reader, truth)
            assert_queries_exact(reader, truth, vectors(40 + round_, 10))


# ---------------------------------------------------------------- deleting collections


def _files_mentioning(root: Path, text: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if text in str(p.relative_to(root))]


def test_delete_collection_removes_its_index_folder(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        doomed, kept = collection(client, "doomed"), collection(client, "kept")
        fill(doomed, "d", 41, 300)
        kept_truth = fill(kept, "k", 42, 300)
    assert index_dir(path, doomed).is_dir() and index_dir(path, kept).is_dir()

    with ragstore.PersistentClient(path) as client:
        doomed = collection(client, "doomed")
        doomed.add(ids=["one-more"], embeddings=vectors(43, 1))  # unsaved changes in this client
        client.delete_collection("doomed")
        assert not index_dir(path, doomed).exists()
        assert _files_mentioning(path, str(doomed.id)) == []
        with pytest.raises(ragstore.NotFoundError):
            client.get_collection("doomed")
    assert _files_mentioning(path, str(doomed.id)) == []
    with ragstore.PersistentClient(path) as client:
        assert [c.name for c in client.list_collections()] == ["kept"]
        assert_all_present(collection(client, "kept"), kept_truth)
    with contextlib.closing(sqlite3.connect(path / "ragstore.sqlite3")) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 300
        assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 0


def test_collection_deleted_by_another_client_leaves_no_files(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        fill(collection(client, "doomed"), "d", 51, 200)
    with ragstore.PersistentClient(path) as holder, ragstore.PersistentClient(path) as deleter:
        held = collection(holder, "doomed")
        held.add(ids=["unsaved"], embeddings=vectors(52, 1))  # the holder's index now has unsaved changes
        assert held.query(query_embeddings=vectors(52, 1), n_results=1)["ids"] == [["unsaved"]]
        deleter.delete_collection("doomed")
        assert not index_dir(path, held).exists()
        with pytest.raises(ragstore.NotFoundError):
            held.count()
        holder.close()  # saving its unsaved index must not bring the folder back
        assert not index_dir(path, held).exists()
    assert _files_mentioning(path, str(held.id)) == []


def _store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("ragstore.sqlite3*"))


def _fill_big(path: Path, name: str, n: int = 20_000) -> None:
    with ragstore.PersistentClient(path) as client:
        col = client.create_collection(name, embedding_function=None)
        for start in range(0, n, 5_000):
            count = min(5_000, n - start)
            col.add(
                ids=[f"big{i}" for i in range(start, start + count)],
                embeddings=vectors(start, count, 32),
                documents=[
                    f"record {i}: lorem ipsum dolor sit amet, consectetur adipiscing elit {i % 97}" for i in range(start, start + count)
                ],
                metadatas=[{"i": i, "even": i % 2 == 0, "tag": f"t{i % 13}"} for i in range(start, start + count)],
            )


def test_deleting_frees_space(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _fill_big(path, "big-one")
    full = _store_bytes(path)
    assert full > 5_000_000

    with ragstore.PersistentClient(path) as client:
        col = collection(client, "big-one")
        assert col.delete(where={"even": True})["deleted"] == 10_000
        client.delete_collection("big-one")
    emptied = _store_bytes(path)
    assert emptied < full * 0.2, (full, emptied)

    sizes = [full]
    for round_ in range(2):
        _fill_big(path, f"big-{round_}")
        sizes.append(_store_bytes(path))
        with ragstore.PersistentClient(path) as client:
            client.delete_collection(f"big-{round_}")
        assert _store_bytes(path) < full * 0.2
    # Refilling reuses the freed space: the file does not keep growing.
    assert max(sizes) < full * 1.2, sizes


def test_deleting_most_records_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _fill_big(path, "big-one")
    full = _store_bytes(path)
    with ragstore.PersistentClient(path) as client:
        col = collection(client, "big-one")
        for start in range(0, 14_000, 2_000):  # 70%, in several calls, as applications delete
            col.delete(ids=[f"big{i}" for i in range(start, start + 2_000)])
        assert col.count() == 6_000
        assert col.get(ids=["big19999"], include=["documents"])["documents"] == [
            "record 19999: lorem ipsum dolor sit amet, consectetur adipiscing elit 17"
        ]
    assert _store_bytes(path) < full * 0.6, (full, _store_bytes(path))


# ---------------------------------------------------------------- deletes and tombstones


def test_pruned_tombstones_make_a_lagging_client_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_TOMBSTONES", 50)
    path = tmp_path / "store"
    backup = tmp_path / "backup"
    with ragstore.PersistentClient(path) as client:
        truth = fill(collection(client), "p", 61, 1000)
        col = collection(client)
    shutil.copytree(index_dir(path, col), backup)  # an intact index from before the deletes
    queries = vectors(62, 30)

    with ragstore.PersistentClient(path) as lagging_client, ragstore.PersistentClient(path) as deleting_client:
        lagging = collection(lagging_client)
        deleting = collection(deleting_client)
        assert_queries_exact(lagging, truth, queries)  # loads its index now, at the old sequence
        start_seq = store_seqs(path, col)[0]
        rng = np.random.default_rng(63)
        for _ in range(12):
            gone = [str(i) for i in rng.choice(sorted(truth), 30, replace=False)]
            assert deleting.delete(ids=gone)["deleted"] == 30
            for id_ in gone:
                del truth[id_]
        _, floor = store_seqs(path, col)
        assert floor > start_seq  # tombstones were pruned past the lagging index
        with contextlib.closing(sqlite3.connect(path / "ragstore.sqlite3")) as conn:
            assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] <= 50 + 30

        assert_all_present(lagging, truth)
        assert_queries_exact(lagging, truth, queries)
        assert_queries_exact(deleting, truth, queries)

    shutil.rmtree(index_dir(path, col))
    shutil.copytree(backup, index_dir(path, col))  # a file older than the tombstone floor
    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        assert_all_present(col, truth)
        assert_queries_exact(col, truth, queries)


def test_queries_stay_exact_after_deleting_most_records(tmp_path: Path) -> None:
    path = tmp_path / "store"
    dim = 16
    all_vectors = vectors(71, 2000, dim)
    ids = [f"m{i}" for i in range(2000)]
    rng = np.random.default_rng(72)
    doomed = rng.permutation(2000)[:1800]
    survivors = sorted(set(range(2000)) - {int(i) for i in doomed})
    truth = {ids[i]: all_vectors[i] for i in survivors}
    queries = vectors(73, 50, dim)
    with ragstore.PersistentClient(path) as client:
        col = collection(client)
        col.add(ids=ids, embeddings=all_vectors, metadatas=[{"half": i % 2} for i in range(2000)])
        for part in np.array_split(doomed, 9):
            col.delete(ids=[ids[i] for i in part])
        assert col.count() == 200
        assert_queries_exact(col, truth, queries)
        assert_all_present(col, truth)
    with ragstore.PersistentClient(path) as client:  # a loaded index, with its deleted marks
        col = collection(client)
        assert_queries_exact(col, truth, queries)
        wide = col.query(query_embeddings=queries[:3], n_results=500, include=[])
        assert all(sorted(hits) == sorted(truth) for hits in wide["ids"])
        odd = {id_: v for id_, v in truth.items() if int(id_[1:]) % 2 == 1}
        expected_ids, _ = brute_force(odd, queries, 10)
        assert col.query(query_embeddings=queries, n_results=10, where={"half": 1}, include=[])["ids"] == expected_ids


def test_index_files_do_not_pile_up(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        col = collection(client, configuration={"hnsw": {"sync_threshold": 50}})
        for round_ in range(20):
            fill(col, f"f{round_}-", 80 + round_, 60)  # every add saves the index
    names = sorted(os.listdir(index_dir(path, col)))
    # One save's graph, labels and reachability note (ragstore.local.orphans), and meta.json.
    assert [name.split("-")[0] for name in names] == ["index", "labels", "meta.json", "reachability"], names
