"""A sparse index in memory: slots, postings in immutable segments sorted by term, and scoring.

:class:`SparseIndex` is the searchable side of one collection key (SQLite, the truth,
and catching up with it are :mod:`ragstore.local.sparse_index`'s business). Records sit
in *slots*, one per (record, label); a record whose terms or label change gets a new
slot and its old one dies. Dead slots are compacted away once they outnumber live ones.

Postings live in a few immutable :class:`Segment` s: each append (a load, or a
catch-up's batch) adds one, and the newest is merged into the one before it once it
reaches half that one's size (or there are more than ``_MAX_SEGMENTS``), so upkeep is
amortised O(batch) and a lookup visits O(log n) segments. Merges drop dead postings.

A segment sorts its postings by term id, so a term's postings are one contiguous run
(found by a binary search in the segment's vocabulary), in slot order. 32-bit ids
(chroma's BM25 hashes, and chroma's own sparse indexes, are 32-bit) are sorted by two
stable ``argsort`` passes over 16-bit digits, which numpy does as radix sorts: linear,
where a comparison sort of 10M ids costs several times as much. They are kept as
``uint32``, so a posting costs 8 bytes: slot (``int32``) and weight (``float32``),
plus a vocabulary entry per distinct term. Wider ids keep ``int64`` and a comparison sort.

Scores follow chroma: ``1 - score``, ascending, as its sparse k-NN reports them.

- ``"bm25"``: weights are term counts and lengths token counts; the score is
  ``sum(q * idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)))`` with
  ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, where ``N``, ``df`` and ``avgdl`` are
  counted over the live records holding the key when the query runs (always current).
- ``"dot"``: the dot product of the query and the stored weights.

A record matches when it shares a term with the query; records without the key never do.

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
from typing import Literal, NamedTuple, cast

import numpy as np
import numpy.typing as npt

from ragstore.local.rwlock import RWLock

Mode = Literal["bm25", "dot"]

_MIN_CAPACITY = 1024
_MAX_SEGMENTS = 8
# The newest segment is merged into the one before it once it reaches this share of its size.
_MERGE_SHARE = 0.5
_UINT32_LIMIT = 1 << 32

Int64s = npt.NDArray[np.int64]
Int32s = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float32]
Terms = npt.NDArray[np.uint32] | Int64s


class Postings(NamedTuple):
    """Flat postings, one entry per (record, term): the input of a segment, and what lookups return."""

    terms: Terms  # the term ids (lookups return the query position instead)
    slots: Int32s
    weights: Floats


class Segment:
    """The postings of some records, sorted by term (see the module docstring).

    Args:
        terms: Term id of each posting (non-negative).
        slots: Slot of each posting's record, ascending (postings come record after record).
        weights: Weight of each posting (a term count for BM25, a value for dot products).

    """

    __slots__ = ("slots", "starts", "vocabulary", "weights")

    def __init__(self, terms: npt.ArrayLike, slots: npt.ArrayLike, weights: npt.ArrayLike) -> None:
        ids = _narrowed(np.asarray(terms))
        order = _term_order(ids)
        ordered = ids[order]
        self.slots: Int32s = np.asarray(slots, dtype=np.int32)[order]
        self.weights: Floats = np.asarray(weights, dtype=np.float32)[order]
        firsts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        self.vocabulary: Terms = ordered[np.concatenate(([0], firsts))] if len(ordered) else ordered
        self.starts: Int64s = np.concatenate(([0], firsts, [len(ordered)])).astype(np.int64) if len(ordered) else np.zeros(1, np.int64)

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def nbytes(self) -> int:
        """Memory held by the segment's arrays."""
        return self.vocabulary.nbytes + self.starts.nbytes + self.slots.nbytes + self.weights.nbytes

    def postings(self) -> Postings:
        """Every posting, with its term id again (for merging)."""
        return Postings(cast(Terms, np.repeat(self.vocabulary, np.diff(self.starts))), self.slots, self.weights)

    def lookup(self, terms: Int64s) -> Postings:
        """The postings of ``terms`` (distinct ids); ``Postings.terms`` holds each one's position in ``terms``."""
        if not len(self.vocabulary):
            return _EMPTY
        if self.vocabulary.dtype == np.uint32:  # compare in the vocabulary's type, so it is never converted
            fits = np.flatnonzero((terms >= 0) & (terms < _UINT32_LIMIT))
            query: Terms = terms[fits].astype(np.uint32)
        else:
            fits, query = np.arange(len(terms)), terms
        at = np.minimum(np.searchsorted(self.vocabulary, query), len(self.vocabulary) - 1)
        found = self.vocabulary[at] == query
        at, fits = at[found], fits[found]
        if not len(at):
            return _EMPTY
        first, end = self.starts[at], self.starts[at + 1]
        positions = np.repeat(fits.astype(np.int64), end - first)
        if len(at) == 1:
            return Postings(positions, self.slots[first[0] : end[0]], self.weights[first[0] : end[0]])
        ranges = list(zip(first.tolist(), end.tolist(), strict=True))
        return Postings(
            positions, np.concatenate([self.slots[a:b] for a, b in ranges]), np.concatenate([self.weights[a:b] for a, b in ranges])
        )


def _narrowed(terms: npt.NDArray[np.integer]) -> Terms:
    """``terms`` as ``uint32`` when they all fit (half the memory, and a two-pass radix sort), else ``int64``."""
    if terms.dtype == np.uint32:
        return cast(Terms, terms)
    wide = terms.astype(np.int64, copy=False)
    if not len(wide) or (int(wide.min()) >= 0 and int(wide.max()) < _UINT32_LIMIT):
        return wide.astype(np.uint32)
    return wide


def _term_order(terms: Terms) -> Int64s:
    """The stable order of ``terms`` (equal terms keep their slot order).

    32-bit ids: two stable passes over 16-bit digits, which numpy sorts by radix (linear);
    a comparison sort of 10M ids costs 5-7x as much. Wider ids: a comparison sort.
    """
    if terms.dtype != np.uint32:
        return np.argsort(terms, kind="stable")
    order = np.argsort((terms & 0xFFFF).astype(np.uint16), kind="stable")
    high = (terms[order] >> 16).astype(np.uint16)
    if high.any():
        order = order[np.argsort(high, kind="stable")]
    return order


_EMPTY: Postings = Postings(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))


def gather(segments: Sequence[Segment], terms: Int64s) -> Postings:
    """The postings of ``terms`` in every segment (positions into ``terms``), concatenated.

    Example:
        >>> a, b = Segment([5], [0], [1.0]), Segment([5, 6], [1, 1], [2.0, 4.0])
        >>> gather([a, b], np.array([5])).slots.tolist()
        [0, 1]

    """
    found = [segment.lookup(terms) for segment in segments]
    found = [f for f in found if len(f.slots)]
    if not found:
        return _EMPTY
    if len(found) == 1:
        return found[0]
    return Postings(*(np.concatenate(column) for column in zip(*found, strict=True)))


def merged(segments: Sequence[Segment], live: npt.NDArray[np.bool_], renumber: Int64s | None = None) -> Segment:
    """One segment with the postings of ``segments`` whose slots are ``live`` (others are dropped).

    ``renumber`` maps old slots to new ones (a compaction), if given.

    Example:
        >>> seg = merged([Segment([5], [0], [1.0]), Segment([5], [1], [2.0])], np.array([False, True]))
        >>> seg.lookup(np.array([5])).slots.tolist()
        [1]

    """
    parts = [segment.postings() for segment in segments]
    terms, slots, weights = (np.concatenate(column) for column in zip(*parts, strict=True))
    keep = live[slots]
    slots = slots[keep]
    return Segment(terms[keep], renumber[slots] if renumber is not None else slots, weights[keep])


class SparseIndex:
    """The slots, postings and statistics of one collection key (see the module docstring).

    Threads: :meth:`search` holds :attr:`lock` shared; catching up holds it exclusively.
    """

    def __init__(self) -> None:
        self.size = 0  # slots in use, live or dead
        self.live_count = 0
        self.total_length = 0.0  # of the live slots: lengths are token counts, so the float sum is exact
        self.labels: Int64s = np.zeros(0, dtype=np.int64)
        self.rowids: Int64s = np.zeros(0, dtype=np.int64)  # insertion order, for ties
        self.lengths: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self.live: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.slot_of: dict[int, int] = {}  # label -> its live slot
        self.segments: list[Segment] = []
        self.applied_seq = 0
        self.lock = RWLock()
        # BM25's per-record length term for the last (k1, b), over all slots; cleared by every change.
        self._norm_cache: tuple[float, float, npt.NDArray[np.float64]] | None = None

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
        self._reserve(start + n)
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
        self.live[dead] = False
        self.live_count -= len(dead)
        self._norm_cache = None
        self.total_length = self.total_length - float(self.lengths[dead].astype(np.float64).sum()) if self.live_count else 0.0
        if self.size - self.live_count > max(self.live_count, _MIN_CAPACITY):
            self._compact()

    def _reserve(self, needed: int) -> None:
        capacity = len(self.live)
        if needed <= capacity:
            return
        capacity = max(needed, int(capacity * 1.25), _MIN_CAPACITY)
        for array in (self.labels, self.rowids, self.lengths, self.live):
            array.resize(capacity, refcheck=False)  # no views outlive a call (callers hold the lock)

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
        self._reserve(max(n, _MIN_CAPACITY))

    # ------------------------------------------------------------------ statistics

    def _norms(self, k1: float, b: float) -> npt.NDArray[np.float64]:
        """``k1 * (1 - b + b * len / avgdl)`` of every slot (O(slots) once per change, not per query)."""
        cached = self._norm_cache
        if cached is None or cached[:2] != (k1, b):
            lengths = self.lengths[: self.size].astype(np.float64)
            cached = self._norm_cache = (k1, b, k1 * (1.0 - b) + (k1 * b / self.average_length()) * lengths)
        return cached[2]

    def average_length(self) -> float:
        """The mean length of the live records (``avgdl``; 1.0 when there are none)."""
        return self.total_length / self.live_count if self.live_count and self.total_length > 0 else 1.0

    def document_frequency(self, terms: npt.ArrayLike) -> Int64s:
        """How many live records hold each of ``terms`` (distinct ids)."""
        with self.lock.read():
            query = np.asarray(terms, dtype=np.int64)
            found = gather(self.segments, query)
            alive = self.live[found.slots]
            return np.bincount(found.terms[alive], minlength=len(query)).astype(np.int64)

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
            allowed: Only these labels may be returned (ascending), if given: a ``where``
                filter, applied before ranking. Statistics still count every live record.

        """
        query = np.asarray(indices, dtype=np.int64)
        weights = np.asarray(values, dtype=np.float64)
        with self.lock.read():
            if k <= 0 or not len(query) or not self.live_count:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            positions, slots, tf = gather(self.segments, query)
            if self.live_count < self.size:  # else every posting is live: skip the check
                alive = self.live[slots]
                positions, slots, tf = positions[alive], slots[alive], tf[alive]
            if mode == "bm25":
                n = self.live_count
                df = np.bincount(positions, minlength=len(query))
                idf = np.log1p((n - df + 0.5) / (df + 0.5))
                contributions = (weights * idf * (k1 + 1.0))[positions] * tf / (tf + self._norms(k1, b)[slots])
            else:
                contributions = weights[positions] * tf
            # BM25 with positive query weights adds only positive amounts: a record was touched iff its sum is not 0.
            positive = mode == "bm25" and bool((weights > 0).all())
            touched, scores = _sum_by_slot(slots, contributions, self.size, positive)
            if allowed is not None:
                ok = _members(self.labels[touched], allowed)
                touched, scores = touched[ok], scores[ok]
            chosen = _top(scores, self.rowids[touched], k)
            return self.labels[touched[chosen]].copy(), (1.0 - scores[chosen]).astype(np.float32)


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
        touched: Int64s = np.flatnonzero(sums).astype(np.int64)
        return touched, sums[touched]
    hit = np.zeros(size, dtype=bool)
    hit[slots] = True
    touched = np.flatnonzero(hit).astype(np.int64)
    return touched, sums[touched]


def _members(labels: Int64s, allowed: Int64s) -> npt.NDArray[np.bool_]:
    """Which of ``labels`` are in the ascending array ``allowed``."""
    if not len(allowed):
        return np.zeros(len(labels), dtype=bool)
    at = np.minimum(np.searchsorted(allowed, labels), len(allowed) - 1)
    return np.asarray(allowed[at] == labels)


def _top(scores: npt.NDArray[np.float64], rowids: Int64s, k: int) -> Int64s:
    """Positions of the ``k`` highest ``scores``, best first; equal scores by ascending ``rowids``."""
    candidates = np.arange(len(scores))
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]  # the k-th highest
        candidates = np.flatnonzero(scores >= kth)  # ties at the boundary all stay, for the tie-break
    order = np.lexsort((rowids[candidates], -scores[candidates]))[:k]
    return candidates[order]
