"""One relevance score for a hit: the cosine similarity of query and record, clipped to [0, 1].

ragstore returns, as chromadb does, a *distance* whose meaning depends on the collection's
space. Every place that shows or thresholds a relevance (the CLI, the chatbot, LangChain's
``similarity_search_with_relevance_scores``, LlamaIndex's node scores) turns it into the same
number with :func:`relevance`:

=========  =================================  ========================  ===============================
space      distance ``d``                     relevance                  for unit vectors (all of
                                                                        ragstore's embedders return them)
=========  =================================  ========================  ===============================
``l2``     ``|a - b|^2`` (squared Euclidean)  ``1 - d / 2``              ``cos(a, b)``
``cosine`` ``1 - cos(a, b)``                  ``1 - d``                  ``cos(a, b)``
``ip``     ``1 - a . b``                      ``1 - d``                  ``cos(a, b)``
=========  =================================  ========================  ===============================

clipped to [0, 1]. **1** means the same direction (a duplicate, or a query that is the
passage); **0** means unrelated: orthogonal or opposite vectors. Sentence embedders put
unrelated text near 0 and paraphrases above ~0.5: on eight of the shared Starlette pages
with all-MiniLM-L6-v2, six questions the pages answer score 0.51-0.73 for their best hit and
four junk queries 0.11-0.21 (``tests/test_relevance.py``), so a threshold such as 0.3 separates them.

Mappings that keep every distance inside [0, 1] instead (LangChain's ``1 / (1 + d)``, or
``(1 + cos) / 2``) compress that gap: with ``1 / (1 + d)`` the junk query scored 0.37
against 0.43 for the good hit, and no threshold worked. For vectors that are not unit
length, ``l2`` and ``ip`` relevances are not cosines, only monotone in the distance.

Example:
    >>> relevance(0.0, "l2"), relevance(1.0, "l2"), relevance(2.5, "l2")
    (1.0, 0.5, 0.0)
    >>> relevance(0.25, "cosine"), relevance(0.25, "ip")
    (0.75, 0.75)
    >>> relevance_fn("cosine")(1.5)
    0.0

"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError

SPACES = ("l2", "cosine", "ip")
# What a distance is divided by to give 1 - cos(a, b) for unit vectors.
_SCALE = {"l2": 2.0, "cosine": 1.0, "ip": 1.0}


def _scale(space: str) -> float:
    try:
        return _SCALE[space]
    except KeyError:
        raise InvalidArgumentError(f"Unknown distance space {space!r}: expected one of {', '.join(SPACES)}") from None


def relevance(distance: float, space: str) -> float:
    """The relevance in [0, 1] of a hit at ``distance`` in ``space`` (see the module docstring).

    Raises:
        InvalidArgumentError: ``space`` is not ``l2``, ``cosine`` or ``ip``.

    Example:
        >>> relevance(0.9065, "l2")  # doctest: +ELLIPSIS
        0.546...

    """
    return min(1.0, max(0.0, 1.0 - float(distance) / _scale(space)))


def relevance_fn(space: str) -> Callable[[float], float]:
    """:func:`relevance` for one space, as a one-argument function (LangChain's ``relevance_score_fn`` shape).

    Example:
        >>> relevance_fn("l2")(0.0)
        1.0

    """
    scale = _scale(space)
    return lambda distance: min(1.0, max(0.0, 1.0 - float(distance) / scale))


def relevances(distances: npt.ArrayLike, space: str) -> npt.NDArray[np.float64]:
    """:func:`relevance` of many distances at once.

    Example:
        >>> relevances([0.0, 1.0, 3.0], "l2").tolist()
        [1.0, 0.5, 0.0]

    """
    return np.clip(1.0 - np.asarray(distances, dtype=np.float64) / _scale(space), 0.0, 1.0)
