"""Live records the HNSW graph cannot lead a search to, searched exactly with every query.

hnswlib leaves a few points with no way in, or in so poorly that a query with the
point's own vector does not find it (see :mod:`ragstore.local.reachability`). The
index first re-links such a point (hnswlib's update of an existing label); the
ones that still cannot be found go here. Every search then also compares the query
with these few vectors exactly and merges the two answers, so no stored record is
beyond similarity search. With no orphans (the usual case) a search pays nothing.

Example:
    >>> import numpy as np
    >>> orphans = Orphans(dim=2)
    >>> orphans.add(np.array([7]), np.array([[5.0, 5.0]], dtype=np.float32))
    >>> graph = (np.array([[1, 2]], dtype=np.uint64), np.array([[2.0, 8.0]], dtype=np.float32))
    >>> labels, distances = orphans.merge(np.array([[4.0, 4.0]], dtype=np.float32), graph, k=2, space="l2", allowed=None)
    >>> labels.tolist(), distances.tolist()
    ([[1, 7]], [[2.0, 2.0]])

"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.local.exact import exact_distances, exact_search

RECORD_PREFIX = "reachability-"  # + the index files' token + ".json"

Labels = npt.NDArray[np.uint64]
Distances = npt.NDArray[np.float32]


class Orphans:
    """A small set of labels with their vectors, searched by brute force.

    The owner (:class:`ragstore.local.index.VectorIndex`) locks around it: changes under
    its exclusive lock, searches under its shared one.

    Args:
        dim: The vectors' dimension.

    """

    def __init__(self, dim: int) -> None:
        self.labels: set[int] = set()
        self._order = np.empty(0, dtype=np.int64)
        self._vectors = np.empty((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, labels: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Search these labels exactly from now on (labels already held are skipped).

        Example:
            >>> orphans = Orphans(dim=1)
            >>> orphans.add(np.array([3, 3]), np.array([[1.0], [1.0]], dtype=np.float32))
            >>> len(orphans)
            1

        """
        for label, vector in zip(labels.tolist(), vectors, strict=True):
            if label not in self.labels:
                self.labels.add(label)
                self._order = np.append(self._order, label)
                self._vectors = np.vstack([self._vectors, vector[None, :]])

    def restore(self, noted: Iterable[int], graph: Any, live: set[int]) -> None:
        """Search exactly again the ``noted`` labels still ``live``, their vectors read from ``graph``.

        Example:
            >>> orphans = Orphans(dim=2)
            >>> orphans.restore([4], graph=None, live={1})  # no longer live: nothing to read
            >>> len(orphans)
            0

        """
        labels = np.array([label for label in noted if label in live], dtype=np.int64)
        if len(labels):
            self.add(labels, np.asarray(graph.get_items(labels), dtype=np.float32).reshape(len(labels), -1))

    def discard(self, labels: Iterable[int]) -> None:
        """Forget these labels (deleted records, or found again by the graph).

        Example:
            >>> orphans = Orphans(dim=1)
            >>> orphans.add(np.array([3]), np.array([[1.0]], dtype=np.float32))
            >>> orphans.discard([3, 4])
            >>> len(orphans)
            0

        """
        gone = self.labels.intersection(labels)
        if gone:
            self.labels -= gone
            keep = ~np.isin(self._order, np.fromiter(gone, dtype=np.int64, count=len(gone)))
            self._order, self._vectors = self._order[keep], self._vectors[keep]

    def count_allowed(self, allowed: set[int] | None) -> int:
        """How many orphans a search limited to ``allowed`` may return.

        Example:
            >>> Orphans(dim=1).count_allowed({1, 2})
            0

        """
        return len(self.labels) if allowed is None else len(self.labels & allowed)

    def merge(
        self,
        queries: npt.NDArray[np.float32],
        found: tuple[Labels, Distances],
        k: int,
        space: str,
        allowed: set[int] | None,
    ) -> tuple[Labels, Distances]:
        """The ``k`` nearest of the graph's answer ``found`` and of the orphans, per query.

        An orphan the graph did return (it may have gained a way in since) is counted once.
        For an example, see the module docstring.
        """
        rows = (
            np.ones(len(self._order), dtype=bool)
            if allowed is None  # else look the few orphans up in the (possibly large) allow-list
            else np.fromiter((label in allowed for label in self._order.tolist()), dtype=bool, count=len(self._order))
        )
        graph_labels, graph_distances = found
        # The usual case: no orphan comes nearer than the graph's k-th answer, so the answer is the
        # graph's. Testing that (the nearest orphan's distance per query) costs ~13 us a single query; the merge
        # below, 60-140 us. The margin keeps float32 rounding of the graph's distances from deciding
        # a near tie (and an orphan the graph returned is within it: its distance is the same).
        if k and graph_distances.shape[1] == k and rows.any():
            nearest = exact_distances(queries, self._vectors if allowed is None else self._vectors[rows], space).min(axis=1)
            kth = graph_distances[:, -1].astype(np.float64)
            if (nearest > kth + 1e-4 * np.abs(kth) + 1e-6).all():
                return found
        own_labels, own_distances = exact_search(queries, self._order[rows], self._vectors[rows], k, space)
        # Orphans come from the exact side only, so none appears twice.
        graph_distances = np.where(np.isin(graph_labels, self._order), np.float32(np.inf), graph_distances)
        labels = np.concatenate([graph_labels.astype(np.int64), own_labels], axis=1)
        distances = np.concatenate([graph_distances, own_distances], axis=1)
        order = np.argsort(distances, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(labels, order, axis=1).astype(np.uint64), np.take_along_axis(distances, order, axis=1)


def write_record(directory: Path, token: str, labels: Iterable[int]) -> None:
    """Note beside the index files named ``token`` that their graph was checked, and its orphans.

    Loading those files then restores the orphans instead of checking the graph again (a
    second of work and a copy of the index in memory on 100k x 384). The note shares the
    files' token, so it is published and cleaned up with them; a note that cannot be written
    is removed, and the next load checks the graph itself.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_record(Path(tmp), "7-1-ab", [5, 3])
        ...     read_record(Path(tmp), "7-1-ab")
        [3, 5]

    """
    path = directory / f"{RECORD_PREFIX}{token}.json"
    try:
        path.write_text(json.dumps(sorted(labels)))
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def read_record(directory: Path, token: str) -> list[int] | None:
    """The orphans noted for the index files named ``token``; ``None`` if there is no sound note.

    Example:
        >>> read_record(Path("/nonexistent"), "7-1-ab") is None
        True

    """
    try:
        labels = json.loads((directory / f"{RECORD_PREFIX}{token}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(labels, list) or not all(isinstance(label, int) and not isinstance(label, bool) for label in labels):
        return None
    return labels
