r"""``RagstoreLoader``: ragstore's file loaders as a LangChain ``BaseLoader``.

It walks a file or directory with :func:`ragstore.documents.load_directory` (text,
Markdown, HTML, PDF, CSV, JSON/JSONL, dispatched by extension) and yields LangChain
``Document`` objects lazily, one file at a time, with ragstore's stable ids (``guide.md``,
``manual.pdf#page=3``) and metadata (``source``, ``title``, ``page``, ...). Files that fail
to load are skipped and listed in :attr:`RagstoreLoader.errors`, as ragstore does.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "guide.md").write_text("# Guide\n\nRun pip.\n")
    >>> [(d.id, d.metadata["source"]) for d in RagstoreLoader(root, glob="**/*.md").lazy_load()]
    [('guide.md', 'guide.md')]

"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from ragstore.documents import FileError, load_directory
from ragstore.documents.directory import DEFAULT_EXCLUDE


class RagstoreLoader(BaseLoader):
    """Load files with ragstore's loaders as LangChain documents.

    Args:
        path: A directory to walk, or a single file.
        glob: Pattern(s) of files to load, relative to ``path`` (``"**/*.md"``).
        exclude: Patterns to leave out (hidden files and directories by default).
        recursive: Whether to descend into subdirectories.
        raise_on_error: Raise the first file error instead of skipping the file.

    Raises:
        FileNotFoundError: ``path`` does not exist (when loading starts).

    Example:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "a.txt").write_text("alpha")
        >>> RagstoreLoader(root).load()[0].page_content
        'alpha'

    """

    def __init__(
        self,
        path: str | Path,
        glob: str | Sequence[str] = "**/*",
        *,
        exclude: Sequence[str] = DEFAULT_EXCLUDE,
        recursive: bool = True,
        raise_on_error: bool = False,
    ) -> None:
        self.path = Path(path)
        self.glob = glob
        self.exclude = tuple(exclude)
        self.recursive = recursive
        self.raise_on_error = raise_on_error
        self.errors: list[FileError] = []
        self.skipped: list[str] = []

    def lazy_load(self) -> Iterator[Document]:
        """Yield the documents file by file, loading each file only when it is reached.

        Example:
            >>> import pathlib, tempfile
            >>> root = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (root / "a.txt").write_text("alpha")
            >>> next(RagstoreLoader(root).lazy_load()).metadata["source"]
            'a.txt'

        """
        walk = load_directory(self.path, self.glob, exclude=self.exclude, recursive=self.recursive, on_error=self._on_error)
        self.errors, self.skipped = walk.errors, list(walk.skipped)
        for loaded in walk.files():
            self.errors = walk.errors
            for doc in loaded.documents:
                yield Document(id=doc.id, page_content=doc.text, metadata=dict(doc.metadata))
        self.errors = walk.errors

    def _on_error(self, failure: FileError) -> None:
        if self.raise_on_error:
            raise failure.error
