"""PDF files, one document per page, read with pypdf.

Pages are extracted one at a time as the caller iterates, so the first pages
of a long manual are available (and can be embedded) before the last are read.
Each page document has ``page`` metadata (1-based, as PDF viewers number pages)
and an id like ``manual.pdf#page=3``; the document's ``title`` comes along when
the PDF's information dictionary has one. A page without extractable text (a
scanned image) yields a document with empty text, so page numbers stay intact.

Failures are typed: an encrypted PDF that needs a password raises
:class:`~ragstore.documents.EncryptedDocumentError`; a file pypdf cannot parse
raises :class:`~ragstore.documents.DocumentLoadError` naming the file (and the
page, when one page is broken).

Example:
    >>> import pathlib, tempfile, pypdf
    >>> writer = pypdf.PdfWriter()
    >>> _ = writer.add_blank_page(width=200, height=200)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "blank.pdf"
    >>> _ = writer.write(path)
    >>> [(doc.id, doc.metadata["page"]) for doc in load_pdf(path, source="blank.pdf")]
    [('blank.pdf#page=1', 1)]

"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragstore.documents.document import Document, document_id
from ragstore.documents.errors import DocumentLoadError, EncryptedDocumentError, missing_dependency

_NEWLINES = re.compile(r"\r\n?")


def _open(path: Path, source: str, password: str | None) -> Any:
    try:
        import pypdf
        from pypdf.errors import DependencyError
    except ImportError as exc:
        raise missing_dependency("pypdf", "documents", "Loading PDF files") from exc
    try:
        reader = pypdf.PdfReader(path)
    except OSError as exc:
        raise DocumentLoadError(f"Cannot read {path.as_posix()}: {exc.strerror or exc}", path, source) from exc
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) for a broken file
        raise DocumentLoadError(f"Cannot read {path.as_posix()} as a PDF: {exc}", path, source) from exc
    if reader.is_encrypted:
        try:
            # Many PDFs are encrypted with an empty user password only to set permissions; those open without one.
            decrypted = reader.decrypt(password or "")
        except DependencyError as exc:  # AES needs a crypto library that pypdf does not require
            message = f"Cannot decrypt {path.as_posix()}: {exc} (pip install cryptography)"
            raise EncryptedDocumentError(message, path, source) from exc
        except Exception as exc:
            raise DocumentLoadError(f"Cannot decrypt {path.as_posix()}: {exc}", path, source) from exc
        if decrypted == pypdf.PasswordType.NOT_DECRYPTED:
            what = "the password is wrong" if password else "it needs a password"
            raise EncryptedDocumentError(f"Cannot open {path.as_posix()}: the PDF is encrypted and {what}", path, source)
    return reader


def _title(reader: Any) -> str | None:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except Exception:  # a malformed information dictionary must not cost the pages
        return None
    if not isinstance(title, str):
        return None
    return " ".join(title.split()) or None


def load_pdf(path: str | Path, *, source: str | None = None, password: str | None = None) -> Iterator[Document]:
    """Load a PDF lazily, one document per page.

    Args:
        path: The file.
        source: Its ``source`` metadata and the base of the ids; the path as given by default.
        password: The password of an encrypted PDF (an empty one is tried without it).

    Yields:
        A :class:`Document` per page, with ``source``, ``page`` (1-based) and, if known, ``title`` metadata.

    Raises:
        EncryptedDocumentError: The PDF needs a password (raised when iterated, like every error here).
        DocumentLoadError: The file is missing, not a PDF, or broken.
        MissingDependencyError: pypdf is not installed (the ``documents`` extra).

    Example:
        >>> load_pdf("missing.pdf")  # doctest: +ELLIPSIS
        <generator object load_pdf at ...>

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    reader = _open(path, source, password)
    try:
        pages = reader.pages
        count = len(pages)
    except Exception as exc:
        raise DocumentLoadError(f"Cannot read the pages of {path.as_posix()}: {exc}", path, source) from exc
    title = _title(reader)
    for number in range(1, count + 1):
        try:
            text = pages[number - 1].extract_text()
        except Exception as exc:
            raise DocumentLoadError(f"Cannot extract the text of page {number} of {path.as_posix()}: {exc}", path, source) from exc
        metadata: dict[str, str | int] = {"source": source, "page": number}
        if title:
            metadata["title"] = title
        yield Document(document_id(source, page=number), _NEWLINES.sub("\n", text), metadata)
