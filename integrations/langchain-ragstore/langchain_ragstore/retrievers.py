"""``RagstoreRetriever``: LangChain's vector store retriever with two more search types, ``"hybrid"`` and ``"bm25"``.

``store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "filter": {...}})`` retrieves with
``similarity_search(query, mode="hybrid", k=5, filter={...})``: dense and BM25 results fused
(:mod:`langchain_ragstore.hybrid`). The three standard types behave as in LangChain.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore import RagstoreVectorStore
    >>> store = RagstoreVectorStore("retriever-example", DeterministicFakeEmbedding(size=4), bm25_index=True)
    >>> _ = store.add_texts(["red apples", "blue sky"], ids=["a", "s"])
    >>> [doc.id for doc in store.as_retriever(search_type="bm25").invoke("apples")]
    ['a']

"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStoreRetriever
from typing_extensions import override

TEXT_SEARCH_TYPES = ("hybrid", "bm25")
"""The search types ragstore adds; each is ``similarity_search`` with that ``mode``."""


class RagstoreRetriever(VectorStoreRetriever):
    """A ``VectorStoreRetriever`` that also takes ``search_type="hybrid"`` and ``"bm25"``.

    Example:
        >>> from langchain_ragstore import RagstoreVectorStore
        >>> RagstoreVectorStore("retriever-types").as_retriever(search_type="hybrid").search_type
        'hybrid'

    """

    allowed_search_types: ClassVar[Collection[str]] = (*VectorStoreRetriever.allowed_search_types, *TEXT_SEARCH_TYPES)

    @override
    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any) -> list[Document]:
        if self.search_type in TEXT_SEARCH_TYPES:
            return self.vectorstore.similarity_search(query, **(self.search_kwargs | kwargs | {"mode": self.search_type}))
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    @override
    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type in TEXT_SEARCH_TYPES:
            return await self.vectorstore.asimilarity_search(query, **(self.search_kwargs | kwargs | {"mode": self.search_type}))
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
