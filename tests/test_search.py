"""The Search API's behaviour (``Collection.search``) on every client mode, against references computed here.

Every test takes the ``client`` fixture, so it runs embedded (ephemeral, persistent) and over
HTTP. Collections have a deterministic dense function (``HashingEmbeddingFunction``) and a BM25
sparse index on the documents (chroma's ``ChromaBm25EmbeddingFunction``, key ``bm25``).

- Dense ``Knn`` must equal ``query()``: same ids, same distances.
- BM25 ``Knn`` must equal :func:`bm25_reference`, the textbook formula over the stems of
  ``ragstore.bm25_text`` with the collection's live statistics, written here without the
  engine's code. The query vector is what the client sends: chroma's BM25 function weights a
  query as it weights a document (``tf * (k + 1) / (tf + k * (1 - b + b * len / 256))``);
  chroma reports sparse scores as ``1 - similarity``, so lower is better.
- ``Rrf`` must equal :func:`rrf_reference` over those two reference lists.

The last part runs chromadb 1.5.9's own ``HttpClient`` and ragstore's async client against a
real ``ragstore run`` and checks that they get embedded mode's ids and scores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from chromadb_sessions import chromadb_sessions_closed
from servers import RunningServer

import ragstore
from ragstore import ChromaBm25EmbeddingFunction, K, Knn, Rrf, Schema, Search, SparseVector, SparseVectorIndexConfig
from ragstore.bm25_text import Bm25Tokenizer
from ragstore.embeddings import HashingEmbeddingFunction
from ragstore.errors import InvalidArgumentError, InvalidDimensionException
from ragstore.record_requests import SearchRequest
from ragstore.search import GroupBy, MaxK, MinK

DIM = 16
K1, B = 1.2, 0.75
CLIENT_AVG_LENGTH = 256.0  # the fixed average length chroma's BM25 function weights query terms with
BM25 = "bm25"

# Category, year and document per record. Some documents share words, two are equal (a BM25 tie),
# one has no document and one has only stop words (neither holds BM25 terms nor counts in N).
CORPUS: list[tuple[str, str, int, str | None]] = [
    ("d0", "pets", 2001, "Cats chase mice and cats sleep all day"),
    ("d1", "pets", 2003, "Dogs chase cats in the garden"),
    ("d2", "pets", 2005, "A cat and a dog share a sunny garden"),
    ("d3", "fruit", 2001, "Apples and pears grow in the orchard"),
    ("d4", "fruit", 2010, "Red apples, green apples, apple pie"),
    ("d5", "fruit", 2012, "Pears ripen slowly; apples ripen fast"),
    ("d6", "birds", 2003, "Birds fly over the garden while cats watch"),
    ("d7", "birds", 2007, "Owls hunt mice at night"),
    ("d8", "birds", 2011, "Owls hunt mice at night"),
    ("d9", "misc", 2002, None),
    ("d10", "misc", 2004, "the and of it was"),
    ("d11", "misc", 2008, "Gardening with cats is a chase of its own: mice, birds, apples and dogs everywhere in the garden"),
]
QUERIES = ["cats chase", "apples", "mice garden cats", "owls", "dog dogs garden", "zebra"]


def bm25_schema() -> Schema:
    """Dense vectors (the collection's function) and a BM25 index on the documents under ``bm25``."""
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction()), key=BM25)
    return schema


# ---------------------------------------------------------------------------------- references


@dataclass
class Model:
    """A collection's records in insertion order (a deleted and re-added record goes last, as a new row does)."""

    documents: dict[str, str | None] = field(default_factory=dict)
    metadatas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, id_: str, document: str | None, metadata: dict[str, Any]) -> None:
        self.documents[id_] = document
        self.metadatas[id_] = metadata

    def delete(self, id_: str) -> None:
        del self.documents[id_], self.metadatas[id_]


def corpus_model() -> Model:
    model = Model()
    for id_, cat, year, doc in CORPUS:
        model.write(id_, doc, {"cat": cat, "year": year})
    return model


_TOKENIZER = Bm25Tokenizer()  # a tokenizer of its own: the engine's remembered hashes play no part here


def bm25_reference(documents: dict[str, str | None], query: str) -> list[tuple[str, float]]:
    """Every record sharing a stem with ``query``, best first, with ``1 - BM25`` (ties in insertion order).

    ``N``, ``df`` and ``avgdl`` count the records whose document has at least one term.
    """
    terms = {id_: Counter(_TOKENIZER.tokenize(doc)) for id_, doc in documents.items() if doc is not None}
    terms = {id_: counts for id_, counts in terms.items() if counts}
    if not terms:
        return []
    n = len(terms)
    avgdl = sum(sum(c.values()) for c in terms.values()) / n
    asked = Counter(_TOKENIZER.tokenize(query))
    q_len = sum(asked.values())
    weight = {t: qtf * (K1 + 1) / (qtf + K1 * (1 - B + B * q_len / CLIENT_AVG_LENGTH)) for t, qtf in asked.items()}
    scored = []
    for position, (id_, counts) in enumerate(terms.items()):
        length = sum(counts.values())
        score = 0.0
        for term, q in weight.items():
            tf = counts.get(term, 0)
            if tf:
                df = sum(1 for c in terms.values() if term in c)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += q * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avgdl))
        if score > 0:
            scored.append((-score, position, id_))
    return [(id_, 1.0 + negative) for negative, _, id_ in sorted(scored)]


def rrf_reference(lists: Sequence[Sequence[str]], k: float, weights: Sequence[float], default: float) -> list[tuple[str, float]]:
    """Reciprocal rank fusion, ``-sum(w / (k + rank))``, a record missing from a list taking rank ``default``."""
    ids = list(dict.fromkeys(id_ for ranked in lists for id_ in ranked))
    scores = {}
    for id_ in ids:
        ranks = [ranked.index(id_) if id_ in ranked else default for ranked in lists]
        scores[id_] = -sum(w / (k + r) for w, r in zip(weights, ranks, strict=True))
    return sorted(scores.items(), key=lambda item: item[1])


def assert_ranked(result: Any, expected: Sequence[tuple[str, float]], which: int = 0) -> None:
    """``result``'s search ``which`` has ``expected``'s ids and scores (float32), in order up to exact float ties."""
    ids, scores = result["ids"][which], result["scores"][which]
    assert len(ids) == len(expected), (ids, expected)
    assert scores == pytest.approx([s for _, s in expected], rel=1e-5, abs=1e-6), (ids, expected)
    start = 0
    while start < len(expected):  # a block of equal reference scores may come in any order the floats give
        end = start + 1
        while end < len(expected) and math.isclose(expected[end][1], expected[start][1], rel_tol=1e-9, abs_tol=1e-12):
            end += 1
        assert set(ids[start:end]) == {id_ for id_, _ in expected[start:end]}, (ids, expected)
        start = end


def bm25(query: str, limit: int = 100) -> Search:
    return Search().rank(Knn(query=query, key=BM25, limit=limit)).select(K.SCORE)


def dense_reference(col: ragstore.Collection, query: str) -> list[tuple[str, float]]:
    """``query()``'s answer over the whole collection, as (id, distance)."""
    found = col.query(query_texts=[query], n_results=col.count(), include=["distances"])
    return list(zip(found["ids"][0], found["distances"][0], strict=True))  # type: ignore[index]


def dense_ids(col: ragstore.Collection, query: str, n: int) -> list[str]:
    return [id_ for id_, _ in dense_reference(col, query)][:n]


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    """The corpus in a collection with dense and BM25 indexes."""
    collection = client.create_collection("search", schema=bm25_schema(), embedding_function=HashingEmbeddingFunction(dim=DIM))
    add_corpus(collection, corpus_model())
    return collection


def add_corpus(col: ragstore.Collection, model: Model) -> None:
    """Add ``model``'s records, embedded by the collection's function (a record without a document, by its id)."""
    documents = list(model.documents.values())
    embeddings = HashingEmbeddingFunction(dim=DIM)([doc or id_ for id_, doc in model.documents.items()])
    col.add(ids=list(model.documents), embeddings=embeddings, documents=documents, metadatas=list(model.metadatas.values()))


def stored(col: ragstore.Collection) -> Any:
    """Everything the collection holds, to show a refused search changed nothing."""
    got = col.get(include=["embeddings", "documents", "metadatas"])
    return got["ids"], np.asarray(got["embeddings"]).tolist(), got["documents"], got["metadatas"]


# ---------------------------------------------------------------------------------- ranking


def test_dense_knn_equals_query(col: ragstore.Collection) -> None:
    # Equal distances (equal documents embed equally) may come in either order from query(); search() orders them by insertion.
    for text in QUERIES:
        assert_ranked(col.search(Search().rank(Knn(query=text, limit=len(CORPUS))).select(K.SCORE)), dense_reference(col, text))
    vector = np.linspace(-1.0, 1.0, DIM).tolist()
    expected = col.query(query_embeddings=[vector], n_results=5, include=["distances"])
    got = col.search(Search().rank(Knn(query=vector, limit=5)).select(K.SCORE))
    assert (got["ids"][0], got["scores"][0]) == (expected["ids"][0], pytest.approx(expected["distances"][0], rel=1e-6))  # type: ignore[index]


def test_bm25_knn_equals_the_reference(col: ragstore.Collection) -> None:
    documents = corpus_model().documents
    for text in QUERIES:
        assert_ranked(col.search(bm25(text)), bm25_reference(documents, text))
    assert col.search(bm25("zebra"))["ids"] == [[]]  # no shared term: no match, not a zero score


def test_bm25_query_vector_is_chromas_function_output(col: ragstore.Collection) -> None:
    """A sparse vector computed by the BM25 function gives what the text gives (the client embeds text so)."""
    for text in QUERIES:
        vector = ChromaBm25EmbeddingFunction().embed_query([text])[0]
        by_vector = col.search(Search().rank(Knn(query=vector, key=BM25, limit=100)).select(K.SCORE))
        assert by_vector == col.search(bm25(text))


def test_engine_scores_text_queries_as_clients_do(client: ragstore.ClientAPI, col: ragstore.Collection) -> None:
    """A text query that reaches the engine unembedded (a raw API or HTTP caller) scores as the client's vector does."""
    for text in ["cats chase", "apples apples pie", "mice garden cats"]:
        raw = client._api.search(col.id, SearchRequest(bm25(text)))  # bypasses Collection.search's embedding
        assert raw["ids"] == col.search(bm25(text))["ids"]
        assert raw["scores"][0] == pytest.approx(col.search(bm25(text))["scores"][0], rel=1e-6)


def test_hybrid_rrf_equals_the_fused_reference(col: ragstore.Collection) -> None:
    documents, n, missing = corpus_model().documents, len(CORPUS), 1000
    for text, weights in [("cats chase", [1.0, 1.0]), ("apples", [0.3, 0.7]), ("mice garden cats", [2.0, 0.5])]:
        rank = Rrf(
            [
                Knn(query=text, limit=n, return_rank=True, default=missing),
                Knn(query=text, key=BM25, limit=n, return_rank=True, default=missing),
            ],
            k=60,
            weights=weights,
        )
        lists = [dense_ids(col, text, n), [id_ for id_, _ in bm25_reference(documents, text)]]
        assert_ranked(col.search(Search().rank(rank).select(K.SCORE)), rrf_reference(lists, 60, weights, missing))


def test_knn_default_and_return_rank(col: ragstore.Collection) -> None:
    documents = corpus_model().documents
    dense = dense_ids(col, "cats chase", 4)
    sparse = [id_ for id_, _ in bm25_reference(documents, "cats chase")]
    # Without a default a record must be in every list; with one, in any list (the default standing in).
    dense_knn, sparse_knn = Knn(query="cats chase", limit=4, return_rank=True), Knn(query="cats chase", key=BM25, return_rank=True)
    both = col.search(Search().rank(dense_knn + sparse_knn))
    assert set(both["ids"][0]) == set(dense) & set(sparse)
    either = dataclasses.replace(dense_knn, default=50) + dataclasses.replace(sparse_knn, default=50)
    got = col.search(Search().rank(either).select(K.SCORE))
    expected = {id_: (dense.index(id_) if id_ in dense else 50) + (sparse.index(id_) if id_ in sparse else 50) for id_ in {*dense, *sparse}}
    assert dict(zip(got["ids"][0], got["scores"][0], strict=True)) == expected
    assert got["scores"][0] == sorted(got["scores"][0])
    ranks = col.search(Search().rank(Knn(query="apples", key=BM25, return_rank=True)).select(K.SCORE))
    assert ranks["scores"][0] == list(range(len(ranks["ids"][0])))


def test_ties_come_in_insertion_order(col: ragstore.Collection) -> None:
    owls = col.search(bm25("owls"))
    assert owls["ids"][0] == ["d7", "d8"] and owls["scores"][0][0] == owls["scores"][0][1]  # equal documents
    flat = col.search(Search().rank(Knn(query="cats", key=BM25, limit=100) * 0).select(K.SCORE))
    matching = [id_ for id_, doc in corpus_model().documents.items() if doc and "cat" in doc.lower()]
    assert flat["ids"][0] == matching and set(flat["scores"][0]) == {0.0}
    assert col.search(Search().rank(Knn(query="cats", key=BM25) * 0)) == col.search(Search().rank(Knn(query="cats", key=BM25) * 0))


# ---------------------------------------------------------------------------------- where, limit, select


def test_where_applies_before_ranking(col: ragstore.Collection) -> None:
    documents, metadatas = corpus_model().documents, corpus_model().metadatas
    cases = [
        (K("cat") == "pets", lambda id_: metadatas[id_]["cat"] == "pets"),
        (K("year") >= 2007, lambda id_: metadatas[id_]["year"] >= 2007),
        (K.DOCUMENT.contains("garden"), lambda id_: "garden" in (documents[id_] or "")),
        (K.DOCUMENT.regex(r"^[A-D]"), lambda id_: re.match(r"^[A-D]", documents[id_] or "") is not None),
        (K.ID.is_in(["d1", "d4", "d7", "d9"]), lambda id_: id_ in {"d1", "d4", "d7", "d9"}),
        (K.ID.not_in(["d0", "d11"]) & (K("cat") != "fruit"), lambda id_: id_ not in {"d0", "d11"} and metadatas[id_]["cat"] != "fruit"),
    ]
    for where, keep in cases:
        for text in ["cats chase", "apples", "mice garden cats"]:
            # BM25 statistics count every live record; the filter only decides who may be returned.
            expected = [(id_, s) for id_, s in bm25_reference(documents, text) if keep(id_)]
            assert_ranked(col.search(bm25(text).where(where)), expected)
            dense = col.search(Search().where(where).rank(Knn(query=text, limit=len(CORPUS))).select(K.SCORE))
            assert_ranked(dense, [(id_, d) for id_, d in dense_reference(col, text) if keep(id_)])


def test_a_filter_leaving_fewer_records_than_the_limit_returns_exactly_those(col: ragstore.Collection) -> None:
    where = K("cat") == "birds"
    got = col.search(Search().where(where).rank(Knn(query="owls at night", limit=10)).limit(10).select(K.SCORE))
    expected = col.query(query_texts=["owls at night"], n_results=10, where={"cat": "birds"}, include=["distances"])
    assert got["ids"][0] == expected["ids"][0] and sorted(got["ids"][0]) == ["d6", "d7", "d8"]
    assert got["scores"][0] == pytest.approx(expected["distances"][0], rel=1e-6)  # type: ignore[index]


def test_limit_and_offset_page_the_ranking(col: ragstore.Collection) -> None:
    full = col.search(bm25("cats garden mice"))
    for offset, limit in [(0, 2), (2, 3), (5, 100), (50, 3)]:
        page = col.search(bm25("cats garden mice").limit(limit, offset=offset))
        assert page["ids"][0] == full["ids"][0][offset : offset + limit]
        assert page["scores"][0] == full["scores"][0][offset : offset + limit]
    assert col.search(Search().limit(3, offset=4))["ids"][0] == [id_ for id_, *_ in CORPUS][4:7]


def test_without_a_rank_records_come_in_insertion_order(col: ragstore.Collection) -> None:
    every = [id_ for id_, *_ in CORPUS]
    assert col.search(Search())["ids"] == [every]
    got = col.search(Search().where(K("cat").is_in(["pets", "birds"])).select(K.SCORE, K.DOCUMENT))
    assert got["ids"][0] == ["d0", "d1", "d2", "d6", "d7", "d8"]
    assert got["scores"] == [None]  # no rank, no score
    assert got["documents"][0] == [doc for id_, _, _, doc in CORPUS if id_ in got["ids"][0]]


def test_select_returns_each_field_asked_for(col: ragstore.Collection) -> None:
    base = Search().where(K.ID.is_in(["d4", "d9"])).rank(Knn(query="apples", limit=20))
    expected = col.get(ids=["d4", "d9"], include=["embeddings", "documents", "metadatas"])
    by_id = {id_: i for i, id_ in enumerate(expected["ids"])}
    ids_only = col.search(base)
    assert sorted(ids_only["ids"][0]) == ["d4", "d9"]
    assert (ids_only["documents"], ids_only["embeddings"], ids_only["metadatas"], ids_only["scores"]) == ([None], [None], [None], [None])
    everything = col.search(base.select_all())
    order = [by_id[id_] for id_ in everything["ids"][0]]
    assert everything["documents"][0] == [expected["documents"][i] for i in order]  # type: ignore[index]
    assert everything["metadatas"][0] == [expected["metadatas"][i] for i in order]  # type: ignore[index]
    assert np.allclose(everything["embeddings"][0], [expected["embeddings"][i] for i in order])  # type: ignore[index]
    assert len(everything["scores"][0]) == 2
    assert set(everything["select"][0]) == {"#document", "#embedding", "#metadata", "#score"}
    year = col.search(base.select("year", "absent"))
    assert year["metadatas"][0] == [{"year": expected["metadatas"][i]["year"]} for i in order]  # type: ignore[index]
    assert year["documents"] == [None] and year["select"] == [["year", "absent"]]
    assert col.search(base.select("absent"))["metadatas"][0] == [None, None]  # a record without the key has no metadata
    rows = col.search(base.select(K.DOCUMENT, K.SCORE)).rows()[0]
    assert {row["id"] for row in rows} == {"d4", "d9"} and [set(row) for row in rows if row["id"] == "d9"] == [{"id", "score"}]


def test_group_by_keeps_the_best_of_each_group(col: ragstore.Collection) -> None:
    documents, metadatas = corpus_model().documents, corpus_model().metadatas
    text = "cats garden mice apples owls"
    reference = bm25_reference(documents, text)
    for k in (1, 2):
        expected, seen = [], Counter[str]()
        for id_, score in reference:
            seen[metadatas[id_]["cat"]] += 1
            if seen[metadatas[id_]["cat"]] <= k:
                expected.append((id_, score))
        assert_ranked(col.search(bm25(text).group_by(GroupBy(keys=K("cat"), aggregate=MinK(keys=K.SCORE, k=k)))), expected)
    newest = col.search(
        bm25(text).group_by(GroupBy(keys=[K("cat")], aggregate=MaxK(keys=[K("year"), K.SCORE], k=1))).select(K.SCORE, "year")
    )
    per_cat: dict[str, tuple[int, str]] = {}
    for id_, _ in reference:
        cat, year = metadatas[id_]["cat"], metadatas[id_]["year"]
        if cat not in per_cat or year > per_cat[cat][0]:
            per_cat[cat] = (year, id_)
    assert sorted(newest["ids"][0]) == sorted(id_ for _, id_ in per_cat.values())
    assert newest["scores"][0] == sorted(newest["scores"][0])  # flattened groups sort by score


def test_several_searches_in_one_call_answer_as_each_alone(col: ragstore.Collection) -> None:
    searches = [
        bm25("apples"),
        Search().rank(Knn(query="owls", limit=4)).select(K.SCORE, K.DOCUMENT),
        Search().where(K("cat") == "fruit"),
        bm25("cats").limit(2, offset=1).where(K("year") < 2010),
        Search().rank(Rrf([Knn(query="mice", return_rank=True), Knn(query="mice", key=BM25, return_rank=True)])).select(K.SCORE),
    ]
    together = col.search(searches)
    alone = [col.search(one) for one in searches]
    for field_name in ("ids", "documents", "embeddings", "metadatas", "scores", "select"):
        assert together[field_name] == [answer[field_name][0] for answer in alone], field_name


# ---------------------------------------------------------------------------------- writes and statistics


def test_bm25_statistics_follow_every_write(col: ragstore.Collection) -> None:
    model = corpus_model()

    def check() -> None:
        for text in ["cats chase", "apples", "mice garden cats", "owls", "kiwi"]:
            assert_ranked(col.search(bm25(text)), bm25_reference(model.documents, text))

    col.add(ids=["n0", "n1", "d0"], documents=["Kiwi and apples", "Cats, cats, cats!", "ignored: d0 exists"], metadatas=[{"cat": "x"}] * 3)
    model.write("n0", "Kiwi and apples", {"cat": "x"})
    model.write("n1", "Cats, cats, cats!", {"cat": "x"})
    check()
    col.upsert(ids=["d3", "n2"], documents=["Kiwi orchard", "Owls and cats chase mice"], metadatas=[{"cat": "fruit"}, {"cat": "y"}])
    model.documents["d3"] = "Kiwi orchard"
    model.write("n2", "Owls and cats chase mice", {"cat": "y"})
    check()
    col.update(ids=["d5", "missing"], documents=["Apples apples apples", "never stored"])
    model.documents["d5"] = "Apples apples apples"
    check()
    before = col.search([bm25(text) for text in QUERIES])
    col.update(ids=["d0", "d1"], metadatas=[{"cat": "changed"}, {"year": 1999}])  # metadata only: scores stay
    assert col.search([bm25(text) for text in QUERIES]) == before
    col.upsert(ids=["d4"], embeddings=[[0.5] * DIM], metadatas=[{"cat": "kept"}])  # no document given: d4 keeps its text
    assert col.get(ids=["d4"])["documents"] == [model.documents["d4"]]
    check()
    col.delete(ids=["d11", "n1"])
    model.delete("d11")
    model.delete("n1")
    check()
    col.delete(where={"cat": "birds"})
    for id_ in ["d6", "d7", "d8"]:
        model.delete(id_)
    check()
    col.add(ids=["d7"], documents=["Owls again"], metadatas=[{"cat": "birds"}])  # back, as the newest record
    model.write("d7", "Owls again", {"cat": "birds"})
    check()
    col.update(ids=["d2"], documents=["the of and"])  # only stop words now: d2 leaves the BM25 statistics
    model.documents["d2"] = "the of and"
    check()


def test_user_sparse_vectors_rank_by_dot_product(client: ragstore.ClientAPI) -> None:
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(), key="sv")  # no function: records carry their vectors
    col = client.create_collection("user-sparse", schema=schema, embedding_function=None)
    vectors = {
        "a": SparseVector([1, 5, 9], [0.5, 1.0, 2.0]),
        "b": SparseVector([5], [5.0]),
        "c": SparseVector([2, 9], [1.0, -1.0]),
        "d": SparseVector([9], [2.0]),
    }
    ids = list(vectors)
    col.add(ids=[*ids, "e"], embeddings=np.eye(5, 3).tolist(), metadatas=[*({"sv": v} for v in vectors.values()), {"n": 1}])
    query = SparseVector([5, 9, 42], [1.0, 2.0, 7.0])

    def expected() -> list[tuple[str, float]]:
        q = dict(zip(query.indices, query.values, strict=True))
        dots = {
            id_: sum(q.get(i, 0.0) * w for i, w in zip(v.indices, v.values, strict=True))
            for id_, v in vectors.items()
            if set(v.indices) & set(q)
        }
        return [(id_, 1.0 - dots[id_]) for id_ in sorted(dots, key=lambda i: (-dots[i], ids.index(i)))]

    search = Search().rank(Knn(query=query, key="sv")).select(K.SCORE)
    assert_ranked(col.search(search), expected())
    assert col.search(search)["ids"][0] == ["a", "b", "d", "c"]  # a and b tie at 5.0: insertion order
    col.update(ids=["c"], metadatas=[{"sv": SparseVector([5], [10.0])}])
    vectors["c"] = SparseVector([5], [10.0])
    col.update(ids=["d"], metadatas=[{"sv": None}])  # the key removed: no longer a candidate
    del vectors["d"]
    assert_ranked(col.search(search), expected())
    assert col.search(search.where(K("sv") == 1))["ids"] == [[]]  # filters see a sparse key as absent


# ---------------------------------------------------------------------------------- errors


def test_refused_searches_raise_the_same_error_everywhere_and_change_nothing(client: ragstore.ClientAPI, col: ragstore.Collection) -> None:
    before, results = stored(col), col.search([bm25(text) for text in QUERIES])
    refused: list[tuple[Any, type[Exception], str]] = [
        (
            lambda: col.search(Search().rank(Knn(query=SparseVector([1], [1.0]), key="nokey"))),
            InvalidArgumentError,
            "no sparse vector index",
        ),
        (lambda: col.search(Search().rank(Knn(query=[1.0, 2.0]))), InvalidDimensionException, "dimension of 16, got 2"),
        (lambda: col.search(Search().rank(Knn(query=[1.0] * DIM, key=BM25))), InvalidArgumentError, "got a dense vector"),
        (lambda: col.search(Search().where((K.ID == "d0") | (K("year") > 1))), InvalidArgumentError, "not under \\$or"),
        (lambda: col.search({"rank": {"$knn": {"query": [1.0] * DIM, "limit": -3}}}), InvalidArgumentError, "limit must be positive"),
        (lambda: col.search({"rank": {"$bogus": 1}}), InvalidArgumentError, "Unknown rank operator"),
        (lambda: col.search(Search().rank(Knn(query="text", key="nokey"))), InvalidArgumentError, "Cannot embed string query"),
        # The engine's own checks, past the client's embedding (a raw API caller).
        (lambda: client._api.search(col.id, SearchRequest(Search().rank(Knn(query="text")))), InvalidArgumentError, "Expected a dense"),
        (lambda: client._api.search(col.id, SearchRequest(Search().rank(Knn(query="t", key="nokey")))), InvalidArgumentError, "nokey"),
    ]
    for call, error, match in refused:
        with pytest.raises(InvalidArgumentError, match=match) as caught:
            call()
        assert type(caught.value) is error, (match, type(caught.value))
    assert stored(col) == before
    assert col.search([bm25(text) for text in QUERIES]) == results


def test_text_on_a_sparse_key_without_a_function_is_refused(client: ragstore.ClientAPI) -> None:
    schema = Schema()
    schema.create_index(config=SparseVectorIndexConfig(), key="sv")
    col = client.create_collection("no-function", schema=schema, embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], metadatas=[{"sv": SparseVector([1], [1.0])}])
    with pytest.raises(InvalidArgumentError, match="Cannot embed string query for key 'sv'") as caught:
        col.search(Search().rank(Knn(query="words", key="sv")))
    assert type(caught.value) is InvalidArgumentError
    with pytest.raises(InvalidArgumentError, match="Expected a sparse vector") as caught:
        client._api.search(col.id, SearchRequest(Search().rank(Knn(query="words", key="sv"))))
    assert type(caught.value) is InvalidArgumentError


# ---------------------------------------------------------------------------------- persistence


def test_reopening_keeps_bm25_results_identical(client_factory: Any) -> None:
    first = client_factory()
    col = first.create_collection("reopen", schema=bm25_schema(), embedding_function=HashingEmbeddingFunction(dim=DIM))
    add_corpus(col, corpus_model())
    col.delete(ids=["d1"])
    col.update(ids=["d4"], documents=["Apples everywhere"])
    searches = [bm25(text) for text in QUERIES] + [Search().rank(Rrf([Knn(query="cats"), Knn(query="cats", key=BM25)])).select(K.SCORE)]
    before = col.search(searches)
    again = client_factory(reopen=True).get_collection("reopen", embedding_function=HashingEmbeddingFunction(dim=DIM))
    assert again.search(searches) == before


# ---------------------------------------------------------------------------------- real servers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer.start(tmp_path_factory.mktemp("search-store"))
    try:
        yield running
    finally:
        assert running.stop() == 0, "".join(running.output)


def comparison_searches(vector: list[float], text: str) -> list[Search]:
    """Dense, BM25 and hybrid searches as chromadb code writes them (sparse keys given as strings)."""
    return [
        Search().rank(Knn(query=vector, limit=8)).select(K.SCORE),
        Search().rank(Knn(query=text, key=BM25, limit=20)).select(K.SCORE),
        Search()
        .where(K("year") > 2001)
        .rank(Rrf([Knn(query=vector, return_rank=True, limit=12), Knn(query=text, key=BM25, return_rank=True, limit=12)]))
        .select(K.SCORE),
    ]


def corpus_records() -> dict[str, Any]:
    """The corpus with explicit vectors and years, as ``add`` takes it."""
    vectors = np.random.default_rng(16).standard_normal((len(CORPUS), DIM)).astype(np.float32)
    return {
        "ids": [c[0] for c in CORPUS],
        "embeddings": vectors,
        "documents": [c[3] for c in CORPUS],
        "metadatas": [{"year": c[2]} for c in CORPUS],
    }


def _embedded_answers(queries: list[tuple[list[float], str]]) -> list[Any]:
    with ragstore.EphemeralClient() as client:
        col = client.create_collection("embedded", schema=bm25_schema(), embedding_function=None)
        col.add(**corpus_records())
        return [col.search(comparison_searches(vector, text)) for vector, text in queries]


def _queries() -> list[tuple[list[float], str]]:
    rng = np.random.default_rng(61)
    return [(rng.standard_normal(DIM).astype(np.float32).tolist(), text) for text in ["cats chase", "apples garden", "owls mice"]]


def test_chromadb_http_client_gets_embedded_modes_ids_and_scores(server: RunningServer) -> None:
    import chromadb  # the dev extra pins 1.5.9: its absence must fail this test, not skip it
    from chromadb.config import Settings as ChromaSettings
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction as ChromaBm25

    schema = chromadb.Schema()
    schema.create_index(config=chromadb.SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25()), key=BM25)
    with chromadb_sessions_closed():  # chromadb 1.5.9's close() leaves its sessions open
        theirs = chromadb.HttpClient(host=server.host, port=server.port, settings=ChromaSettings(anonymized_telemetry=False))
        try:
            _compare_chromadb(theirs, chromadb, schema)
        finally:
            theirs.close()


def _compare_chromadb(theirs: Any, chroma: Any, schema: Any) -> None:
    col = theirs.create_collection("chroma-search", schema=schema, embedding_function=None)
    col.add(**corpus_records())
    queries = _queries()
    for (vector, text), embedded in zip(queries, _embedded_answers(queries), strict=True):
        searches = [
            chroma.Search().rank(chroma.Knn(query=vector, limit=8)).select(chroma.K.SCORE),
            chroma.Search().rank(chroma.Knn(query=text, key=BM25, limit=20)).select(chroma.K.SCORE),
            chroma.Search()
            .where(chroma.K("year") > 2001)
            .rank(
                chroma.Rrf(
                    [chroma.Knn(query=vector, return_rank=True, limit=12), chroma.Knn(query=text, key=BM25, return_rank=True, limit=12)]
                )
            )
            .select(chroma.K.SCORE),
        ]
        answer = col.search(searches)
        assert answer["ids"] == embedded["ids"], text
        for got, expected in zip(answer["scores"], embedded["scores"], strict=True):
            assert got == pytest.approx(expected, rel=1e-6), text


def test_async_client_gets_embedded_modes_ids_and_scores(server: RunningServer) -> None:
    queries = _queries()

    async def main() -> list[Any]:
        client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
        try:
            col = await client.create_collection("async-search", schema=bm25_schema(), embedding_function=None)
            await col.add(**corpus_records())
            return [await col.search(comparison_searches(vector, text)) for vector, text in queries]
        finally:
            await client.close()

    assert asyncio.run(main()) == _embedded_answers(queries)


def test_server_refuses_a_malformed_search_body(server: RunningServer) -> None:
    with ragstore.HttpClient(host=server.host, port=server.port) as client:
        col = client.create_collection("raw-search", schema=bm25_schema(), embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0] * DIM], documents=["cats"])
        url = f"http://{server.host}:{server.port}/api/v2/tenants/default_tenant/databases/default_database/collections/{col.id}/search"
        bad = [
            {"rank": {"$knn": {"query": [1.0] * DIM, "limit": -3}}},
            {"rank": {"$bogus": 1}},
            {"filter": {"$or": [{"#id": "a"}, {"n": 1}]}},
        ]
        for body in bad:
            response = httpx.post(url, json={"searches": [body]})
            assert response.status_code == 400 and response.json()["error"] == "InvalidArgumentError", response.text
        ok = httpx.post(url, json={"searches": [{"rank": {"$knn": {"query": "cats", "key": BM25}}, "select": {"keys": ["#score"]}}]})
        assert ok.status_code == 200 and ok.json()["ids"] == [["a"]]
        assert col.count() == 1


def test_an_empty_collection_answers_every_search_with_nothing(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("empty", schema=bm25_schema(), embedding_function=HashingEmbeddingFunction(dim=DIM))
    searches = [
        bm25("cats"),
        bm25("cats").where(K("cat") == "pets"),  # a filter needs the filter columns, which need a dimension
        Search().where(K.ID.is_in(["a"])).rank(Knn(query="cats")),
        Search().where(K("cat") == "pets"),
    ]
    assert col.search(searches)["ids"] == [[], [], [], []]
