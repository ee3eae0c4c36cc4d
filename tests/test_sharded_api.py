"""``ShardedAPI`` over 1, 2 and 4 in-process shards answers exactly as one ``LocalAPI`` holding all the data.

Every test writes the same random records into a single store and into a sharded one and compares
what they answer: dense queries with and without filters and id restrictions (the collections are
small and searched with a large ``ef_search``, so HNSW is exact on both), ``get`` with filters and
paging, ``count``, updates, upserts and deletes, the catalog, and the errors. A sharded ``get`` has
its own order (records interleaved by their position within their shard, see
``ragstore.distributed.merge``), so ``get`` answers are compared as sets, and paging is checked to
cover that order exactly; with one shard the order is one store's. Replicas: a write reaches every
replica; a replica behind a server that stopped is left out and the shard keeps answering; a shard
with no replica left fails with ``ServerConnectionError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from servers import RunningServer

from ragstore import ChromaBm25EmbeddingFunction, Schema, SparseVectorIndexConfig
from ragstore.api import API
from ragstore.collection_requests import CreateCollectionRequest, ModifyCollectionRequest
from ragstore.distributed.shard_routing import shard_of
from ragstore.distributed.sharded_api import ShardedAPI
from ragstore.errors import (
    DuplicateIDError,
    InvalidArgumentError,
    InvalidDimensionException,
    NotFoundError,
    ServerConnectionError,
    UnimplementedError,
    UniqueConstraintError,
)
from ragstore.http.client import HttpAPI
from ragstore.local import LocalAPI
from ragstore.record_requests import DeleteRequest, GetRequest, QueryRequest, SearchRequest
from ragstore.search import GroupBy, K, Knn, MaxK, MinK, Rrf, Search, Val
from ragstore.types import RecordSet

DIM = 8
EXACT = {"hnsw": {"ef_search": 500, "ef_construction": 200}}
TAGS = ("red", "green", "blue")


def records(rng: np.random.Generator, n: int, start: int = 0) -> RecordSet:
    ids = [f"id-{i}" for i in range(start, start + n)]
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    metadatas = [{"k": int(rng.integers(0, 5)), "tag": TAGS[int(rng.integers(0, 3))]} for _ in range(n)]
    documents = [f"doc {i} {TAGS[i % 3]} word{i % 7}" for i in range(start, start + n)]
    return RecordSet(ids, vectors, metadatas, documents, None)


class Pair:
    """One store and a sharded one, with the same collection and the same writes."""

    def __init__(self, shards: int, schema: dict[str, Any] | None = None) -> None:
        self.single: API = LocalAPI(None)
        self.shards = [LocalAPI(None) for _ in range(shards)]
        self.sharded = ShardedAPI(self.shards)
        request = CreateCollectionRequest("docs", configuration=EXACT, schema=schema)
        self.one = self.single.create_collection(request).id
        self.many = self.sharded.create_collection(request).id

    def write(self, op: Any, rs: RecordSet) -> None:
        self.single.write(self.one, op, rs)
        self.sharded.write(self.many, op, rs)

    def both(self, method: str, request: Any) -> tuple[Any, Any]:
        return getattr(self.single, method)(self.one, request), getattr(self.sharded, method)(self.many, request)

    def close(self) -> None:
        self.single.close()
        self.sharded.close()


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"{n}-shards")
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    made = Pair(request.param)
    made.write("add", records(np.random.default_rng(request.param), 300))
    yield made
    made.close()


def as_rows(result: Any) -> dict[str, tuple[Any, ...]]:
    """A ``get`` answer as ``{id: (document, metadata, vector)}`` (order aside)."""
    n = len(result["ids"])
    columns = [result[f] if result[f] is not None else [None] * n for f in ("documents", "metadatas")]
    vectors = [tuple(np.round(v, 6)) for v in result["embeddings"]] if result["embeddings"] is not None else [None] * n
    assert len(set(result["ids"])) == n  # no record twice
    return {i: (d, m, v) for i, d, m, v in zip(result["ids"], *columns, vectors, strict=True)}


def assert_same_query(single: Any, sharded: Any) -> None:
    assert sharded["ids"] == single["ids"]
    assert sharded["included"] == single["included"]
    for field in ("documents", "metadatas", "uris"):
        assert sharded[field] == single[field]
    if single["distances"] is None:
        assert sharded["distances"] is None
    else:
        for a, b in zip(single["distances"], sharded["distances"], strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    if single["embeddings"] is None:
        assert sharded["embeddings"] is None
    else:
        for a, b in zip(single["embeddings"], sharded["embeddings"], strict=True):
            assert np.shape(a) == np.shape(b)
            np.testing.assert_array_equal(a, b)


FILTERS: list[dict[str, Any]] = [
    {},
    {"where": {"k": {"$gte": 2}}},
    {"where": {"$and": [{"tag": "red"}, {"k": {"$in": [0, 1, 4]}}]}},
    {"where_document": {"$contains": "green"}},
    {"where": {"tag": {"$ne": "blue"}}, "where_document": {"$contains": "word3"}},
    {"where": {"k": 99}},  # matches nothing
]


@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
@pytest.mark.parametrize("n_results", [1, 10, 400])
def test_dense_queries_equal_one_store(pair: Pair, filters: dict[str, Any], n_results: int) -> None:
    queries = np.random.default_rng(7).normal(size=(5, DIM)).astype(np.float32)
    single, sharded = pair.both("query", QueryRequest(queries, n_results=n_results, **filters))
    assert_same_query(single, sharded)
    assert len(single["ids"][0]) == min(n_results, single_count(pair, filters))


def single_count(pair: Pair, filters: dict[str, Any]) -> int:
    return len(pair.single.get(pair.one, GetRequest(include=[], **filters))["ids"])


@pytest.mark.parametrize("include", [["distances"], ["documents"], ["embeddings", "metadatas", "distances", "uris"], []])
def test_query_returns_only_what_is_included(pair: Pair, include: list[str]) -> None:
    queries = np.random.default_rng(3).normal(size=(2, DIM)).astype(np.float32)
    assert_same_query(*pair.both("query", QueryRequest(queries, n_results=7, include=include)))


def test_query_restricted_to_ids(pair: Pair) -> None:
    queries = np.random.default_rng(4).normal(size=(3, DIM)).astype(np.float32)
    ids = [f"id-{i}" for i in range(0, 300, 7)]
    assert_same_query(*pair.both("query", QueryRequest(queries, n_results=5, ids=ids, where={"k": {"$lt": 3}})))
    assert_same_query(*pair.both("query", QueryRequest(queries, n_results=5, ids=[])))


@pytest.mark.parametrize("filters", FILTERS, ids=range(len(FILTERS)))
def test_get_equals_one_store_as_a_set(pair: Pair, filters: dict[str, Any]) -> None:
    include = ["documents", "metadatas", "embeddings"]
    single, sharded = pair.both("get", GetRequest(include=include, **filters))
    assert as_rows(sharded) == as_rows(single)
    assert sharded["included"] == single["included"]
    assert np.shape(sharded["embeddings"]) == np.shape(single["embeddings"])
    if len(pair.shards) == 1:
        assert sharded["ids"] == single["ids"]  # one shard: one store's insertion order


def test_get_pages_cover_the_merged_order(pair: Pair) -> None:
    where = {"k": {"$ne": 1}}
    whole = pair.sharded.get(pair.many, GetRequest(where=where, include=[]))["ids"]
    for limit in (1, 7, 50):
        pages = [
            pair.sharded.get(pair.many, GetRequest(where=where, limit=limit, offset=o, include=[]))["ids"] for o in range(0, 320, limit)
        ]
        assert [i for page in pages for i in page] == whole
    assert pair.sharded.get(pair.many, GetRequest(where=where, offset=10, include=[]))["ids"] == whole[10:]
    assert pair.sharded.get(pair.many, GetRequest(where=where, limit=0, include=[]))["ids"] == []
    if len(pair.shards) == 1:
        assert whole == pair.single.get(pair.one, GetRequest(where=where, include=[]))["ids"]


def test_get_by_ids(pair: Pair) -> None:
    ids = ["id-5", "id-17", "missing", "id-250", "id-3"]
    single, sharded = pair.both("get", GetRequest(ids=ids, include=["embeddings", "documents"]))
    assert as_rows(sharded) == as_rows(single)
    single, sharded = pair.both("get", GetRequest(ids=["missing"], include=["embeddings"]))
    assert sharded["ids"] == single["ids"] == []


def test_writes_update_upsert_and_delete(pair: Pair) -> None:
    rng = np.random.default_rng(11)
    pair.write("upsert", records(rng, 40, start=280))  # 20 updated, 20 new
    update = records(rng, 30, start=100)
    pair.write("update", RecordSet(update.ids, None, [{"k": 42}] * 30, None, None))
    pair.write("add", records(rng, 10, start=0))  # existing ids: skipped by both
    assert pair.sharded.count(pair.many) == pair.single.count(pair.one) == 320
    deletes = [
        DeleteRequest(ids=["id-1", "id-2", "id-300", "nope"]),
        DeleteRequest(where={"k": 42}),
        DeleteRequest(where_document={"$contains": "word5"}, where={"tag": "red"}),
        DeleteRequest(ids=[f"id-{i}" for i in range(50, 90)], where={"k": {"$gt": 2}}),
    ]
    for request in deletes:
        single, sharded = pair.both("delete", request)
        assert sharded == single
    assert pair.sharded.count(pair.many) == pair.single.count(pair.one)
    everything = GetRequest(include=["documents", "metadatas", "embeddings"])
    assert as_rows(pair.sharded.get(pair.many, everything)) == as_rows(pair.single.get(pair.one, everything))
    queries = rng.normal(size=(3, DIM)).astype(np.float32)
    assert_same_query(*pair.both("query", QueryRequest(queries, n_results=20)))


def test_delete_with_a_limit_deletes_that_many(pair: Pair) -> None:
    before = pair.sharded.count(pair.many)
    assert pair.sharded.delete(pair.many, DeleteRequest(where={"tag": "red"}, limit=7)) == 7
    assert pair.sharded.count(pair.many) == before - 7
    red = len(pair.single.get(pair.one, GetRequest(where={"tag": "red"}, include=[]))["ids"])
    assert len(pair.sharded.get(pair.many, GetRequest(where={"tag": "red"}, include=[]))["ids"]) == red - 7


def test_records_live_on_their_shard_only(pair: Pair) -> None:
    n = len(pair.shards)
    ids = pair.sharded.shards[0].replicas[0].list_collections()[0].id
    assert ids == pair.many  # shard 0's id is the one clients see
    for shard, api in enumerate(pair.shards):
        local = api.get_collection("docs").id
        held = api.get(local, GetRequest(include=[]))["ids"]
        assert held and all(shard_of(i, n) == shard for i in held)
    assert sum(api.count(api.get_collection("docs").id) for api in pair.shards) == 300


def test_indexing_status_adds_up(pair: Pair) -> None:
    status = pair.sharded.get_indexing_status(pair.many)
    assert status.total_ops >= 300
    assert status.num_indexed_ops + status.num_unindexed_ops == status.total_ops


@pytest.mark.parametrize("shards", [2, 4])
def test_catalog_is_global(shards: int) -> None:
    apis = [LocalAPI(None) for _ in range(shards)]
    api = ShardedAPI(apis)
    api.create_tenant("acme")
    api.create_database("notes", tenant="acme")
    model = api.create_collection(CreateCollectionRequest("docs", metadata={"a": 1}, tenant="acme", database="notes"))
    assert api.create_collection(CreateCollectionRequest("docs", get_or_create=True, tenant="acme", database="notes")).id == model.id
    renamed = api.modify_collection(model.id, ModifyCollectionRequest(new_name="papers", new_metadata={"b": 2}))
    assert (renamed.id, renamed.name, renamed.metadata) == (model.id, "papers", {"b": 2})
    for one in apis:
        assert one.get_tenant("acme") == "acme"
        found = one.get_collection("papers", "acme", "notes")
        assert (found.metadata, found.configuration_json) == ({"b": 2}, model.configuration_json)
    assert [c.name for c in api.list_collections(tenant="acme", database="notes")] == ["papers"]
    assert api.count_collections("acme", "notes") == 1
    assert api.get_collection_by_id(model.id).name == "papers"
    api.write(model.id, "add", records(np.random.default_rng(0), 20))
    api.delete_collection("papers", "acme", "notes")
    for one in apis:
        assert one.count_collections("acme", "notes") == 0
    with pytest.raises(NotFoundError):
        api.count(model.id)
    api.create_collection(CreateCollectionRequest("other", tenant="acme", database="notes"))
    api.delete_database("notes", "acme")
    for one in apis:
        assert [d["name"] for d in one.list_databases(tenant="acme")] == []
    api.close()


def test_a_sharded_store_opened_again_finds_its_collections(tmp_path: Path) -> None:
    """A new router (a restart) learns each shard's ids of a collection from its name."""
    paths = [tmp_path / f"shard-{i}" for i in range(3)]
    first = ShardedAPI([LocalAPI(p) for p in paths])
    collection = first.create_collection(CreateCollectionRequest("docs", configuration=EXACT)).id
    rs = records(np.random.default_rng(5), 100)
    first.write(collection, "add", rs)
    first.close()
    again = ShardedAPI([LocalAPI(p) for p in paths])
    assert again.count(collection) == 100
    assert sorted(again.get(collection, GetRequest(include=[]))["ids"]) == sorted(rs.ids)
    again.close()


def test_errors_are_one_stores_errors(pair: Pair) -> None:
    vectors = np.ones((2, DIM), dtype=np.float32)
    for api in (pair.single, pair.sharded):
        with pytest.raises(UniqueConstraintError):
            api.create_collection(CreateCollectionRequest("docs"))
        with pytest.raises(NotFoundError):
            api.count(uuid.uuid4())
        with pytest.raises(NotFoundError):
            api.get(uuid.uuid4(), GetRequest(ids=["a"]))
        with pytest.raises(NotFoundError):
            api.delete_collection("nothing")
        with pytest.raises(InvalidDimensionException):
            api.query(pair.one if api is pair.single else pair.many, QueryRequest(np.ones((1, DIM + 1), dtype=np.float32)))
        with pytest.raises(DuplicateIDError):
            api.write(pair.one if api is pair.single else pair.many, "add", RecordSet(["x", "x"], vectors, None, None, None))
        with pytest.raises(InvalidArgumentError):
            api.write(pair.one if api is pair.single else pair.many, "delete", RecordSet(["x"], vectors[:1], None, None, None))  # type: ignore[arg-type]


def test_a_wrong_dimension_is_refused_before_any_shard_writes() -> None:
    """Shards still empty would take any dimension: the router checks against the one the collection has."""
    apis = [LocalAPI(None) for _ in range(4)]
    api = ShardedAPI(apis)
    collection = api.create_collection(CreateCollectionRequest("docs")).id
    api.write(collection, "add", RecordSet(["a"], np.ones((1, 3), dtype=np.float32), None, None, None))
    wrong = RecordSet([f"b{i}" for i in range(40)], np.ones((40, 5), dtype=np.float32), None, None, None)
    with pytest.raises(InvalidDimensionException, match="dimension of 3, got 5"):
        api.write(collection, "add", wrong)
    fresh = ShardedAPI(apis)  # a router that has not seen a write learns the dimension from the shards
    with pytest.raises(InvalidDimensionException):
        fresh.write(collection, "upsert", wrong)
    assert api.count(collection) == 1
    api.close()


def test_bm25_query_modes_and_rankless_searches_fail_clearly(pair: Pair) -> None:
    for mode in ("bm25", "hybrid"):
        with pytest.raises(UnimplementedError, match="sharded store"):
            pair.sharded.query(pair.many, QueryRequest(texts=["red"], mode=mode, embeddings=None if mode == "bm25" else [[0.0] * DIM]))
    with pytest.raises(UnimplementedError, match=r"Search API with a search without a rank .* sharded store"):
        pair.sharded.search(pair.many, SearchRequest([Search().rank(Knn(query=[0.0] * DIM)), Search().limit(3)]))


SEARCHES: list[Search] = [
    Search().rank(Knn(query=[0.5] * DIM)),
    Search().rank(Knn(query=[0.5] * DIM, limit=50)).limit(10, offset=5).select(K.SCORE, K.DOCUMENT, "tag"),
    Search().where(K("k") >= 2).rank(Knn(query=[-0.3] * DIM, limit=40)).limit(100).select(K.EMBEDDING, K.METADATA, K.SCORE),
    Search().where(K("tag") == "red").rank(Knn(query=[0.1] * DIM, limit=8)).limit(5, offset=6).select(K.DOCUMENT),
    Search().where(K.DOCUMENT.contains("word3")).rank(Knn(query=[1.0] * DIM, limit=400)).limit(20, offset=30),
]


@pytest.mark.parametrize("search", SEARCHES, ids=range(len(SEARCHES)))
def test_dense_knn_searches_equal_one_store(pair: Pair, search: Search) -> None:
    single, sharded = pair.both("search", SearchRequest([search, SEARCHES[0]]))
    assert sharded["ids"] == single["ids"]
    assert sharded["select"] == single["select"]
    for column in ("documents", "metadatas"):
        assert sharded[column] == single[column]
    for a, b in zip(single["scores"], sharded["scores"], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(single["embeddings"], sharded["embeddings"], strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(np.asarray(b, dtype=np.float32), np.asarray(a, dtype=np.float32))


def test_writes_reach_every_replica_and_a_lost_replica_is_left_out(tmp_path: Path) -> None:
    """Shard 1's second replica is a real server that stops; the shard keeps serving from the first, then fails clearly."""
    with RunningServer.start(tmp_path / "replica") as server:
        remote = HttpAPI(server.url)
        first = LocalAPI(None)
        api = ShardedAPI([[LocalAPI(None), LocalAPI(None)], [first, remote]])
        collection = api.create_collection(CreateCollectionRequest("docs", configuration=EXACT)).id
        rs = records(np.random.default_rng(9), 60)
        api.write(collection, "add", rs)
        on_shard_1 = [i for i in rs.ids if shard_of(i, 2) == 1]
        for replica in (first, remote):
            local = replica.get_collection("docs").id
            assert sorted(replica.get(local, GetRequest(include=[]))["ids"]) == sorted(on_shard_1)
        for replica in api.shards[0].replicas:
            assert replica.count(replica.get_collection("docs").id) == 60 - len(on_shard_1)
    more = records(np.random.default_rng(10), 20, start=60)
    api.write(collection, "add", more)  # the server is gone: acknowledged by the live replica
    assert api.shards[1].stale == {1}
    assert api.count(collection) == 80
    queries = np.random.default_rng(1).normal(size=(2, DIM)).astype(np.float32)
    for _ in range(3):  # reads never go to the stale replica
        assert len(api.query(collection, QueryRequest(queries, n_results=80))["ids"][0]) == 80
    api.shards[1].stale.add(0)  # as if the last replica had missed a write too
    with pytest.raises(ServerConnectionError, match="Shard 1 has no live replica"):
        api.count(collection)
    with pytest.raises(ServerConnectionError, match="Shard 1"):
        api.query(collection, QueryRequest(queries, n_results=3))
    api.close()


def test_the_description_has_the_collections_dimension_and_follows_changes() -> None:
    """Shard 0 may hold none of the records: the router still reports the collection's dimension; a rename shows at once."""
    api = ShardedAPI([LocalAPI(None) for _ in range(4)])
    model = api.create_collection(CreateCollectionRequest("docs"))
    assert model.dimension is None
    elsewhere = next(f"r{i}" for i in range(100) if shard_of(f"r{i}", 4) != 0)
    api.write(model.id, "add", RecordSet([elsewhere], np.ones((1, 5), dtype=np.float32), None, None, None))
    assert api.shards[0].replicas[0].get_collection("docs").dimension is None  # the authority has no record
    assert api.get_collection("docs").dimension == 5
    assert api.get_collection_by_id(model.id).dimension == 5
    assert [c.dimension for c in api.list_collections()] == [5]
    api.modify_collection(model.id, ModifyCollectionRequest(new_name="papers", new_metadata={"v": 2}))
    again = api.get_collection_by_id(model.id)
    assert (again.name, again.metadata, again.dimension) == ("papers", {"v": 2}, 5)
    again.metadata["v"] = 3  # type: ignore[index]  # a copy: the router's description does not change
    assert api.get_collection_by_id(model.id).metadata == {"v": 2}
    api.delete_collection("papers")
    with pytest.raises(NotFoundError):
        api.get_collection_by_id(model.id)
    api.close()


# ------------------------------------------------------------------ hybrid search: BM25 with the collection's statistics

WORDS = [f"w{i}" for i in range(40)]


def bm25_schema() -> dict[str, Any]:
    config = SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction())
    schema: dict[str, Any] = Schema().create_index(config=config, key="bm25").serialize_to_json()
    return schema


def texts(rng: np.random.Generator, n: int) -> list[str]:
    """Documents of distinct lengths (3 to n + 2 words) from a small vocabulary, common words more often.

    Distinct lengths make equal BM25 scores (hence ties, which one store breaks by insertion order) practically impossible.
    """
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    return [" ".join(rng.choice(WORDS, size=int(length), p=weights / weights.sum())) for length in rng.permutation(n) + 3]


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"{n}-shards")
def hybrid(request: pytest.FixtureRequest) -> Iterator[Pair]:
    made = Pair(request.param, schema=bm25_schema())
    rng = np.random.default_rng(20 + request.param)
    rs = records(rng, 240)
    made.write("add", RecordSet(rs.ids, rs.embeddings, rs.metadatas, texts(rng, 240), None))
    yield made
    made.close()


DENSE = [0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.6]
HYBRID_SEARCHES: list[Search] = [
    Search().rank(Knn(query="w5 w12 w30", key="bm25", limit=30)).limit(10).select(K.SCORE, K.DOCUMENT),
    Search().rank(Knn(query="w1 w7", key="bm25", limit=100, return_rank=True)).limit(12, offset=3).select(K.SCORE, "tag"),
    Search()
    .rank(
        Rrf(
            [Knn(query=DENSE, return_rank=True, limit=40), Knn(query="w3 w9 w22", key="bm25", return_rank=True, limit=40)],
            weights=[0.6, 0.4],
        )
    )
    .limit(15)
    .select(K.SCORE, K.DOCUMENT, K.METADATA),
    Search()
    .rank(Knn(query=DENSE, limit=50) * 0.7 + Knn(query="w2 w17", key="bm25", limit=50, default=1.0) * 0.3)
    .limit(20)
    .select(K.SCORE),
    Search()
    .where(K("tag") == "red")
    .rank(
        Rrf(
            [Knn(query=DENSE, return_rank=True, limit=30), Knn(query="w4 w11", key="bm25", return_rank=True, limit=30)],
            k=10,
            weights=[1.0, 0.55],
        )
    )
    .limit(8)
    .select(K.SCORE, K.EMBEDDING),
    Search()
    .where((K("k") >= 1) & K.DOCUMENT.contains("w6"))
    .rank(Knn(query="w6 w8 w14", key="bm25", limit=25) - Knn(query=DENSE, limit=25, default=5.0, return_rank=True) * 0.01)
    .limit(10)
    .select(K.SCORE, K.DOCUMENT),
    Search()
    .rank(Knn(query=DENSE, limit=60, default=3.0).max(Knn(query="w0 w19", key="bm25", limit=60, default=2.0)))
    .limit(25)
    .select(K.SCORE),
    Search()
    .rank(Knn(query="w3 w10 w25", key="bm25", limit=60))
    .group_by(GroupBy(keys=["tag"], aggregate=MinK(keys=[K.SCORE], k=2)))
    .limit(10)
    .select(K.SCORE, K.DOCUMENT),
    Search()
    .rank(
        Rrf([Knn(query=DENSE, return_rank=True, limit=50), Knn(query="w5 w13", key="bm25", return_rank=True, limit=50)], weights=[0.3, 0.7])
    )
    .group_by(GroupBy(keys=["k"], aggregate=MaxK(keys=["tag", K.SCORE], k=1)))
    .limit(10)
    .select(K.SCORE, "k"),
]


def assert_same_search(single: Any, sharded: Any, scores_of: list[dict[str, float]] | None = None) -> None:
    """Equal answers; with ``scores_of`` (each search's score of every record it ranks), records tied on one score may swap.

    One store orders records with exactly equal scores by insertion, which shards do not share: the
    sharded answer must then hold, at each position, a record whose score is the one store's there.
    """
    assert sharded["select"] == single["select"]
    for name in ("scores", "embeddings"):
        for a, b in zip(single[name], sharded[name], strict=True):
            assert (a is None) == (b is None)
            if a is not None and name == "scores":
                np.testing.assert_allclose(np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64), rtol=1e-5, atol=1e-6)
    if scores_of is None:
        assert sharded["ids"] == single["ids"]
    else:
        for ids, reference, expected in zip(sharded["ids"], scores_of, single["ids"], strict=True):
            assert len(set(ids)) == len(ids) == len(expected)
            np.testing.assert_allclose([reference[i] for i in ids], [reference[i] for i in expected], rtol=1e-5, atol=1e-6)
    for name in ("documents", "metadatas", "embeddings"):  # each record's fields, wherever the tie put it
        for i, (a, b) in enumerate(zip(single[name], sharded[name], strict=True)):
            assert (a is None) == (b is None)
            if a is not None:
                mine = {r: _plain(v) for r, v in zip(single["ids"][i], a, strict=True)}
                theirs = {r: _plain(v) for r, v in zip(sharded["ids"][i], b, strict=True)}
                assert {r: theirs[r] for r in mine if r in theirs} == {r: mine[r] for r in mine if r in theirs}


def _plain(value: Any) -> Any:
    return tuple(np.round(np.asarray(value, dtype=np.float64), 5)) if isinstance(value, (list, np.ndarray)) else value


def every_score(api: API, collection: uuid.UUID, searches: list[Search]) -> list[dict[str, float]]:
    """Per search, the score of every record it ranks (no page), on one store."""
    whole = [Search(where=s.parts().where, rank=s.parts().rank, group_by=s.parts().group_by, select=["#score"]) for s in searches]
    answer = api.search(collection, SearchRequest(whole))
    return [dict(zip(ids, scores, strict=True)) for ids, scores in zip(answer["ids"], answer["scores"], strict=True)]


@pytest.mark.parametrize("search", HYBRID_SEARCHES, ids=range(len(HYBRID_SEARCHES)))
def test_hybrid_searches_equal_one_store(hybrid: Pair, search: Search) -> None:
    single, sharded = hybrid.both("search", SearchRequest([search, HYBRID_SEARCHES[0]]))
    assert single["ids"][0]  # a search that finds nothing would prove little
    assert_same_search(single, sharded, every_score(hybrid.single, hybrid.one, [search, HYBRID_SEARCHES[0]]))


def test_all_hybrid_searches_in_one_request_equal_one_store(hybrid: Pair) -> None:
    single, sharded = hybrid.both("search", SearchRequest(HYBRID_SEARCHES))
    assert_same_search(single, sharded, every_score(hybrid.single, hybrid.one, HYBRID_SEARCHES))


def test_a_client_embedded_bm25_query_scores_as_text(hybrid: Pair) -> None:
    vector = ChromaBm25EmbeddingFunction().embed_query(["w5 w12 w30"])[0]
    search = Search().rank(Knn(query=vector, key="bm25", limit=30)).limit(10).select(K.SCORE)
    single, sharded = hybrid.both("search", SearchRequest([search, HYBRID_SEARCHES[0]]))
    assert_same_search(single, sharded)
    np.testing.assert_allclose(sharded["scores"][0], sharded["scores"][1], rtol=1e-6)


def test_bm25_scores_do_not_depend_on_the_sharding() -> None:
    """A shard's own statistics would give other scores: the router's sums give one store's, after deletes too."""
    pair = Pair(4, schema=bm25_schema())
    rng = np.random.default_rng(3)
    rs = records(rng, 200)
    pair.write("add", RecordSet(rs.ids, rs.embeddings, rs.metadatas, texts(rng, 200), None))
    pair.sharded.delete(pair.many, DeleteRequest(rs.ids[:40]))
    pair.single.delete(pair.one, DeleteRequest(rs.ids[:40]))
    search = Search().rank(Knn(query="w2 w9 w31", key="bm25", limit=200)).limit(200).select(K.SCORE)
    single, sharded = pair.both("search", SearchRequest([search]))
    assert_same_search(single, sharded)
    own = {}  # each shard scoring with its own statistics
    for shard in pair.shards:
        answer = shard.search(shard.get_collection("docs").id, SearchRequest([search]))
        own.update(zip(answer["ids"][0], answer["scores"][0], strict=True))
    expected = dict(zip(single["ids"][0], single["scores"][0], strict=True))
    assert own.keys() == expected.keys()
    assert max(abs(own[i] - expected[i]) for i in own) > 0.05
    pair.close()


def test_a_sparse_key_without_an_index_fails_as_on_one_store(hybrid: Pair) -> None:
    search = Search().rank(Knn(query="w1", key="nothing"))
    with pytest.raises(InvalidArgumentError, match="no sparse vector index"):
        hybrid.single.search(hybrid.one, SearchRequest([search]))
    with pytest.raises(InvalidArgumentError, match="no sparse vector index"):
        hybrid.sharded.search(hybrid.many, SearchRequest([search]))


def test_a_remote_shard_without_statistics_fails_clearly(tmp_path: Path) -> None:
    """BM25 over a backend that cannot report statistics (a ``ragstore run`` over HTTP) is refused, never scored per shard."""
    with RunningServer.start(tmp_path / "shard") as server:
        api = ShardedAPI([LocalAPI(None), HttpAPI(server.url)])
        collection = api.create_collection(CreateCollectionRequest("docs", schema=bm25_schema())).id
        rs = records(np.random.default_rng(4), 30)
        api.write(collection, "add", RecordSet(rs.ids, rs.embeddings, rs.metadatas, texts(np.random.default_rng(4), 30), None))
        dense = Search().rank(Rrf([Knn(query=DENSE, return_rank=True), Knn(query=[0.0] * DIM, return_rank=True)])).limit(5)
        assert len(api.search(collection, SearchRequest([dense]))["ids"][0]) == 5  # dense fusion needs no statistics
        with pytest.raises(UnimplementedError, match="does not report BM25 statistics"):
            api.search(collection, SearchRequest([Search().rank(Knn(query="w1", key="bm25"))]))
        api.close()


def test_a_rank_without_a_knn_answers_as_one_store(hybrid: Pair) -> None:
    """A rank of constants has no candidates: empty columns where selected, as one store's, even last in a request."""
    searches = [HYBRID_SEARCHES[0], Search().rank(Val(0.5)).select(K.DOCUMENT, "tag", K.SCORE)]
    single, sharded = hybrid.both("search", SearchRequest(searches))
    assert sharded == single
    assert sharded["ids"][1] == [] and sharded["metadatas"][1] == [] and sharded["embeddings"][1] is None
