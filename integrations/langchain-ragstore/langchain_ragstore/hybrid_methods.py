"""The store's hybrid search methods: ``hybrid_search`` (a Search API request), the ``"hybrid"`` retriever and search type.

The one-line form is ``similarity_search(query, mode="hybrid")`` (:class:`~langchain_ragstore.store_methods.StoreMethods`);
this module adds langchain-chroma's ``hybrid_search(search)`` and its async twin (one operation,
:func:`langchain_ragstore.operations.hybrid_search`), ``as_retriever`` returning a
:class:`~langchain_ragstore.retrievers.RagstoreRetriever`, ``search(query, "hybrid")``, and refuses relevance
scores for hybrid and BM25 searches (their scores are not distances in the collection's space).

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore import RagstoreVectorStore
    >>> store = RagstoreVectorStore("hybrid-methods", DeterministicFakeEmbedding(size=4), bm25_index=True)
    >>> _ = store.add_texts(["red apples", "blue sky"], ids=["a", "s"])
    >>> [doc.id for doc in store.search("apples", "bm25")]
    ['a']

"""

from __future__ import annotations

from typing import Any

import ragstore
from langchain_core.documents import Document

from langchain_ragstore import operations
from langchain_ragstore.retrievers import TEXT_SEARCH_TYPES, RagstoreRetriever
from langchain_ragstore.store_methods import DEFAULT_K, StoreMethods


def _dense_only(kwargs: dict[str, Any]) -> None:
    mode = kwargs.get("mode", "dense")
    if mode != "dense":
        raise ValueError(
            f"Relevance scores need mode='dense' (got mode={mode!r}): hybrid and BM25 scores are not distances in the "
            "collection's space. Use similarity_search_with_score for their distances, or rank with search_type='hybrid'."
        )


class HybridMethods(StoreMethods):
    """Hybrid search on top of :class:`~langchain_ragstore.store_methods.StoreMethods`.

    Example:
        >>> from langchain_ragstore import RagstoreVectorStore
        >>> issubclass(RagstoreVectorStore, HybridMethods)
        True

    """

    def hybrid_search(self, search: ragstore.Search) -> list[Document]:
        """Run a Search API request (langchain-chroma's ``hybrid_search``) and return its records as Documents, best first.

        As in langchain-chroma, the first search's records become Documents (records without a
        document are left out); the Search's filter, ranks, limit and selection apply. Unlike it:

        - text queries on ``#embedding`` (``Knn(query="...")``) are embedded with this store's
          LangChain embeddings, so they match the stored vectors; text on the BM25 key
          (``Knn(query="...", key="bm25")``) is tokenised by the collection's BM25 function;
        - a Search that selects nothing returns documents with their metadata, and one that selects
          fields without ``K.DOCUMENT`` gets the document too (otherwise every record would be dropped).

        For hybrid search without expressions use ``similarity_search(query, mode="hybrid")``.

        Args:
            search: A ``ragstore.Search`` (the names of chromadb's Search API, importable from ``ragstore``).

        Raises:
            TypeError: ``search`` is not a ``ragstore.Search``.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragstore import K, Knn, Rrf, Search
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> store = RagstoreVectorStore("hybrid-search", DeterministicFakeEmbedding(size=4), bm25_index=True)
            >>> _ = store.add_texts(["red apples", "blue sky"], metadatas=[{"n": 1}, {"n": 2}], ids=["a", "s"])
            >>> rank = Rrf([Knn(query="apples", return_rank=True), Knn(query="apples", key="bm25", return_rank=True)])
            >>> [(doc.id, doc.metadata) for doc in store.hybrid_search(Search().where(K("n") >= 1).rank(rank).limit(1))]
            [('a', {'n': 1})]

        """
        return self._run(operations.hybrid_search(search, method="hybrid_search"))

    async def ahybrid_search(self, search: ragstore.Search) -> list[Document]:
        """Async :meth:`hybrid_search`: over ``AsyncHttpClient`` for remote stores, in an executor for local ones.

        Example:
            >>> import asyncio
            >>> from ragstore import Knn, Search
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> store = RagstoreVectorStore("ahybrid-search", DeterministicFakeEmbedding(size=4))
            >>> asyncio.run(store.ahybrid_search(Search().rank(Knn(query="anything"))))
            []

        """
        return await self._arun(operations.hybrid_search(search, method="ahybrid_search"))

    def as_retriever(self, **kwargs: Any) -> RagstoreRetriever:
        """LangChain's retriever, with ``search_type="hybrid"`` and ``"bm25"`` besides the standard three.

        ``search_kwargs`` go to the search: ``k``, ``filter``, ``where_document``, ``ids``.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> retriever = RagstoreVectorStore("as-retriever").as_retriever(search_type="hybrid", search_kwargs={"k": 3})
            >>> type(retriever).__name__, retriever.search_kwargs
            ('RagstoreRetriever', {'k': 3})

        """
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return RagstoreRetriever(vectorstore=self, tags=tags, **kwargs)

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """LangChain's ``search``, with ``search_type="hybrid"`` and ``"bm25"`` too.

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> RagstoreVectorStore("search-types", DeterministicFakeEmbedding(size=4), bm25_index=True).search("anything", "hybrid")
            []

        """
        if search_type in TEXT_SEARCH_TYPES:
            return self.similarity_search(query, **(kwargs | {"mode": search_type}))
        return super().search(query, search_type, **kwargs)

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Async :meth:`search`.

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore("asearch-types", bm25_index=True).asearch("anything", "bm25"))
            []

        """
        if search_type in TEXT_SEARCH_TYPES:
            return await self.asimilarity_search(query, **(kwargs | {"mode": search_type}))
        return await super().asearch(query, search_type, **kwargs)

    def _similarity_search_with_relevance_scores(self, query: str, k: int = DEFAULT_K, **kwargs: Any) -> list[tuple[Document, float]]:
        _dense_only(kwargs)
        return super()._similarity_search_with_relevance_scores(query, k, **kwargs)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        _dense_only(kwargs)
        return await super()._asimilarity_search_with_relevance_scores(query, k, **kwargs)
