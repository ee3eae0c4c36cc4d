"""Immutable posting segments of a sparse index: postings sorted by term, found by binary search.

A :class:`Segment` holds the postings (term, slot, weight) of some records, sorted by
term id, so a term's postings are one contiguous run (found by a binary search in the
segment's vocabulary), in ascending slot order (postings arrive record after record and
the sort is stable; merging keeps it, since older segments hold lower slots). 32-bit ids
(chroma's BM25 hashes, and chroma's own sparse indexes, are 32-bit) are sorted by two
stable ``argsort`` passes over 16-bit digits, which numpy does as radix sorts: linear,
where a comparison sort costs more (12M ids, measured here on a shared machine: 1.0 s
for both passes and their gathers, 1.4-1.8 s for one comparison ``argsort``). They are kept as ``uint32``, so a posting
costs 8 bytes: slot (``int32``) and weight (``float32``), plus 16 bytes per distinct
term (vocabulary, run start, largest weight). Wider ids keep ``int64`` and a comparison sort.

Segments never change: :class:`ragstore.local.sparse_postings.SparseIndex` masks out
dead slots, and :func:`merged` drops their postings.

Example:
    >>> seg = Segment(np.array([7, 70_000, 7]), np.array([0, 0, 1]), np.array([2.0, 1.0, 3.0], dtype=np.float32))
    >>> positions, slots, weights = seg.lookup(np.array([7, 99]))
    >>> positions.tolist(), slots.tolist(), weights.tolist()
    ([0, 0], [0, 1], [2.0, 3.0])

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, cast

import numpy as np
import numpy.typing as npt

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

    __slots__ = ("largest", "slots", "starts", "vocabulary", "weights")

    def __init__(self, terms: npt.ArrayLike, slots: npt.ArrayLike, weights: npt.ArrayLike) -> None:
        ids = _narrowed(np.asarray(terms))
        order = _term_order(ids)
        ordered = ids[order]
        self.slots: Int32s = np.asarray(slots, dtype=np.int32)[order]
        self.weights: Floats = np.asarray(weights, dtype=np.float32)[order]
        firsts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        self.vocabulary: Terms = ordered[np.concatenate(([0], firsts))] if len(ordered) else ordered
        self.starts: Int64s = np.concatenate(([0], firsts, [len(ordered)])).astype(np.int64) if len(ordered) else np.zeros(1, np.int64)
        # Each term's largest weight: BM25's pruning bounds a term's contribution with it.
        self.largest: Floats = np.maximum.reduceat(self.weights, self.starts[:-1]) if len(ordered) else np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def nbytes(self) -> int:
        """Memory held by the segment's arrays."""
        return self.vocabulary.nbytes + self.starts.nbytes + self.largest.nbytes + self.slots.nbytes + self.weights.nbytes

    def postings(self) -> Postings:
        """Every posting, with its term id again (for merging)."""
        return Postings(cast(Terms, np.repeat(self.vocabulary, np.diff(self.starts))), self.slots, self.weights)

    def runs(self, terms: Int64s) -> tuple[Int64s, Int64s]:
        """For the ``terms`` this segment holds: their positions in ``terms``, and their vocabulary entries.

        Entry ``e``'s postings are ``slots[starts[e]:starts[e + 1]]`` (ascending) and the same range of ``weights``.
        """
        if not len(self.vocabulary):
            return _NONE, _NONE
        if self.vocabulary.dtype == np.uint32:  # compare in the vocabulary's type, so it is never converted
            fits = np.flatnonzero((terms >= 0) & (terms < _UINT32_LIMIT))
            query: Terms = terms[fits].astype(np.uint32)
        else:
            fits, query = np.arange(len(terms)), terms
        at = np.minimum(np.searchsorted(self.vocabulary, query), len(self.vocabulary) - 1)
        found = self.vocabulary[at] == query
        return fits[found].astype(np.int64), at[found].astype(np.int64)

    def lookup(self, terms: Int64s) -> Postings:
        """The postings of ``terms`` (distinct ids); ``Postings.terms`` holds each one's position in ``terms``."""
        positions, entries = self.runs(terms)
        if not len(entries):
            return _EMPTY
        first, end = self.starts[entries], self.starts[entries + 1]
        repeated = np.repeat(positions, end - first)
        if len(entries) == 1:
            return Postings(repeated, self.slots[first[0] : end[0]], self.weights[first[0] : end[0]])
        ranges = list(zip(first.tolist(), end.tolist(), strict=True))
        return Postings(
            repeated, np.concatenate([self.slots[a:b] for a, b in ranges]), np.concatenate([self.weights[a:b] for a, b in ranges])
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
_NONE: Int64s = np.zeros(0, np.int64)


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
