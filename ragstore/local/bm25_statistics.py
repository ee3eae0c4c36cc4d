"""BM25's collection statistics for one query: what a record's score depends on besides the record itself.

A BM25 score (:mod:`ragstore.local.sparse_postings`) uses three numbers of the whole collection:
``N``, the live records holding the key; their total length (``avgdl = total / N``); and, per
query term, ``df``, how many of them hold it. A store computes them from its own index. A sharded
store cannot: each shard sees only its part, and a shard's own statistics would make a record's
score depend on where it lives. So the router asks every shard for its :class:`Bm25Statistics` of
the query's terms, adds them up (:meth:`Bm25Statistics.combined`: every number is a count, so the
sum is the collection's, exactly), and hands the sum to each shard's search. One rule set: a store
searching on its own computes the same object through the same code and scores with it.

Example:
    >>> a = Bm25Statistics(documents=3, total_length=12.0, terms=(7, 9), frequencies=(1, 0))
    >>> b = Bm25Statistics(documents=1, total_length=4.0, terms=(7, 9), frequencies=(1, 1))
    >>> both = Bm25Statistics.combined([a, b])
    >>> both.documents, both.average_length(), both.frequencies_of([9, 7, 5]).tolist()
    (4, 4.0, [1, 2, 0])

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Bm25Statistics"]


@dataclass(frozen=True)
class Bm25Statistics:
    """The collection-wide numbers BM25 needs for one query's terms.

    Attributes:
        documents: Live records holding the key (``N``).
        total_length: The sum of their lengths (token counts: the float sum is exact).
        terms: The query's term ids.
        frequencies: Per term of ``terms``, how many of the ``documents`` hold it (``df``).

    """

    documents: int
    total_length: float
    terms: tuple[int, ...]
    frequencies: tuple[int, ...]

    @staticmethod
    def of(documents: int, total_length: float, terms: npt.ArrayLike, frequencies: npt.ArrayLike) -> Bm25Statistics:
        """Statistics from arrays (numpy integers become Python ones, so the object pickles small and compares plainly).

        Example:
            >>> Bm25Statistics.of(2, 5.0, np.array([3]), np.array([1])).frequencies
            (1,)

        """
        return Bm25Statistics(
            int(documents),
            float(total_length),
            tuple(int(t) for t in np.asarray(terms).tolist()),
            tuple(int(f) for f in np.asarray(frequencies).tolist()),
        )

    @staticmethod
    def combined(parts: Sequence[Bm25Statistics]) -> Bm25Statistics:
        """The statistics of a collection whose shards report ``parts`` (for the same query terms).

        Raises:
            ValueError: no parts, or parts about different terms (shards tokenised the query differently).

        Example:
            >>> one = Bm25Statistics(2, 6.0, (1,), (1,))
            >>> Bm25Statistics.combined([one, one]).frequencies
            (2,)

        """
        if not parts:
            raise ValueError("No statistics to combine")
        terms = parts[0].terms
        if any(part.terms != terms for part in parts):
            raise ValueError("Shards reported statistics for different query terms")
        documents = sum(part.documents for part in parts)
        total = float(sum(part.total_length for part in parts))
        return Bm25Statistics(documents, total, terms, tuple(int(f) for f in np.sum([p.frequencies for p in parts], axis=0).tolist()))

    def average_length(self) -> float:
        """``avgdl``: the mean length of the records (1.0 when there are none).

        Example:
            >>> Bm25Statistics(0, 0.0, (), ()).average_length()
            1.0

        """
        return self.total_length / self.documents if self.documents and self.total_length > 0 else 1.0

    def frequencies_of(self, terms: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """``df`` of each of ``terms`` (0 for a term these statistics do not name).

        Example:
            >>> Bm25Statistics(5, 9.0, (4, 8), (2, 3)).frequencies_of([8, 1]).tolist()
            [3, 0]

        """
        known = dict(zip(self.terms, self.frequencies, strict=True))
        return np.array([known.get(int(t), 0) for t in np.asarray(terms).reshape(-1).tolist()], dtype=np.int64)

    def idf(self, frequencies: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """BM25's inverse document frequency ``ln(1 + (N - df + 0.5) / (df + 0.5))`` of each ``df``.

        Example:
            >>> round(float(Bm25Statistics(10, 1.0, (), ()).idf(np.array([1]))[0]), 4)
            1.9924

        """
        idf: npt.NDArray[np.float64] = np.log1p((self.documents - frequencies + 0.5) / (frequencies + 0.5))
        return idf
