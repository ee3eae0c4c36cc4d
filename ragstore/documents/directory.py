r"""Walk a directory and load every supported file, dispatching on the extension.

A walk is deterministic (files in sorted order of their relative path) and
robust: a file that fails to load is reported (in :attr:`DirectoryLoad.errors`,
to an ``on_error`` callback, and in the ``ragstore.documents`` log) and skipped;
it never ends the walk. Each file is loaded completely before any of its
documents is yielded, so a file is either all in or all out, never cut short
at a broken page. Files with no loader are listed in :attr:`DirectoryLoad.skipped`.

A Sphinx HTML build's ``_sources/`` copies of the pages walked, and its
``_static/`` assets, are left out (listed in :attr:`DirectoryLoad.sphinx_copies`),
so a page is not loaded twice, as HTML and as reST (:mod:`ragstore.documents.sphinx_build`).

Every document's ``source`` is its file's path relative to the walked root, in
``/`` form (``guide/intro.md``), so ids do not depend on where the tree sits.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.md").write_text("# A\n")
    >>> _ = (root / "b.pdf").write_bytes(b"not a pdf")
    >>> _ = (root / "c.png").write_bytes(b"")
    >>> walk = load_directory(root)
    >>> [doc.id for doc in walk], [e.source for e in walk.errors], walk.skipped
    (['a.md'], ['b.pdf'], ['c.png'])

"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import NamedTuple, Protocol

from ragstore.documents.csv_loader import load_csv
from ragstore.documents.document import Document
from ragstore.documents.errors import MissingDependencyError, UnsupportedFileError
from ragstore.documents.html_loader import load_html
from ragstore.documents.json_loader import load_json, load_jsonl
from ragstore.documents.markdown_loader import load_markdown
from ragstore.documents.office_loader import load_docx, load_pptx, load_xlsx
from ragstore.documents.pdf_loader import load_pdf
from ragstore.documents.sphinx_build import sphinx_copies
from ragstore.documents.text_loader import load_text

logger = logging.getLogger("ragstore.documents")


class Loader(Protocol):
    """A function that loads one file: ``loader(path, source=...)`` yields its documents."""

    def __call__(self, path: Path, *, source: str) -> Iterable[Document]:
        """Yield the documents of the file at ``path``, with ``source`` as their ``source`` metadata."""
        ...


LOADERS: Mapping[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".rst": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".xhtml": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".pptx": load_pptx,
    ".xlsx": load_xlsx,
    ".xlsm": load_xlsx,
    ".csv": load_csv,
    ".tsv": functools.partial(load_csv, delimiter="\t"),
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
}
"""The loader for each extension (lower case). CSV rows and JSON records use their defaults: the whole row or record is the text."""

DEFAULT_EXCLUDE = (".*",)
"""Hidden files and everything under hidden directories (``.git``, ``.venv``)."""


class FileError(NamedTuple):
    """A file that failed to load and was skipped."""

    path: Path
    source: str
    error: Exception


class LoadedFile(NamedTuple):
    """One file's documents, as :meth:`DirectoryLoad.files` yields them."""

    path: Path
    source: str
    documents: list[Document]


def load_file(path: str | Path, *, source: str | None = None, loaders: Mapping[str, Loader] = LOADERS) -> Iterator[Document]:
    """Load one file with the loader for its extension.

    Raises:
        UnsupportedFileError: No loader handles the extension (raised when iterated).

    Example:
        >>> next(load_file("notes.doc"))
        Traceback (most recent call last):
        ...
        ragstore.documents.errors.UnsupportedFileError: No loader for notes.doc (known extensions: .csv, .docx, ...)

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(loaders))
        raise UnsupportedFileError(f"No loader for {path.as_posix()} (known extensions: {known})", path, source)
    yield from loader(path, source=source)


@dataclass
class DirectoryLoad:
    """The files a walk found, iterable as the documents they hold; errors collect as it goes.

    Iterating loads the files again each time (and starts :attr:`errors` afresh).

    Attributes:
        root: The walked directory.
        paths: The files to load, in walk order.
        skipped: Relative paths of matched files that no loader handles.
        errors: The files that failed during the last iteration.
        loaded: Relative paths of the files loaded during the last iteration.
        sphinx_copies: Relative paths left out as a Sphinx build's ``_sources/`` copies of pages walked
            and its ``_static/`` assets.

    Example:
        >>> import pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "notes.txt").write_text("Hello")
        >>> walk = load_directory(root)
        >>> [(f.source, len(f.documents)) for f in walk.files()], walk.loaded
        ([('notes.txt', 1)], ['notes.txt'])

    """

    root: Path
    paths: list[Path]
    skipped: list[str]
    loaders: Mapping[str, Loader]
    on_error: Callable[[FileError], None] | None = None
    errors: list[FileError] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    sphinx_copies: list[str] = field(default_factory=list)

    def source(self, path: Path) -> str:
        """The ``source`` of a walked file: its path relative to the root, ``/``-separated."""
        return path.relative_to(self.root).as_posix() if path != self.root else path.as_posix()

    def files(self) -> Iterator[LoadedFile]:
        """Load the files one at a time, yielding each loaded file's documents (for per-file progress)."""
        self.errors, self.loaded = [], []
        for path in self.paths:
            source = self.source(path)
            try:
                documents = list(load_file(path, source=source, loaders=self.loaders))
            except MissingDependencyError:
                raise  # not the file's fault: every file of the kind would fail the same way
            except Exception as exc:
                failure = FileError(path, source, exc)
                self.errors.append(failure)
                logger.warning("Skipped %s: %s", source, exc)
                if self.on_error is not None:
                    self.on_error(failure)
                continue
            self.loaded.append(source)
            yield LoadedFile(path, source, documents)

    def __iter__(self) -> Iterator[Document]:
        for loaded in self.files():
            yield from loaded.documents


def _matches(relative: str, patterns: Sequence[str]) -> bool:
    parts = relative.split("/")
    return any(fnmatchcase(relative, p) or any(fnmatchcase(part, p) for part in parts) for p in patterns)


def load_directory(
    path: str | Path,
    glob: str | Sequence[str] = "**/*",
    *,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    recursive: bool = True,
    loaders: Mapping[str, Loader] | None = None,
    on_error: Callable[[FileError], None] | None = None,
    keep_sphinx_copies: bool = False,
) -> DirectoryLoad:
    """Find the files under ``path`` and return them as a lazily loading :class:`DirectoryLoad`.

    Args:
        path: The directory to walk (a single file is accepted too).
        glob: Pattern(s) of the files to load, relative to ``path`` (``"**/*.md"``,
            ``["*.pdf", "*.html"]``); with ``recursive`` a pattern matches at any depth.
        exclude: Patterns of files to leave out, matched against the relative path and
            against each of its parts (``"_sources"`` leaves out a directory of that name,
            ``"*.min.html"`` files of that kind anywhere). Hidden files are left out by default.
        recursive: Whether to descend into subdirectories.
        loaders: Loaders by extension, added to (or replacing) the default :data:`LOADERS`.
        on_error: Called with each :class:`FileError` as it happens.
        keep_sphinx_copies: Load a Sphinx build's ``_sources/`` copies of the pages walked and its
            ``_static/`` files too (left out by default: each page would load twice).

    Raises:
        FileNotFoundError: ``path`` does not exist (unlike a bad file inside it, this is fatal).

    Example:
        >>> load_directory("no/such/dir")
        Traceback (most recent call last):
        ...
        FileNotFoundError: No such file or directory: 'no/such/dir'

    """
    root = Path(path)
    merged = {**LOADERS, **{ext.lower(): loader for ext, loader in (loaders or {}).items()}}
    if root.is_file():
        supported = root.suffix.lower() in merged
        return DirectoryLoad(root, [root] if supported else [], [] if supported else [root.as_posix()], merged, on_error)
    if not root.is_dir():
        raise FileNotFoundError(f"No such file or directory: {str(path)!r}")
    patterns = [glob] if isinstance(glob, str) else list(glob)
    found: dict[str, Path] = {}
    for pattern in patterns:
        for candidate in root.rglob(pattern) if recursive else root.glob(pattern):
            relative = candidate.relative_to(root).as_posix()
            if (not recursive and "/" in relative) or _matches(relative, exclude) or not candidate.is_file():
                continue
            found[relative] = candidate
    copies = set() if keep_sphinx_copies else sphinx_copies(found, root)
    ordered = sorted(r for r in found if r not in copies)
    paths = [found[r] for r in ordered if found[r].suffix.lower() in merged]
    skipped = [r for r in ordered if found[r].suffix.lower() not in merged]
    return DirectoryLoad(root, paths, skipped, merged, on_error, sphinx_copies=sorted(copies))
