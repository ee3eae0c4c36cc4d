"""BM25 search across crashes, processes and any interleaving of writes.

- ``kill -9`` during a BM25 ingest (adds, upserts with and without documents, updates,
  deletes): after each kill the store holds every acknowledged write (the unacknowledged one
  whole or not at all), and its BM25 answers equal :func:`test_search.bm25_reference` over
  the stored documents and a fresh collection rebuilt from them; a client kept open in the
  test process through every kill catches up to the same answers.
- Two processes writing to one persistent store each see the other's writes in BM25 search
  (their sparse indexes catch up), and the final statistics are those of every record.
- A hypothesis state machine: BM25 (and filtered BM25) search agrees with the reference over
  a plain model after any interleaving of writes; in persistent mode also across reopening
  and writes through a second client.

Child processes run functions of this module (``python -c "import test_search_durability as t; ..."``),
with the harness of ``test_processes``.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_processes import _crash_writer_process, _env, _kill_within_op, _read_acks, _stop
from test_search import Model, assert_ranked, bm25, bm25_reference, bm25_schema

import ragstore
from ragstore import K

pytestmark = pytest.mark.slow  # real processes and hypothesis runs: 4 to 12 s each
DIM = 4
VOCABULARY = "cat dog mouse owl apple pear garden orchard night river stone cloud chase hunt ripen grow fly sleep".split()  # noqa: SIM905
QUERIES = ["cat chase", "apple", "owl night hunt", "garden river stone cloud", "sleep sleep dog"]
COLLECTION = "bm25-crash"
EVERY = 10_000  # a Knn limit past every record: whole rankings are compared


def _child(function: str, *args: object) -> list[str]:
    """The command that runs ``function(*args)`` of this module in a new interpreter."""
    return [sys.executable, "-c", f"import sys, test_search_durability as t; t.{function}(*sys.argv[1:])", *map(str, args)]


def text(rng: np.random.Generator, tag: str) -> str:
    """A few vocabulary words and a tag of its own (so a record's terms say which write it came from)."""
    return " ".join([*rng.choice(VOCABULARY, size=int(rng.integers(2, 9))), tag])


def assert_bm25_agrees(col: ragstore.Collection, documents: dict[str, str | None]) -> None:
    """Every query's BM25 answer, unfiltered and filtered on ``half``, equals the reference over ``documents``."""
    for query in QUERIES:
        assert_ranked(col.search(bm25(query, limit=EVERY)), bm25_reference(documents, query))
    halves = col.get(where={"half": 1}, include=[])["ids"]
    for query in QUERIES[:2]:
        expected = [(id_, score) for id_, score in bm25_reference(documents, query) if id_ in set(halves)]
        assert_ranked(col.search(bm25(query, limit=EVERY).where(K("half") == 1)), expected)


# ====================================================================== kill -9 during a BM25 ingest

CRASH_OPS = 3_000  # more than a run gets through
CRASH_ROUNDS = 6
BATCH = 25


def _crash_op(k: int) -> tuple[str, int]:
    """Operation ``k`` and the batch it touches: three adds, an upsert with new documents, one without, an update or delete."""
    r = k % 6
    if r < 3:
        return "add", k
    if r == 3:
        return "upsert", k - 3
    if r == 4:
        return "upsert-no-documents", k - 3
    return ("delete", k - 4) if k % 12 == 5 else ("update", k - 5)


def _crash_write(k: int) -> tuple[str, list[str], np.ndarray | None, list[str] | None, list[dict[str, Any]] | None]:
    kind, batch = _crash_op(k)
    ids = [f"b{batch}-{i}" for i in range(BATCH)]
    if kind == "delete":
        return kind, ids, None, None, None
    rng = np.random.default_rng([batch, k])
    vectors = rng.standard_normal((BATCH, DIM)).astype(np.float32)
    documents = None if kind == "upsert-no-documents" else [text(rng, f"v{k}") for _ in ids]
    metadatas = [{"batch": batch, "half": i % 2, "v": k} for i in range(BATCH)]
    return kind, ids, vectors, documents, metadatas


def _crash_apply(model: Model, k: int) -> None:
    kind, ids, _vectors, documents, metadatas = _crash_write(k)
    for i, id_ in enumerate(ids):
        exists = id_ in model.documents
        if kind == "delete":
            if exists:
                model.delete(id_)
        elif kind == "add" and not exists:
            assert documents is not None and metadatas is not None
            model.write(id_, documents[i], metadatas[i])
        elif kind != "add" and (exists or kind.startswith("upsert")):
            assert metadatas is not None
            document = documents[i] if documents is not None else model.documents.get(id_)
            if exists:
                model.documents[id_] = document
                model.metadatas[id_] = {**model.metadatas[id_], **metadatas[i]}
            else:
                model.write(id_, document, metadatas[i])


def _crash_writer(path: str, acks: str, start: str) -> None:
    """Child: run ops from ``start`` on, appending ``k`` to ``acks`` after op ``k`` returns."""
    with ragstore.PersistentClient(path) as client, open(acks, "a") as out:
        col = client.get_collection(COLLECTION, embedding_function=None)
        for k in range(int(start), CRASH_OPS):
            kind, ids, vectors, documents, metadatas = _crash_write(k)
            if kind == "delete":
                col.delete(ids=ids)
            else:
                method = "upsert" if kind.startswith("upsert") else kind
                getattr(col, method)(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)
            if k % 5 == 4:
                col.search(bm25("cat chase"))  # the writer's own sparse index catches up between writes
            out.write(f"{k}\n")
            out.flush()


def _stored_documents(col: ragstore.Collection) -> tuple[dict[str, str | None], list[Any], np.ndarray]:
    got = col.get(include=["documents", "metadatas", "embeddings"])
    assert got["documents"] is not None and got["metadatas"] is not None
    return dict(zip(got["ids"], got["documents"], strict=True)), got["metadatas"], np.asarray(got["embeddings"])


def _assert_rebuild_agrees(col: ragstore.Collection) -> None:
    """A fresh collection built from ``col``'s stored records (in its order) answers every BM25 query the same."""
    documents, metadatas, embeddings = _stored_documents(col)
    with ragstore.EphemeralClient() as client:
        fresh = client.create_collection("rebuilt", schema=bm25_schema(), embedding_function=None)
        ids = list(documents)
        for start in range(0, len(ids), 500):
            end = start + 500
            fresh.add(
                ids=ids[start:end],
                embeddings=embeddings[start:end],
                documents=list(documents.values())[start:end],
                metadatas=metadatas[start:end],
            )
        searches = [bm25(query, limit=EVERY) for query in QUERIES]
        expected, got = fresh.search(searches), col.search(searches)
        # Equal scores may come in another order: ranked ties follow record labels, and a label is new with each new vector.
        for which in range(len(searches)):
            assert_ranked(got, list(zip(expected["ids"][which], expected["scores"][which], strict=True)), which)


@pytest.mark.slow
def test_kill_9_during_bm25_ingest_keeps_search_in_step(tmp_path: Path) -> None:
    path, acks = tmp_path / "store", tmp_path / "acks.txt"
    acks.touch()
    watcher = ragstore.PersistentClient(path)  # kept open through every kill: its sparse index only ever catches up
    try:
        watched = watcher.create_collection(COLLECTION, schema=bm25_schema(), embedding_function=None)
        model, applied, rng = Model(), 0, random.Random(16)
        for round_ in range(CRASH_ROUNDS):
            start = len(_read_acks(acks))
            with _crash_writer_process(_child("_crash_writer", path, acks, start), tmp_path / f"writer-{round_}.err") as proc:
                _kill_within_op(proc, acks, start + rng.randint(2, 30), rng.uniform(0.0, 0.03))
            done = _read_acks(acks)
            while applied < len(done):
                _crash_apply(model, applied)
                applied += 1
            after = Model(dict(model.documents), {id_: dict(m) for id_, m in model.metadatas.items()})
            _crash_apply(after, applied)

            with ragstore.PersistentClient(path) as reopened:
                col = reopened.get_collection(COLLECTION, embedding_function=None)
                documents, _, _ = _stored_documents(col)
                assert documents in (model.documents, after.documents), f"round {round_}: neither before nor after op {applied}"
                assert list(documents) in (list(model.documents), list(after.documents))  # and in the model's order
                assert_bm25_agrees(col, documents)
                _assert_rebuild_agrees(col)
            assert_bm25_agrees(watched, documents)
        assert applied >= 2 * CRASH_ROUNDS
    finally:
        watcher.close()


# ====================================================================== two processes, one store

PAIR_ROUNDS = 6
PAIR_BATCH = 10
PAIR = "bm25-pair"


def _pair_documents(writer: int, round_: int) -> dict[str, str]:
    rng = np.random.default_rng([writer, round_])
    return {f"w{writer}-r{round_}-{i}": text(rng, f"w{writer}r{round_}") for i in range(PAIR_BATCH)}


def _pair_model() -> Model:
    """Every record both writers leave behind (each deletes its round-2 batch after round 4)."""
    model = Model()
    for writer in range(2):
        for round_ in range(PAIR_ROUNDS):
            if round_ != 2:
                for id_, doc in _pair_documents(writer, round_).items():
                    model.write(id_, doc, {"half": round_ % 2})
    return model


def _pair_writer(path: str, writer_arg: str) -> None:
    """Child: per round, add a batch, find it by its tag at once, then wait to find the other writer's batch of that round."""
    writer, other = int(writer_arg), 1 - int(writer_arg)
    with ragstore.PersistentClient(path) as client:
        col = client.get_or_create_collection(PAIR, schema=bm25_schema(), embedding_function=None)
        for round_ in range(PAIR_ROUNDS):
            documents = _pair_documents(writer, round_)
            vectors = np.random.default_rng([writer, round_, 1]).standard_normal((PAIR_BATCH, DIM)).astype(np.float32)
            col.add(
                ids=list(documents), embeddings=vectors, documents=list(documents.values()), metadatas=[{"half": round_ % 2}] * PAIR_BATCH
            )
            assert sorted(col.search(bm25(f"w{writer}r{round_}"))["ids"][0]) == sorted(documents)
            theirs = sorted(_pair_documents(other, round_))
            deadline = time.monotonic() + 60
            while sorted(col.search(bm25(f"w{other}r{round_}"))["ids"][0]) != theirs:
                assert time.monotonic() < deadline, f"writer {writer} never saw writer {other}'s round {round_}"
                time.sleep(0.01)
            if round_ == 4:
                col.delete(ids=list(_pair_documents(writer, 2)))
        # The other deleted its round-2 batch before adding its last one, which this process has seen: the store is final.
        assert col.search(bm25(f"w{other}r2"))["ids"] == [[]]
        assert_bm25_agrees(col, _model_in_store_order(col))
    print("done", flush=True)


def _model_in_store_order(col: ragstore.Collection) -> dict[str, str | None]:
    """The expected documents in the order the records were stored (the writers' adds interleave)."""
    expected = _pair_model().documents
    stored = col.get(include=[])["ids"]
    assert sorted(stored) == sorted(expected)
    return {id_: expected[id_] for id_ in stored}


@pytest.mark.slow
def test_two_processes_see_each_others_writes_in_bm25_search(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with ragstore.PersistentClient(path) as client:
        client.create_collection(PAIR, schema=bm25_schema(), embedding_function=None)
    procs = [
        subprocess.Popen(_child("_pair_writer", path, w), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for w in range(2)
    ]
    try:
        outputs = [proc.communicate(timeout=180) for proc in procs]
    finally:
        for proc in procs:
            _stop(proc)
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and out.strip() == "done", err
    with ragstore.PersistentClient(path) as client:
        col = client.get_collection(PAIR, embedding_function=None)
        documents = _model_in_store_order(col)
        assert_bm25_agrees(col, documents)
        _assert_rebuild_agrees(col)


# ====================================================================== a state machine

IDS = [f"id{i}" for i in range(10)]
documents_strategy = st.lists(st.sampled_from([*VOCABULARY[:8], "the", "and"]), min_size=0, max_size=6).map(" ".join)
records_strategy = st.lists(
    st.tuples(st.sampled_from(IDS), documents_strategy, st.integers(0, 1)), min_size=1, max_size=5, unique_by=lambda r: r[0]
)


class SearchMachine(RuleBasedStateMachine):
    """A BM25 collection and a :class:`test_search.Model` through the same writes; BM25 search must match the reference."""

    persistent = False

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="search-machine-") if self.persistent else None
        self.clients: list[ragstore.ClientAPI] = []
        self.model = Model()

    def open_client(self) -> ragstore.ClientAPI:
        client = ragstore.PersistentClient(self.directory) if self.directory else ragstore.EphemeralClient()
        self.clients.append(client)
        return client

    @initialize()
    def create(self) -> None:
        self.col = self.open_client().create_collection("machine", schema=bm25_schema(), embedding_function=None)

    def teardown(self) -> None:
        for client in self.clients:
            client.close()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    @staticmethod
    def vectors(n: int) -> list[list[float]]:
        return [[1.0, 0.5, 0.25, float(i)] for i in range(n)]

    @rule(records=records_strategy)
    def add(self, records: list[tuple[str, str, int]]) -> None:
        ids = [r[0] for r in records]
        self.col.add(
            ids=ids, embeddings=self.vectors(len(ids)), documents=[r[1] for r in records], metadatas=[{"half": r[2]} for r in records]
        )
        for id_, doc, half in records:
            if id_ not in self.model.documents:
                self.model.write(id_, doc, {"half": half})

    @rule(records=records_strategy, with_documents=st.booleans())
    def upsert(self, records: list[tuple[str, str, int]], with_documents: bool) -> None:
        ids = [r[0] for r in records]
        documents = [r[1] for r in records] if with_documents else None
        self.col.upsert(ids=ids, embeddings=self.vectors(len(ids)), documents=documents, metadatas=[{"half": r[2]} for r in records])
        for id_, doc, half in records:
            if id_ in self.model.documents:
                self.model.metadatas[id_] = {"half": half}
                if with_documents:
                    self.model.documents[id_] = doc
            else:
                self.model.write(id_, doc if with_documents else None, {"half": half})

    @rule(records=records_strategy, documents_too=st.booleans())
    def update(self, records: list[tuple[str, str, int]], documents_too: bool) -> None:
        ids = [r[0] for r in records]
        documents = [r[1] for r in records] if documents_too else None
        # No embedding function: an update that sets documents carries vectors too.
        vectors = self.vectors(len(ids)) if documents_too else None
        self.col.update(ids=ids, embeddings=vectors, documents=documents, metadatas=[{"half": r[2]} for r in records])
        for id_, doc, half in records:
            if id_ in self.model.documents:
                self.model.metadatas[id_] = {"half": half}
                if documents_too:
                    self.model.documents[id_] = doc

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True))
    def delete(self, ids: list[str]) -> None:
        self.col.delete(ids=ids)
        for id_ in ids:
            if id_ in self.model.documents:
                self.model.delete(id_)

    @invariant()
    def search_matches_the_reference(self) -> None:
        if hasattr(self, "col"):
            assert_bm25_agrees(self.col, self.model.documents)


class PersistentSearchMachine(SearchMachine):
    persistent = True

    @rule()
    def reopen(self) -> None:
        self.clients.pop().close()
        self.col = self.open_client().get_collection("machine", embedding_function=None)

    @rule(records=records_strategy)
    def upsert_through_a_second_client(self, records: list[tuple[str, str, int]]) -> None:
        first = self.col
        with contextlib.closing(ragstore.PersistentClient(self.directory)) as other:
            self.col = other.get_collection("machine", embedding_function=None)
            try:
                self.upsert(records, with_documents=True)
            finally:
                self.col = first


TestSearchMachine = SearchMachine.TestCase
TestSearchMachine.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
TestPersistentSearchMachine = PersistentSearchMachine.TestCase
TestPersistentSearchMachine.settings = settings(max_examples=15, stateful_step_count=15, deadline=None)
