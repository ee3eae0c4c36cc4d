"""The sparse index (ragstore.local.sparse_index / sparse_postings) against references computed here.

Records are written as the engine writes them (records.write_records, then write_terms, then
catalog.advance, in one transaction) into real store files; searches go through SparseIndexes,
caught up by sequence. BM25 is checked against a plain-Python BM25 over the same term counts,
dot products against numpy.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
import zlib
from collections import Counter
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest

from ragstore.local import catalog, records
from ragstore.local.database import Database
from ragstore.local.schema import MIGRATIONS
from ragstore.local.sparse_index import SparseIndexes, TermWeights, catch_up, encode, load, write_terms
from ragstore.local.sparse_postings import SparseIndex
from ragstore.types import RecordSet
from tests.shared_data import DATA, needs_data

KEY = "bm25"
K1, B = 1.2, 0.75


# ----------------------------------------------------------------------------- a store written as the engine writes


class Store:
    """One collection in a store file, written through the record and sparse-term functions."""

    def __init__(self, path: Path, name: str = "docs") -> None:
        self.db = Database(path)
        self.rng = np.random.default_rng(7)
        with self.db.write() as conn:
            found = catalog.find_by_name(conn, name, "default_tenant", "default_database")
            self.pk = (found or catalog.create_collection_row(conn, name, None, {"hnsw": {}}, "default_tenant", "default_database")).pk

    def state(self, conn: sqlite3.Connection) -> tuple[int, int]:
        last_seq, floor = conn.execute("SELECT last_seq, tombstone_floor FROM collections WHERE pk = ?", (self.pk,)).fetchone()
        return int(last_seq), int(floor)

    def write(self, op: str, docs: dict[str, list[str] | None], *, new_vectors: bool = True) -> None:
        """``op`` ("add", "upsert", "update") of records id -> tokens (``None``: no value for the key)."""
        ids = list(docs)
        vectors = self.rng.random((len(ids), 2), dtype=np.float32) if new_vectors else None
        with self.db.write() as conn:
            last_seq, floor = self.state(conn)
            seq = last_seq + 1
            existed = {id_ for (id_,) in conn.execute("SELECT id FROM records WHERE collection_pk = ?", (self.pk,))}
            written = records.write_records(conn, self.pk, seq, op, RecordSet(ids, vectors, None, None, None))
            if op == "add":  # an add skips the ids that exist (as chromadb does): their values stay
                docs = {id_: tokens for id_, tokens in docs.items() if id_ not in existed}
            terms = [None if tokens is None else term_weights(tokens) for tokens in docs.values()]
            new = set(docs) - existed if op != "update" else set()  # as the engine says which records it inserted
            # rowids as the engine hands them over, and looked up (the way check_derived writes) every other write
            rowids = written.rowids if seq % 2 else None
            changed = written.mirrored | (write_terms(conn, self.pk, KEY, seq, list(docs), encode(terms), new=new, rowids=rowids) > 0)
            if changed:
                floor = records.prune_tombstones(conn, self.pk, last_seq, floor, most=10**9)
                catalog.advance(conn, self.pk, seq, floor, 2)

    def delete(self, ids: list[str] | None = None, *, prune: bool = False) -> None:
        with self.db.write() as conn:
            last_seq, floor = self.state(conn)
            params: list[object] = [self.pk]
            condition = "r.collection_pk = ?" + (" AND " + records.ids_condition(ids, params) if ids is not None else "")
            doomed = records.matching_rows(conn, condition, params, None)
            records.delete_rows(conn, self.pk, doomed, last_seq + 1)
            floor = records.prune_tombstones(conn, self.pk, last_seq, floor, most=0 if prune else 10**9)
            catalog.advance(conn, self.pk, last_seq + 1, floor, 2)

    def index(self, cache: SparseIndexes) -> SparseIndex:
        with self.db.read() as conn:
            last_seq, floor = self.state(conn)
            return cache.caught_up(conn, self.pk, KEY, last_seq, floor)

    def labels(self) -> dict[int, str]:
        with self.db.read() as conn:
            return dict(conn.execute("SELECT label, id FROM records WHERE collection_pk = ?", (self.pk,)).fetchall())

    def close(self) -> None:
        self.db.close()


def term_id(token: str) -> int:
    return zlib.crc32(token.encode())  # 32-bit ids, like chroma's Murmur3 hashes


def tokens_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def term_weights(tokens: list[str]) -> TermWeights:
    counts = Counter(term_id(t) for t in tokens)
    return TermWeights(list(counts), list(map(float, counts.values())), float(len(tokens)))


def reference_bm25(docs: dict[str, list[str]], query: list[str], allowed: set[str] | None = None) -> list[tuple[str, float]]:
    """Plain BM25 over ``docs`` (id -> tokens): (id, 1 - score), best first, ties by insertion (dict order)."""
    n = len(docs)
    if not n:
        return []
    avgdl = sum(len(t) for t in docs.values()) / n
    counts = {id_: Counter(term_id(t) for t in tokens) for id_, tokens in docs.items()}
    q = Counter(term_id(t) for t in query)
    df = Counter(term for c in counts.values() for term in c)
    scored = []
    for position, (id_, tf) in enumerate(counts.items()):
        if (allowed is not None and id_ not in allowed) or not set(q) & set(tf):
            continue
        score = 0.0
        for term, weight in q.items():
            if term in tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += weight * idf * tf[term] * (K1 + 1) / (tf[term] + K1 * (1 - B + B * len(docs[id_]) / avgdl))
        scored.append((-score, position, id_))
    return [(id_, 1 + s) for s, _, id_ in sorted(scored)]


def search(store: Store, index: SparseIndex, query: list[str], k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
    q = Counter(term_id(t) for t in query)
    ids = store.labels()
    allowed_labels = None if allowed is None else np.array(sorted(label for label, id_ in ids.items() if id_ in allowed), dtype=np.int64)
    labels, scores = index.search(list(q), list(map(float, q.values())), k, k1=K1, b=B, allowed=allowed_labels)
    return [(ids[label], score) for label, score in zip(labels.tolist(), scores.tolist(), strict=True)]


def assert_ranks_like(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """Same scores rank by rank; the same ids too, except among scores equal up to float rounding.

    Sums taken in another order may differ in the last bit, which can swap records whose
    scores are equal on paper (exact ties keep insertion order: see the tie test).
    """
    np.testing.assert_allclose([s for _, s in found], [s for _, s in expected], rtol=1e-5, atol=1e-5)
    for (found_id, _), (expected_id, score) in zip(found, expected, strict=True):
        near = {id_ for id_, s in expected if abs(s - score) <= 1e-9 * max(1.0, abs(score))}
        assert found_id == expected_id or found_id in near, (found, expected)
    assert len({id_ for id_, _ in found}) == len(found)


@pytest.fixture(scope="module")
def abstracts() -> dict[str, list[str]]:
    """200 SciFact abstracts, tokenised (a simple regex: the real tokenizer is another module's)."""
    corpus = DATA / "retrieval" / "scifact" / "corpus.jsonl"
    lines = corpus.read_text().splitlines()[:200]
    return {(doc := json.loads(line))["_id"]: tokens_of(doc["title"] + " " + doc["text"]) for line in lines}


QUERIES = [
    "cerebral white matter diffusion in newborn infants",
    "vitamin D deficiency and cancer risk",
    "protein kinase signalling in T cells",
    "the the of and",  # only very common words
    "zzzz unknownword",  # no document matches
]


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "store")
    yield s
    s.close()


# ----------------------------------------------------------------------------- BM25 equals the reference


@needs_data
def test_bm25_scores_equal_a_plain_reference(store: Store, abstracts: dict[str, list[str]]) -> None:
    store.write("add", dict(list(abstracts.items())[:120]))
    store.write("add", dict(list(abstracts.items())[120:]))  # a second batch: a second segment
    index = store.index(SparseIndexes())
    for query in QUERIES:
        expected = reference_bm25(abstracts, tokens_of(query))
        assert_ranks_like(search(store, index, tokens_of(query), 10), expected[:10])
        assert_ranks_like(search(store, index, tokens_of(query), 500), expected)  # every matching record, no others
    assert search(store, index, ["zzzz"], 10) == []


@needs_data
def test_statistics_follow_add_update_delete_and_delete_all(store: Store, abstracts: dict[str, list[str]]) -> None:
    cache = SparseIndexes()
    live = dict(list(abstracts.items())[:100])
    store.write("add", live)
    index = store.index(cache)
    assert index.live_count == 100 and index.average_length() == pytest.approx(sum(map(len, live.values())) / 100)

    def check() -> None:
        fresh = store.index(SparseIndexes())  # built from SQLite, to compare with the caught-up one
        for query in QUERIES[:3]:
            expected = reference_bm25(live, tokens_of(query))[:15]
            assert_ranks_like(search(store, store.index(cache), tokens_of(query), 15), expected)
            assert_ranks_like(search(store, fresh, tokens_of(query), 15), expected)

    ids = list(live)
    # update: changed documents, half with new vectors (new labels), half with the old ones (same labels)
    changed = {id_: abstracts[other] for id_, other in zip(ids[:10], list(abstracts)[150:160], strict=True)}
    store.write("update", dict(list(changed.items())[:5]))
    store.write("update", dict(list(changed.items())[5:]), new_vectors=False)
    live.update(changed)
    check()
    # upsert: some new, some existing
    upserted = {ids[20]: abstracts[ids[21]], **dict(list(abstracts.items())[100:130])}
    store.write("upsert", upserted)
    live.update(upserted)
    check()
    # delete
    store.delete(ids[30:60])
    for id_ in ids[30:60]:
        del live[id_]
    check()
    # a record losing its value (its metadata lost the key) no longer matches, and leaves the statistics
    store.write("update", {ids[0]: None}, new_vectors=False)
    del live[ids[0]]
    check()
    assert store.index(cache).live_count == len(live)
    # delete all
    store.delete()
    index = store.index(cache)
    assert index.live_count == 0 and index.total_length == 0.0
    assert search(store, index, tokens_of(QUERIES[0]), 10) == []
    store.write("add", {"x": ["white", "matter"], "y": ["matter"]})
    assert [id_ for id_, _ in search(store, store.index(cache), ["white"], 10)] == ["x"]


@needs_data
def test_another_connections_writes_are_seen_after_catching_up(tmp_path: Path, abstracts: dict[str, list[str]]) -> None:
    """Two Database objects on one file stand for two processes: each keeps its own index."""
    first, second = Store(tmp_path / "store"), Store(tmp_path / "store")
    try:
        docs = dict(list(abstracts.items())[:80])
        first.write("add", docs)
        cache = SparseIndexes()
        query = tokens_of(QUERIES[1])
        assert_ranks_like(search(first, first.index(cache), query, 10), reference_bm25(docs, query)[:10])
        more = dict(list(abstracts.items())[80:160])
        second.write("add", more)
        second.delete(list(docs)[:20])
        expected_docs = {**{k: v for k, v in docs.items() if k not in list(docs)[:20]}, **more}
        assert_ranks_like(search(first, first.index(cache), query, 10), reference_bm25(expected_docs, query)[:10])
    finally:
        first.close()
        second.close()


@needs_data
def test_a_where_filter_restricts_candidates_exactly_and_keeps_global_statistics(store: Store, abstracts: dict[str, list[str]]) -> None:
    store.write("add", abstracts)
    index = store.index(SparseIndexes())
    ids = list(abstracts)
    labels = {id_: label for label, id_ in store.labels().items()}
    for allowed in (set(ids[::3]), set(ids[:5]), set(), {ids[7]}):
        for query in QUERIES[:3]:
            expected = reference_bm25(abstracts, tokens_of(query), allowed)
            assert_ranks_like(search(store, index, tokens_of(query), 10, allowed), expected[:10])
            # Labels spread far apart (here: one that no record has) are matched by binary search, not a bitmap.
            q = Counter(term_id(t) for t in tokens_of(query))
            spread = np.array(sorted([labels[id_] for id_ in allowed] + [10**12]), dtype=np.int64)
            found, _ = index.search(list(q), list(map(float, q.values())), 10, allowed=spread)
            assert [store.labels()[label] for label in found.tolist()] == [id_ for id_, _ in expected[:10]]


def test_equal_scores_come_in_insertion_order_whatever_the_labels(store: Store) -> None:
    store.write("add", {f"d{i}": ["same", "words"] for i in range(6)})
    store.write("update", {"d0": ["same", "words"], "d3": ["same", "words", "extra"]})  # unchanged terms; a new label for d0
    store.write("update", {"d1": ["same", "words"]})
    cache = SparseIndexes()
    found = search(store, store.index(cache), ["same"], 4)
    assert [id_ for id_, _ in found] == ["d0", "d1", "d2", "d4"]  # d3 is longer: a lower BM25 score
    assert len({s for _, s in found}) == 1
    assert search(store, store.index(SparseIndexes()), ["same"], 4) == found


def test_dot_mode_equals_numpy(store: Store) -> None:
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((60, 40)) < 0.2, rng.random((60, 40)), 0.0).astype(np.float32)
    dense[5] = 0.0  # a record with an empty vector: stored, but matches nothing
    with store.db.write() as conn:
        records.write_records(
            conn, store.pk, 1, "add", RecordSet([f"r{i}" for i in range(60)], np.zeros((60, 2), np.float32), None, None, None)
        )
        vectors = [TermWeights(np.flatnonzero(row) * 1000, row[row != 0]) for row in dense]
        write_terms(conn, store.pk, "sparse", 1, [f"r{i}" for i in range(60)], encode(vectors))
        catalog.advance(conn, store.pk, 1, 0, 2)
    with store.db.read() as conn:
        index = SparseIndexes().caught_up(conn, store.pk, "sparse", 1, 0)
    ids = store.labels()
    for _ in range(5):
        q = np.where(rng.random(40) < 0.3, rng.normal(size=40), 0.0)
        labels, scores = index.search(np.flatnonzero(q) * 1000, q[q != 0], 100, mode="dot")
        products = dense.astype(np.float64) @ q
        overlapping = [i for i in range(60) if (dense[i] != 0)[q != 0].any()]
        expected = sorted(overlapping, key=lambda i: (-products[i], i))
        assert [ids[label] for label in labels.tolist()] == [f"r{i}" for i in expected]
        np.testing.assert_allclose(scores, 1 - products[expected], rtol=1e-5, atol=1e-5)


def test_pruned_bm25_equals_exhaustive_bm25_on_a_zipf_corpus(store: Store) -> None:
    """Long posting lists are skipped once they cannot change the top k (MaxScore): the answer must not change."""
    rng = np.random.default_rng(11)
    vocabulary = [f"t{i}" for i in range(300)]
    zipf = 1 / np.arange(1, 301) ** 1.1
    docs = {f"d{i}": list(rng.choice(vocabulary, size=int(rng.integers(3, 60)), p=zipf / zipf.sum())) for i in range(1500)}
    store.write("add", dict(list(docs.items())[:1000]))
    store.write("add", dict(list(docs.items())[1000:]))
    store.delete([f"d{i}" for i in range(0, 1500, 7)])  # dead slots: statistics and lists must skip them
    live = {id_: tokens for id_, tokens in docs.items() if int(id_[1:]) % 7}
    index = store.index(SparseIndexes())
    ids = list(live)
    with patch.object(SparseIndex, "_finish", autospec=True, side_effect=SparseIndex._finish) as pruned:
        for _ in range(25):
            query = list(dict.fromkeys(rng.choice(vocabulary, size=int(rng.integers(2, 8)), p=zipf / zipf.sum())))
            k = int(rng.choice([1, 3, 10]))
            allowed = set(ids[:: int(rng.integers(1, 4))])
            assert_ranks_like(search(store, index, query, k), reference_bm25(live, query)[:k])
            assert_ranks_like(search(store, index, query, k, allowed), reference_bm25(live, query, allowed)[:k])
    assert pruned.call_count > 10  # the pruned path really ran


@pytest.mark.parametrize("seed", [1, 2, 3, 34, 98])
def test_random_writes_keep_the_caught_up_index_equal_to_the_reference(store: Store, seed: int) -> None:
    """Random adds, upserts, updates (with and without new vectors), key removals and deletes, checked after each."""
    rng = np.random.default_rng(seed)
    words = [f"v{i}" for i in range(40)]
    live: dict[str, list[str]] = {}  # the records holding a value for the key
    held: set[str] = set()  # every record (a record can lose its value and stay)
    cache = SparseIndexes()

    def doc() -> list[str]:
        return list(rng.choice(words, size=int(rng.integers(1, 15))))

    for step in range(30):
        op = rng.choice(["add", "upsert", "update", "remove", "delete"])
        existing = list(live)
        if op in ("add", "upsert") or not existing:
            docs = {f"r{int(i)}": doc() for i in rng.integers(0, 120, size=int(rng.integers(1, 20)))}
            store.write("upsert" if op == "upsert" else "add", docs)
            live.update(docs if op == "upsert" else {k: v for k, v in docs.items() if k not in held})
            held.update(docs)
        else:
            chosen = list(dict.fromkeys(rng.choice(existing, size=min(len(existing), int(rng.integers(1, 10))))))
            if op == "update":
                docs = {id_: doc() for id_ in chosen}
                store.write("update", docs, new_vectors=bool(rng.integers(2)))
                live.update(docs)
            elif op == "remove":
                store.write("update", dict.fromkeys(chosen), new_vectors=bool(rng.integers(2)))
                for id_ in chosen:
                    del live[id_]
            else:
                store.delete(chosen)
                for id_ in chosen:
                    del live[id_]
                    held.discard(id_)
        if step % 3 == 0:  # the cache also catches up over several writes at once
            continue
        by_rowid = {id_: tokens for id_, tokens in sorted(live.items(), key=lambda item: rowid_of(store, item[0]))}
        query = list(dict.fromkeys(rng.choice(words, size=3)))
        index = store.index(cache)
        assert index.live_count == len(live)
        assert_ranks_like(search(store, index, query, 8), reference_bm25(by_rowid, query)[:8])
        # The exhaustive path (dot products, negative weights allowed) over the same dead and live slots.
        weights = {term_id(t): float(w) for t, w in zip(query, rng.normal(size=len(query)), strict=True)}
        dots = [(-sum(w * c.get(t, 0) for t, w in weights.items()), i, id_) for i, (id_, c) in enumerate(counted(by_rowid).items())]
        expected = [(id_, 1 + d) for d, _, id_ in sorted(dots) if set(weights) & set(counted(by_rowid)[id_])][:8]
        labels, scores = index.search(list(weights), list(weights.values()), 8, mode="dot")
        ids = store.labels()
        assert_ranks_like([(ids[label], score) for label, score in zip(labels.tolist(), scores.tolist(), strict=True)], expected)


def counted(docs: dict[str, list[str]]) -> dict[str, Counter[int]]:
    return {id_: Counter(term_id(t) for t in tokens) for id_, tokens in docs.items()}


def rowid_of(store: Store, id_: str) -> int:
    with store.db.read() as conn:
        return int(conn.execute("SELECT rowid FROM records WHERE collection_pk = ? AND id = ?", (store.pk, id_)).fetchone()[0])


# ----------------------------------------------------------------------------- derived state


@needs_data
def test_a_missing_or_too_old_index_is_rebuilt_from_sqlite(store: Store, abstracts: dict[str, list[str]]) -> None:
    docs = dict(list(abstracts.items())[:100])
    store.write("add", docs)
    cache = SparseIndexes()
    old = store.index(cache)
    # Deletes whose tombstones a later delete prunes: the index cannot learn them, so it is rebuilt.
    store.delete(list(docs)[:10])
    store.delete(list(docs)[10:12], prune=True)
    rebuilt = store.index(cache)
    assert rebuilt is not old and rebuilt.live_count == 88
    for id_ in list(docs)[:12]:
        del docs[id_]
    query = tokens_of(QUERIES[0])
    assert_ranks_like(search(store, rebuilt, query, 10), reference_bm25(docs, query)[:10])
    cache.forget(store.pk)  # a deleted collection's index goes; the next use builds it again
    assert store.index(cache) is not rebuilt
    cache.clear()
    assert_ranks_like(search(store, store.index(cache), query, 10), reference_bm25(docs, query)[:10])


def test_many_small_writes_keep_few_segments_and_compact_dead_slots(store: Store) -> None:
    cache = SparseIndexes()
    live: dict[str, list[str]] = {}
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(50)]
    for batch in range(40):
        docs = {f"b{batch}-{i}": list(rng.choice(words, size=int(rng.integers(1, 12)))) for i in range(40)}
        store.write("add", docs)
        live.update(docs)
        store.index(cache)  # caught up batch by batch, as a busy writer's reader would be
    index = store.index(cache)
    assert len(index.segments) <= 8
    doomed = [id_ for id_ in live if not id_.endswith(("-0", "-1"))]
    store.delete(doomed)
    for id_ in doomed:
        del live[id_]
    index = store.index(cache)
    assert index.size == index.live_count == len(live) and len(index.segments) == 1  # compacted
    for query in (["w1", "w2"], ["w7"], ["w49", "w3", "w3"]):
        assert_ranks_like(search(store, index, query, 20), reference_bm25(live, query)[:20])


def test_searches_run_while_another_thread_writes_and_catches_up(store: Store) -> None:
    """Readers share the index while a writer's catch-ups (appends, merges, compactions) take it exclusively."""
    cache = SparseIndexes()
    store.write("add", {f"s{i}": ["common", f"w{i % 13}"] for i in range(200)})
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        q = Counter(term_id(t) for t in ["common", "w3"])
        try:
            while not done.is_set():
                with store.db.read() as conn:
                    last_seq, floor = store.state(conn)
                    index = cache.caught_up(conn, store.pk, KEY, last_seq, floor)
                    labels, scores = index.search(list(q), list(map(float, q.values())), 5)
                    ids = dict(conn.execute("SELECT label, id FROM records WHERE collection_pk = ?", (store.pk,)).fetchall())
                # Another thread may have caught the index up past this snapshot: its newest records are
                # unknown here, and dropped (as reads.query_result drops them).
                assert len(labels) == 5 and np.all(np.diff(scores) >= 0)
                assert all(ids[label].startswith("s") for label in labels.tolist() if label in ids)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for batch in range(15):
            store.write("upsert", {f"s{i}": ["common", f"w{(i + batch) % 13}"] for i in range(batch * 10, batch * 10 + 60)})
            store.delete([f"s{i}" for i in range(batch * 10, batch * 10 + 5)])
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    index = store.index(cache)
    assert index.live_count == len(store.labels())
    assert_ranks_like(search(store, index, ["common"], 300), search(store, store.index(SparseIndexes()), ["common"], 300))


# ----------------------------------------------------------------------------- storage


def test_write_terms_skips_unchanged_values_and_stamps_changed_records(store: Store) -> None:
    store.write("add", {"a": ["x", "y"], "b": ["y"]})
    with store.db.write() as conn:
        seqs = dict(conn.execute("SELECT id, seq FROM records").fetchall())
        assert write_terms(conn, store.pk, KEY, 9, ["a", "b"], encode([term_weights(["x", "y"]), term_weights(["y", "y"])])) == 1
        assert dict(conn.execute("SELECT id, seq FROM records").fetchall()) == {"a": seqs["a"], "b": 9}
        assert write_terms(conn, store.pk, KEY, 10, ["a"], encode([None])) == 1
        assert write_terms(conn, store.pk, KEY, 11, ["a"], encode([None])) == 0
        assert conn.execute("SELECT count(*) FROM sparse_terms").fetchone()[0] == 1
        with pytest.raises(ValueError, match="Not records of the collection"):
            write_terms(conn, store.pk, KEY, 12, ["nope"], encode([term_weights(["x"])]))
        with pytest.raises(ValueError, match="distinct"):
            write_terms(conn, store.pk, KEY, 12, ["a"], encode([TermWeights([1, 1], [1.0, 1.0])]))
        with pytest.raises(ValueError, match="non-negative"):
            write_terms(conn, store.pk, KEY, 12, ["a"], encode([TermWeights([-1], [1.0])]))
        with pytest.raises(ValueError, match="one sparse key per collection"):
            write_terms(conn, store.pk, "other", 12, ["b"], encode([TermWeights([1], [1.0])]))


def test_write_terms_of_new_records_skips_their_lookup_and_stamp_only(store: Store) -> None:
    with store.db.write() as conn:
        records.write_records(conn, store.pk, 5, "add", RecordSet(["a", "b"], np.zeros((2, 2), np.float32), None, None, None))
        assert write_terms(conn, store.pk, KEY, 5, ["a", "b"], encode([term_weights(["x"]), None]), new={"a", "b"}) == 1
        records.write_records(conn, store.pk, 6, "upsert", RecordSet(["c"], np.zeros((1, 2), np.float32), None, None, None))
        # An upsert of an old record (a, new terms) and a new one (c): only a is looked up and stamped.
        assert write_terms(conn, store.pk, KEY, 6, ["a", "c"], encode([term_weights(["y"]), term_weights(["z"])]), new={"c"}) == 2
        assert dict(conn.execute("SELECT id, seq FROM records").fetchall()) == {"a": 6, "b": 5, "c": 6}
        assert conn.execute("SELECT count(*) FROM sparse_terms").fetchone()[0] == 2


def test_deleting_records_and_collections_deletes_their_terms(store: Store) -> None:
    store.write("add", {"a": ["x"], "b": ["y"]})
    store.delete(["a"])
    with store.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM sparse_terms").fetchone()[0] == 1
    with store.db.write() as conn:
        catalog.delete_collection_row(conn, store.pk)
    with store.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM sparse_terms").fetchone()[0] == 0


def test_wide_term_ids_round_trip(store: Store) -> None:
    store.write("add", {"a": None, "b": None})
    with store.db.write() as conn:
        write_terms(
            conn, store.pk, "sparse", 5, ["a", "b"], encode([TermWeights([3, 2**40], [1.0, 2.0]), TermWeights([2**40 + 65536], [4.0])])
        )
        catalog.advance(conn, store.pk, 5, 0, 2)
        index = load(conn, store.pk, "sparse", 5)
        catch_up(index, conn, store.pk, "sparse", 5)
    labels, scores = index.search([2**40, 2**40 + 65536], [1.0, 1.0], 5, mode="dot")
    assert [store.labels()[label] for label in labels.tolist()] == ["b", "a"] and scores.tolist() == [-3.0, -1.0]
    assert index.document_frequency([3, 2**40, 7]).tolist() == [1, 1, 0]


def test_a_store_made_before_sparse_indexes_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "store"
    old = Store(path)
    old.write("add", {"a": None})
    old.close()
    conn = sqlite3.connect(path / "ragstore.sqlite3", isolation_level=None)
    conn.executescript(f"DROP TABLE sparse_terms; DROP INDEX records_by_collection_label; PRAGMA user_version = {len(MIGRATIONS) - 1};")
    conn.close()
    store = Store(path)
    try:
        with store.db.read() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        store.write("upsert", {"a": ["hello"], "b": ["hello", "world"]})
        assert [id_ for id_, _ in search(store, store.index(SparseIndexes()), ["world"], 5)] == ["b"]
    finally:
        store.close()
