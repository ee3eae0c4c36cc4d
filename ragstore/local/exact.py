"""Exact nearest neighbours by brute force, with the distances hnswlib defines.

Filtered searches over the in-memory columns (:mod:`ragstore.local.columns`) and the
records the graph cannot reach (:mod:`ragstore.local.orphans`) both use it, so their
answers merge with the index's on the same scale.

Example:
    >>> q = np.array([[0.0, 1.0]], dtype=np.float32)
    >>> exact_search(q, [5], np.array([[0.0, 3.0]], dtype=np.float32), 1, "l2")[1].tolist()
    [[4.0]]

"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def exact_search(
    queries: npt.NDArray[np.float32],
    labels: Sequence[int] | npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    k: int,
    space: str,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Exact ``k`` nearest among ``vectors`` (brute force), distances as the index defines them.

    Example:
        >>> q = np.array([[1.0, 1.0]], dtype=np.float32)
        >>> exact_search(q, [10, 20], np.array([[3, 4], [1, 1]], dtype=np.float32), 2, "l2")[1].tolist()
        [[0.0, 13.0]]

    """
    distances = exact_distances(queries, vectors, space)
    k = min(k, vectors.shape[0])
    label_array = np.asarray(labels, dtype=np.int64)
    if k == 0:
        return np.empty((len(queries), 0), dtype=np.int64), np.empty((len(queries), 0), dtype=np.float32)
    n = vectors.shape[0]
    part = np.argpartition(distances, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(queries), 1))
    part_d = np.take_along_axis(distances, part, axis=1)
    order = np.argsort(part_d, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    return label_array[top], np.take_along_axis(part_d, order, axis=1).astype(np.float32)


def exact_distances(queries: npt.NDArray[np.float32], vectors: npt.NDArray[np.float32], space: str) -> npt.NDArray[np.float64]:
    """Every query's distance to every vector (float64, one row a query), as the index defines distance in ``space``.

    ``l2`` is the squared Euclidean distance, ``ip`` one minus the inner product, ``cosine``
    one minus the cosine similarity, as hnswlib reports them.

    Example:
        >>> exact_distances(np.array([[1.0, 1.0]], dtype=np.float32), np.array([[3, 4], [1, 1]], dtype=np.float32), "l2").tolist()
        [[13.0, 0.0]]

    """
    q = queries.astype(np.float64)
    x = vectors.astype(np.float64)
    dots = q @ x.T
    if space == "l2":
        squared: npt.NDArray[np.float64] = np.maximum((q * q).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * dots, 0.0)
        return squared
    if space == "cosine":
        norms = np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(x, axis=1)[None, :]
        dots = dots / (norms + 1e-30)
    distances: npt.NDArray[np.float64] = 1.0 - dots
    return distances
