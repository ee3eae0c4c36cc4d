"""One collection's index as the cache holds it: the graph, where it is saved, and a save that never fails its caller.

Saving (persistent stores, under ``<store>/indexes/<collection id>/``) happens after a
catch-up step that leaves enough changes unsaved (:mod:`ragstore.local.index_steps`) and
at close. The files are only a head start: a lost or bad one is rebuilt from SQLite
(see :mod:`ragstore.local.index_files`), and one saved before a crash is caught up from
SQLite by label, so no record is ever inserted twice.

A save that fails (disk full, read-only index folder) never fails anything: the data is
committed in SQLite already, and the index stays in memory. The failure is logged once
per collection until a save succeeds again, and the next attempt waits for another
``sync_threshold`` changes (or the close), so a full disk is not rewritten on every
step.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from ragstore.configuration import HnswSettings
    >>> index = VectorIndex.empty(dim=2, hnsw=HnswSettings(num_threads=1))
    >>> index.apply(np.array([1]), np.array([[0.0, 1.0]], dtype=np.float32), [])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     entry = CachedIndex(index, Path(tmp) / "c1", "c1")
    ...     entry.save()
    ...     index.unsaved_changes
    0

"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ragstore.local.columns import RecordColumns
from ragstore.local.index import VectorIndex

logger = logging.getLogger("ragstore.local.index_cache")  # the name operators filter on since before the split


class CachedIndex:
    """An index held in memory, with where it is saved, and the collection's columns once built.

    Args:
        index: The collection's graph.
        directory: Its index folder, or ``None`` if it is never saved (in memory, or a read-only store).
        collection_id: The collection's id, as the files name it.

    """

    def __init__(self, index: VectorIndex, directory: Path | None, collection_id: str) -> None:
        self.index = index
        self.directory = directory
        self.collection_id = collection_id
        self.columns: RecordColumns | None = None
        self.columns_lock = threading.Lock()  # builds the columns once, however many threads ask
        # After a failed save: no new attempt before this many unsaved changes (close always tries).
        self.retry_at = 0
        self.failing = False  # the last save failed and was logged; the next success is logged too
        self.failures_lock = threading.Lock()
        # Set (under save_guard) when the collection is deleted: a save running then finishes before
        # the folder is removed, and no later one brings the folder back.
        self.gone = False
        self.save_guard = threading.Lock()

    def save(self, min_changes: int = 0) -> None:
        """Save the index if at least ``min_changes`` changes are unsaved; never raises.

        The caller's write is committed and its query answerable without the files, so a
        failure is logged (once per streak of failures) and retried later instead.
        """
        if self.directory is None:
            return
        with self.save_guard:
            if not self.gone:
                self._save(min_changes)

    def retire(self) -> None:
        """Mark the entry's collection deleted: a save running now finishes first, and none starts after."""
        with self.save_guard:
            self.gone = True

    def _save(self, min_changes: int) -> None:
        assert self.directory is not None
        try:
            self.index.save(self.directory, self.collection_id, min_changes)
        except Exception as exc:  # a cache that fails to save must not fail the caller
            with self.failures_lock:  # two threads failing at once still log once
                self.retry_at = self.index.unsaved_changes + max(min_changes, 1)
                first, self.failing = not self.failing, True
            if first:
                # Paths belong in the server's log (not on the wire), so the operator can act.
                logger.warning(
                    "Could not save the index of collection %s in %s (%s); it stays in memory and the save is retried later",
                    self.collection_id,
                    self.directory,
                    exc,
                    exc_info=not isinstance(exc, OSError),  # an unexpected failure gets its traceback
                )
            return
        with self.failures_lock:
            recovered, self.failing, self.retry_at = self.failing, False, 0
        if recovered:
            logger.info("Saved the index of collection %s again", self.collection_id)
