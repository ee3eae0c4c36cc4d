r"""Documents: load files as :class:`Document` objects and split them into chunks for a collection.

Loaders yield documents lazily, each with ``source`` metadata and a stable id:

- :func:`load_text` (encoding detection, BOMs), :func:`load_markdown` (``title``),
  :func:`load_html` (visible text, ``title``), :func:`load_pdf` (a document per page,
  ``page``), :func:`load_docx` (Word, ``title``), :func:`load_pptx` (a document
  per slide, ``slide``), :func:`load_xlsx` (a document per worksheet, ``sheet``),
  :func:`load_csv` (a document per row), :func:`load_json` and :func:`load_jsonl`
  (a document per record);
- :func:`load_file` picks the loader by extension; :func:`load_directory` walks a
  tree (globs, exclusions, recursion), reporting and skipping files that fail.

Splitters cut a text into exact slices (:class:`Chunk`):
:class:`RecursiveCharacterSplitter`, :class:`TokenSplitter` (fits an embedding
model's window) and :class:`MarkdownHeaderSplitter` (sections, ``headers``).
:func:`split_documents` applies one to documents, adding ``chunk_index`` and
``start_index`` metadata and chunk ids.

PDF, HTML, Office files and encoding detection need ``pip install "ragstore[documents]"``; the
default tokenizer of :class:`TokenSplitter` needs ``"ragstore[embeddings]"``.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "guide.md").write_text("# Guide\n\n## Install\n\nRun pip.\n")
    >>> walk = load_directory(root, glob="**/*.md")
    >>> chunks = list(split_documents(walk, MarkdownHeaderSplitter(chunk_size=500, chunk_overlap=50)))
    >>> [(c.id, c.metadata["headers"]) for c in chunks]
    [('guide.md#chunk=0', 'Guide > Install')]
    >>> import ragstore
    >>> collection = ragstore.EphemeralClient().create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> collection.upsert(ids=[c.id for c in chunks], documents=[c.text for c in chunks], metadatas=[dict(c.metadata) for c in chunks])
    >>> collection.count()
    1

"""

from __future__ import annotations

from ragstore.documents.csv_loader import load_csv
from ragstore.documents.directory import LOADERS, DirectoryLoad, FileError, LoadedFile, Loader, load_directory, load_file
from ragstore.documents.document import Document, chunk_id, document_id
from ragstore.documents.errors import (
    DocumentError,
    DocumentLoadError,
    EncryptedDocumentError,
    MissingDependencyError,
    UnsupportedFileError,
)
from ragstore.documents.html_loader import load_html
from ragstore.documents.json_loader import load_json, load_jsonl
from ragstore.documents.markdown_loader import load_markdown
from ragstore.documents.markdown_splitter import MarkdownHeaderSplitter
from ragstore.documents.office_loader import load_docx, load_pptx, load_xlsx
from ragstore.documents.pdf_loader import load_pdf
from ragstore.documents.recursive_splitter import RecursiveCharacterSplitter
from ragstore.documents.splitting import Chunk, Splitter, split_documents
from ragstore.documents.text_loader import decode_text, load_text
from ragstore.documents.token_splitter import TokenSplitter

__all__ = [
    "LOADERS",
    "Chunk",
    "DirectoryLoad",
    "Document",
    "DocumentError",
    "DocumentLoadError",
    "EncryptedDocumentError",
    "FileError",
    "LoadedFile",
    "Loader",
    "MarkdownHeaderSplitter",
    "MissingDependencyError",
    "RecursiveCharacterSplitter",
    "Splitter",
    "TokenSplitter",
    "UnsupportedFileError",
    "chunk_id",
    "decode_text",
    "document_id",
    "load_csv",
    "load_directory",
    "load_docx",
    "load_file",
    "load_html",
    "load_json",
    "load_jsonl",
    "load_markdown",
    "load_pdf",
    "load_pptx",
    "load_text",
    "load_xlsx",
    "split_documents",
]
