r"""Office Open XML files: Word (``.docx``), PowerPoint (``.pptx``) and Excel (``.xlsx``, ``.xlsm``).

Read with python-docx, python-pptx and openpyxl (the ``documents`` extra), each
the well-kept library for its format; none needs Office or LibreOffice.

=========  =====================================  ========================================
format     documents                              metadata (besides ``source``)
=========  =====================================  ========================================
``.docx``  one: paragraphs and tables, in order   ``title``
``.pptx``  one per slide (empty slides too, so    ``slide`` (1-based), ``slide_title``,
           numbers stay intact), notes included   ``title``
``.xlsx``  one per worksheet: a line per row,     ``sheet`` (its name), ``title``
           cells joined by `` | ``
=========  =====================================  ========================================

``title`` is the file's own title (its core properties), or for a Word file
without one, its first ``Title`` or ``Heading 1`` paragraph. Table rows become
lines of cells joined by `` | `` (a merged cell once), so a row stays together
when the text is split. Page headers and footers are left out, as the HTML
loader leaves out page chrome. The old binary formats (``.doc``, ``.ppt``,
``.xls``) are not read: save them in the Open XML formats.

Every failure names the file: :class:`~ragstore.documents.DocumentLoadError`
for a file that is not a readable Open XML package of its kind (an old binary
file renamed, or a password-protected one, which Office stores as an OLE2 file).

Example:
    >>> import pathlib, tempfile, docx
    >>> word = docx.Document()
    >>> _ = word.add_heading("Release notes", level=1)
    >>> _ = word.add_paragraph("Faster ingest.")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.docx"
    >>> word.save(path)
    >>> doc = next(load_docx(path, source="notes.docx"))
    >>> doc.text, doc.metadata["title"]
    ('Release notes\n\nFaster ingest.', 'Release notes')

"""

from __future__ import annotations

import datetime
import importlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragstore.documents.document import Document, document_id
from ragstore.documents.errors import DocumentLoadError, missing_dependency

_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office files, and encrypted Open XML ones
_CELL_SEPARATOR = " | "


def _open(path: Path, source: str, kind: str, opener: Callable[[Path], Any]) -> Any:
    """``opener(path)``, its many error types for a bad file turned into one :class:`DocumentLoadError` naming it."""
    try:
        with path.open("rb") as file:
            head = file.read(len(_OLE2_SIGNATURE))
    except OSError as exc:
        raise DocumentLoadError(f"Cannot read {path.as_posix()}: {exc.strerror or exc}", path, source) from exc
    if head == _OLE2_SIGNATURE:
        message = f"Cannot read {path.as_posix()} as {kind}: it is an OLE2 file (password-protected, or an old binary Office file renamed)"
        raise DocumentLoadError(message, path, source)
    try:
        return opener(path)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, ValueError, each library's own errors...
        raise DocumentLoadError(f"Cannot read {path.as_posix()} as {kind}: {exc}", path, source) from exc


@dataclass(frozen=True)
class _Format:
    """One Office format: the library that reads it and how messages name it; the three loaders differ only in these."""

    kind: str  # in load errors: "a Word (.docx) file"
    module: str  # the library's import name, imported when a file is loaded (``import ragstore`` works without the extra)
    package: str  # its distribution, named when it is missing
    purpose: str  # what needs it, in that message
    opener: Callable[[Any, str], Any]  # (the library, the path) -> the library's object for the file

    def read(self, path: str | Path, source: str | None) -> tuple[Path, str, Any]:
        """The path, its ``source`` (the path as given by default) and the opened file; a missing library is named first."""
        path = Path(path)
        source = source if source is not None else path.as_posix()
        try:
            library = importlib.import_module(self.module)
        except ImportError as exc:
            raise missing_dependency(self.package, "documents", self.purpose) from exc
        return path, source, _open(path, source, self.kind, lambda p: self.opener(library, str(p)))


def _open_workbook(openpyxl: Any, path: str) -> Any:
    return openpyxl.load_workbook(path, read_only=True, data_only=True)


_WORD = _Format("a Word (.docx) file", "docx", "python-docx", "Loading Word files", lambda docx, p: docx.Document(p))
_POWERPOINT = _Format("a PowerPoint (.pptx) file", "pptx", "python-pptx", "Loading PowerPoint files", lambda pptx, p: pptx.Presentation(p))
_EXCEL = _Format("an Excel (.xlsx) workbook", "openpyxl", "openpyxl", "Loading Excel files", _open_workbook)


def _clean(text: str | None) -> str | None:
    """A one-line title, or ``None`` for a blank one."""
    return " ".join((text or "").split()) or None


def _row(cells: Iterable[str]) -> str:
    """A table row as one line (empty cells at the end dropped, line breaks inside a cell made spaces)."""
    values = [" ".join(cell.split()) for cell in cells]
    while values and not values[-1]:
        values.pop()
    return _CELL_SEPARATOR.join(values)


def _table_lines(rows: Iterable[Iterable[str]]) -> str:
    return "\n".join(line for line in (_row(cells) for cells in rows) if line)


def _metadata(source: str, title: str | None, **position: str | int | None) -> dict[str, str | int]:
    metadata: dict[str, str | int] = {"source": source}
    metadata.update({key: value for key, value in position.items() if value is not None})
    if title:
        metadata["title"] = title
    return metadata


# ------------------------------------------------------------------ Word


def _word_table_rows(table: Any) -> Iterator[list[str]]:
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:  # a merged cell is repeated once per grid column it spans: keep it once
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(cell.text)
        yield cells


def _word_text(word: Any) -> tuple[str, str | None]:
    """The body's paragraphs and tables in document order, and the first title-like paragraph."""
    from docx.table import Table

    blocks: list[str] = []
    heading: str | None = None
    for block in word.iter_inner_content():
        if isinstance(block, Table):
            text = _table_lines(_word_table_rows(block))
        else:
            text = block.text.strip()
            style = block.style.name if block.style is not None else ""
            if heading is None and text and style in ("Title", "Heading 1"):
                heading = _clean(text)
        if text:
            blocks.append(text)
    return "\n\n".join(blocks), heading


def load_docx(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    """Load a Word file as one document: its paragraphs and tables, in order.

    Args:
        path: The file.
        source: Its ``source`` metadata and id; the path as given by default.

    Yields:
        One :class:`Document`, with ``title`` metadata when the file has a title.

    Raises:
        DocumentLoadError: The file cannot be read as a Word file (raised when iterated).
        MissingDependencyError: python-docx is not installed (the ``documents`` extra).

    Example:
        >>> load_docx("missing.docx")  # doctest: +ELLIPSIS
        <generator object load_docx at ...>

    """
    path, source, word = _WORD.read(path, source)
    text, heading = _word_text(word)
    title = _clean(word.core_properties.title) or heading
    yield Document(document_id(source), text, _metadata(source, title))


# ------------------------------------------------------------------ PowerPoint


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """The text of each shape with text (text frames, tables, grouped shapes), in the slide's order."""
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:  # a group
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False):
            yield _table_lines([cell.text for cell in row.cells] for row in shape.table.rows)
        elif getattr(shape, "has_text_frame", False):
            yield shape.text_frame.text.strip()


def _slide_text(slide: Any) -> tuple[str, str | None]:
    """A slide's text, its title first, then its speaker notes; and the title."""
    title_shape = slide.shapes.title
    title = _clean(title_shape.text_frame.text) if title_shape is not None else None
    others = [shape for shape in slide.shapes if title_shape is None or shape.shape_id != title_shape.shape_id]
    parts = [title or "", *_shape_texts(others)]
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        parts.append(slide.notes_slide.notes_text_frame.text.strip())
    return "\n\n".join(part for part in parts if part), title


def load_pptx(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    r"""Load a PowerPoint file, one document per slide (title, text, tables, then speaker notes).

    Args:
        path: The file.
        source: Its ``source`` metadata and the base of the ids (``deck.pptx#slide=2``); the path as given by default.

    Yields:
        A :class:`Document` per slide, with ``slide`` (1-based), and when known ``slide_title`` and ``title`` metadata.

    Raises:
        DocumentLoadError: The file cannot be read as a PowerPoint file (raised when iterated).
        MissingDependencyError: python-pptx is not installed (the ``documents`` extra).

    Example:
        >>> import pathlib, tempfile, pptx
        >>> deck = pptx.Presentation()
        >>> slide = deck.slides.add_slide(deck.slide_layouts[1])
        >>> slide.shapes.title.text, slide.placeholders[1].text = "Plan", "Ship it"
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "deck.pptx"
        >>> deck.save(path)
        >>> [(d.id, d.text, d.metadata["slide_title"]) for d in load_pptx(path, source="deck.pptx")]
        [('deck.pptx#slide=1', 'Plan\n\nShip it', 'Plan')]

    """
    path, source, deck = _POWERPOINT.read(path, source)
    title = _clean(deck.core_properties.title)
    for number, slide in enumerate(deck.slides, start=1):
        try:
            text, slide_title = _slide_text(slide)
        except Exception as exc:  # a broken part of one slide: name it rather than lose the deck silently
            raise DocumentLoadError(f"Cannot read slide {number} of {path.as_posix()}: {exc}", path, source) from exc
        yield Document(document_id(source, slide=number), text, _metadata(source, title, slide=number, slide_title=slide_title))


# ------------------------------------------------------------------ Excel


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 in a cell shows as 3
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()  # a date cell is read as midnight of that day
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _sheet_texts(book: Any, path: Path, source: str) -> list[tuple[str, str]]:
    """``(name, text)`` of each worksheet; all read before any is yielded, so the warnings filter is not left on."""
    texts = []
    for sheet in book.worksheets:
        try:
            texts.append((sheet.title, _table_lines([_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))))
        except Exception as exc:
            raise DocumentLoadError(f"Cannot read sheet {sheet.title!r} of {path.as_posix()}: {exc}", path, source) from exc
    return texts


def load_xlsx(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    r"""Load an Excel workbook, one document per worksheet: a line per non-empty row, cells joined by `` | ``.

    Formula cells give the value Excel last computed (an unsaved formula has none). Dates read as ISO dates.

    Args:
        path: The file.
        source: Its ``source`` metadata and the base of the ids (``book.xlsx#sheet=Prices``); the path as given by default.

    Yields:
        A :class:`Document` per worksheet, with ``sheet`` (its name) and, when known, ``title`` metadata.

    Raises:
        DocumentLoadError: The file cannot be read as an Excel workbook (raised when iterated).
        MissingDependencyError: openpyxl is not installed (the ``documents`` extra).

    Example:
        >>> import pathlib, tempfile, openpyxl
        >>> book = openpyxl.Workbook()
        >>> book.active.title = "Prices"
        >>> book.active.append(["Item", "Price"])
        >>> book.active.append(["Tea", 3.0])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "book.xlsx"
        >>> book.save(path)
        >>> [(d.id, d.text) for d in load_xlsx(path, source="book.xlsx")]
        [('book.xlsx#sheet=Prices', 'Item | Price\nTea | 3')]

    """
    with warnings.catch_warnings():
        # openpyxl warns about workbook features it drops (data validation, unknown extensions): the cell values are read all the same.
        warnings.simplefilter("ignore", UserWarning)
        path, source, book = _EXCEL.read(path, source)
        try:
            title = _clean(book.properties.title)
            sheets = _sheet_texts(book, path, source)
        finally:
            book.close()  # a read-only workbook keeps its file open until closed
    for name, text in sheets:
        yield Document(document_id(source, sheet=name), text, _metadata(source, title, sheet=name))
