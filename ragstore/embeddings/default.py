"""The embedding function collections get when the caller names none.

This is the one seam to change when the default becomes the offline
all-MiniLM-L6-v2 model: the engine never names a concrete embedder.
Until then the default is the deterministic :class:`HashingEmbeddingFunction`.

Example:
    >>> ef = default_embedding_function()
    >>> len(ef(["hello"])[0])
    384

"""

from __future__ import annotations

from ragstore.embeddings.hashing import HashingEmbeddingFunction

DefaultEmbeddingFunction = HashingEmbeddingFunction


def default_embedding_function() -> HashingEmbeddingFunction:
    """A new instance of the current default embedding function."""
    return DefaultEmbeddingFunction()
