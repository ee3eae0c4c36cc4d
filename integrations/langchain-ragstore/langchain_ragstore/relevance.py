"""LangChain relevance scores are ragstore's one relevance score (:mod:`ragstore.relevance`), plus the collection's space.

``similarity_search_with_relevance_scores`` and ``similarity_score_threshold`` show the same number
as ragstore's CLI and chatbot for the same hit: the cosine similarity of query and record, clipped
to [0, 1] (``l2``: ``1 - d / 2``; ``cosine`` and ``ip``: ``1 - d``). 1 is the same direction, 0
unrelated. With ragstore's default model on six Starlette pages (90 chunks), the best hit of a
question they answer scored 0.48-0.72 and that of a junk query 0.10-0.19, in the ``l2`` and ``cosine``
spaces alike, so a ``score_threshold`` of 0.3 separates them (``tests/test_relevance_model.py``);
LangChain's ``1 / (1 + d)``, used here before, gave the same hits 0.49-0.64 against 0.36-0.38. This
module keeps its former public names as thin wrappers of :mod:`ragstore.relevance`.

Example:
    >>> relevance_fn("cosine")(0.0), relevance_fn("cosine")(1.0)
    (1.0, 0.0)
    >>> relevance_fn("l2")(1.0)
    0.5
    >>> relevance_fn("ip")(-3.0)
    1.0

"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ragstore import relevance as one_relevance
from ragstore.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_SPACE",
    "UnknownSpaceError",
    "collection_space",
    "cosine_relevance",
    "inner_product_relevance",
    "relevance_fn",
    "squared_l2_relevance",
]

DEFAULT_SPACE = "l2"
"""The space of a collection whose configuration names none (chromadb's and ragstore's default)."""


class UnknownSpaceError(ValueError):
    """The collection's distance space is not one of ``l2``, ``cosine`` or ``ip``.

    Example:
        >>> relevance_fn("manhattan")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        langchain_ragstore.relevance.UnknownSpaceError: Unknown distance space 'manhattan': ... or pass relevance_score_fn=

    """


def relevance_fn(space: str) -> Callable[[float], float]:
    """:func:`ragstore.relevance.relevance_fn`: the distance-to-relevance function of a ragstore distance space.

    Args:
        space: ``"l2"``, ``"cosine"`` or ``"ip"``.

    Raises:
        UnknownSpaceError: Any other space.

    Example:
        >>> relevance_fn("l2")(0.9065) == one_relevance.relevance(0.9065, "l2")
        True

    """
    try:
        return one_relevance.relevance_fn(space)
    except InvalidArgumentError as exc:
        raise UnknownSpaceError(f"{exc}, or pass relevance_score_fn=") from None


def cosine_relevance(distance: float) -> float:
    """The relevance of a cosine distance ``1 - cos``: ``cos``, clipped to [0, 1].

    Example:
        >>> cosine_relevance(0.25)
        0.75

    """
    return one_relevance.relevance(distance, "cosine")


def inner_product_relevance(distance: float) -> float:
    """The relevance of an inner-product distance ``1 - a . b``: ``a . b``, clipped to [0, 1].

    Example:
        >>> inner_product_relevance(1.5)
        0.0

    """
    return one_relevance.relevance(distance, "ip")


def squared_l2_relevance(distance: float) -> float:
    """The relevance of a squared Euclidean distance: ``1 - d / 2`` (the cosine for unit vectors), clipped to [0, 1].

    Example:
        >>> squared_l2_relevance(0.0), squared_l2_relevance(0.5), squared_l2_relevance(3.0)
        (1.0, 0.75, 0.0)

    """
    return one_relevance.relevance(distance, "l2")


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
