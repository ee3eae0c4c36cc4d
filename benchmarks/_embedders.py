"""The embedders issue 14 compares, built the same way by every embedding benchmark, and the machine line they print.

- ``torch``: ``SentenceTransformerEmbeddingFunction()``, the default until issue 14 (persisted as
  ``"sentence_transformer"``): all-MiniLM-L6-v2 on sentence-transformers and torch (float32, CPU);
- ``int8``: ``DefaultEmbeddingFunction()``, the default now (``"default"``): the same weights on ONNX Runtime, int8;
- ``fp32``: ``OnnxEmbeddingFunction(precision="fp32")``: ONNX Runtime in float32 (sentence-transformers' vectors exactly).
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships with ragstore; a benchmark never downloads

EMBEDDERS = ("torch", "int8", "fp32")
LABELS = {
    "torch": "sentence-transformers function (torch, today)",
    "int8": "ONNX int8 (DefaultEmbeddingFunction)",
    "fp32": "ONNX fp32",
}


def embedder(kind: str) -> Any:
    """A fresh embedding function of ``kind`` (one of :data:`EMBEDDERS`); its model loads on first use."""
    if kind == "torch":
        from ragstore.embeddings import SentenceTransformerEmbeddingFunction

        return SentenceTransformerEmbeddingFunction()
    if kind == "int8":
        from ragstore import DefaultEmbeddingFunction

        return DefaultEmbeddingFunction()
    if kind == "fp32":
        from ragstore.embeddings import OnnxEmbeddingFunction

        return OnnxEmbeddingFunction(precision="fp32")
    raise ValueError(f"unknown embedder {kind!r}; choose one of {', '.join(EMBEDDERS)}")


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (the architecture where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``"1.02 1.50 2.10"`` (other jobs share the cores)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """One line: date, CPU, cores, the libraries each embedder runs on, and the load average now."""
    import torch

    import ragstore

    return (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), sentence-transformers {version('sentence-transformers')}, "
        f"onnxruntime {version('onnxruntime')}, tokenizers {version('tokenizers')}; ragstore from {Path(ragstore.__file__).parent}; "
        f"load average {load_average()}"
    )
