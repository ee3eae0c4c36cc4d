"""Sentence encoders on ONNX Runtime, built from safetensors weights: no torch, nothing downloaded.

- :mod:`~ragstore.embeddings.onnx.graph`: the BERT graph, written with the ``onnx`` package (float32 or int8);
- :mod:`~ragstore.embeddings.onnx.cache`: the built model kept on disk between processes, checked by digest;
- :mod:`~ragstore.embeddings.onnx.model`: tokenizer + session, batching by length, thread-safe;
- :mod:`~ragstore.embeddings.onnx.function`: :class:`OnnxEmbeddingFunction`, which the default embedding function is.

Example:
    >>> OnnxEmbeddingFunction().get_config()
    {'model_name': 'all-MiniLM-L6-v2', 'precision': 'int8'}

"""

from __future__ import annotations

from ragstore.embeddings.onnx.function import OnnxEmbeddingFunction

__all__ = ["OnnxEmbeddingFunction"]
