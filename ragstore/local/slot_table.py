"""Slots: how the in-memory mirrors of a collection hold their records.

:class:`ragstore.local.columns.RecordColumns` (vectors and metadata) and
:class:`ragstore.local.sparse_postings.SparseIndex` (sparse terms) keep one *slot* per
record in parallel numpy arrays. Records are appended; a removed record's slot dies
(``live`` is cleared) and is reclaimed only when dead slots outnumber live ones, by the
subclass's ``_compact`` (amortised O(1) a removal). Arrays grow in place by a quarter at
least, so appending stays amortised O(1) and never holds two copies of the vectors.

Example:
    >>> import numpy as np
    >>> class Names(SlotTable):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.labels = np.zeros(0, dtype=np.int64)
    ...     def _slot_arrays(self) -> tuple[np.ndarray, ...]:
    ...         return (self.labels, self.live)
    ...     def _compact(self) -> None:
    ...         keep = np.flatnonzero(self.live[: self.size])
    ...         self.labels = self.labels[keep].copy()
    ...         self.live, self.size = np.ones(len(keep), dtype=bool), len(keep)
    >>> names = Names()
    >>> names._grow(3)
    1024
    >>> names.labels[:3], names.live[:3], names.size, names.live_count = [7, 8, 9], True, 3, 3
    >>> names._retire(np.array([1]))
    >>> names.live_count, names.live[:3].tolist()
    (2, [True, False, True])

"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIN_CAPACITY = 1024


def grown_capacity(capacity: int, needed: int) -> int | None:
    """The capacity slot arrays grow to for ``needed`` slots (by a quarter at least); ``None`` if they hold enough already.

    Example:
        >>> grown_capacity(4096, 100), grown_capacity(4096, 4097), grown_capacity(0, 10)
        (None, 5120, 1024)

    """
    return None if needed <= capacity else max(needed, int(capacity * 1.25), MIN_CAPACITY)


class SlotTable:
    """Slot bookkeeping shared by the mirrors: ``size`` slots in use, ``live_count`` of them live (see the module docstring)."""

    def __init__(self) -> None:
        self.size = 0  # slots in use, live or dead
        self.live_count = 0
        self.live: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)

    def _slot_arrays(self) -> tuple[np.ndarray, ...]:
        """Every array indexed by slot (first axis), ``live`` included: they grow together."""
        raise NotImplementedError

    def _compact(self) -> None:
        """Drop the dead slots (the subclass knows what else is indexed by slot)."""
        raise NotImplementedError

    def _grow(self, needed: int) -> int | None:
        """Make room for ``needed`` slots; the new capacity, or ``None`` if there was room.

        ``resize()`` reallocates in place (large blocks are remapped, not copied). No views
        of these arrays outlive a call (callers hold the table's lock), hence ``refcheck=False``.
        """
        capacity = grown_capacity(len(self.live), needed)
        if capacity is not None:
            for array in self._slot_arrays():
                array.resize((capacity, *array.shape[1:]), refcheck=False)
        return capacity

    def _retire(self, slots: npt.NDArray[np.int64]) -> None:
        """Mark live ``slots`` dead; compact once dead slots outnumber live ones (and the minimum capacity)."""
        self.live[slots] = False
        self.live_count -= len(slots)
        if self.size - self.live_count > max(self.live_count, MIN_CAPACITY):
            self._compact()
