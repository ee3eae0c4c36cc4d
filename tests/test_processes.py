"""Real processes on one store: ``kill -9`` during writes, concurrent writers, a long-lived reader.

Child processes run functions of this module (``python -c "import test_processes as t; ..."``
with this folder on ``PYTHONPATH``), so the data they write and the model the test checks
against come from the same code.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pytest

import ragstore
from tests.indexing import flushed

pytestmark = pytest.mark.slow

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
Vectors = npt.NDArray[np.float32]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def _child(function: str, *args: object) -> list[str]:
    """The command that runs ``function(*args)`` of this module in a new interpreter."""
    return [sys.executable, "-c", f"import sys, test_processes as t; t.{function}(*sys.argv[1:])", *map(str, args)]


def _wait_for(condition: Any, timeout: float, what: str, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            return  # the caller looks at why it ended
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)


@contextlib.contextmanager
def _crash_writer_process(command: list[str], err_path: Path) -> Iterator[subprocess.Popen[Any]]:
    """A writer child for the block to kill (SIGKILL), its stderr in ``err_path``; still running on leaving, it is killed.

    A writer that ended otherwise than killed or finished (an exception, a failed assertion) fails the test with its stderr.
    """
    with err_path.open("w") as err, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=_env()) as proc:
        try:
            yield proc
        finally:
            _stop(proc)
    assert proc.returncode in (-signal.SIGKILL, 0), err_path.read_text()


def _kill_within_op(proc: subprocess.Popen[Any], acks: Path, target: int, pause: float) -> None:
    """Kill the writer ``pause`` seconds after it acknowledges op ``target - 1``: within op ``target``, or a later one."""
    _wait_for(lambda: len(_read_acks(acks)) >= target, 60, f"op {target}", proc)
    time.sleep(pause)
    _stop(proc)


def _assert_findable(col: ragstore.Collection, ids: list[str], vecs: Vectors) -> None:
    """Each record is its own nearest neighbour (at distance ~0) in an unfiltered query.

    HNSW is approximate: hnswlib may leave a rare node unreachable (about 1 in 10^4 random
    vectors, more after updates and deletes), so a few misses are allowed; each must still
    be found exactly. A vector missing from the index shows up as many misses (and in
    :func:`_assert_index_matches_store`).
    """
    hits = col.query(query_embeddings=vecs, n_results=1, include=["distances"])
    assert hits["distances"] is not None
    misses = [i for i, (id_, hit, d) in enumerate(zip(ids, hits["ids"], hits["distances"], strict=True)) if hit != [id_] or d[0] > 1e-4]
    assert len(misses) <= max(2, len(ids) // 500), (col.name, len(misses), [(ids[i], hits["ids"][i]) for i in misses[:5]])
    for i in misses:
        exact = col.query(query_embeddings=vecs[i], ids=[ids[i]], n_results=1, include=["distances"])
        assert exact["ids"] == [[ids[i]]] and exact["distances"] is not None and exact["distances"][0][0] < 1e-4


def _assert_index_matches_store(client: ragstore.ClientAPI, col: ragstore.Collection, db_file: Path) -> None:
    """White box: the client's in-memory index holds exactly the stored vectors, nothing lost or left over (once caught up)."""
    flushed(client)
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        pk, last_seq = conn.execute("SELECT pk, last_seq FROM collections WHERE id = ?", (str(col.id),)).fetchone()
        rows = conn.execute("SELECT label, embedding FROM records WHERE collection_pk = ? ORDER BY label", (pk,)).fetchall()
    index = client._api._indexes._cached[pk].index  # type: ignore[attr-defined]
    assert index.applied_seq == last_seq
    labels = [row[0] for row in rows]
    assert index.labels == set(labels), (len(index.labels), len(labels))
    if labels:
        stored = index._index.get_items(labels, return_type="numpy")
        expected = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), -1)
        assert np.array_equal(stored, expected)
    for label in set(index._index.get_ids_list()) - index.labels:  # deleted records and old vectors are marked deleted
        with pytest.raises(RuntimeError, match="Label not found"):
            index._index.get_items([label])


# ====================================================================== kill -9 while writing

CRASH_DIM = 8
CRASH_OPS = 5_000  # more than a test run gets through; a writer that finishes them exits normally
CRASH_ROUNDS = 24
CRASH_COLLECTION = "crash"

Record = tuple[Vectors, str, dict[str, Any]]


def _batch_size(batch: int) -> int:
    return 50 + (batch * 37) % 151


def _crash_op(k: int) -> tuple[str, list[int]]:
    """Operation ``k``: its kind and the batches it touches (a batch is named by the op that added it).

    Every ten ops: five adds, an upsert of the cycle's first batch, an update of its
    third, a delete of its fourth, an upsert that brings that one back, and a delete of
    all batches added six cycles earlier (so the store stays a few thousand records).
    """
    r = k % 10
    if r < 5:
        return "add", [k]
    if r == 9:
        return ("delete", list(range(k - 59, k - 54))) if k >= 59 else ("upsert", [k - 5])
    return {5: ("upsert", [k - 5]), 6: ("update", [k - 4]), 7: ("delete", [k - 4]), 8: ("upsert", [k - 5])}[r]


def _crash_records(k: int) -> tuple[str, list[int], list[str], Vectors | None, list[str] | None, list[dict[str, Any]] | None]:
    kind, batches = _crash_op(k)
    ids = [f"b{batch}-{i}" for batch in batches for i in range(_batch_size(batch))]
    if kind == "delete":
        return kind, batches, ids, None, None, None
    (batch,) = batches
    n = _batch_size(batch)
    version = 0 if kind == "add" else k
    vecs = np.random.default_rng([batch, version]).standard_normal((n, CRASH_DIM)).astype(np.float32)
    docs = [f"batch {batch} record {i} version {version}" for i in range(n)]
    if kind == "update":
        metas = [{"v": k, "tag": "update"} for _ in range(n)]
    else:
        metas = [{"batch": batch, "i": i, "v": version, "tag": kind} for i in range(n)]
    return kind, batches, ids, vecs, docs, metas


def _crash_apply(state: dict[str, Record], k: int) -> None:
    """Apply op ``k`` to a plain-Python model of the collection."""
    kind, _batches, ids, vecs, docs, metas = _crash_records(k)
    if kind == "delete":
        for id_ in ids:
            state.pop(id_, None)
        return
    assert vecs is not None and docs is not None and metas is not None
    for i, id_ in enumerate(ids):
        old = state.get(id_)
        if kind == "add" and old is None:
            state[id_] = (vecs[i], docs[i], metas[i])
        elif kind == "upsert":
            state[id_] = (vecs[i], docs[i], {**old[2], **metas[i]} if old else metas[i])
        elif kind == "update" and old is not None:
            state[id_] = (vecs[i], docs[i], {**old[2], **metas[i]})


def _crash_writer(path: str, acks: str, start: str) -> None:
    """Child: run ops from ``start`` on, appending ``k`` to ``acks`` after op ``k`` returns."""
    client = ragstore.PersistentClient(path)
    col = client.get_collection(CRASH_COLLECTION, embedding_function=None)
    with open(acks, "a") as out:
        for k in range(int(start), CRASH_OPS):
            kind, batches, ids, vecs, docs, metas = _crash_records(k)
            if kind == "delete":
                col.delete(where={"batch": batches[0]} if len(batches) == 1 else {"batch": {"$in": batches}})
            else:
                getattr(col, kind)(ids=ids, embeddings=vecs, documents=docs, metadatas=metas)
            if k % 20 == 19:
                col.query(query_embeddings=np.zeros(CRASH_DIM, dtype=np.float32), n_results=3)
            out.write(f"{k}\n")
            out.flush()
    client.close()


def _read_acks(acks: Path) -> list[int]:
    text = acks.read_text()
    complete = text[: text.rfind("\n") + 1]  # a line cut by the kill was not acknowledged
    return [int(line) for line in complete.splitlines()]


def _diff(actual: dict[str, Record], model: dict[str, Record]) -> str | None:
    """Why ``actual`` differs from ``model`` (``None`` when they are equal)."""
    missing, extra = sorted(set(model) - set(actual)), sorted(set(actual) - set(model))
    if missing or extra:
        return f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]})"
    for id_, (vec, doc, meta) in model.items():
        got_vec, got_doc, got_meta = actual[id_]
        if not np.array_equal(got_vec, vec) or got_doc != doc or got_meta != meta:
            return f"{id_}: stored {got_doc!r} {got_meta!r}, expected {doc!r} {meta!r}"
    return None


def _check_crashed_store(path: Path, candidates: list[dict[str, Record]], rng: random.Random) -> int:
    """Open the store as a new client and check it against the models it may equal.

    Returns the index of the candidate it equals.
    """
    with contextlib.closing(sqlite3.connect(path / "ragstore.sqlite3")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with ragstore.PersistentClient(path) as client:
        col = client.get_collection(CRASH_COLLECTION, embedding_function=None)
        got = col.get(include=["embeddings", "documents", "metadatas"])
        assert got["embeddings"] is not None and got["documents"] is not None and got["metadatas"] is not None
        actual: dict[str, Record] = {
            id_: (vec, doc, meta)
            for id_, vec, doc, meta in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True)
        }
        assert len(actual) == len(got["ids"]) == col.count()
        diffs = [_diff(actual, model) for model in candidates]
        matched = [i for i, d in enumerate(diffs) if d is None]
        assert matched, f"the store is neither before nor after the unacknowledged op: {diffs}"

        # Every batch is all or nothing.
        per_batch = Counter(meta["batch"] for _vec, _doc, meta in actual.values())
        assert all(count == _batch_size(batch) for batch, count in per_batch.items()), per_batch

        # Every record is found by its own vector, at distance ~0, and the index holds every vector.
        if actual:
            ids = list(actual)
            _assert_findable(col, ids, np.stack([actual[i][0] for i in ids]))
            _assert_index_matches_store(client, col, path / "ragstore.sqlite3")

        # A where filter on the batch number returns the whole batch, by get and by query.
        batches = sorted(per_batch)
        for batch in rng.sample(batches, min(12, len(batches))) + batches[-2:]:
            expected = sorted(f"b{batch}-{i}" for i in range(_batch_size(batch)))
            assert sorted(col.get(where={"batch": batch}, include=[])["ids"]) == expected
            probe = actual[expected[0]][0]
            hits = col.query(query_embeddings=probe, n_results=len(expected) + 10, where={"batch": batch}, include=[])
            assert sorted(hits["ids"][0]) == expected
    return matched[0]


def _index_files(directory: Path) -> set[str]:
    try:
        return set(os.listdir(directory))
    except FileNotFoundError:
        return set()


def _published_token(directory: Path) -> str | None:
    try:
        return str(json.loads((directory / "meta.json").read_text())["token"])
    except (OSError, ValueError, KeyError):
        return None


def _crash_store(tmp_path: Path, collection: str, sync_threshold: int) -> tuple[Path, Path, Path]:
    """A new store holding one empty collection: the store's path, an empty acknowledgements file, and the collection's index folder."""
    path = tmp_path / "store"
    acks = tmp_path / "acks.txt"
    acks.touch()
    with ragstore.PersistentClient(path) as client:
        col = client.create_collection(collection, embedding_function=None, configuration={"hnsw": {"sync_threshold": sync_threshold}})
    return path, acks, path / "indexes" / str(col.id)


def _wait_for_a_save(index_dir: Path, proc: subprocess.Popen[Any], timeout: float) -> set[str]:
    """Wait until new index files appear (a save of the graph has begun, so a kill now lands inside it); the names there before."""
    before = _index_files(index_dir)
    _wait_for(lambda: any(n not in before for n in _index_files(index_dir) if n != "meta.json"), timeout, "an index save", proc)
    return before


def test_kill_9_never_loses_or_tears_an_acknowledged_write(tmp_path: Path) -> None:
    path, acks, index_dir = _crash_store(tmp_path, CRASH_COLLECTION, sync_threshold=100)
    rng = random.Random(20240611)
    model: dict[str, Record] = {}
    applied = 0  # ops in ``model``
    stats: Counter[str] = Counter()
    finished = False
    deadline = time.monotonic() + 110
    rounds = 0
    while rounds < CRASH_ROUNDS and not finished and time.monotonic() < deadline:
        rounds += 1
        start = len(_read_acks(acks))
        kill_at_save = rounds % 2 == 0
        with _crash_writer_process(_child("_crash_writer", path, acks, start), tmp_path / f"writer-{rounds}.err") as proc:
            _wait_for(lambda start=start: len(_read_acks(acks)) > start, 60, "the writer's first acknowledgement", proc)
            if kill_at_save:
                before = _wait_for_a_save(index_dir, proc, 20)
                _stop(proc)
                token = _published_token(index_dir)
                if any(token is None or token not in n for n in _index_files(index_dir) - before if n != "meta.json"):
                    stats["killed with an unpublished index file"] += 1
            else:
                _kill_within_op(proc, acks, start + rng.randint(1, 60), rng.uniform(0.0, 0.05))  # at a random moment of a random op
        finished = proc.returncode == 0

        done = _read_acks(acks)
        assert done == list(range(len(done))), "acknowledgements out of order"
        stats["ops acknowledged"] = len(done)
        while applied < len(done):
            _crash_apply(model, applied)
            applied += 1
        after = dict(model)
        if applied < CRASH_OPS:
            _crash_apply(after, applied)
        which = _check_crashed_store(path, [model, after], rng)
        stats["unacknowledged op found committed"] += which
    assert rounds >= 10 or finished, f"only {rounds} kills in the time allowed"
    assert stats["ops acknowledged"] >= 3 * rounds
    assert stats["killed with an unpublished index file"] >= 1, stats
    print(dict(stats), f"rounds={rounds}", f"records={len(model)}")


# ====================================================================== concurrent writers

CONC_DIM = 8
CONC_WRITERS = 3
CONC_BATCHES = 30
CONC_BATCH = 40
SHARED = "shared"


def _conc_vectors(writer: int, batch: int, version: int) -> Vectors:
    return np.random.default_rng([writer, batch, version]).standard_normal((CONC_BATCH, CONC_DIM)).astype(np.float32)


def _conc_ids(writer: int, batch: int) -> list[str]:
    return [f"w{writer}-b{batch}-{r}" for r in range(CONC_BATCH)]


def _conc_steps(writer: int) -> Iterator[tuple[str, str, list[str], Vectors | None]]:
    """``(collection, op, ids, vectors)`` in the order writer ``writer`` runs them."""
    for batch in range(CONC_BATCHES):
        yield SHARED, "add", _conc_ids(writer, batch), _conc_vectors(writer, batch, 0)
        yield f"own-{writer}", "add", _conc_ids(writer, batch), _conc_vectors(writer, batch, 1)
        if batch % 5 == 4:
            yield SHARED, "upsert", _conc_ids(writer, batch - 2), _conc_vectors(writer, batch - 2, 2)
        if batch % 7 == 6:
            yield SHARED, "delete", _conc_ids(writer, batch - 3)[:10], None


def _conc_expected(writer: int) -> dict[str, dict[str, Vectors]]:
    collections: dict[str, dict[str, Vectors]] = {SHARED: {}, f"own-{writer}": {}}
    for name, op, ids, vecs in _conc_steps(writer):
        if op == "delete":
            for id_ in ids:
                collections[name].pop(id_, None)
        else:
            assert vecs is not None
            collections[name].update(zip(ids, vecs, strict=True))
    return collections


def _conc_writer(path: str, writer: str, barrier: str) -> None:
    """Child: wait for the start signal, then interleave writes to the shared and an own collection."""
    w = int(writer)
    Path(barrier, f"ready-{w}").touch()
    deadline = time.monotonic() + 120
    while not Path(barrier, "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.001)
    client = ragstore.PersistentClient(path)  # all at once, on a store that does not exist yet
    cols = {
        SHARED: client.get_or_create_collection(SHARED, embedding_function=None, configuration={"hnsw": {"sync_threshold": 64}}),
        f"own-{w}": client.create_collection(f"own-{w}", embedding_function=None),
    }
    for name, op, ids, vecs in _conc_steps(w):
        col = cols[name]
        if op == "delete":
            assert col.delete(ids=ids)["deleted"] == len(ids)
            assert col.get(ids=ids, include=[])["ids"] == []
            continue
        getattr(col, op)(ids=ids, embeddings=vecs, documents=[f"{name} {id_}" for id_ in ids])
        # This process reads its own write at once, whatever the others did meanwhile.
        assert vecs is not None
        _assert_findable(col, ids, vecs)
    client.close()
    print("done", flush=True)


def _check_collection(client: ragstore.ClientAPI, col: ragstore.Collection, truth: dict[str, Vectors], db_file: Path) -> None:
    ids = sorted(truth)
    assert col.count() == len(truth), (col.name, col.count(), len(truth))
    got = col.get(include=["embeddings", "documents"])
    assert sorted(got["ids"]) == ids, col.name
    assert got["embeddings"] is not None and got["documents"] is not None
    for id_, vec, doc in zip(got["ids"], got["embeddings"], got["documents"], strict=True):
        assert np.array_equal(vec, truth[id_]), (col.name, id_)
        assert doc == f"{col.name} {id_}"
    _assert_findable(col, ids, np.stack([truth[i] for i in ids]))
    _assert_index_matches_store(client, col, db_file)
    everything = col.query(query_embeddings=truth[ids[0]], n_results=len(ids), include=[])
    assert sorted(everything["ids"][0]) == ids, col.name


def _conc_verify(path: str) -> None:
    """Child (a fourth process): every record of every writer is there, found by get and by query."""
    expected: dict[str, dict[str, Vectors]] = {SHARED: {}}
    for w in range(CONC_WRITERS):
        for name, records in _conc_expected(w).items():
            expected.setdefault(name, {}).update(records)
    with ragstore.PersistentClient(Path(path)) as client:
        assert sorted(c.name for c in client.list_collections()) == sorted(expected)
        for name, truth in expected.items():
            _check_collection(client, client.get_collection(name, embedding_function=None), truth, Path(path, "ragstore.sqlite3"))
    print("verified", sum(len(t) for t in expected.values()), flush=True)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs: list[subprocess.Popen[str]] = []
    errs: list[IO[str]] = []
    try:
        for w in range(CONC_WRITERS):
            errs.append((tmp_path / f"writer-{w}.err").open("w+"))
            procs.append(
                subprocess.Popen(_child("_conc_writer", path, w, barrier), stdout=subprocess.PIPE, stderr=errs[-1], text=True, env=_env())
            )
        _wait_for(lambda: len(list(barrier.glob("ready-*"))) == CONC_WRITERS or any(p.poll() is not None for p in procs), 60, "writers")
        (barrier / "go").touch()
        outputs = [p.communicate(timeout=180)[0] for p in procs]
    finally:
        for proc in procs:
            _stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()
    stderrs = []
    for err in errs:
        err.seek(0)
        stderrs.append(err.read())
        err.close()
    for proc, out, err_text in zip(procs, outputs, stderrs, strict=True):
        assert "locked" not in err_text.lower(), err_text
        assert proc.returncode == 0, err_text
        assert out.strip() == "done", (out, err_text)

    verify = subprocess.run(_child("_conc_verify", path), capture_output=True, text=True, env=_env(), timeout=180, check=False)
    assert verify.returncode == 0, verify.stderr
    expected_total = sum(len(records) for w in range(CONC_WRITERS) for records in _conc_expected(w).values())
    assert verify.stdout.split() == ["verified", str(expected_total)]


# ====================================================================== a long-lived reader

LIVE_DIM = 8
LIVE_COLLECTION = "live"


def _live_vectors(seed: int, n: int) -> Vectors:
    return np.random.default_rng(seed).standard_normal((n, LIVE_DIM)).astype(np.float32)


def _live_changes(round_: int) -> tuple[dict[str, Vectors], list[str], dict[str, Vectors]]:
    """Round ``round_``'s writes: ``(added, deleted ids, updated vectors)``."""
    added = dict(zip([f"r{round_}-{i}" for i in range(100)], _live_vectors(1000 + round_, 100), strict=True))
    previous = [f"r{round_ - 1}-{i}" for i in range(20)] if round_ > 0 else [f"init-{i}" for i in range(100, 120)]
    moved = [f"init-{i}" for i in range(10 * round_, 10 * round_ + 10)]
    return added, previous, dict(zip(moved, _live_vectors(2000 + round_, 10), strict=True))


def _live_writer(path: str, round_: str) -> None:
    """Child: one round of writes by a process other than the reader."""
    added, deleted, moved = _live_changes(int(round_))
    with ragstore.PersistentClient(Path(path)) as client:
        col = client.get_collection(LIVE_COLLECTION, embedding_function=None)
        col.add(ids=list(added), embeddings=np.stack(list(added.values())))
        assert col.delete(ids=deleted)["deleted"] == len(deleted)
        col.update(ids=list(moved), embeddings=np.stack(list(moved.values())))


def _live_reader(path: str) -> None:
    """Child: one client, kept open; answers query commands read from stdin, one JSON line each."""
    with ragstore.PersistentClient(Path(path)) as client:
        col = client.get_collection(LIVE_COLLECTION, embedding_function=None)
        col.query(query_embeddings=np.zeros(LIVE_DIM, dtype=np.float32), n_results=5)  # loads the index now
        print("ready", flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command is None:
                break
            result = col.query(query_embeddings=command["queries"], n_results=command["n"], include=["distances"])
            print(json.dumps({"ids": result["ids"], "distances": result["distances"], "count": col.count()}), flush=True)


class _Lines:
    """Lines from a child's stdout, read by a thread so that waiting can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)

    def get(self, timeout: float = 60) -> str:
        return self._queue.get(timeout=timeout).strip()

    def join(self) -> None:
        self._thread.join(timeout=60)


def test_long_lived_reader_sees_other_processes_writes(tmp_path: Path) -> None:
    path = tmp_path / "store"
    truth = dict(zip([f"init-{i}" for i in range(300)], _live_vectors(7, 300), strict=True))
    with ragstore.PersistentClient(path) as client:
        client.create_collection(LIVE_COLLECTION, embedding_function=None).add(ids=list(truth), embeddings=np.stack(list(truth.values())))

    reader = subprocess.Popen(
        _child("_live_reader", path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
    )
    assert reader.stdin is not None and reader.stdout is not None and reader.stderr is not None
    lines = _Lines(reader.stdout)

    def ask(queries: Vectors, n: int) -> dict[str, Any]:
        assert reader.stdin is not None
        reader.stdin.write(json.dumps({"queries": queries.tolist(), "n": n}) + "\n")
        reader.stdin.flush()
        answer: dict[str, Any] = json.loads(lines.get())
        return answer

    try:
        assert lines.get() == "ready"
        for round_ in range(3):
            new_ids, deleted, moved, old_moved = _live_round(path, round_, truth)
            assert ask(np.zeros((1, LIVE_DIM), dtype=np.float32), 1)["count"] == len(truth)
            _assert_sees(ask, truth, new_ids, old_moved, deleted, moved)
        assert reader.stdin is not None
        reader.stdin.write("null\n")
        reader.stdin.close()
        assert reader.wait(timeout=60) == 0, reader.stderr.read()
    finally:
        _stop(reader)
        lines.join()
        for stream in (reader.stdin, reader.stdout, reader.stderr):
            if stream is not None:
                stream.close()


def test_a_reader_sees_other_processes_writes_before_its_graph_catches_up(tmp_path: Path) -> None:
    """With its background indexer held, a reader answers from the exact search of what its graph lacks."""
    path = tmp_path / "store"
    truth = dict(zip([f"init-{i}" for i in range(300)], _live_vectors(7, 300), strict=True))
    with ragstore.PersistentClient(path) as client:
        client.create_collection(LIVE_COLLECTION, embedding_function=None).add(ids=list(truth), embeddings=np.stack(list(truth.values())))

    with ragstore.PersistentClient(path) as client:
        col = client.get_collection(LIVE_COLLECTION, embedding_function=None)
        col.query(query_embeddings=np.zeros(LIVE_DIM, dtype=np.float32), n_results=5)  # loads the index
        flushed(client)
        index = next(iter(client._api._indexes._cached.values())).index  # type: ignore[attr-defined]
        with client._api._indexes.hold():  # type: ignore[attr-defined]
            for round_ in range(2):
                new_ids, deleted, moved, old_moved = _live_round(path, round_, truth)
                # The graph has not seen this round (nor the last): its new vectors, replaced ones and deletions.
                assert index.applied_seq < _last_seq(path, col)
                _assert_sees(_querier(col), truth, new_ids, old_moved, deleted, moved)
        flushed(client)
        assert index.applied_seq == _last_seq(path, col)
        added, deleted, moved_vectors = _live_changes(1)
        _assert_sees(_querier(col), truth, [*added, *moved_vectors], _live_vectors(2000, 1), deleted, set(moved_vectors))
        _assert_index_matches_store(client, col, path / "ragstore.sqlite3")


def _last_seq(path: Path, col: ragstore.Collection) -> int:
    with contextlib.closing(sqlite3.connect(path / "ragstore.sqlite3")) as conn:
        return int(conn.execute("SELECT last_seq FROM collections WHERE id = ?", (str(col.id),)).fetchone()[0])


def _live_round(path: Path, round_: int, truth: dict[str, Vectors]) -> tuple[list[str], list[str], set[str], Vectors]:
    """Round ``round_`` of writes by a child process, applied to ``truth`` too.

    Returns: the new and moved ids, the deleted ids, the moved ids, and the moved records' old vectors.
    """
    writer = subprocess.run(_child("_live_writer", path, round_), capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert writer.returncode == 0, writer.stderr
    added, deleted, moved = _live_changes(round_)
    old_moved = np.stack([truth[i] for i in moved])
    truth.update(added)
    truth.update(moved)
    for id_ in deleted:
        del truth[id_]
    return [*added, *moved], deleted, set(moved), old_moved


Querier = Callable[[Vectors, int], Mapping[str, Any]]  # (query vectors, n) -> an answer with "ids" and "distances"


def _querier(col: ragstore.Collection) -> Querier:
    return lambda queries, n: col.query(query_embeddings=queries, n_results=n, include=["distances"])


def _assert_sees(
    ask: Querier, truth: dict[str, Vectors], new_ids: list[str], old_vectors: Vectors, deleted: list[str], moved: set[str]
) -> None:
    """New and moved records are their own nearest neighbours; old vectors and deleted records are never answered."""
    answer = ask(np.stack([truth[i] for i in new_ids]), 1)
    assert answer["ids"] == [[i] for i in new_ids]
    assert answer["distances"] is not None and max(d[0] for d in answer["distances"]) < 1e-4
    gone = ask(old_vectors, 1)
    assert gone["distances"] is not None
    assert all(hit[0] not in moved or d[0] > 1e-4 for hit, d in zip(gone["ids"], gone["distances"], strict=True))
    everything = ask(np.stack([truth[new_ids[0]]]), len(truth) + 10)
    assert sorted(everything["ids"][0]) == sorted(truth)
    assert not set(deleted) & set(everything["ids"][0])


# ====================================================================== kill -9 during background indexing

BG_DIM = 48
BG_BATCH = 1500
BG_BATCHES = 8  # per writer run: 12,000 records, which a writer acknowledges long before they are indexed
BG_COLLECTION = "background"


def _bg_vectors(batch: int) -> Vectors:
    return np.random.default_rng([77, batch]).standard_normal((BG_BATCH, BG_DIM)).astype(np.float32)


def _bg_ids(batch: int) -> list[str]:
    return [f"g{batch}-{i}" for i in range(BG_BATCH)]


def _bg_writer(path: str, acks: str, start: str) -> None:
    """Child: add batches from ``start`` on (acknowledged in ``acks``), then wait to be killed while the indexer works.

    Writers never wait for the indexer here (a bound far above what is written), so the
    kill lands while the graph lacks many acknowledged records, at a random point of its
    catch-up: inside a batch inserted into the graph, or inside a save of the files.
    """
    settings = ragstore.Settings(max_unindexed_records=10**7)
    client = ragstore.PersistentClient(path, settings=settings)
    col = client.get_collection(BG_COLLECTION, embedding_function=None)
    with open(acks, "a") as out:
        for batch in range(int(start), int(start) + BG_BATCHES):
            if batch % 3 == 2:  # some vectors replaced and some records deleted, so the graph also has removals to apply
                col.upsert(ids=_bg_ids(batch - 1)[:100], embeddings=-_bg_vectors(batch - 1)[:100])
                col.delete(ids=_bg_ids(batch - 2)[:50])
            col.add(ids=_bg_ids(batch), embeddings=_bg_vectors(batch))
            out.write(f"{batch}\n")
            out.flush()
    time.sleep(120)  # the indexer goes on until the kill


def _bg_model(batches: int) -> dict[str, Vectors]:
    model: dict[str, Vectors] = {}
    for batch in range(batches):
        if batch % 3 == 2:
            model.update(zip(_bg_ids(batch - 1)[:100], -_bg_vectors(batch - 1)[:100], strict=True))
            for id_ in _bg_ids(batch - 2)[:50]:
                model.pop(id_, None)
        model.update(zip(_bg_ids(batch), _bg_vectors(batch), strict=True))
    return model


def test_kill_9_during_background_indexing_loses_nothing_and_inserts_nothing_twice(tmp_path: Path) -> None:
    path, acks, index_dir = _crash_store(tmp_path, BG_COLLECTION, sync_threshold=500)
    rng = random.Random(7)
    killed_mid_indexing = 0
    for round_ in range(3):
        start = len(_read_acks(acks))
        with _crash_writer_process(_child("_bg_writer", path, acks, start), tmp_path / f"bg-writer-{round_}.err") as proc:
            _wait_for(lambda start=start: len(_read_acks(acks)) >= start + BG_BATCHES, 120, "the writer's acknowledgements", proc)
            if round_ == 1:  # within a save of the index files
                _wait_for_a_save(index_dir, proc, 60)
            else:
                time.sleep(rng.uniform(0.05, 0.5))
            _stop(proc)
        done = _read_acks(acks)
        assert done == list(range(len(done)))
        model = _bg_model(len(done))
        with ragstore.PersistentClient(path) as client:
            col = client.get_collection(BG_COLLECTION, embedding_function=None)
            status = col.get_indexing_status()
            killed_mid_indexing += status.num_unindexed_ops > 0  # the saved graph lacked acknowledged records
            assert col.count() == len(model) <= status.total_ops
            got = col.get(include=["embeddings"])
            assert got["embeddings"] is not None
            assert {id_: bytes(vec) for id_, vec in zip(got["ids"], got["embeddings"], strict=True)} == {
                id_: bytes(vec) for id_, vec in model.items()
            }
            # Found before the graph catches up (exactly, for what it lacks), and after.
            ids = rng.sample(sorted(model), 400)
            _assert_found_once(col, ids, np.stack([model[i] for i in ids]))
            flushed(client)
            assert col.get_indexing_status().num_unindexed_ops == 0
            ids = sorted(model)
            _assert_found_once(col, ids, np.stack([model[i] for i in ids]))
            _assert_index_matches_store(client, col, path / "ragstore.sqlite3")
            index = next(iter(client._api._indexes._cached.values())).index  # type: ignore[attr-defined]
            in_graph = index._index.get_ids_list()  # hnswlib's own list: live and deleted points
            assert len(in_graph) == len(set(in_graph)) == index._index.get_current_count()  # no point inserted twice
    assert killed_mid_indexing >= 1


def _assert_found_once(col: ragstore.Collection, ids: list[str], vecs: Vectors) -> None:
    """Each record is its own nearest neighbour (rare misses found exactly, as :func:`_assert_findable` allows), named once per answer."""
    for lo in range(0, len(ids), 5000):  # a query takes at most 16,384 vectors
        _assert_findable(col, ids[lo : lo + 5000], vecs[lo : lo + 5000])
        hits = col.query(query_embeddings=vecs[lo : lo + 5000], n_results=3, include=[])
        assert all(len(found) == len(set(found)) == 3 for found in hits["ids"])
