"""Many threads on one store: parallel searches, exclusive writes, no torn or lost records.

Real threads, real hnswlib, real SQLite files, and (for the acceptance test) a
real ``ragstore run`` process. Every record carries its *write number* ``w`` in
all three parts: document ``"<id>|<w>"``, metadata ``{"id", "t", "w"}`` and the
embedding ``vector_for(w)``, so a reader can tell whether the parts it got came
from one write.

White-box checks reach into the engine (``client._api``, ``VectorIndex._knn``, ``LoadedIndexes._load_index``);
they instrument, they never replace behaviour.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from servers import RunningServer

import ragstore
from ragstore.local import LocalAPI
from ragstore.local.catalog import CollectionRow
from ragstore.local.index import VectorIndex
from ragstore.local.index_loading import LoadedIndexes
from ragstore.record_requests import QueryRequest
from ragstore.types import RecordSet
from tests.indexing import flushed

DIM = 16
LONG = 60.0  # seconds; reached only when something hangs
Vectors = npt.NDArray[np.float32]


def vector_for(w: int) -> Vectors:
    """The embedding of write number ``w`` (so an embedding names its write)."""
    return np.random.default_rng(w).standard_normal(DIM).astype(np.float32)


def payload(ids: Sequence[str], ws: Sequence[int], t: int = 0) -> dict[str, Any]:
    """``add``/``upsert``/``update`` arguments for records ``ids`` written as writes ``ws``."""
    return {
        "ids": list(ids),
        "embeddings": np.stack([vector_for(w) for w in ws]),
        "documents": [f"{i}|{w}" for i, w in zip(ids, ws, strict=True)],
        "metadatas": [{"id": i, "t": t, "w": w} for i, w in zip(ids, ws, strict=True)],
    }


def check_record(record_id: str, document: str, metadata: dict[str, Any], embedding: Any, belongs: Callable[[str, int], bool]) -> int:
    """Assert that a record's parts come from one write of this id; returns that write's number."""
    w = metadata["w"]
    assert metadata["id"] == record_id, (record_id, metadata)
    assert document == f"{record_id}|{w}", (record_id, document, metadata)
    assert np.array_equal(np.asarray(embedding, dtype=np.float32), vector_for(w)), (record_id, w)
    assert belongs(record_id, w), (record_id, w)
    return int(w)


def check_query(result: Any, queries: Vectors, belongs: Callable[[str, int], bool]) -> None:
    """Assert a query result is sorted and every hit is whole and at its claimed distance."""
    for q, ids, docs, metas, embs, dists in zip(
        queries, result["ids"], result["documents"], result["metadatas"], result["embeddings"], result["distances"], strict=True
    ):
        assert len(set(ids)) == len(ids), ids
        assert list(dists) == sorted(dists), dists
        for record_id, doc, meta, emb, dist in zip(ids, docs, metas, embs, dists, strict=True):
            check_record(record_id, doc, meta, emb, belongs)
            expected = float(((q.astype(np.float64) - np.asarray(emb, dtype=np.float64)) ** 2).sum())  # l2: squared
            assert abs(dist - expected) <= 1e-3 * (1 + expected), (record_id, dist, expected)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LONG
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def run_threads(targets: Sequence[Callable[[], None]]) -> list[str]:
    """Run each target in its own thread; the tracebacks of those that failed."""
    errors: list[str] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG * 3)
        assert not thread.is_alive(), "a thread hung"
    return errors


# ---------------------------------------------------------------------- (a) embedded


class RecordingIndex(VectorIndex):
    """A ``VectorIndex`` that watches its searches and writes (set ``__class__`` on a live one).

    The first two searches meet at a barrier *inside* the search: that can only happen
    if two searches hold the index lock at the same time, so a lock that serialised
    searches fails the test (the barrier times out) instead of making it slow.
    """

    def instrument(self) -> None:
        self.guard = threading.Lock()
        self.meeting = threading.Barrier(2, timeout=LONG)
        self.to_meet = 2
        self.met = threading.Event()
        self.inside = self.max_inside = self.searches = 0
        self.violations: list[str] = []

    def _knn(self, queries: Any, k: int, num_threads: int, allowed: Any) -> Any:
        with self.guard:
            self.inside += 1
            self.searches += 1
            self.max_inside = max(self.max_inside, self.inside)
            meet = self.to_meet > 0
            self.to_meet -= 1 if meet else 0
        try:
            if meet:
                self.meeting.wait()
                self.met.set()
            return super()._knn(queries, k, num_threads, allowed)
        finally:
            with self.guard:
                self.inside -= 1

    def _apply(self, labels: Any, vectors: Any, deleted: Any, num_threads: int) -> None:
        with self.guard:
            if self.inside:
                self.violations.append(f"a change ran beside {self.inside} search(es)")
        super()._apply(labels, vectors, deleted, num_threads)


def test_searches_run_in_parallel_while_a_writer_writes(tmp_path: Path) -> None:
    client = ragstore.PersistentClient(path=tmp_path / "store")
    col = client.create_collection("parallel", embedding_function=None)
    written: dict[str, set[int]] = {}  # every write ever made (recorded before it is sent)
    lock = threading.Lock()
    live: dict[str, int] = {}
    ws = iter(range(1, 10**9))

    def write(op: str, ids: list[str]) -> None:
        batch = [next(ws) for _ in ids]
        with lock:
            for i, w in zip(ids, batch, strict=True):
                written.setdefault(i, set()).add(w)
        getattr(col, op)(**payload(ids, batch))
        live.update(zip(ids, batch, strict=True))

    def belongs(record_id: str, w: int) -> bool:
        with lock:
            return w in written.get(record_id, ())

    for start in range(0, 3000, 1000):
        write("add", [f"r{i}" for i in range(start, start + 1000)])
    col.query(query_embeddings=vector_for(0)[None, :], n_results=1)  # loads and caches the index
    # Indexed before the first searches meet: a catch-up queued for the lock would hold the second one back.
    flushed(client)
    (entry,) = client._api._indexes._cached.values()  # type: ignore[attr-defined]
    index = entry.index
    index.__class__ = RecordingIndex
    index.instrument()

    stop = threading.Event()
    queries_done = [0] * 4

    def reader(n: int) -> None:
        rng = np.random.default_rng(100 + n)
        while not stop.is_set():
            q = rng.standard_normal((1, DIM)).astype(np.float32)
            result = col.query(query_embeddings=q, n_results=10, include=["documents", "metadatas", "embeddings", "distances"])
            check_query(result, q, belongs)
            assert 0 < len(result["ids"][0]) <= 10
            queries_done[n] += 1

    def writer() -> None:
        try:
            assert index.met.wait(LONG), "two searches never ran at the same time"
            rng = random.Random(7)
            for step in range(60):
                existing = sorted(live)
                if step == 30:  # a new beam width for every search: set under the exclusive lock
                    col.modify(configuration={"hnsw": {"ef_search": 40}})
                if step % 3 == 0:
                    write("add", [f"n{step}-{j}" for j in range(5)])
                elif step % 3 == 1:
                    write("upsert", rng.sample(existing, 5))  # new vectors for old ids
                else:
                    doomed = rng.sample(existing, 5)
                    col.delete(ids=doomed)
                    for i in doomed:
                        del live[i]
        finally:
            stop.set()

    errors = run_threads([writer] + [lambda n=n: reader(n) for n in range(4)])
    assert errors == [], errors[0]
    assert index.violations == []
    assert index.max_inside >= 2 and all(queries_done), (index.max_inside, queries_done)
    assert [e.index for e in client._api._indexes._cached.values()] == [index]  # type: ignore[attr-defined]  # the same index all along
    assert (index.ef_search, index._index.ef) == (40, 40)
    got = col.get(include=["documents", "metadatas", "embeddings"])
    assert sorted(got["ids"]) == sorted(live) and col.count() == len(live)
    for record_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True):
        assert check_record(record_id, doc, meta, emb, belongs) == live[record_id]
    client.close()


# ---------------------------------------------------------------------- the index alone


def test_wider_beam_searches_run_alone_and_put_the_beam_back() -> None:
    """Searches with the home beam and with a wider one, mixed across threads, answer as if alone.

    hnswlib's search is deterministic for a given graph and beam, so any leak of one
    thread's ``set_ef`` into another's search would change that search's answer.
    """
    rng = np.random.default_rng(3)
    index = VectorIndex.empty(DIM, {"space": "l2", "max_neighbors": 8, "ef_construction": 40, "ef_search": 12})
    index.apply(np.arange(1, 4001), rng.standard_normal((4000, DIM)).astype(np.float32), [])
    queries = rng.standard_normal((40, DIM)).astype(np.float32)
    beams = (12, 400)
    alone = {(i, ef): index.search(queries[i : i + 1], 10, ef, 1) for i in range(len(queries)) for ef in beams}
    assert all(v is not None for v in alone.values())
    assert any(not np.array_equal(alone[i, 12][0], alone[i, 400][0]) for i in range(len(queries)))  # the beam matters

    def searcher(seed: int) -> None:
        pick = random.Random(seed)
        for _ in range(300):
            i, ef = pick.randrange(len(queries)), pick.choice(beams)
            found = index.search(queries[i : i + 1], 10, ef, 1)
            assert found is not None
            expected = alone[i, ef]
            assert expected is not None
            assert np.array_equal(found[0], expected[0]) and np.array_equal(found[1], expected[1]), (i, ef)

    assert run_threads([lambda s=s: searcher(s) for s in range(6)]) == []
    assert (index.ef_search, index._index.ef) == (12, 12)
    index.set_ef_search(50)
    assert (index.ef_search, index._index.ef) == (50, 50)


def _store_with_collections(path: Path, names: Sequence[str], n: int = 500) -> None:
    """A store at ``path`` whose collections ``names`` hold ``n`` records each, index files saved."""
    client = ragstore.PersistentClient(path=path)
    for c, name in enumerate(names):
        col = client.create_collection(name, embedding_function=None)
        col.add(**payload([f"r{i}" for i in range(n)], [c * n + i for i in range(n)]))
        col.query(query_embeddings=vector_for(0)[None, :], n_results=1)
    client.close()  # saves the index files


def test_a_query_never_waits_for_a_catch_up_and_the_indexer_catches_up_alone(tmp_path: Path) -> None:
    """A query on a lagging index shares the lock with a reader; the background catch-up takes it exclusively."""
    path = tmp_path / "store"
    _store_with_collections(path, ["cat"])
    api = LocalAPI(path)
    col = api.get_collection("cat")
    query = vector_for(1)[None, :]
    api.query(col.id, QueryRequest(query, n_results=3))  # loads the index
    (entry,) = api._indexes._cached.values()
    index = entry.index

    held, release = threading.Event(), threading.Event()

    def hold_shared() -> None:
        with index.lock.read():
            held.set()
            assert release.wait(LONG)

    holder = threading.Thread(target=hold_shared, daemon=True)
    holder.start()
    assert held.wait(LONG)
    try:
        # Nothing new: the query's search shares the lock with the holder.
        result: list[Any] = []
        q = threading.Thread(target=lambda: result.append(api.query(col.id, QueryRequest(query, n_results=3))), daemon=True)
        q.start()
        q.join(LONG)
        assert not q.is_alive() and len(result[0]["ids"][0]) == 3
        # Another engine on the store (as another process would) writes: now this index is behind.
        # With the indexer held, the query still answers beside the holder: the new record comes
        # from the exact search of what the graph lacks, and nothing took the lock exclusively.
        other = LocalAPI(path)
        other.write(col.id, "add", RecordSet(["late"], vector_for(10**6)[None, :], None, None, None))
        other.close()
        late_query = QueryRequest(vector_for(10**6)[None, :], n_results=1)
        with api._indexes.hold():
            late: list[Any] = []
            q = threading.Thread(target=lambda: late.append(api.query(col.id, late_query)), daemon=True)
            q.start()
            q.join(LONG)
            assert not q.is_alive() and late[0]["ids"] == [["late"]]
            assert index.applied_seq < last_seq(api)
        # Released, the indexer catches up, and that needs the lock exclusively: it queues behind the holder.
        wait_until(lambda: index.lock.waiting_writers == 1)
        assert index.applied_seq < last_seq(api)
    finally:
        release.set()
    holder.join(LONG)
    assert api._indexes.flush(LONG)
    assert index.applied_seq == last_seq(api)
    assert api.query(col.id, late_query)["ids"] == [["late"]]  # now from the graph itself
    api.close()


def last_seq(api: LocalAPI) -> int:
    """The one collection's sequence in SQLite (what a complete index has applied)."""
    return int(api._db.connection().execute("SELECT last_seq FROM collections").fetchone()[0])


class SlowLoadingCache(LoadedIndexes):
    """A ``LoadedIndexes`` whose index loads can be held up, and which counts them (set ``__class__`` on a live one)."""

    def instrument(self, slow_collection: str) -> None:
        self.slow_collection = slow_collection
        self.loading_started, self.may_finish = threading.Event(), threading.Event()
        self.loads: dict[str, int] = {}
        self.active: dict[str, int] = {}
        self.guard = threading.Lock()
        self.overlaps: list[str] = []

    def _load_index(self, conn: sqlite3.Connection, row: CollectionRow) -> VectorIndex:
        with self.guard:
            self.loads[row.name] = self.loads.get(row.name, 0) + 1
            self.active[row.name] = self.active.get(row.name, 0) + 1
            if self.active[row.name] > 1:
                self.overlaps.append(row.name)
        try:
            if row.name == self.slow_collection:
                self.loading_started.set()
                assert self.may_finish.wait(LONG)
            return super()._load_index(conn, row)
        finally:
            with self.guard:
                self.active[row.name] -= 1


def test_a_slow_load_blocks_neither_other_collections_nor_happens_twice(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _store_with_collections(path, ["slow", "fast"])
    api = LocalAPI(path)
    cache = api._indexes._loaded
    cache.__class__ = SlowLoadingCache
    cache.instrument("slow")
    slow, fast = api.get_collection("slow"), api.get_collection("fast")
    query = vector_for(2)[None, :]
    answers: list[Any] = []

    def ask_slow() -> None:
        answers.append(api.query(slow.id, QueryRequest(query, n_results=5))["ids"])

    first = threading.Thread(target=ask_slow, daemon=True)
    first.start()
    assert cache.loading_started.wait(LONG)
    # While "slow" loads: more queries on it wait for that load instead of starting their own ...
    waiting = [threading.Thread(target=ask_slow, daemon=True) for _ in range(3)]
    for thread in waiting:
        thread.start()
    # ... and another collection loads and answers meanwhile (no store-wide lock is held).
    fast_result: list[Any] = []
    other = threading.Thread(target=lambda: fast_result.append(api.query(fast.id, QueryRequest(query, n_results=5))), daemon=True)
    other.start()
    other.join(LONG)
    assert not other.is_alive() and len(fast_result[0]["ids"][0]) == 5
    assert first.is_alive() and not answers
    wait_until(lambda: [slot.users for slot in list(cache._loading.values())] == [4])  # all four queue on one load
    cache.may_finish.set()
    for thread in [first, *waiting]:
        thread.join(LONG)
        assert not thread.is_alive()
    assert len(answers) == 4 and all(a == answers[0] for a in answers)
    assert cache.loads == {"slow": 1, "fast": 1} and cache.overlaps == []
    assert len(cache.by_pk) == 2 and cache._loading == {}
    api.close()


# ---------------------------------------------------------------------- (b) a real server

THREADS = 16
OPS_PER_THREAD = 120
SHARED = ("shared-a", "shared-b", "shared-c")
INCLUDE_ALL = ["documents", "metadatas", "embeddings"]


class Writes:
    """Which write numbers were issued for which id (each thread issues its own, before sending)."""

    def __init__(self) -> None:
        self.issued: dict[int, str] = {}  # w -> id; dict reads and writes of distinct keys need no lock

    def belongs(self, record_id: str, w: int) -> bool:
        return self.issued.get(w) == record_id


class Worker:
    """One client thread: writes only its own ids, reads everybody's, and keeps a model of its own."""

    def __init__(self, t: int, port: int, writes: Writes) -> None:
        self.t, self.writes = t, writes
        self.rng = random.Random(1000 + t)
        self.client = ragstore.HttpClient(host="127.0.0.1", port=port)
        self.cols = [self.client.get_collection(name, embedding_function=None) for name in SHARED]
        self.model: list[dict[str, int]] = [{} for _ in SHARED]  # this thread's live ids -> w, per collection
        self.ids = self.ws = 0

    def fresh_ids(self, n: int) -> list[str]:
        self.ids += n
        return [f"t{self.t}-{i}" for i in range(self.ids - n, self.ids)]

    def issue(self, ids: Sequence[str]) -> list[int]:
        ws = []
        for record_id in ids:
            w = self.t * 10**6 + self.ws
            self.ws += 1
            self.writes.issued[w] = record_id
            ws.append(w)
        return ws

    def run(self) -> None:
        ops = [self.add, self.upsert, self.update, self.delete, self.get_own, self.get_other, self.query_all, self.query_own]
        weights = [25, 20, 5, 12, 12, 6, 12, 8]
        for _ in range(OPS_PER_THREAD):
            c = self.rng.randrange(len(SHARED))
            self.rng.choices(ops, weights)[0](c)
        self.client.close()

    def _own(self, c: int, n: int) -> list[str]:
        return self.rng.sample(sorted(self.model[c]), min(n, len(self.model[c])))

    def add(self, c: int) -> None:
        new = self.fresh_ids(self.rng.randint(1, 6))
        old = self._own(c, 1)  # an id that exists: add skips it (as chromadb does)
        ids = new + old
        ws = self.issue(ids)
        self.cols[c].add(**payload(ids, ws, self.t))
        self.model[c].update(zip(new, ws, strict=False))

    def upsert(self, c: int) -> None:
        ids = self._own(c, self.rng.randint(0, 3)) + self.fresh_ids(self.rng.randint(1, 3))
        ws = self.issue(ids)
        self.cols[c].upsert(**payload(ids, ws, self.t))
        self.model[c].update(zip(ids, ws, strict=True))

    def update(self, c: int) -> None:
        ids = self._own(c, 3)
        missing = self.fresh_ids(1)  # update ignores ids that do not exist
        ws = self.issue(ids + missing)
        self.cols[c].update(**payload(ids + missing, ws, self.t))
        self.model[c].update(zip(ids, ws, strict=False))

    def delete(self, c: int) -> None:
        if self.model[c] and self.rng.random() < 0.3:
            cutoff = self.model[c][self._own(c, 1)[0]]
            self.cols[c].delete(where={"$and": [{"t": self.t}, {"w": {"$lt": cutoff}}]})
            self.model[c] = {i: w for i, w in self.model[c].items() if w >= cutoff}
            return
        ids = [*self._own(c, self.rng.randint(1, 3)), f"t{self.t}-never"]
        self.cols[c].delete(ids=ids)
        for record_id in ids:
            self.model[c].pop(record_id, None)

    def get_own(self, c: int) -> None:
        """Read-your-writes: nobody else writes these ids, so the answer is exactly the model."""
        ids = self._own(c, 8) + self.fresh_ids(1)  # plus one that never existed
        got = self.cols[c].get(ids=ids, include=INCLUDE_ALL)
        seen = {}
        for record_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True):
            seen[record_id] = check_record(record_id, doc, meta, emb, self.writes.belongs)
        assert seen == {i: self.model[c][i] for i in ids if i in self.model[c]}

    def get_other(self, c: int) -> None:
        other = self.rng.choice([t for t in range(THREADS) if t != self.t])
        got = self.cols[c].get(where={"t": other}, include=INCLUDE_ALL, limit=20)
        for record_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True):
            assert meta["t"] == other
            check_record(record_id, doc, meta, emb, self.writes.belongs)

    def query_all(self, c: int) -> None:
        q = np.random.default_rng(self.rng.randrange(10**9)).standard_normal((2, DIM)).astype(np.float32)
        result = self.cols[c].query(query_embeddings=q, n_results=5, include=[*INCLUDE_ALL, "distances"])
        check_query(result, q, self.writes.belongs)

    def query_own(self, c: int) -> None:
        """Filtered to this thread's records: answered exactly, so it must equal the model's top 5."""
        q = np.random.default_rng(self.rng.randrange(10**9)).standard_normal((1, DIM)).astype(np.float32)
        result = self.cols[c].query(query_embeddings=q, n_results=5, where={"t": self.t}, include=[*INCLUDE_ALL, "distances"])
        check_query(result, q, self.writes.belongs)
        distance = {i: float(((q[0].astype(np.float64) - vector_for(w)) ** 2).sum()) for i, w in self.model[c].items()}
        assert result["ids"][0] == sorted(distance, key=distance.__getitem__)[:5]


def check_final_state(client: ragstore.ClientAPI, expected: list[dict[str, int]], writes: Writes) -> None:
    for name, want in zip(SHARED, expected, strict=True):
        col = client.get_collection(name, embedding_function=None)
        got = col.get(include=INCLUDE_ALL)
        have = {
            record_id: check_record(record_id, doc, meta, emb, writes.belongs)
            for record_id, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
        }
        assert have == want, (name, len(have), len(want))
        assert col.count() == len(want)


@pytest.mark.slow
def test_sixteen_http_clients_on_a_real_server_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store"
    server = RunningServer.start(path)
    try:
        admin = ragstore.HttpClient(host="127.0.0.1", port=server.port)
        for name in SHARED:
            admin.create_collection(name, embedding_function=None)
        writes = Writes()
        workers = [Worker(t, server.port, writes) for t in range(THREADS)]
        start = threading.Barrier(THREADS, timeout=LONG)

        def work(worker: Worker) -> None:
            start.wait()
            worker.run()

        errors = run_threads([lambda w=w: work(w) for w in workers])
        assert errors == [], f"{len(errors)} thread(s) failed; the first:\n{errors[0]}"
        expected = [{i: w for worker in workers for i, w in worker.model[c].items()} for c in range(len(SHARED))]
        assert all(expected), "every collection should end with records"
        check_final_state(admin, expected, writes)
        admin.close()
    finally:
        status = server.stop()
    assert status == 0, "".join(server.output)

    client = ragstore.PersistentClient(path=path)
    check_final_state(client, expected, writes)
    for name, want in zip(SHARED, expected, strict=True):  # the index holds every live record
        ids = sorted(want)
        result = client.get_collection(name, embedding_function=None).query(
            query_embeddings=np.stack([vector_for(want[i]) for i in ids]), n_results=1, include=[]
        )
        found = sum(hit == [i] for hit, i in zip(result["ids"], ids, strict=True))
        assert found >= 0.99 * len(ids), (name, found, len(ids))
    client.close()
