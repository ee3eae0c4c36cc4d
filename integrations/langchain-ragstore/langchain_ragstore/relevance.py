"""Turn ragstore distances into LangChain relevance scores in [0, 1] (1 = most similar).

ragstore returns, as chromadb does, a *distance* whose meaning depends on the
collection's space:

=========  =================================  ================================  =====================
space      distance ``d``                     relevance                          range of ``d``
=========  =================================  ================================  =====================
``cosine`` ``1 - cos(a, b)``                  ``1 - d / 2`` = ``(1 + cos) / 2``  [0, 2]
``ip``     ``1 - a . b``                      ``1 - d / 2`` = ``(1 + a . b) / 2`` [0, 2] for unit vectors
``l2``     ``|a - b|^2`` (squared Euclidean)  ``1 / (1 + d)``                    [0, inf)
=========  =================================  ================================  =====================

Every mapping is monotone (a smaller distance never gets a lower relevance) and its
result is clamped to [0, 1], so ``similarity_score_threshold`` behaves for every space:

- ``cosine`` is exact and never needs the clamp (beyond float rounding).
- ``ip`` is meant for unit-length vectors, where it equals the cosine mapping; longer
  vectors saturate at 0 or 1 instead of leaving the range.
- ``l2`` is unbounded (and the default space), so it uses ``1 / (1 + d)``, which stays in
  (0, 1] for any vectors; chroma's ``1 - d / sqrt(2)`` goes negative whenever vectors
  are not unit length (LangChain issues #10864, #21599).

Example:
    >>> relevance_fn("cosine")(0.0), relevance_fn("cosine")(2.0)
    (1.0, 0.0)
    >>> relevance_fn("l2")(1.0)
    0.5
    >>> relevance_fn("ip")(-3.0)
    1.0

"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_SPACE = "l2"
"""The space of a collection whose configuration names none (chromadb's and ragstore's default)."""


class UnknownSpaceError(ValueError):
    """The collection's distance space is not one of ``l2``, ``cosine`` or ``ip``.

    Example:
        >>> relevance_fn("manhattan")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        langchain_ragstore.relevance.UnknownSpaceError: Unknown distance space 'manhattan': ...

    """


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def cosine_relevance(distance: float) -> float:
    """Relevance of a cosine distance ``1 - cos``: ``(1 + cos) / 2``.

    Example:
        >>> cosine_relevance(1.0)
        0.5

    """
    return _clamp(1.0 - distance / 2.0)


def inner_product_relevance(distance: float) -> float:
    """Relevance of an inner-product distance ``1 - a . b``: ``(1 + a . b) / 2``, clamped to [0, 1].

    Example:
        >>> inner_product_relevance(0.5)
        0.75

    """
    return _clamp(1.0 - distance / 2.0)


def squared_l2_relevance(distance: float) -> float:
    """Relevance of a squared Euclidean distance: ``1 / (1 + d)``.

    Example:
        >>> squared_l2_relevance(0.0), squared_l2_relevance(3.0)
        (1.0, 0.25)

    """
    return _clamp(1.0 / (1.0 + max(distance, 0.0)))


_BY_SPACE: dict[str, Callable[[float], float]] = {
    "cosine": cosine_relevance,
    "ip": inner_product_relevance,
    "l2": squared_l2_relevance,
}


def relevance_fn(space: str) -> Callable[[float], float]:
    """The distance-to-relevance function for a ragstore distance space.

    Args:
        space: ``"l2"``, ``"cosine"`` or ``"ip"``.

    Raises:
        UnknownSpaceError: Any other space.

    Example:
        >>> relevance_fn("l2") is squared_l2_relevance
        True

    """
    try:
        return _BY_SPACE[space]
    except KeyError:
        raise UnknownSpaceError(
            f"Unknown distance space {space!r}: expected one of 'l2', 'cosine', 'ip', or pass relevance_score_fn="
        ) from None


def collection_space(configuration: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None = None) -> str:
    """The distance space a collection was created with (``hnsw`` or ``spann`` configuration, else legacy metadata).

    Example:
        >>> collection_space({"hnsw": {"space": "cosine"}})
        'cosine'
        >>> collection_space({}, {"hnsw:space": "ip"})
        'ip'
        >>> collection_space(None)
        'l2'

    """
    for section in ("hnsw", "spann"):
        value = (configuration or {}).get(section)
        if isinstance(value, Mapping) and isinstance(value.get("space"), str):
            return str(value["space"])
    legacy = (metadata or {}).get("hnsw:space")
    return legacy if isinstance(legacy, str) else DEFAULT_SPACE
