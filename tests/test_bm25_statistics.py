"""BM25 with given statistics: the index's own statistics give its own scores, others the formula's, and sums are exact.

A sharded store's shards score BM25 with the collection's statistics (``SparseIndex.search(statistics=...)``);
these tests hold the index to the formula with statistics it did not count itself, on both scoring paths
(MaxScore with positive query weights, exhaustive otherwise), and check that the statistics of two halves
of a corpus add up to the whole's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragstore.local.bm25_statistics import Bm25Statistics
from ragstore.local.sparse_postings import SparseIndex

K1, B = 1.2, 0.75


def corpus(rng: np.random.Generator, n: int, start: int = 0) -> list[dict[int, int]]:
    """``n`` documents as term -> count, over 30 terms, common terms more often."""
    weights = 1.0 / np.arange(1, 31)
    docs = []
    for _ in range(n):
        terms = rng.choice(30, size=int(rng.integers(2, 40)), p=weights / weights.sum())
        docs.append(dict(zip(*np.unique(terms, return_counts=True), strict=True)))
    return docs


def indexed(docs: list[dict[int, int]], first_label: int = 0) -> SparseIndex:
    index = SparseIndex()
    labels = np.arange(first_label, first_label + len(docs), dtype=np.int64)
    counts = np.array([len(d) for d in docs], dtype=np.int64)
    terms = np.concatenate([np.array(sorted(d), dtype=np.uint32) for d in docs])
    weights = np.concatenate([np.array([d[t] for t in sorted(d)], dtype=np.float32) for d in docs])
    lengths = np.array([sum(d.values()) for d in docs], dtype=np.float32)
    index.append(labels, labels.copy(), lengths, counts, terms, weights)
    return index


def reference(docs: list[dict[int, int]], query: dict[int, float], stats: Bm25Statistics) -> dict[int, float]:
    """``1 - BM25`` of every document sharing a term with ``query``, by the textbook formula with ``stats``."""
    avgdl = stats.average_length()
    df = dict(zip(stats.terms, stats.frequencies, strict=True))
    scores = {}
    for label, doc in enumerate(docs):
        shared = [t for t in query if t in doc]
        if shared:
            length = sum(doc.values())
            total = 0.0
            for t in shared:
                idf = math.log1p((stats.documents - df[t] + 0.5) / (df[t] + 0.5))
                total += query[t] * idf * doc[t] * (K1 + 1) / (doc[t] + K1 * (1 - B + B * length / avgdl))
            scores[label] = 1.0 - total
    return scores


@pytest.mark.parametrize("weights", [[1.0, 1.0, 2.0], [1.0, -0.5, 2.0]], ids=["maxscore", "exhaustive"])
def test_given_statistics_score_by_the_formula(weights: list[float]) -> None:
    docs = corpus(np.random.default_rng(1), 300)
    index = indexed(docs)
    query = dict(zip([0, 4, 17], weights, strict=True))
    terms = np.array(list(query), dtype=np.int64)
    own = index.statistics(terms)
    assert own.documents == 300 and own.total_length == sum(sum(d.values()) for d in docs)
    assert list(own.frequencies) == [sum(t in d for d in docs) for t in query]
    other = Bm25Statistics(5_000, 5_000 * 7.5, own.terms, (40, 900, 3))  # as if the store were one shard of a larger one
    for stats, given in ((own, None), (own, own), (other, other)):
        labels, scores = index.search(terms, np.array(weights), k=300, mode="bm25", k1=K1, b=B, statistics=given)
        expected = reference(docs, query, stats)
        assert sorted(labels.tolist()) == sorted(expected)
        np.testing.assert_allclose(scores, [expected[label] for label in labels.tolist()], rtol=1e-5)
        assert np.all(np.diff(scores) >= 0)


def test_the_top_k_with_given_statistics_is_the_top_of_everything() -> None:
    """MaxScore prunes with the given statistics' bounds: its top 10 is the exhaustive ranking's."""
    docs = corpus(np.random.default_rng(2), 2_000)
    index = indexed(docs)
    terms = np.array([1, 2, 9, 25], dtype=np.int64)
    stats = Bm25Statistics(50_000, 50_000 * 30.0, tuple(terms.tolist()), (30_000, 20_000, 900, 12))
    top, _ = index.search(terms, np.ones(4), k=10, statistics=stats)
    expected = reference(docs, dict.fromkeys(terms.tolist(), 1.0), stats)
    assert top.tolist() == sorted(expected, key=lambda label: (expected[label], label))[:10]


def test_statistics_of_parts_add_up_to_the_whole() -> None:
    docs = corpus(np.random.default_rng(3), 400)
    whole, first, second = indexed(docs), indexed(docs[:150]), indexed(docs[150:], first_label=150)
    first.remove([3, 4, 5])
    whole.remove([3, 4, 5])
    terms = np.array([0, 6, 29, 31], dtype=np.int64)  # 31: in no document
    summed = Bm25Statistics.combined([first.statistics(terms), second.statistics(terms)])
    assert summed == whole.statistics(terms)
    assert summed.frequencies[3] == 0
    query, weights = terms[:3], np.array([1.0, 2.0, 1.0])
    parts = [index.search(query, weights, k=400, statistics=summed) for index in (first, second)]
    merged = sorted((float(s), int(label)) for labels, scores in parts for label, s in zip(labels, scores, strict=True))
    labels, scores = whole.search(query, weights, k=400)
    assert [label for _, label in merged] == labels.tolist()
    np.testing.assert_array_equal([s for s, _ in merged], scores)  # the same float operations: bit for bit


def test_combined_refuses_statistics_of_other_terms() -> None:
    with pytest.raises(ValueError, match="different query terms"):
        Bm25Statistics.combined([Bm25Statistics(1, 1.0, (1,), (1,)), Bm25Statistics(1, 1.0, (2,), (1,))])
