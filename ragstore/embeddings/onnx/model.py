"""A sentence encoder on ONNX Runtime: the model's own tokenizer, batching by length, vectors in input order.

:class:`OnnxSentenceEncoder` is what the default embedding function runs. It
tokenizes with the model's ``tokenizer.json`` (the ``tokenizers`` library, as
sentence-transformers' fast tokenizer does: texts stripped, ``[CLS] ... [SEP]``,
truncated to the model's window of 256 word pieces), sorts the texts by token
count so that a batch pads little, and runs one ONNX Runtime session, shared by
every thread of the process (``InferenceSession.run`` is thread-safe). Neither
torch nor sentence-transformers is imported.

Encoders are loaded once per process per ``(folder, precision)``
(:func:`load_encoder`); the ONNX file comes from :mod:`ragstore.embeddings.onnx.cache`.

Example:
    >>> from ragstore.embeddings.sentence_transformer import packaged_model_path
    >>> encoder = load_encoder(packaged_model_path(), "int8")
    >>> vectors = encoder.encode(["a red apple", "", "an orange"])
    >>> vectors.shape, vectors.dtype.name
    ((3, 384), 'float32')

"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.once import OncePerKey
from ragstore.embeddings.onnx.graph import BertShape

DEFAULT_BATCH_SIZE = 32

_encoders = OncePerKey()  # (resolved folder, precision) -> OnnxSentenceEncoder


def packaged_tokenizer(folder: str | Path, shape: BertShape) -> Any:
    """The model's ``tokenizers.Tokenizer``, truncating to ``shape.max_tokens`` (padding is done per batch here).

    Raises:
        FileNotFoundError: The folder has no ``tokenizer.json``.

    """
    from tokenizers import Tokenizer

    path = Path(folder) / "tokenizer.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the ONNX path needs the model's fast tokenizer file")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=shape.max_tokens)
    return tokenizer


class OnnxSentenceEncoder:
    """One ONNX Runtime session and its tokenizer.

    Args:
        session: An ``onnxruntime.InferenceSession`` of a graph from :func:`~ragstore.embeddings.onnx.graph.build_graph`.
        tokenizer: The model's tokenizer (see :func:`packaged_tokenizer`).
        shape: The model's hyper-parameters.
        pad_id: The ``[PAD]`` token id.

    """

    def __init__(self, session: Any, tokenizer: Any, shape: BertShape, pad_id: int = 0) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.shape = shape
        self.pad_id = pad_id

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return self.shape.hidden

    def encode(self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> npt.NDArray[np.float32]:
        """One float32 row per text, in the order of ``texts``.

        Example:
            >>> from ragstore.embeddings.sentence_transformer import packaged_model_path
            >>> encoder = load_encoder(packaged_model_path(), "int8")
            >>> a, b = encoder.encode(["short", "a much longer text " * 50])
            >>> float(a @ encoder.encode(["short"])[0]) > 0.99  # alone or beside a long text: nearly the same vector
            True

        """
        out = np.empty((len(texts), self.shape.hidden), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers strips each text before tokenizing; so do we, for the same word pieces.
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")  # longest first: a batch pads to its own longest text only
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = pad([encodings[row].ids for row in rows], self.pad_id)
            out[rows] = self.session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return out


def pad(token_lists: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(input_ids, attention_mask)`` of token lists padded on the right to the longest.

    Example:
        >>> ids, mask = pad([[101, 7, 102], [101, 102]])
        >>> ids.tolist(), mask.tolist()
        ([[101, 7, 102], [101, 102, 0]], [[1, 1, 1], [1, 1, 0]])

    """
    width = max((len(tokens) for tokens in token_lists), default=0)
    ids = np.full((len(token_lists), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(token_lists), width), dtype=np.int64)
    for slot, tokens in enumerate(token_lists):
        ids[slot, : len(tokens)] = tokens
        mask[slot, : len(tokens)] = 1
    return ids, mask


def session_options() -> Any:
    """Session options: all graph optimisations, one intra-op thread per core."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about shape merging are noise for this graph
    # Pool threads keep spinning briefly between operators (ONNX Runtime's default): 6% more abstracts/s
    # than with spinning off (76.0 vs 71.4 here); the ingest pipeline's other stages need little CPU.
    return options


def load_encoder(folder: str | Path, precision: str) -> OnnxSentenceEncoder:
    """The process-wide encoder of the model in ``folder`` at ``precision``; built or read from the cache on first use.

    Thread-safe: concurrent first callers wait for one load and share it.

    Raises:
        ImportError: onnxruntime, onnx or tokenizers is missing (the message names the extra).
        ValueError: The folder holds no model the ONNX builder can write.

    """
    resolved = Path(folder).resolve()
    encoder: OnnxSentenceEncoder = _encoders.get((str(resolved), precision), lambda: _load(resolved, precision))
    return encoder


def _load(folder: Path, precision: str) -> OnnxSentenceEncoder:
    from ragstore.embeddings.onnx.cache import model_bytes

    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError('The ONNX embedder needs onnxruntime. Install it with: pip install "ragstore[embeddings]"') from exc
    shape = BertShape.from_folder(folder)
    tokenizer = packaged_tokenizer(folder, shape)
    pad_id = tokenizer.token_to_id("[PAD]")
    session = onnxruntime.InferenceSession(model_bytes(folder, shape, precision), session_options(), providers=["CPUExecutionProvider"])
    return OnnxSentenceEncoder(session, tokenizer, shape, pad_id=0 if pad_id is None else int(pad_id))


def loaded_encoders() -> list[tuple[str, str]]:
    """The ``(folder, precision)`` pairs loaded in this process so far.

    Example:
        >>> isinstance(loaded_encoders(), list)
        True

    """
    return _encoders.built()
