"""What splitters produce (:class:`Chunk`), what they are (:class:`Splitter`), and :func:`split_documents`.

A splitter turns one text into chunks that are exact slices of it:
``text[chunk.start_index : chunk.start_index + len(chunk.text)] == chunk.text``.
:func:`split_documents` turns documents into chunk documents that keep their
document's metadata (``source``, ``page``, ``title``, ...) and add:

- ``chunk_index``: the chunk's position in its document, from 0;
- ``start_index``: the character offset of the chunk in the document's text;
- whatever the splitter knows (``headers`` for the Markdown splitter).

Chunk ids are :func:`~ragstore.documents.chunk_id` of the document id and the
chunk index (``guide.md#chunk=0``): stable while the file and the splitter
settings stay the same.

Example:
    >>> from ragstore.documents import Document, RecursiveCharacterSplitter
    >>> doc = Document("a.txt", "One. Two. Three.", {"source": "a.txt"})
    >>> for chunk in split_documents([doc], RecursiveCharacterSplitter(chunk_size=10, chunk_overlap=0)):
    ...     print(chunk.id, repr(chunk.text), chunk.metadata)
    a.txt#chunk=0 'One. Two.' {'source': 'a.txt', 'chunk_index': 0, 'start_index': 0}
    a.txt#chunk=1 'Three.' {'source': 'a.txt', 'chunk_index': 1, 'start_index': 10}

"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ragstore.documents.document import Document, Scalar, chunk_id


@dataclass(frozen=True)
class Chunk:
    """A slice of a text: its characters, where it starts, and what the splitter knows about it.

    Example:
        >>> Chunk("world", 6).start_index
        6

    """

    text: str
    start_index: int
    metadata: Mapping[str, Scalar] = field(default_factory=dict)


@runtime_checkable
class Splitter(Protocol):
    """Anything with ``split(text) -> list[Chunk]``, each chunk an exact, non-blank slice of ``text``."""

    def split(self, text: str) -> list[Chunk]:
        """The chunks of ``text``, in order."""
        ...


def split_documents(documents: Iterable[Document], splitter: Splitter) -> Iterator[Document]:
    """Split each document into chunk documents, lazily (one document at a time).

    Args:
        documents: Documents from any loader (or an iterable of your own).
        splitter: A :class:`RecursiveCharacterSplitter`, :class:`TokenSplitter`,
            :class:`MarkdownHeaderSplitter`, or any :class:`Splitter`.

    Yields:
        Chunk documents with the document's metadata plus ``chunk_index`` and
        ``start_index`` (and splitter metadata such as ``headers``). A document
        with blank text yields none.

    Example:
        >>> from ragstore.documents import RecursiveCharacterSplitter
        >>> docs = [Document("e", "   "), Document("f", "Full text")]
        >>> [c.id for c in split_documents(docs, RecursiveCharacterSplitter())]
        ['f#chunk=0']

    """
    for document in documents:
        for index, chunk in enumerate(splitter.split(document.text)):
            metadata = {**document.metadata, **chunk.metadata, "chunk_index": index, "start_index": chunk.start_index}
            yield Document(chunk_id(document.id, index), chunk.text, metadata)
