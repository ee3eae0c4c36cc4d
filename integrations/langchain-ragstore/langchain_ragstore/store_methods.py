"""LangChain's ``VectorStore`` methods for records (writes, reads, similarity, relevance scores, MMR), each pair one operation.

Similarity searches take ``mode="hybrid"`` / ``"bm25"`` too (:mod:`langchain_ragstore.hybrid`).

Each sync method and its ``a*`` twin run the same operation (:mod:`langchain_ragstore.operations`);
:class:`~langchain_ragstore.RagstoreVectorStore` supplies the two drivers (:meth:`StoreMethods._run`,
:meth:`StoreMethods._arun`) and everything about where the records live.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore import RagstoreVectorStore
    >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
    >>> _ = store.add_texts(["foo", "bar"], ids=["f", "b"])
    >>> [doc.id for doc in store.max_marginal_relevance_search("foo", k=1, fetch_k=2)]
    ['f']

"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore

from langchain_ragstore import operations
from langchain_ragstore.driving import Operation

T = TypeVar("T")
DEFAULT_K = 4


def _relevant(
    pairs: list[tuple[Document, float]], fn: Callable[[float], float], score_threshold: float | None
) -> list[tuple[Document, float]]:
    scored = [(doc, fn(distance)) for doc, distance in pairs]
    return [pair for pair in scored if score_threshold is None or pair[1] >= score_threshold]


class StoreMethods(VectorStore):
    """LangChain's record methods, each sync/async pair one operation; a subclass runs the operations.

    Example:
        >>> from langchain_ragstore import RagstoreVectorStore
        >>> issubclass(RagstoreVectorStore, StoreMethods)
        True

    """

    @abc.abstractmethod
    def _run(self, operation: Operation[T]) -> T:
        """Run ``operation`` with the sync driver."""

    @abc.abstractmethod
    async def _arun(self, operation: Operation[T]) -> T:
        """Run ``operation`` with the async driver (or the sync one in an executor)."""

    @abc.abstractmethod
    async def _learn_space(self) -> None:
        """Read the collection's distance space without a sync client, so :meth:`_select_relevance_score_fn` has it."""

    # ------------------------------------------------------------------ writes

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store texts; an existing id is replaced (text, metadata and vector).

        Writes are split at the client's ``get_max_batch_size()``; each batch is one atomic upsert.
        ``None`` metadata values are not stored.

        Args:
            texts: The texts.
            metadatas: One metadata dict per text.
            ids: One id per text (``None`` entries get a uuid4).
            **kwargs: Not accepted (a ``TypeError`` names them).

        Returns:
            The ids, in input order.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> store.add_texts(["one"], ids=["x"]), store.add_texts(["uno"], ids=["x"])
            (['x'], ['x'])
            >>> store.get_by_ids(["x"])[0].page_content
            'uno'

        """
        return self._run(operations.add_texts(texts, metadatas, ids, kwargs, method="add_texts"))

    async def aadd_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Async :meth:`add_texts`: over ``AsyncHttpClient`` for remote stores, in an executor for local ones.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> asyncio.run(store.aadd_texts(["one"], ids=["x"]))
            ['x']

        """
        return await self._arun(operations.add_texts(texts, metadatas, ids, kwargs, method="aadd_texts"))

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete by ids and/or filter (``filter=``, ``where_document=``); with neither, delete every record.

        Missing ids are not an error. Returns ``True``.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> _ = store.add_texts(["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
            >>> store.delete(filter={"n": 1}), store.collection.count()
            (True, 1)
            >>> store.delete(), store.collection.count()
            (True, 0)

        """
        return self._run(operations.delete(ids, kwargs, method="delete"))

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Async :meth:`delete`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().adelete(["missing"]))
            True

        """
        return await self._arun(operations.delete(ids, kwargs, method="adelete"))

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids (missing ids are left out), each with ``id`` set.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().get_by_ids(["nothing"])
            []

        """
        return self._run(operations.get_by_ids(ids))

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().aget_by_ids([]))
            []

        """
        return await self._arun(operations.get_by_ids(ids))

    # ------------------------------------------------------------------ searches

    def similarity_search_by_vector_with_score(
        self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents to a vector with their ragstore distances (lower is nearer).

        Args:
            embedding: The query vector.
            k: How many documents.
            **kwargs: ``filter`` (a ragstore ``where``; several keys mean ``$and``),
                ``where_document``, ``ids`` (only among these ids).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().similarity_search_by_vector_with_score([0.1, 0.2], k=2)
            []

        """
        return self._run(operations.similarity(embedding, k, kwargs, method="similarity_search"))

    async def asimilarity_search_by_vector_with_score(
        self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_by_vector_with_score`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector_with_score([0.5]))
            []

        """
        return await self._arun(operations.similarity(embedding, k, kwargs, method="asimilarity_search"))

    def similarity_search_by_vector(self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """The ``k`` nearest documents to a vector (filters as in :meth:`similarity_search_by_vector_with_score`).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().similarity_search_by_vector([1.0])
            []

        """
        return [doc for doc, _ in self.similarity_search_by_vector_with_score(embedding, k, **kwargs)]

    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector([1.0]))
            []

        """
        return [doc for doc, _ in await self.asimilarity_search_by_vector_with_score(embedding, k, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[tuple[Document, float]]:
        """The ``k`` best documents for a query text with their distances (lower is better).

        ``mode="hybrid"`` fuses dense and BM25 results (distances are the negated fused score, about -2 to 0);
        ``mode="bm25"`` ranks by BM25 alone (distance ``1 - score``). Both need ``bm25_index=True``.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> _ = store.add_texts(["foo"], ids=["f"])
            >>> store.similarity_search_with_score("foo", k=1)[0][1]
            0.0

        """
        return self._run(operations.similarity(query, k, kwargs, method="similarity_search"))

    async def asimilarity_search_with_score(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> asyncio.run(store.asimilarity_search_with_score("foo"))
            []

        """
        return await self._arun(operations.similarity(query, k, kwargs, method="asimilarity_search"))

    def similarity_search(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """The ``k`` nearest documents to a query text.

        Args:
            query: The query text.
            k: How many documents.
            **kwargs: ``filter``, ``where_document``, ``ids`` (see :meth:`similarity_search_by_vector_with_score`), and
                ``mode``: ``"dense"`` (default), ``"hybrid"`` (dense and BM25 fused by DBSF) or ``"bm25"``
                (both need the collection's BM25 index: ``bm25_index=True``; else ``MissingBm25IndexError``).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).similarity_search("foo")
            []

        """
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[Document]:
        """Async :meth:`similarity_search`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> asyncio.run(RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).asimilarity_search("foo"))
            []

        """
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, **kwargs)]

    # ------------------------------------------------------------------ relevance

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        await self._learn_space()
        return await super()._asimilarity_search_with_relevance_scores(query, k, **kwargs)

    def similarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = DEFAULT_K, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents to a vector with relevance scores in [0, 1] (not raw distances, unlike chroma).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().similarity_search_by_vector_with_relevance_scores([1.0], score_threshold=0.5)
            []

        """
        pairs = self.similarity_search_by_vector_with_score(embedding, k, **kwargs)
        return _relevant(pairs, self._select_relevance_score_fn(), score_threshold)

    async def asimilarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = DEFAULT_K, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_by_vector_with_relevance_scores`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().asimilarity_search_by_vector_with_relevance_scores([1.0]))
            []

        """
        pairs = await self.asimilarity_search_by_vector_with_score(embedding, k, **kwargs)
        await self._learn_space()
        return _relevant(pairs, self._select_relevance_score_fn(), score_threshold)

    # ------------------------------------------------------------------ maximal marginal relevance

    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` nearest, chosen for relevance and diversity.

        Uses the stored vectors (fetched with the candidates) and LangChain's ``maximal_marginal_relevance``.

        Args:
            embedding: The query vector.
            k: How many documents to return.
            fetch_k: How many nearest candidates to choose from.
            lambda_mult: 1 = relevance only, 0 = diversity only.
            **kwargs: ``filter``, ``where_document``, ``ids``.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().max_marginal_relevance_search_by_vector([1.0, 0.0])
            []

        """
        return self._run(
            operations.max_marginal_relevance(embedding, k, fetch_k, lambda_mult, kwargs, method="max_marginal_relevance_search")
        )

    async def amax_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().amax_marginal_relevance_search_by_vector([1.0]))
            []

        """
        operation = operations.max_marginal_relevance(embedding, k, fetch_k, lambda_mult, kwargs, method="amax_marginal_relevance_search")
        return await self._arun(operation)

    def max_marginal_relevance_search(
        self, query: str, k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search_by_vector` for a query text.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).max_marginal_relevance_search("q")
            []

        """
        return self._run(operations.max_marginal_relevance(query, k, fetch_k, lambda_mult, kwargs, method="max_marginal_relevance_search"))

    async def amax_marginal_relevance_search(
        self, query: str, k: int = DEFAULT_K, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> asyncio.run(RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4)).amax_marginal_relevance_search("q"))
            []

        """
        operation = operations.max_marginal_relevance(query, k, fetch_k, lambda_mult, kwargs, method="amax_marginal_relevance_search")
        return await self._arun(operation)
