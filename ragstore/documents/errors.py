"""What can go wrong while loading documents, and the optional-dependency guard.

These errors stay outside :class:`~ragstore.errors.RagstoreError`: that tree is
the wire protocol's (every class there travels over HTTP under a wire name),
while loading happens on the caller's side and never crosses the wire.

::

    DocumentError
    ├── DocumentLoadError          a file cannot be read as a document (.path, .source)
    │   ├── EncryptedDocumentError a PDF needs a password
    │   └── UnsupportedFileError   no loader for the file's extension
    └── MissingDependencyError     (also ImportError) an optional extra is not installed

Example:
    >>> from ragstore.documents import DocumentLoadError, load_text
    >>> try:
    ...     list(load_text("no/such/file.txt"))
    ... except DocumentLoadError as exc:
    ...     print(exc.source)
    no/such/file.txt

"""

from __future__ import annotations

from pathlib import Path


class DocumentError(Exception):
    """Base class of the errors raised by :mod:`ragstore.documents`."""


class DocumentLoadError(DocumentError):
    """A file could not be loaded; nothing of it was yielded by the directory walker.

    Attributes:
        path: The file that failed.
        source: The file's ``source`` metadata (relative to the walked root, when walking).

    """

    def __init__(self, message: str, path: str | Path, source: str | None = None) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.source = source if source is not None else self.path.as_posix()


class EncryptedDocumentError(DocumentLoadError):
    """A PDF is encrypted and cannot be opened without a password."""


class UnsupportedFileError(DocumentLoadError):
    """No loader is registered for the file's extension."""


class MissingDependencyError(DocumentError, ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def missing_dependency(package: str, extra: str, purpose: str) -> MissingDependencyError:
    """The error to raise when an optional dependency cannot be imported.

    Optional libraries are imported inside the functions that use them (so
    ``import ragstore`` stays fast and works without any extra), each import in
    a ``try`` that raises this error ``from`` the ``ImportError``.

    Args:
        package: The distribution that is missing (``"pypdf"``).
        extra: The ragstore extra that installs it (``"documents"``).
        purpose: What needs it, for the message (``"Loading PDF files"``).

    Example:
        >>> print(missing_dependency("pypdf", "documents", "Loading PDF files"))
        Loading PDF files needs the pypdf package: pip install "ragstore[documents]"

    """
    return MissingDependencyError(f'{purpose} needs the {package} package: pip install "ragstore[{extra}]"')
