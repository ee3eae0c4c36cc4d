"""The base of ragstore's model-backed embedding functions: a query is embedded as a document, in any space.

The sentence encoders (ONNX, torch) and OpenAI-compatible APIs ragstore ships are symmetric:
a query and a document go through the same model, so ``embed_query`` is ``__call__``, and
their vectors may be compared in every space chromadb offers. chromadb's own
``EmbeddingFunction`` base class has the same two defaults; a subclass keeps what differs
(``__call__``, ``name``, ``get_config``, ``build_from_config``, ``default_space``).

Example:
    >>> import numpy as np
    >>> class Ones(SymmetricEmbeddingFunction):
    ...     def __call__(self, input):
    ...         return [np.ones(2, dtype=np.float32) for _ in input]
    >>> Ones().embed_query(["a"])[0].tolist(), Ones().supported_spaces()
    ([1.0, 1.0], ['cosine', 'l2', 'ip'])

"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

ALL_SPACES = ("cosine", "l2", "ip")
"""Every distance a collection can use."""


class SymmetricEmbeddingFunction(abc.ABC):
    """An embedding function whose model embeds queries and documents alike, usable in every space."""

    @abc.abstractmethod
    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002 - chromadb's parameter name
        """Embed each text of ``input``; one float32 vector per text, in order."""

    def embed_query(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002
        """Queries are embedded like documents (the model is symmetric)."""
        return self(input)

    def supported_spaces(self) -> list[str]:
        """All spaces work (with unit-length vectors they rank identically)."""
        return list(ALL_SPACES)
