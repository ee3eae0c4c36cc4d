"""A deterministic, dependency-free embedder: hashed words and character trigrams.

It needs no model, so tests and quick prototypes run anywhere and always give
the same vectors; texts that share words land close together. It is not a
semantic model: use it where the test is not about embedding quality.

Example:
    >>> ef = HashingEmbeddingFunction()
    >>> a, b, c = ef(["the cat sat", "the cat sat down", "quantum chromodynamics"])
    >>> float(np.dot(a, b)) > float(np.dot(a, c))
    True

"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import register_embedding_function
from ragstore.embeddings.symmetric import SymmetricEmbeddingFunction

_WORD = re.compile(r"\w+", re.UNICODE)


@register_embedding_function
class HashingEmbeddingFunction(SymmetricEmbeddingFunction):
    """Feature hashing of lower-cased words and character trigrams, L2-normalised.

    Args:
        dim: Output dimension.

    """

    def __init__(self, dim: int = 384) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.dim = dim

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002
        """Embed each text of ``input``."""
        return [self._embed_one(text) for text in input]

    def _embed_one(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.zeros(self.dim, dtype=np.float32)
        lowered = text.lower()
        features = _WORD.findall(lowered)
        features += [lowered[i : i + 3] for i in range(max(len(lowered) - 2, 0))]
        for feature in features or [""]:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    @staticmethod
    def name() -> str:
        """Registry name."""
        return "ragstore_hashing"

    def get_config(self) -> dict[str, Any]:
        """Persisted configuration."""
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbeddingFunction:
        """Rebuild from :meth:`get_config`'s output."""
        return HashingEmbeddingFunction(dim=int(config.get("dim", 384)))

    def default_space(self) -> str:
        """``l2``, chromadb's default; the vectors are unit length, so it ranks like cosine."""
        return "l2"
