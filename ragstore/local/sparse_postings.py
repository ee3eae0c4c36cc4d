"""A sparse index in memory: slots, segments of postings, statistics, and scoring.

:class:`SparseIndex` is the searchable side of one collection key (SQLite, the truth,
and catching up with it are :mod:`ragstore.local.sparse_index`'s business). Records sit
in *slots*, one per (record, label); a record whose terms or label change gets a new
slot and its old one dies. Dead slots are compacted away once they outnumber live ones.

Postings live in a few immutable segments (:mod:`ragstore.local.sparse_segments`):
each append (a load, or a catch-up's batch) adds one, and the newest is merged into the
one before it once it reaches half that one's size (or there are more than
``_MAX_SEGMENTS``), so upkeep is amortised O(batch) and a lookup visits O(log n)
segments. Merges drop dead postings.

Scores follow chroma: ``1 - score``, ascending, as its sparse k-NN reports them.

- ``"bm25"``: weights are term counts and lengths token counts; the score is
  ``sum(q * idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)))`` with
  ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, where ``N``, ``df`` and ``avgdl`` are
  counted over the live records holding the key when the query runs (always current), or
  given (:class:`~ragstore.local.bm25_statistics.Bm25Statistics`: a sharded store's sums
  over every shard, so a score does not depend on the shard that holds the record).
- ``"dot"``: the dot product of the query and the stored weights.

A record matches when it shares a term with the query; records without the key never do.
A BM25 query with positive weights skips long posting lists once they can no longer
change the top ``k`` (MaxScore, exact; see :meth:`SparseIndex.search`): on 110,000
SciFact abstracts (10M postings), 8-term top-10 queries prune in 5 of 6 cases and cost
0.36 ms of CPU at the median (0.85 ms at p90), 0.49 ms with a where filter matching half
the records; the exhaustive dot product of the same terms costs 0.42 ms.

Example:
    >>> index = SparseIndex()
    >>> one = np.array([1.0, 2.0, 1.0], dtype=np.float32)
    >>> index.append(np.array([10, 11]), np.array([1, 2]), one[:2], np.array([2, 1]), np.array([3, 5, 5]), one)
    >>> labels, scores = index.search(np.array([5]), np.array([1.0]), k=2, mode="dot")
    >>> labels.tolist(), scores.tolist()
    ([10, 11], [-1.0, 0.0])

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from ragstore.local.bm25_statistics import Bm25Statistics
from ragstore.local.rwlock import RWLock
from ragstore.local.slot_table import MIN_CAPACITY, SlotTable
from ragstore.local.sparse_segments import Floats, Int64s, Segment, Terms, gather, merged

__all__ = ["Mode", "SparseIndex"]

Mode = Literal["bm25", "dot"]

_MAX_SEGMENTS = 8
# The newest segment is merged into the one before it once it reaches this share of its size.
_MERGE_SHARE = 0.5
# BM25 pruning: check whether the rest can be skipped before a posting list longer than
# 1/_CHECK_SHARE of the records (each check is O(records)), at most _MAX_CHECKS times a query.
_CHECK_SHARE = 50
_MAX_CHECKS = 3


class SparseIndex(SlotTable):
    """The slots, postings and statistics of one collection key (see the module docstring).

    Threads: :meth:`search` holds :attr:`lock` shared; catching up holds it exclusively.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total_length = 0.0  # of the live slots: lengths are token counts, so the float sum is exact
        self.labels: Int64s = np.zeros(0, dtype=np.int64)
        self.rowids: Int64s = np.zeros(0, dtype=np.int64)  # insertion order, for ties
        self.lengths: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self.slot_of: dict[int, int] = {}  # label -> its live slot
        self.segments: list[Segment] = []
        self.applied_seq = 0
        self.lock = RWLock()
        # BM25's per-record length term for the last (k1, b, avgdl), over all slots; cleared by every change.
        self._norm_cache: tuple[float, float, float, npt.NDArray[np.float64], float] | None = None

    # ------------------------------------------------------------------ changes

    def append(self, labels: Int64s, rowids: Int64s, lengths: Floats, counts: Int64s, terms: Terms, weights: Floats) -> None:
        """Add records (labels not held) as one new segment.

        Args:
            labels: The records' labels.
            rowids: The records' rowids (insertion order, for ties).
            lengths: The records' lengths (BM25: token counts).
            counts: How many postings each record has; ``terms`` and ``weights`` hold them record after record.
            terms: The term ids, distinct within a record.
            weights: The weights (BM25: term counts).

        """
        n, start = len(labels), self.size
        if not n:
            return
        self._grow(start + n)
        end = start + n
        self.labels[start:end], self.rowids[start:end], self.lengths[start:end] = labels, rowids, lengths
        self.live[start:end] = True
        self.slot_of.update(zip(labels.tolist(), range(start, end), strict=True))
        self.size, self.live_count = end, self.live_count + n
        self.total_length += float(lengths.astype(np.float64).sum())
        self._norm_cache = None
        slots = np.repeat(np.arange(start, end, dtype=np.int32), counts)
        self.segments.append(Segment(terms, slots, weights))
        self._merge_segments()

    def remove(self, labels: Sequence[int]) -> None:
        """Drop the slots of ``labels`` (deleted records, replaced terms or vectors); unknown labels are ignored."""
        slots = [slot for slot in (self.slot_of.pop(int(label), None) for label in labels) if slot is not None]
        if not slots:
            return
        dead = np.array(slots, dtype=np.int64)
        self._norm_cache = None
        remaining = self.live_count - len(dead)
        self.total_length = self.total_length - float(self.lengths[dead].astype(np.float64).sum()) if remaining else 0.0
        self._retire(dead)

    def _slot_arrays(self) -> tuple[np.ndarray, ...]:
        return (self.labels, self.rowids, self.lengths, self.live)

    def _merge_segments(self) -> None:
        """Merge the newest segments while the last is at least half the one before it (or there are too many)."""
        segments = self.segments
        while len(segments) > 1 and (len(segments[-1]) >= _MERGE_SHARE * len(segments[-2]) or len(segments) > _MAX_SEGMENTS):
            last = segments.pop()
            segments[-1] = merged([segments[-1], last], self.live)

    def _compact(self) -> None:
        """Renumber the live slots from 0 and merge all postings into one segment (amortised O(1) per removal)."""
        keep = np.flatnonzero(self.live[: self.size])
        renumber = np.full(self.size, -1, dtype=np.int64)
        renumber[keep] = np.arange(len(keep))
        self.segments = [merged(self.segments, self.live, renumber)]
        n = len(keep)
        for name in ("labels", "rowids", "lengths"):
            setattr(self, name, getattr(self, name)[keep].copy())
        self.live = np.ones(n, dtype=bool)
        self.size = n
        self.slot_of = dict(zip(self.labels.tolist(), range(n), strict=True))
        self._grow(max(n, MIN_CAPACITY))

    # ------------------------------------------------------------------ statistics

    def _length_terms(self, k1: float, b: float, average: float) -> tuple[npt.NDArray[np.float64], float]:
        """``k1 * (1 - b + b * len / avgdl)`` of every slot, and the smallest (O(slots) once per change, not per query).

        A sharded store's shards always search with the collection's ``avgdl``, so the cache holds.
        """
        cached = self._norm_cache
        if cached is None or cached[:3] != (k1, b, average):
            norms = k1 * (1.0 - b) + (k1 * b / average) * self.lengths[: self.size].astype(np.float64)
            cached = self._norm_cache = (k1, b, average, norms, float(norms.min()) if len(norms) else k1 * (1.0 - b))
        return cached[3], cached[4]

    def average_length(self) -> float:
        """The mean length of the live records (``avgdl``; 1.0 when there are none)."""
        return self._own_statistics((), ()).average_length()

    def _own_statistics(self, terms: npt.ArrayLike, frequencies: npt.ArrayLike) -> Bm25Statistics:
        return Bm25Statistics.of(self.live_count, self.total_length, terms, frequencies)

    def statistics(self, terms: npt.ArrayLike) -> Bm25Statistics:
        """This index's BM25 statistics for a query's ``terms`` (distinct ids): what :meth:`search` scores with unless given others."""
        query = np.asarray(terms, dtype=np.int64)
        with self.lock.read():
            found = [(segment, *segment.runs(query)) for segment in self.segments]
            return self._own_statistics(query, self._frequencies(found, len(query)))

    def document_frequency(self, terms: npt.ArrayLike) -> Int64s:
        """How many live records hold each of ``terms`` (distinct ids)."""
        return np.asarray(self.statistics(terms).frequencies, dtype=np.int64)

    def _frequencies(self, found: list[tuple[Segment, Int64s, Int64s]], count: int) -> Int64s:
        """``df`` of each of ``count`` query terms, from their posting runs in each segment (live postings only)."""
        df = np.zeros(count, dtype=np.int64)
        dead = self.live_count < self.size
        for segment, positions, entries in found:
            first, end = segment.starts[entries], segment.starts[entries + 1]
            if dead:
                df[positions] += np.array(
                    [int(self.live[segment.slots[a:z]].sum()) for a, z in zip(first.tolist(), end.tolist(), strict=True)], dtype=np.int64
                )
            else:
                df[positions] += end - first
        return df

    # ------------------------------------------------------------------ search

    def search(
        self,
        indices: npt.ArrayLike,
        values: npt.ArrayLike,
        k: int,
        *,
        mode: Mode = "bm25",
        k1: float = 1.2,
        b: float = 0.75,
        allowed: Int64s | None = None,
        statistics: Bm25Statistics | None = None,
    ) -> tuple[Int64s, npt.NDArray[np.float32]]:
        """The ``k`` best live records for a sparse query: their labels, and ``1 - score`` ascending.

        Equal scores come in insertion order (record ``rowid``).

        Args:
            indices: The query's term ids (distinct, non-negative).
            values: The query's weight for each term.
            k: How many records at most.
            mode: ``"bm25"`` or ``"dot"`` (see the module docstring).
            k1: BM25's term-frequency saturation.
            b: BM25's length normalisation.
            allowed: Only these labels may be returned, if given: a ``where``
                filter, applied before ranking. Statistics still count every live record.
            statistics: BM25's collection statistics for these terms; ``None``: this index's own
                (:meth:`statistics`). A sharded store gives the sum over its shards.

        """
        query = np.asarray(indices, dtype=np.int64)
        weights = np.asarray(values, dtype=np.float64)
        with self.lock.read():
            if k <= 0 or not len(query) or not self.live_count:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            member = None if allowed is None else _Allowed(np.asarray(allowed, dtype=np.int64))
            if mode == "bm25" and bool((weights > 0).all()):
                touched, scores = self._bm25(query, weights, k, k1, b, member, statistics)
                chosen = _top(scores, self.rowids[touched], k)
                return self.labels[touched[chosen]].copy(), (1.0 - scores[chosen]).astype(np.float32)
            positions, slots, tf = gather(self.segments, query)
            if self.live_count < self.size:  # else every posting is live: skip the check
                alive = self.live[slots]
                positions, slots, tf = positions[alive], slots[alive], tf[alive]
            if mode == "bm25":
                if statistics is None:
                    statistics = self._own_statistics(query, np.bincount(positions, minlength=len(query)))
                idf = statistics.idf(statistics.frequencies_of(query))
                norms = self._length_terms(k1, b, statistics.average_length())[0]
                contributions = (weights * idf * (k1 + 1.0))[positions] * tf / (tf + norms[slots])
            else:
                contributions = weights[positions] * tf
            # BM25 with positive query weights adds only positive amounts: a record was touched iff its sum is not 0.
            positive = mode == "bm25" and bool((weights > 0).all())
            touched, scores = _sum_by_slot(slots, contributions, self.size, positive)
            if member is not None:
                ok = member(self.labels[touched])
                touched, scores = touched[ok], scores[ok]
            chosen = _top(scores, self.rowids[touched], k)
            return self.labels[touched[chosen]].copy(), (1.0 - scores[chosen]).astype(np.float32)

    def _bm25(
        self,
        query: Int64s,
        weights: npt.NDArray[np.float64],
        k: int,
        k1: float,
        b: float,
        member: _Allowed | None,
        statistics: Bm25Statistics | None,
    ) -> tuple[Int64s, npt.NDArray[np.float64]]:
        """BM25 of the records that may be in the top ``k`` (candidates and their full scores), pruned as MaxScore does.

        Terms are scored one at a time, rarest first, into a dense array. Before a long
        posting list, the ``k``-th best score so far (``theta``, a lower bound of the
        final one) is compared with what all remaining terms could still add at most
        (each term's bound: its largest weight over the shortest record). Once that sum
        is below ``theta``, no record unseen so far can reach the top ``k``, and only
        seen records that still can are looked up in the remaining lists (binary searches:
        a list's slots ascend). Exact: only records that provably cannot enter are skipped.
        """
        found = [(segment, *segment.runs(query)) for segment in self.segments]
        size, dead = self.size, self.live_count < self.size
        largest = np.zeros(len(query), dtype=np.float64)
        for segment, positions, entries in found:
            largest[positions] = np.maximum(largest[positions], segment.largest[entries])
        if statistics is None:
            statistics = self._own_statistics(query, self._frequencies(found, len(query)))
        df = statistics.frequencies_of(query)
        scale = weights * statistics.idf(df) * (k1 + 1.0)  # a term's contribution is scale * tf / (tf + norm)
        # shortest: the smallest length term, for the largest contribution
        norms, shortest = self._length_terms(k1, b, statistics.average_length())
        bounds = scale * largest / (largest + shortest)
        # Terms in order of the collection's df (the same order on every shard, so sums add up alike); a term
        # this index does not hold has no posting here and is skipped (its bound, with largest 0, is 0).
        order = [int(t) for t in np.argsort(df, kind="stable") if df[t] and largest[t] > 0]
        remaining = np.concatenate((np.cumsum(bounds[order][::-1])[::-1], [0.0]))
        sums = np.zeros(size, dtype=np.float64)
        checks = 0
        for step, term in enumerate(order):
            if step and checks < _MAX_CHECKS and df[term] * _CHECK_SHARE > size:
                checks += 1
                candidates = _candidates(sums, self.labels, member, k, remaining[step])
                if candidates is not None:
                    return candidates, self._finish(found, [*order[step:]], scale, norms, sums, candidates)
            for segment, positions, entries in found:
                hit = np.flatnonzero(positions == term)
                if not len(hit):
                    continue
                entry = int(entries[hit[0]])
                slots = segment.slots[segment.starts[entry] : segment.starts[entry + 1]]
                tf = segment.weights[segment.starts[entry] : segment.starts[entry + 1]]
                if dead:
                    alive = self.live[slots]
                    slots, tf = slots[alive], tf[alive]
                sums[slots] += scale[term] * tf / (tf + norms[slots])  # a record holds a term once: no repeated slots
        touched: Int64s = np.flatnonzero(sums != 0).astype(np.int64)  # every contribution is positive
        if member is not None:
            touched = touched[member(self.labels[touched])]
        return touched, sums[touched]

    def _finish(
        self,
        found: list[tuple[Segment, Int64s, Int64s]],
        terms: list[int],
        scale: npt.NDArray[np.float64],
        norms: npt.NDArray[np.float64],
        sums: npt.NDArray[np.float64],
        candidates: Int64s,
    ) -> npt.NDArray[np.float64]:
        """Add the remaining ``terms`` to the ``candidates``' sums (binary searches in each list); their scores."""
        wanted = candidates.astype(np.int32)
        for term in terms:
            for segment, positions, entries in found:
                hit = np.flatnonzero(positions == term)
                if not len(hit):
                    continue
                entry = int(entries[hit[0]])
                first, end = int(segment.starts[entry]), int(segment.starts[entry + 1])
                slots = segment.slots[first:end]
                at = np.minimum(np.searchsorted(slots, wanted), len(slots) - 1)
                holds = slots[at] == wanted
                tf = segment.weights[first + at[holds]]
                chosen = candidates[holds]
                sums[chosen] += scale[term] * tf / (tf + norms[chosen])
        return sums[candidates]


def _sum_by_slot(
    slots: npt.NDArray[np.int32], contributions: npt.NDArray[np.float64], size: int, positive: bool
) -> tuple[Int64s, npt.NDArray[np.float64]]:
    """The distinct slots among ``slots`` (ascending) and the sum of their contributions.

    Few postings: sort them (O(p log p)); many: add into a dense array over all slots
    (O(size)), where records with a non-zero sum are the touched ones if every
    contribution is ``positive``.
    """
    if len(slots) * 16 < size:
        distinct, inverse = np.unique(slots, return_inverse=True)
        sums: npt.NDArray[np.float64] = np.bincount(inverse, weights=contributions, minlength=len(distinct)).astype(np.float64)
        return distinct.astype(np.int64), sums
    sums = np.bincount(slots, weights=contributions, minlength=size).astype(np.float64)
    if positive:
        touched: Int64s = np.flatnonzero(sums != 0).astype(np.int64)
        return touched, sums[touched]
    hit = np.zeros(size, dtype=bool)
    hit[slots] = True
    touched = np.flatnonzero(hit).astype(np.int64)
    return touched, sums[touched]


def _candidates(sums: npt.NDArray[np.float64], labels: Int64s, member: _Allowed | None, k: int, bound: float) -> Int64s | None:
    """The records that can still reach the top ``k`` when the rest adds at most ``bound``; ``None`` if any record could."""
    seen = np.flatnonzero(sums != 0)  # through a boolean mask: 5x faster than flatnonzero of floats
    if member is not None:
        seen = seen[member(labels[seen])]
    if len(seen) < k:
        return None
    partial = sums[seen]
    theta = float(np.partition(partial, len(seen) - k)[len(seen) - k])  # the k-th best so far: the final one is no lower
    slack = 1e-9 * abs(theta)  # float sums in another order must not tip a tie
    if bound >= theta - slack:
        return None
    return seen[partial + bound >= theta - slack].astype(np.int64)


class _Allowed:
    """Membership in a set of labels (a ``where`` filter's matches), asked several times in one query.

    A bitmap over the label range when that range is compact (at most 64 bytes per label:
    labels are handed out in order, so a collection's usually are), else binary search.
    """

    def __init__(self, labels: Int64s) -> None:
        top = int(labels.max()) + 1 if len(labels) else 0
        self.bitmap: npt.NDArray[np.bool_] | None = None
        self.labels = labels
        if top <= 64 * len(labels) + 65_536:
            self.bitmap = np.zeros(top + 1, dtype=bool)  # one more: labels past the end land on a False
            self.bitmap[labels] = True
        else:
            self.labels = np.sort(labels)

    def __call__(self, labels: Int64s) -> npt.NDArray[np.bool_]:
        if self.bitmap is not None:
            return self.bitmap[np.minimum(labels, len(self.bitmap) - 1)]
        if not len(self.labels):
            return np.zeros(len(labels), dtype=bool)
        at = np.minimum(np.searchsorted(self.labels, labels), len(self.labels) - 1)
        return np.asarray(self.labels[at] == labels)


def _top(scores: npt.NDArray[np.float64], rowids: Int64s, k: int) -> Int64s:
    """Positions of the ``k`` highest ``scores``, best first; equal scores by ascending ``rowids``."""
    candidates = np.arange(len(scores))
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th highest
        candidates = np.flatnonzero(scores >= kth)  # ties at the boundary all stay, for the tie-break
    order = np.lexsort((rowids[candidates], -scores[candidates]))[:k]
    return candidates[order]
