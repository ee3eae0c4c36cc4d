r"""Plain-text files: byte-order marks, encoding detection, newline normalisation.

Every loader that reads text (Markdown, CSV, JSON) decodes through
:func:`decode_text`, so they all treat encodings the same way:

1. A byte-order mark decides (UTF-8, UTF-16 or UTF-32) and is removed.
2. Otherwise valid UTF-8 is UTF-8: the common case, and detection can
   misjudge short UTF-8 texts.
3. Otherwise charset-normalizer guesses (latin-1, cp1252, Shift JIS, ...).

Line ends become ``\n`` (as ``open()`` does in text mode), so splitters see the
same paragraphs in a CRLF file as in an LF one, and ``start_index`` counts
characters of that normalised text.

Example:
    >>> decode_text("café\r\n".encode("utf-8-sig"))
    'café\n'
    >>> decode_text("café au lait, crème brûlée".encode("latin-1"))
    'café au lait, crème brûlée'

"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from ragstore.documents.document import Document, document_id
from ragstore.documents.errors import DocumentLoadError, missing_dependency

# Longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NEWLINES = re.compile(r"\r\n?")


class UndecodableTextError(ValueError):
    """The bytes are not text in any encoding charset-normalizer recognises (a binary file)."""


def detect_encoding(data: bytes) -> tuple[str, int]:
    r"""The encoding of ``data`` and the length of its byte-order mark (0 if none).

    Raises:
        UndecodableTextError: The bytes look binary (NUL bytes, or no encoding fits).

    Example:
        >>> detect_encoding(b"\xef\xbb\xbfhi")
        ('utf-8', 3)
        >>> detect_encoding(b"plain")
        ('utf-8', 0)

    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    if b"\x00" in data[:8192]:  # git's test: text without a BOM has no NUL bytes, binary files nearly always do
        raise UndecodableTextError("the file looks binary (it contains NUL bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", 0
    try:
        import charset_normalizer
    except ImportError as exc:
        raise missing_dependency("charset-normalizer", "documents", "Reading text that is not UTF-8") from exc
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise UndecodableTextError("the file is not text in any recognised encoding")
    for match in matches:
        # Western text scores the same in several single-byte code pages (è in cp1252 is č in cp1250); a tie goes
        # to cp1252, as in browsers, where it is also what "latin-1" means: by far the most common of them.
        tied = match.chaos <= best.chaos + 1e-6 and match.coherence >= best.coherence - 1e-6
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252", 0
    return best.encoding, 0


def decode_text(data: bytes) -> str:
    r"""Decode a file's bytes to text: BOM, then UTF-8, then detection; line ends become ``\n``.

    Raises:
        UndecodableTextError: The bytes look binary.

    Example:
        >>> decode_text(b"a\r\nb\rc")
        'a\nb\nc'

    """
    encoding, skip = detect_encoding(data)
    try:
        text = data[skip:].decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:  # a detector's guess that does not hold for the whole file
        raise UndecodableTextError(f"the file does not decode as {encoding}: {exc}") from exc
    return _NEWLINES.sub("\n", text)


def read_text(path: str | Path, source: str | None = None) -> str:
    """Read and decode a text file, turning every failure into a :class:`DocumentLoadError`.

    Example:
        >>> read_text("no/such.txt")
        Traceback (most recent call last):
        ...
        ragstore.documents.errors.DocumentLoadError: Cannot read no/such.txt: No such file or directory

    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"Cannot read {path.as_posix()}: {exc.strerror or exc}", path, source) from exc
    try:
        return decode_text(data)
    except UndecodableTextError as exc:
        raise DocumentLoadError(f"Cannot decode {path.as_posix()}: {exc}", path, source) from exc


def load_text(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    r"""Load a plain-text file as one document.

    Args:
        path: The file.
        source: Its ``source`` metadata and id; the path as given by default.

    Yields:
        One :class:`Document` with ``source`` metadata and the decoded text.

    Raises:
        DocumentLoadError: The file cannot be read or decoded (raised when iterated).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = path.write_bytes("\ufeffHello\r\nworld".encode("utf-8"))
        >>> [doc.text for doc in load_text(path, source="a.txt")]
        ['Hello\nworld']

    """
    source = source if source is not None else Path(path).as_posix()
    yield Document(document_id(source), read_text(path, source), {"source": source})
