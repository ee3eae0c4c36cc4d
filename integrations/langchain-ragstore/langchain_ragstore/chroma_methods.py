"""The methods langchain-chroma's ``Chroma`` has beyond LangChain's ``VectorStore``: updates, and its image methods.

``update_document`` / ``update_documents`` re-embed documents and write them over stored records,
keeping their ids (one operation, :func:`langchain_ragstore.operations.update_documents`, with
``a*`` twins). The image methods (``add_images``, ``similarity_search_by_image``,
``similarity_search_by_image_with_relevance_score``) raise ``NotImplementedError``: ragstore has no
multimodal embedding function, so an image could only be stored as base64 text no query would find.

Example:
    >>> from langchain_core.documents import Document
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from langchain_ragstore import RagstoreVectorStore
    >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
    >>> store.add_texts(["old text"], metadatas=[{"v": 1}], ids=["n1"])
    ['n1']
    >>> store.update_document("n1", Document(page_content="new text", metadata={"v": 2}))
    >>> store.get_by_ids(["n1"])
    [Document(id='n1', metadata={'v': 2}, page_content='new text')]

"""

from __future__ import annotations

from typing import Any, NoReturn

from langchain_core.documents import Document

from langchain_ragstore import operations
from langchain_ragstore.store_methods import DEFAULT_K, StoreMethods

NO_IMAGES = (
    "ragstore has no multimodal (image) embedding function, so {method}() is not supported. "
    "Store a caption or the extracted text of each image with add_texts (its path in the metadata) and search that."
)


def _no_images(method: str) -> NoReturn:
    raise NotImplementedError(NO_IMAGES.format(method=method))


class ChromaMethods(StoreMethods):
    """langchain-chroma's extra methods on top of :class:`~langchain_ragstore.store_methods.StoreMethods`.

    Example:
        >>> from langchain_ragstore import RagstoreVectorStore
        >>> issubclass(RagstoreVectorStore, ChromaMethods)
        True

    """

    def update_document(self, document_id: str, document: Document) -> None:
        """Re-embed ``document`` and write it over the stored record ``document_id`` (:meth:`update_documents`).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> store.update_document("nope", Document(page_content="x"))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            langchain_ragstore.records.InvalidRecordsError: update_document() got ids that are not in the collection: 'nope'; ...

        """
        self._run(operations.update_documents([document_id], [document], method="update_document"))

    def update_documents(self, ids: list[str], documents: list[Document]) -> None:
        """Re-embed ``documents`` and write each over the stored record with the same position's id.

        The text, metadata (replaced, as by ``add_documents``) and vector change; the id stays. Writes are
        split at the client's batch limit, like ``add_texts``.

        Args:
            ids: The ids of stored records, one per document.
            documents: The new documents (``Document.id`` is not read: ``ids`` say which records change).

        Raises:
            InvalidRecordsError: ``ids`` and ``documents`` differ in length, an id repeats, or an id is not
                stored (checked before any write, so nothing changes; chroma skips unknown ids silently).

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> store.add_texts(["a", "b"], ids=["1", "2"])
            ['1', '2']
            >>> store.update_documents(["1", "2"], [Document(page_content="A"), Document(page_content="B")])
            >>> [doc.page_content for doc in store.get_by_ids(["1", "2"])]
            ['A', 'B']

        """
        self._run(operations.update_documents(ids, documents, method="update_documents"))

    async def aupdate_document(self, document_id: str, document: Document) -> None:
        """Async :meth:`update_document`.

        Example:
            >>> import asyncio
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> store = RagstoreVectorStore(embedding_function=DeterministicFakeEmbedding(size=4))
            >>> _ = store.add_texts(["a"], ids=["1"])
            >>> asyncio.run(store.aupdate_document("1", Document(page_content="A")))
            >>> store.get_by_ids(["1"])[0].page_content
            'A'

        """
        await self._arun(operations.update_documents([document_id], [document], method="aupdate_document"))

    async def aupdate_documents(self, ids: list[str], documents: list[Document]) -> None:
        """Async :meth:`update_documents` (over ``AsyncHttpClient`` for remote stores).

        Example:
            >>> import asyncio
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> asyncio.run(RagstoreVectorStore().aupdate_documents([], []))

        """
        await self._arun(operations.update_documents(ids, documents, method="aupdate_documents"))

    # ------------------------------------------------------------------ images (no multimodal embeddings)

    def add_images(self, uris: list[str], metadatas: list[dict[str, Any]] | None = None, ids: list[str] | None = None) -> list[str]:
        """Not supported: ragstore has no multimodal embedding function (``NotImplementedError``).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().add_images(["cat.png"])  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            NotImplementedError: ragstore has no multimodal (image) embedding function, so add_images() is not supported. ...

        """
        _no_images("add_images")

    def similarity_search_by_image(
        self,
        uri: str,
        k: int = DEFAULT_K,
        filter: dict[str, Any] | None = None,  # noqa: A002 - langchain-chroma's parameter name
        **kwargs: Any,
    ) -> list[Document]:
        """Not supported: ragstore has no multimodal embedding function (``NotImplementedError``).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().similarity_search_by_image("cat.png")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            NotImplementedError: ragstore has no multimodal (image) embedding function, so similarity_search_by_image() ...

        """
        _no_images("similarity_search_by_image")

    def similarity_search_by_image_with_relevance_score(
        self,
        uri: str,
        k: int = DEFAULT_K,
        filter: dict[str, Any] | None = None,  # noqa: A002 - langchain-chroma's parameter name
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Not supported: ragstore has no multimodal embedding function (``NotImplementedError``).

        Example:
            >>> from langchain_ragstore import RagstoreVectorStore
            >>> RagstoreVectorStore().similarity_search_by_image_with_relevance_score("cat.png")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            NotImplementedError: ragstore has no multimodal (image) ... similarity_search_by_image_with_relevance_score() ...

        """
        _no_images("similarity_search_by_image_with_relevance_score")
