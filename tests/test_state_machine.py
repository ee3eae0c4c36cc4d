"""Stateful property test: a ragstore collection against a plain-Python model.

A hypothesis ``RuleBasedStateMachine`` drives one collection (in a client of its
own, ephemeral or persistent) and a model (an insertion-ordered dict of records)
through the same writes, and checks every read against the model:

- writes: ``add`` (existing ids skipped), ``upsert``/``update`` (metadata merged
  key by key, ``None`` deletes a key, document kept when not given), ``delete`` by
  ids (returns the number really deleted) and by ``where``;
- reads: ``get`` with ids / where / where_document / limit / offset, and ``query``
  checked against brute-force distances computed here with numpy;
- persistent mode only: ``reopen`` (close the client, open the path again) and
  writes through a second client on the same path, which the first must see;
- background indexing: ``hold_or_release_indexer`` pauses the indexer (a hook of the
  engine's), so reads meet a graph that lacks the latest writes and still holds deleted
  and replaced vectors, and ``let_indexer_finish`` waits for it; between the two, reads
  meet a graph at whatever point the indexer has reached.

After every step ``count()`` and a full ``get()`` must equal the model, and a query with
each record's own vector must return it (or a record exactly as near).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_text_index import assert_text_index_matches_records

import ragstore
from tests.filter_reference import matches_document, matches_where
from tests.indexing import flushed

# ---------------------------------------------------------------------------------------------- model

SPACES = ("l2", "cosine", "ip")
MAX_DIM = 8
IDS = [f"id{i}" for i in range(12)]  # a small alphabet, so writes collide often
BULK_IDS = 200  # bulk writes draw from b0..b199
COLLECTION = "machine"

Metadata = dict[str, Any]
Where = dict[str, Any]
ModelWrite = Callable[[str, list[float], str | None, Metadata | None], None]  # model_add or model_upsert
Batch = list[tuple[str, list[float], str | None, Metadata | None]]  # (id, raw vector, document, metadata) per record


@dataclass
class Record:
    embedding: npt.NDArray[np.float32]
    document: str | None
    metadata: Metadata | None


def merge(old: Metadata | None, change: Metadata | None) -> Metadata | None:
    """chromadb's update semantics: ``change`` overrides ``old`` key by key, and a ``None`` value deletes its key.

    Stated as "overlay, then drop the ``None`` values" rather than key by key as the engine's
    ``merge_metadata`` does: the model is a second statement of the rule, not a copy of the code it checks.
    """
    merged = {key: value for key, value in {**(old or {}), **(change or {})}.items() if value is not None}
    return merged or None


def brute_force(space: str, query: npt.NDArray[np.float32], vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Distances as chromadb defines them: squared L2, 1 - cos, 1 - dot."""
    q = query.astype(np.float64)
    x = vectors.astype(np.float64).reshape(-1, len(q))
    if space == "l2":
        return np.asarray(((x - q) ** 2).sum(axis=1))
    dots = x @ q
    if space == "cosine":
        return np.asarray(1.0 - dots / (np.linalg.norm(x, axis=1) * np.linalg.norm(q) + 1e-30))
    return np.asarray(1.0 - dots)


def tolerance(space: str, query: npt.NDArray[np.float32], vectors: npt.NDArray[np.float32]) -> float:
    """Absolute slack for one query's distances: ~1e-4 relative to their scale (float32 arithmetic)."""
    if space == "cosine":
        return 1e-4
    scale = float(np.dot(query, query)) + (float((vectors.astype(np.float64) ** 2).sum(axis=1).max()) if len(vectors) else 0.0)
    return 1e-4 * (1.0 + scale)


# ---------------------------------------------------------------------------------------------- strategies

# Components on a grid of quarters: exact in float32, varied enough that most distances differ.
components = st.integers(-8, 8).map(lambda v: v / 4)
raw_vectors = st.lists(components, min_size=MAX_DIM, max_size=MAX_DIM)
documents = st.text(alphabet="abcxy ", max_size=8)

INT_VALUES = st.integers(0, 3)
STR_VALUES = st.sampled_from(["red", "green", "blue"])
FLOAT_VALUES = st.sampled_from([-1.5, 0.5, 2.0, 3.0])
VALUES_BY_KEY: dict[str, st.SearchStrategy[Any]] = {"n": INT_VALUES, "tag": STR_VALUES, "flag": st.booleans(), "w": FLOAT_VALUES}


def metadata_strategy(allow_none_values: bool) -> st.SearchStrategy[Metadata | None]:
    optional = {k: (st.none() | v) if allow_none_values else v for k, v in VALUES_BY_KEY.items()}
    return st.fixed_dictionaries({}, optional=optional).map(lambda d: d or None)


# ``where`` operands: mostly the key's own type, sometimes another (bools never equal 0/1, strings never numbers).
OPERANDS_BY_KEY: dict[str, list[st.SearchStrategy[Any]]] = {
    "n": [INT_VALUES, INT_VALUES.map(float), st.booleans()],
    "tag": [STR_VALUES, st.just("purple"), INT_VALUES],
    "flag": [st.booleans(), st.integers(0, 1)],
    "w": [FLOAT_VALUES, INT_VALUES],
}
NUMERIC_OPERANDS = st.one_of(INT_VALUES, FLOAT_VALUES, st.sampled_from([-2, 1.5, 2.5]))


@st.composite
def simple_where(draw: st.DrawFn) -> Where:
    key = draw(st.sampled_from(sorted(VALUES_BY_KEY)))
    op = draw(st.sampled_from(["shorthand", "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte"]))
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {key: {op: draw(NUMERIC_OPERANDS)}}
    pool = draw(st.sampled_from(OPERANDS_BY_KEY[key]))
    if op in ("$in", "$nin"):
        return {key: {op: draw(st.lists(pool, min_size=1, max_size=3))}}
    operand = draw(pool)
    return {key: operand} if op == "shorthand" else {key: {op: operand}}


where_strategy = st.one_of(
    simple_where(),
    st.builds(lambda ws: {"$and": ws}, st.lists(simple_where(), min_size=2, max_size=3)),
    st.builds(lambda ws: {"$or": ws}, st.lists(simple_where(), min_size=2, max_size=3)),
)
# 1-2 characters run on instr(), 3+ on the FTS5 trigram index.
simple_where_document = st.builds(
    lambda op, text: {op: text}, st.sampled_from(["$contains", "$not_contains"]), st.sampled_from(["a", "x ", "abc", "bc a", "cab"])
)
where_document_strategy = simple_where_document | st.builds(
    lambda op, ws: {op: ws}, st.sampled_from(["$and", "$or"]), st.lists(simple_where_document, min_size=2, max_size=2)
)


@st.composite
def batches(draw: st.DrawFn, allow_none_values: bool) -> list[tuple[str, list[float], str | None, Metadata | None]]:
    """1-5 records with unique ids from the small alphabet."""
    record = st.tuples(st.sampled_from(IDS), raw_vectors, st.none() | documents, metadata_strategy(allow_none_values))
    return draw(st.lists(record, min_size=1, max_size=5, unique_by=lambda r: r[0]))


# ---------------------------------------------------------------------------------------------- machine


class StoreMachine(RuleBasedStateMachine):
    """One collection and its model, side by side; subclasses pick the client mode."""

    mode = "ephemeral"

    def __init__(self) -> None:
        super().__init__()
        self.path: str | None = tempfile.mkdtemp(prefix="ragstore-sm-") if self.mode == "persistent" else None
        self.client = self._open_client()
        self.collection: ragstore.Collection | None = None
        self.model: dict[str, Record] = {}
        self.space = "l2"
        self.dim = 4
        self.held: contextlib.ExitStack | None = None  # open while the indexer is held

    def _open_client(self) -> ragstore.ClientAPI:
        if self.path is None:
            return ragstore.EphemeralClient()
        return ragstore.PersistentClient(path=self.path)

    def teardown(self) -> None:
        self.release_indexer()
        self.client.close()
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def release_indexer(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None

    @rule()
    def hold_or_release_indexer(self) -> None:
        """Pause background indexing, or let it go on: every read must stay right either way."""
        if self.held is None:
            self.held = contextlib.ExitStack()
            self.held.enter_context(self.client._api._indexes.hold())  # type: ignore[attr-defined]
        else:
            self.release_indexer()

    @rule()
    def let_indexer_finish(self) -> None:
        """Let the indexer catch the graph up completely (reads then search the graph alone)."""
        self.release_indexer()
        flushed(self.client)

    @property
    def col(self) -> ragstore.Collection:
        assert self.collection is not None
        return self.collection

    def vector(self, raw: list[float]) -> list[float]:
        """``raw`` cut to the collection's dimension (never all zeros in cosine space)."""
        v = list(raw[: self.dim])
        if self.space == "cosine" and not any(v):
            v[0] = 1.0
        return v

    @initialize(space=st.sampled_from(SPACES), dim=st.integers(4, MAX_DIM))
    def create(self, space: str, dim: int) -> None:
        self.space, self.dim = space, dim
        # One thread: hnswlib's parallel inserts build a different graph each run, and hypothesis needs replays to repeat.
        configuration = {"hnsw": {"space": space, "num_threads": 1}}
        self.collection = self.client.create_collection(COLLECTION, configuration=configuration, embedding_function=None)
        assert self.col.configuration["hnsw"]["space"] == space

    # ------------------------------------------------------------------ model updates

    def model_add(self, id_: str, embedding: list[float], document: str | None, metadata: Metadata | None) -> None:
        if id_ not in self.model:
            self.model[id_] = Record(np.asarray(embedding, dtype=np.float32), document, merge(None, metadata))

    def model_update(self, id_: str, embedding: list[float] | None, document: str | None, metadata: Metadata | None) -> None:
        record = self.model.get(id_)
        if record is None:
            return
        if embedding is not None:
            record.embedding = np.asarray(embedding, dtype=np.float32)
        if document is not None:
            record.document = document
        if metadata is not None:
            record.metadata = merge(record.metadata, metadata)

    def model_upsert(self, id_: str, embedding: list[float], document: str | None, metadata: Metadata | None) -> None:
        if id_ in self.model:
            self.model_update(id_, embedding, document, metadata)
        else:
            self.model_add(id_, embedding, document, metadata)

    # ------------------------------------------------------------------ writes

    @rule(batch=batches(allow_none_values=False), with_documents=st.booleans(), with_metadatas=st.booleans())
    def add(self, batch: Batch, with_documents: bool, with_metadatas: bool) -> None:
        self.write(self.col.add, self.model_add, batch, with_documents, with_metadatas)

    @rule(batch=batches(allow_none_values=True), with_documents=st.booleans(), with_metadatas=st.booleans())
    def upsert(self, batch: Batch, with_documents: bool, with_metadatas: bool) -> None:
        self.write(self.col.upsert, self.model_upsert, batch, with_documents, with_metadatas)

    def write(self, send: Callable[..., None], model_write: ModelWrite, batch: Batch, with_documents: bool, with_metadatas: bool) -> None:
        """An add or an upsert: the batch goes to the collection (which answers ``None``) and to the model."""
        ids = [r[0] for r in batch]
        vectors = [self.vector(r[1]) for r in batch]
        docs = [r[2] for r in batch] if with_documents else None
        metas = [r[3] for r in batch] if with_metadatas else None
        assert send(ids=ids, embeddings=vectors, documents=docs, metadatas=metas) is None
        for i, id_ in enumerate(ids):
            model_write(id_, vectors[i], docs[i] if docs else None, metas[i] if metas else None)

    @rule(
        batch=batches(allow_none_values=True),
        with_embeddings=st.booleans(),
        with_documents=st.booleans(),
        with_metadatas=st.booleans(),
    )
    def update(
        self,
        batch: Batch,
        with_embeddings: bool,
        with_documents: bool,
        with_metadatas: bool,
    ) -> None:
        ids = [r[0] for r in batch]
        vectors = [self.vector(r[1]) for r in batch] if with_embeddings else None
        # Documents without embeddings would be re-embedded, and this collection has no embedding function.
        docs = [r[2] for r in batch] if with_documents and vectors is not None else None
        metas = [r[3] for r in batch] if with_metadatas else None
        assert self.col.update(ids=ids, embeddings=vectors, documents=docs, metadatas=metas) is None
        for i, id_ in enumerate(ids):
            self.model_update(id_, vectors[i] if vectors else None, docs[i] if docs else None, metas[i] if metas else None)

    @rule(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 60), upsert=st.booleans())
    def bulk_write(self, seed: int, n: int, upsert: bool) -> None:
        """Many records at once (so the HNSW index holds up to a few hundred)."""
        rng = np.random.default_rng(seed)
        ids = [f"b{i}" for i in rng.choice(BULK_IDS, size=n, replace=False)]
        vectors = [self.vector(list(row)) for row in (rng.integers(-8, 9, size=(n, MAX_DIM)) / 4).tolist()]
        tags = ["red", "green", "blue"]
        metas: list[Metadata | None] = []
        for _ in range(n):
            meta: Metadata = {}
            if rng.random() < 0.7:
                meta["n"] = int(rng.integers(0, 4))
            if rng.random() < 0.5:
                meta["tag"] = tags[int(rng.integers(0, 3))]
            if rng.random() < 0.3:
                meta["flag"] = bool(rng.random() < 0.5)
            metas.append(meta or None)
        docs = [f"bulk {i}" for i in range(n)]
        if upsert:
            self.col.upsert(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
        else:
            self.col.add(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
        for i, id_ in enumerate(ids):
            (self.model_upsert if upsert else self.model_add)(id_, vectors[i], docs[i], metas[i])

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=5, unique=True), bulk=st.booleans())
    def delete_ids(self, ids: list[str], bulk: bool) -> None:
        if bulk:  # also some bulk records, the first few in insertion order
            ids = ids + [i for i in self.model if i.startswith("b")][:5]
        expected = sum(1 for id_ in ids if id_ in self.model)
        assert self.col.delete(ids=ids) == {"deleted": expected}
        for id_ in ids:
            self.model.pop(id_, None)

    @rule(where=where_strategy)
    def delete_where(self, where: Where) -> None:
        doomed = [id_ for id_, r in self.model.items() if matches_where(where, r.metadata, r.document)]
        assert self.col.delete(where=where) == {"deleted": len(doomed)}
        for id_ in doomed:
            del self.model[id_]

    # ------------------------------------------------------------------ reads

    @rule(
        ids=st.none() | st.lists(st.sampled_from([*IDS, "b0", "b1", "b2", "b3"]), min_size=1, max_size=6, unique=True),
        where=st.none() | where_strategy,
        where_document=st.none() | where_document_strategy,
        limit=st.none() | st.integers(0, 15),
        offset=st.none() | st.integers(0, 15),
        include=st.lists(st.sampled_from(["documents", "metadatas", "embeddings"]), unique=True),
    )
    def get(
        self,
        ids: list[str] | None,
        where: Where | None,
        where_document: Where | None,
        limit: int | None,
        offset: int | None,
        include: list[str],
    ) -> None:
        expected = [
            id_
            for id_, r in self.model.items()
            if (ids is None or id_ in ids)
            and (where is None or matches_where(where, r.metadata, r.document))
            and (where_document is None or matches_document(where_document, r.document))
        ]
        start = offset or 0
        expected = expected[start:] if limit is None else expected[start : start + limit]
        got = self.col.get(ids=ids, where=where, where_document=where_document, limit=limit, offset=offset, include=include)
        self.check_get_result(got, expected, include)

    @rule(
        raw_queries=st.lists(raw_vectors, min_size=1, max_size=3),
        n_results=st.integers(1, 8) | st.integers(1, 80),  # small: the HNSW index answers; large: exact search
        where=st.none() | where_strategy,
        ids=st.none() | st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True),
    )
    def query(self, raw_queries: list[list[float]], n_results: int, where: Where | None, ids: list[str] | None) -> None:
        queries = [self.vector(q) for q in raw_queries]
        include = ["documents", "metadatas", "distances", "embeddings"]
        result = self.col.query(query_embeddings=queries, n_results=n_results, where=where, ids=ids, include=include)
        candidates = [
            id_
            for id_, r in self.model.items()
            if (ids is None or id_ in ids) and (where is None or matches_where(where, r.metadata, r.document))
        ]
        assert len(result["ids"]) == len(queries)
        for i, q in enumerate(queries):
            self.check_query(np.asarray(q, dtype=np.float32), n_results, candidates, result, i)

    @rule(n_results=st.integers(1, 5))
    def query_every_record(self, n_results: int) -> None:
        """Each stored vector, queried unfiltered, finds itself (or an equally near one) first."""
        if not self.model:
            return
        records = list(self.model.values())
        queries = np.stack([r.embedding for r in records])
        result = self.col.query(
            query_embeddings=queries, n_results=n_results, include=["distances", "embeddings", "documents", "metadatas"]
        )
        for i, q in enumerate(queries):
            self.check_query(q, n_results, list(self.model), result, i)

    # ------------------------------------------------------------------ checks

    def check_get_result(self, got: Any, expected: list[str], include: list[str]) -> None:
        assert got["ids"] == expected
        assert len(set(got["ids"])) == len(got["ids"])
        records = [self.model[id_] for id_ in expected]
        if "documents" in include:
            assert got["documents"] == [r.document for r in records]
        else:
            assert got["documents"] is None
        if "metadatas" in include:
            assert got["metadatas"] == [r.metadata for r in records]
        else:
            assert got["metadatas"] is None
        if "embeddings" in include:
            embeddings = np.asarray(got["embeddings"])
            assert embeddings.shape == (len(records), self.dim) or (not records and embeddings.size == 0)
            for row, r in zip(embeddings, records, strict=True):
                np.testing.assert_allclose(row, r.embedding, rtol=1e-6, atol=1e-7)
        else:
            assert got["embeddings"] is None

    def check_query(self, q: npt.NDArray[np.float32], n_results: int, candidates: list[str], result: Any, i: int) -> None:
        ids: list[str] = result["ids"][i]
        distances = np.asarray(result["distances"][i], dtype=np.float64)
        k = min(n_results, len(candidates))
        assert len(ids) == k, (len(ids), k)
        assert len(set(ids)) == k
        assert set(ids) <= set(candidates)
        if k == len(candidates):
            assert set(ids) == set(candidates)
        if not candidates:
            return
        vectors = np.stack([self.model[id_].embedding for id_ in candidates])
        truth = dict(zip(candidates, brute_force(self.space, q, vectors), strict=True))
        tol = tolerance(self.space, q, vectors)
        returned_truth = np.array([truth[id_] for id_ in ids])
        # Every reported distance is the real distance of that record ...
        np.testing.assert_allclose(distances, returned_truth, rtol=0, atol=tol)
        # ... results are sorted nearest first ...
        assert np.all(np.diff(distances) >= -tol), distances
        # ... and they are the k nearest (recall 1.0; ties may be broken either way).
        best = np.sort(np.fromiter(truth.values(), dtype=np.float64))[:k]
        np.testing.assert_allclose(np.sort(returned_truth), best, rtol=0, atol=tol)
        records = [self.model[id_] for id_ in ids]
        assert result["documents"][i] == [r.document for r in records]
        assert result["metadatas"][i] == [r.metadata for r in records]
        np.testing.assert_allclose(np.asarray(result["embeddings"][i]).reshape(k, self.dim), np.stack([r.embedding for r in records]))

    @invariant()
    def every_record_found_by_its_own_vector(self) -> None:
        """No stored record is beyond similarity search: its own vector, at ``n_results=1``, returns it.

        A record exactly as near counts too (a duplicate vector; in ``ip`` space, a longer one).
        hnswlib leaves a few points of its graph with no way in; ragstore finds and repairs
        them (``ragstore.local.reachability``), and this checks it after every step.
        """
        if not self.model:
            return
        ids = list(self.model)
        vectors = np.stack([self.model[id_].embedding for id_ in ids])
        found = self.col.query(query_embeddings=vectors, n_results=1, include=["distances"])
        position = {id_: i for i, id_ in enumerate(ids)}
        for i, (own, hit) in enumerate(zip(ids, found["ids"], strict=True)):
            if hit == [own]:
                continue
            truth = brute_force(self.space, vectors[i], vectors)
            assert truth[position[hit[0]]] <= truth[i] + tolerance(self.space, vectors[i], vectors), (own, hit)

    @invariant()
    def matches_model(self) -> None:
        assert self.col.count() == len(self.model)
        got = self.col.get(include=["documents", "metadatas", "embeddings"])
        assert len(set(got["ids"])) == len(got["ids"]), "duplicate ids"
        self.check_get_result(got, list(self.model), ["documents", "metadatas", "embeddings"])
        assert_text_index_matches_records(self.client)


class EphemeralStoreMachine(StoreMachine):
    mode = "ephemeral"


class PersistentStoreMachine(StoreMachine):
    """Adds what only a store on disk can do: reopen it, and share it with another client."""

    mode = "persistent"

    @rule()
    def reopen(self) -> None:
        """Close the client and open the path again: everything must survive."""
        self.release_indexer()
        self.client.close()
        self.client = self._open_client()
        self.collection = self.client.get_collection(COLLECTION)
        assert self.col.configuration["hnsw"]["space"] == self.space

    @rule(batch=batches(allow_none_values=True), delete=st.lists(st.sampled_from(IDS), max_size=3, unique=True))
    def write_through_second_client(self, batch: list[tuple[str, list[float], str | None, Metadata | None]], delete: list[str]) -> None:
        """Another client on the same path writes; the first must see it (its index catches up)."""
        assert self.path is not None
        with ragstore.PersistentClient(path=self.path) as other:
            col = other.get_collection(COLLECTION)
            ids = [r[0] for r in batch]
            vectors = [self.vector(r[1]) for r in batch]
            docs = [r[2] for r in batch]
            metas = [r[3] for r in batch]
            col.upsert(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)
            if delete:
                assert col.delete(ids=delete) == {"deleted": sum(1 for id_ in delete if id_ in self.model or id_ in ids)}
        for i, id_ in enumerate(ids):
            self.model_upsert(id_, vectors[i], docs[i], metas[i])
        for id_ in delete:
            self.model.pop(id_, None)


# CI runs a fixed set of examples, so a red run always reproduces; RAGSTORE_STATE_MACHINE_RANDOM=1
# explores new ones (with the example database). Random exploration once found that hnswlib's
# in-place vector update can orphan other points; new vectors now get new labels instead.
MACHINE_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=50,
    deadline=None,
    derandomize=os.environ.get("RAGSTORE_STATE_MACHINE_RANDOM") != "1",
)

TestEphemeralStateMachine = EphemeralStoreMachine.TestCase
TestEphemeralStateMachine.settings = MACHINE_SETTINGS
TestPersistentStateMachine = PersistentStoreMachine.TestCase
TestPersistentStateMachine.settings = MACHINE_SETTINGS


# ---------------------------------------------------------------------------------------------- model self-checks


@pytest.mark.parametrize(
    ("metadata", "where", "expected"),
    [
        ({"n": 1}, {"n": 1}, True),
        ({"n": 1}, {"n": True}, False),
        ({"flag": True}, {"flag": 1}, False),
        ({"w": 3.0}, {"w": 3}, True),
        (None, {"n": {"$ne": 1}}, True),
        ({"tag": "red"}, {"n": {"$nin": [1, 2]}}, True),
        ({"n": 2}, {"n": {"$gt": 1.5}}, True),
        ({"tag": "red"}, {"tag": {"$gt": 1}}, False),
        ({"n": 0}, {"$or": [{"n": 1}, {"tag": "red"}]}, False),
    ],
)
def test_model_where(metadata: Metadata | None, where: Where, expected: bool) -> None:
    assert matches_where(where, metadata, None) is expected


def test_model_merge_and_distances() -> None:
    assert merge({"a": 1, "b": 2}, {"b": None, "c": 3}) == {"a": 1, "c": 3}
    assert merge({"a": 1}, {"a": None}) is None
    q = np.array([1.0, 1.0], dtype=np.float32)
    x = np.array([[3.0, 4.0]], dtype=np.float32)
    assert brute_force("l2", q, x).tolist() == [13.0]
    assert math.isclose(brute_force("cosine", q, x)[0], 0.01005, abs_tol=1e-5)
    assert brute_force("ip", q, x).tolist() == [-6.0]


# ---------------------------------------------------------------------------------------------- regressions found by the machine


def _nearest_distance_misses(col: ragstore.Collection, space: str, live: npt.NDArray[np.float32]) -> int:
    """How many of ``live`` (queried unfiltered, n_results=1) miss their true nearest distance."""
    result = col.query(query_embeddings=live, n_results=1, include=["distances"])
    distances = result["distances"]
    assert distances is not None
    return sum(d[0] > brute_force(space, q, live).min() + tolerance(space, q, live) for q, d in zip(live, distances, strict=True))


@pytest.mark.parametrize(("space", "seed"), [("l2", 1), ("l2", 3), ("cosine", 0), ("cosine", 2)])
def test_query_finds_records_added_after_deleting_everything(client: ragstore.ClientAPI, space: str, seed: int) -> None:
    """Deleting every record, then adding new ones, used to leave the new ones unreachable in the index.

    hnswlib links a new point only to live points: with the whole graph (and its entry point)
    deleted, new points were islands, and unfiltered queries returned far records (or none).
    """
    col = client.create_collection("refill", configuration={"hnsw": {"space": space, "num_threads": 1}}, embedding_function=None)
    rng = np.random.default_rng(seed)
    old = rng.integers(1, 9, size=(100, 4)).astype(np.float32)
    new = rng.integers(1, 9, size=(10, 4)).astype(np.float32)
    col.add(ids=[f"old{i}" for i in range(100)], embeddings=old)
    assert col.delete(ids=[f"old{i}" for i in range(100)]) == {"deleted": 100}
    col.add(ids=[f"new{i}" for i in range(10)], embeddings=new)
    assert _nearest_distance_misses(col, space, new) == 0


@pytest.mark.parametrize(("space", "n_old", "n_new", "seed"), [("cosine", 300, 100, 2)])
def test_query_recall_after_deleting_part_and_adding(client: ragstore.ClientAPI, space: str, n_old: int, n_new: int, seed: int) -> None:
    """New records used to reuse deleted slots (hnswlib ``replace_deleted``), which links them poorly."""
    col = client.create_collection("refill", configuration={"hnsw": {"space": space, "num_threads": 1}}, embedding_function=None)
    rng = np.random.default_rng(seed)
    old = rng.integers(1, 9, size=(n_old, 4)).astype(np.float32)
    new = rng.integers(1, 9, size=(n_new, 4)).astype(np.float32)
    gone = int(n_old * 0.45)  # fewer deleted than live: no rebuild, the slots are reused (or not)
    col.add(ids=[f"old{i}" for i in range(n_old)], embeddings=old)
    col.delete(ids=[f"old{i}" for i in range(gone)])
    col.add(ids=[f"new{i}" for i in range(n_new)], embeddings=new)
    assert _nearest_distance_misses(col, space, np.concatenate([old[gone:], new])) == 0


@pytest.mark.parametrize("space", SPACES)
def test_query_for_a_large_share_of_the_collection_is_exact(client: ragstore.ClientAPI, space: str) -> None:
    """A query for half the collection, after half its vectors were overwritten, used to miss neighbours.

    hnswlib's in-place updates link the graph less well, and the far end of a long result
    list (k close to the beam width) is where HNSW misses first. Such queries are now answered
    by exact search (``EXACT_SEARCH_K_FRACTION``).
    """
    col = client.create_collection("bigk", configuration={"hnsw": {"space": space, "num_threads": 1}}, embedding_function=None)
    rng = np.random.default_rng(1)
    n, k = 200, 100
    vectors = rng.integers(-8, 9, size=(n, 6)).astype(np.float32)
    vectors[~vectors.any(axis=1), 0] = 1
    ids = [f"r{i}" for i in range(n)]
    col.add(ids=ids, embeddings=vectors)
    moved = rng.choice(n, n // 2, replace=False)
    vectors[moved] = rng.integers(-8, 9, size=(len(moved), 6))
    vectors[~vectors.any(axis=1), 0] = 1
    col.upsert(ids=[ids[i] for i in moved], embeddings=vectors[moved])
    queries = rng.integers(-8, 9, size=(20, 6)).astype(np.float32)
    queries[~queries.any(axis=1), 0] = 1
    result = col.query(query_embeddings=queries, n_results=k, include=["distances"])
    assert result["distances"] is not None
    for q, got in zip(queries, result["distances"], strict=True):
        best = np.sort(brute_force(space, q, vectors))[:k]
        np.testing.assert_allclose(np.sort(got), best, rtol=0, atol=tolerance(space, q, vectors))


@pytest.mark.parametrize("embedded", ["ephemeral", "persistent"])
def test_index_is_rebuilt_once_stale_slots_outnumber_live_ones(embedded: str, tmp_path: Path) -> None:
    """White box: deleted slots never outnumber live records for long.

    A new vector gets a new label and retires the old one (hnswlib never updates in place),
    so replaced vectors count as deleted slots; past that point the next catch-up (by the
    background indexer) rebuilds the index from the live records. (It inspects the engine's index cache, so it runs on
    the embedded modes; over HTTP the same engine sits behind the server.)
    """
    client = ragstore.EphemeralClient() if embedded == "ephemeral" else ragstore.PersistentClient(tmp_path / "store")
    col = client.create_collection("stale", configuration={"hnsw": {"space": "l2", "num_threads": 1}}, embedding_function=None)
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(20)]
    col.add(ids=ids, embeddings=rng.random((20, 4)))
    indexes = client._api._indexes  # type: ignore[attr-defined]
    assert indexes.flush(60)  # the background indexer is this test's subject: each check waits for it
    (entry,) = indexes._cached.values()
    index = entry.index

    def stale() -> int:
        assert indexes.flush(60)
        return int(index._index.get_current_count() - len(index.labels))

    col.upsert(ids=ids, embeddings=rng.random((20, 4)))  # 20 old vectors retired: not more than the 20 live
    assert (stale(), len(index.labels)) == (20, 20)
    col.update(ids=ids[:1], embeddings=rng.random((1, 4)))  # 21 > 20: rebuilt
    assert (stale(), len(index.labels), index._index.get_current_count()) == (0, 20, 20)
    col.delete(ids=ids[:10])  # 10 deleted, 10 live
    assert (stale(), len(index.labels)) == (10, 10)
    col.delete(ids=ids[10:11])  # 11 deleted > 9 live: rebuilt
    assert (stale(), len(index.labels), index._index.get_current_count()) == (0, 9, 9)
    assert col.query(query_embeddings=rng.random((1, 4)), n_results=9, include=[])["ids"][0] != []
    client.close()


def test_upserting_an_unchanged_vector_leaves_the_index_alone(client: ragstore.ClientAPI) -> None:
    """Re-upserting a record with the same vector used to orphan another record in the index.

    Every upsert of an existing id re-linked its point with hnswlib's in-place update, even when
    the vector had not changed; here that left ``b171`` unreachable (its query found ``b126``).
    Unchanged vectors now skip the index. Changed ones still go through hnswlib's in-place
    update, which can orphan points too (more rarely): a known limitation, see MACHINE_SETTINGS.
    """
    col = client.create_collection("orphan", configuration={"hnsw": {"space": "l2", "num_threads": 1}}, embedding_function=None)
    model: dict[str, npt.NDArray[np.float32]] = {}

    def write(ids: list[str], vectors: npt.NDArray[np.float32]) -> None:
        col.upsert(ids=ids, embeddings=vectors)
        model.update(zip(ids, vectors.astype(np.float32), strict=True))

    def bulk(seed: int, n: int) -> tuple[list[str], npt.NDArray[np.float32]]:
        rng = np.random.default_rng(seed)  # as the machine's bulk_write draws them, in dimension 5
        ids = [f"b{i}" for i in rng.choice(BULK_IDS, size=n, replace=False)]
        return ids, (rng.integers(-8, 9, size=(n, MAX_DIM)) / 4)[:, :5].astype(np.float32)

    write(*bulk(357774, 49))
    first = list(model)[:5]
    assert col.delete(ids=first) == {"deleted": 5}
    for id_ in first:
        del model[id_]
    zero = np.zeros((1, 5), dtype=np.float32)
    write(["id2"], zero)
    write(*bulk(379520575, 23))
    write(["id2"], zero)  # the same vector again
    assert col.get(ids="id2", include=["embeddings"])["embeddings"].tolist() == zero.tolist()  # type: ignore[union-attr]
    vectors = np.stack(list(model.values()))
    assert _nearest_distance_misses(col, "l2", vectors) == 0
