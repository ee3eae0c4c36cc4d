"""chromadb's ``chromadb.utils.embedding_functions``: the embedding functions ragstore has, under chromadb's names.

After ``import ragstore as chromadb``, ``chromadb.utils.embedding_functions.<Name>``
finds the functions ragstore ships:

- chromadb's names: :class:`DefaultEmbeddingFunction`, :class:`ONNXMiniLM_L6_V2`,
  :class:`SentenceTransformerEmbeddingFunction`, :class:`OpenAIEmbeddingFunction`,
  :class:`ChromaBm25EmbeddingFunction`, the :class:`EmbeddingFunction` and
  :class:`SparseEmbeddingFunction` protocols, :func:`register_embedding_function`,
  :func:`register_sparse_embedding_function` and :func:`config_to_embedding_function`;
- ragstore's own: :class:`OpenAICompatibleEmbeddingFunction` (OpenAI, Ollama, vLLM, TEI
  and other ``/v1/embeddings`` servers), :class:`OnnxEmbeddingFunction` and
  :class:`HashingEmbeddingFunction`.

A chromadb function ragstore lacks (``CohereEmbeddingFunction``, ...) raises an
``ImportError`` that names it and lists what ragstore offers, whether it is reached
as an attribute or by ``from ... import``. ImportError rather than AttributeError:
``from m import X`` replaces an AttributeError's message with a bare "cannot import
name", and optional-provider code already guards with ``except ImportError``.

Example:
    >>> import ragstore as chromadb
    >>> chromadb.utils.embedding_functions.ONNXMiniLM_L6_V2().name()
    'onnx_mini_lm_l6_v2'
    >>> try:
    ...     chromadb.utils.embedding_functions.CohereEmbeddingFunction
    ... except ImportError as exc:
    ...     print(str(exc).split(";")[0])
    ragstore has no CohereEmbeddingFunction

"""

from __future__ import annotations

import inspect
from typing import Any

from ragstore.embeddings import (
    ChromaBm25EmbeddingFunction,
    DefaultEmbeddingFunction,
    EmbeddingFunction,
    HashingEmbeddingFunction,
    OnnxEmbeddingFunction,
    OpenAICompatibleEmbeddingFunction,
    SentenceTransformerEmbeddingFunction,
    build_embedding_function,
    register_embedding_function,
    register_sparse_embedding_function,
)
from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import SparseEmbeddingFunction
from ragstore.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from ragstore.utils.embedding_functions.openai_embedding_function import OpenAIEmbeddingFunction

# chromadb 1.5.9's embedding-function names that ragstore does not have (tests/test_chromadb_dropin.py
# checks this list against the installed chromadb, so a name chromadb adds is noticed).
MISSING = (
    "AmazonBedrockEmbeddingFunction",
    "BasetenEmbeddingFunction",
    "Bm25EmbeddingFunction",
    "ChromaCloudQwenEmbeddingFunction",
    "ChromaCloudSpladeEmbeddingFunction",
    "ChromaLangchainEmbeddingFunction",
    "CloudflareWorkersAIEmbeddingFunction",
    "CohereEmbeddingFunction",
    "FastembedSparseEmbeddingFunction",
    "GoogleGeminiEmbeddingFunction",
    "GoogleGenaiEmbeddingFunction",
    "GoogleGenerativeAiEmbeddingFunction",
    "GooglePalmEmbeddingFunction",
    "GoogleVertexEmbeddingFunction",
    "HuggingFaceEmbeddingFunction",
    "HuggingFaceEmbeddingServer",
    "HuggingFaceSparseEmbeddingFunction",
    "InstructorEmbeddingFunction",
    "JinaEmbeddingFunction",
    "JinaQueryConfig",
    "MistralEmbeddingFunction",
    "MorphEmbeddingFunction",
    "NomicEmbeddingFunction",
    "NomicQueryConfig",
    "OllamaEmbeddingFunction",
    "OpenCLIPEmbeddingFunction",
    "PerplexityEmbeddingFunction",
    "RoboflowEmbeddingFunction",
    "Text2VecEmbeddingFunction",
    "TogetherAIEmbeddingFunction",
    "VoyageAIEmbeddingFunction",
    "get_builtins",
    "known_embedding_functions",
    "sparse_known_embedding_functions",
)


def config_to_embedding_function(config: dict[str, Any]) -> Any:
    """Rebuild, as chromadb does, from ``{"name": ..., "config": {...}}``: a registered function, or an error naming the name.

    Raises:
        InvalidArgumentError: no ``name``, or a name nothing registered (also a ``ValueError``, as chromadb raises).

    Example:
        >>> len(config_to_embedding_function({"name": "ragstore_hashing", "config": {"dim": 4}})(["hi"])[0])
        4

    """
    if "name" not in config:
        raise InvalidArgumentError("Config must contain a 'name' field.")
    built = build_embedding_function({"type": "known", "name": config["name"], "config": config.get("config") or {}})
    if built is None:
        raise InvalidArgumentError(f"Unsupported embedding function: {config['name']}")
    return built


def missing_message(name: str) -> str:
    """What to tell someone who reached for chromadb's ``name``: that it is missing, and what ragstore has.

    Example:
        >>> missing_message("OllamaEmbeddingFunction")[:52]
        'ragstore has no OllamaEmbeddingFunction; it offers: '

    """
    return (
        f"ragstore has no {name}; it offers: {', '.join(OFFERED)}. "
        "A service with an OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, vLLM, TEI, ...) works through "
        "OpenAICompatibleEmbeddingFunction(base_url, model), and any object with __call__(input: list[str]) -> vectors "
        "is an embedding function (or pass embeddings= yourself)."
    )


def __getattr__(name: str) -> Any:
    """Names chromadb has and ragstore lacks raise a clear ImportError; any other unknown name is a plain AttributeError."""
    if name in MISSING:
        raise ImportError(missing_message(name), name=__name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ChromaBm25EmbeddingFunction",
    "DefaultEmbeddingFunction",
    "EmbeddingFunction",
    "HashingEmbeddingFunction",
    "ONNXMiniLM_L6_V2",
    "OnnxEmbeddingFunction",
    "OpenAICompatibleEmbeddingFunction",
    "OpenAIEmbeddingFunction",
    "SentenceTransformerEmbeddingFunction",
    "SparseEmbeddingFunction",
    "config_to_embedding_function",
    "register_embedding_function",
    "register_sparse_embedding_function",
]


def _is_function_class(value: object) -> bool:
    """An embedding function one can create and persist (the two protocols are abstract or have no ``build_from_config``)."""
    return isinstance(value, type) and not inspect.isabstract(value) and callable(getattr(value, "build_from_config", None))


# What a missing name's ImportError offers instead: the function classes exported here, read from __all__ so that a
# function added to the module is offered without a second list to keep in step.
OFFERED = tuple(name for name in __all__ if _is_function_class(globals()[name]))
