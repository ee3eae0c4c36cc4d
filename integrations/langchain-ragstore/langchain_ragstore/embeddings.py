"""Adapters both ways between LangChain ``Embeddings`` and ragstore embedding functions.

- :class:`RagstoreEmbeddings` makes any ragstore embedding function (``DefaultEmbeddingFunction``,
  ``HashingEmbeddingFunction``, ``OpenAICompatibleEmbeddingFunction``, ...) a LangChain ``Embeddings``.
- :class:`LangChainEmbeddingFunction` makes any LangChain ``Embeddings`` a ragstore embedding
  function (chromadb's protocol, :mod:`ragstore.embeddings.base`), to pass as a collection's
  ``embedding_function=``.

Example:
    >>> from ragstore import HashingEmbeddingFunction
    >>> lc = RagstoreEmbeddings(HashingEmbeddingFunction(dim=4))
    >>> len(lc.embed_query("hello"))
    4
    >>> len(LangChainEmbeddingFunction(lc)(["a", "b"]))
    2

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings


class EmbeddingError(ValueError):
    """An embedding function returned something that is not one vector per text."""


def _as_rows(vectors: Any, count: int, who: str) -> list[list[float]]:
    try:
        array = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(f"{who} returned something that is not a list of vectors: {exc}") from exc
    if count == 0 and array.size == 0:
        return []
    if array.ndim != 2 or array.shape[0] != count:
        raise EmbeddingError(f"{who} returned an array of shape {array.shape} for {count} texts; expected ({count}, dimension)")
    return [[float(x) for x in row] for row in array]


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"Expected a list of strings to embed, got {texts!r:.80}")
    return list(texts)


class RagstoreEmbeddings(Embeddings):
    """A ragstore embedding function seen as a LangChain ``Embeddings``.

    Queries use the function's ``embed_query`` when it has one (some models embed
    queries differently from documents), else the function itself.

    Args:
        function: Any object following ragstore's protocol (``function(input=[...])``).

    Example:
        >>> from ragstore import HashingEmbeddingFunction
        >>> emb = RagstoreEmbeddings(HashingEmbeddingFunction(dim=3))
        >>> [len(v) for v in emb.embed_documents(["a", "b"])]
        [3, 3]

    """

    def __init__(self, function: Any) -> None:
        if not callable(function):
            raise TypeError(f"Expected a ragstore embedding function (callable), got {type(function).__name__}")
        self.function = function

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents, one vector per text, in order.

        Example:
            >>> from ragstore import HashingEmbeddingFunction
            >>> RagstoreEmbeddings(HashingEmbeddingFunction(dim=2)).embed_documents([])
            []

        """
        items = _check_texts(texts)
        if not items:
            return []
        return _as_rows(self.function(input=items), len(items), type(self.function).__name__)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query text.

        Example:
            >>> from ragstore import HashingEmbeddingFunction
            >>> len(RagstoreEmbeddings(HashingEmbeddingFunction(dim=5)).embed_query("q"))
            5

        """
        if not isinstance(text, str):
            raise TypeError(f"Expected a query string, got {type(text).__name__}")
        query_fn = getattr(self.function, "embed_query", None)
        vectors = query_fn(input=[text]) if callable(query_fn) else self.function(input=[text])
        return _as_rows(vectors, 1, type(self.function).__name__)[0]

    def __repr__(self) -> str:
        return f"RagstoreEmbeddings({self.function!r})"


class LangChainEmbeddingFunction:
    """A LangChain ``Embeddings`` seen as a ragstore embedding function.

    It follows ragstore's (chromadb's) protocol: ``__call__(input)`` embeds documents,
    ``embed_query(input)`` embeds queries, ``name()`` / ``get_config()`` describe it. A
    collection records the name ``"langchain"`` and the wrapped class, but cannot rebuild
    the LangChain object by itself: pass the function again when you reopen the collection.

    Args:
        embeddings: Any LangChain ``Embeddings``.

    Example:
        >>> import ragstore
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> ef = LangChainEmbeddingFunction(DeterministicFakeEmbedding(size=4))
        >>> col = ragstore.EphemeralClient().create_collection("lc-docs", embedding_function=ef)
        >>> col.add(ids=["a"], documents=["apples"])
        >>> col.query(query_texts=["apples"], n_results=1)["ids"]
        [['a']]

    """

    def __init__(self, embeddings: Embeddings) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(f"Expected a LangChain Embeddings, got {type(embeddings).__name__}")
        self.embeddings = embeddings

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002 - ragstore's parameter name
        """Embed documents with ``embed_documents``.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> LangChainEmbeddingFunction(DeterministicFakeEmbedding(size=2))(["x"])[0].shape
            (2,)

        """
        texts = _check_texts(input)
        rows = _as_rows(self.embeddings.embed_documents(texts), len(texts), type(self.embeddings).__name__)
        return [np.asarray(row, dtype=np.float32) for row in rows]

    def embed_query(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002 - ragstore's parameter name
        """Embed query texts with ``embed_query``, one call per text.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> len(LangChainEmbeddingFunction(DeterministicFakeEmbedding(size=2)).embed_query(["q"]))
            1

        """
        texts = _check_texts(input)
        return [np.asarray(self.embeddings.embed_query(text), dtype=np.float32) for text in texts]

    @staticmethod
    def name() -> str:
        """The name a collection records for this function.

        Example:
            >>> LangChainEmbeddingFunction.name()
            'langchain'

        """
        return "langchain"

    def get_config(self) -> dict[str, Any]:
        """The non-secret description a collection records: the wrapped class.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> LangChainEmbeddingFunction(DeterministicFakeEmbedding(size=2)).get_config()
            {'class': 'langchain_core.embeddings.fake.DeterministicFakeEmbedding'}

        """
        cls = type(self.embeddings)
        return {"class": f"{cls.__module__}.{cls.__qualname__}"}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LangChainEmbeddingFunction:
        """Always raises: a LangChain object cannot be rebuilt from a name; pass it again.

        Example:
            >>> LangChainEmbeddingFunction.build_from_config({"class": "x.Y"})
            Traceback (most recent call last):
            ...
            NotImplementedError: Cannot rebuild the LangChain embeddings x.Y from a collection; pass embedding_function= again

        """
        raise NotImplementedError(
            f"Cannot rebuild the LangChain embeddings {config.get('class')} from a collection; pass embedding_function= again"
        )

    def default_space(self) -> str:
        """``cosine``: LangChain embeddings are not always unit length.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> LangChainEmbeddingFunction(DeterministicFakeEmbedding(size=2)).default_space()
            'cosine'

        """
        return "cosine"

    def __repr__(self) -> str:
        return f"LangChainEmbeddingFunction({self.embeddings!r})"
