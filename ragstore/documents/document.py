"""The :class:`Document` every loader yields and every splitter returns, and its stable ids.

A document is an id, a text and flat metadata whose values ragstore can store
and filter on (``str``, ``int``, ``float``, ``bool``). Ids are derived from the
document's ``source`` and position, never from a counter or a random number, so
loading the same file twice gives the same ids and re-ingesting it replaces
its records instead of duplicating them:

=====================  ==================================
what                   id
=====================  ==================================
a whole file           ``guide/intro.md``
a PDF page (1-based)   ``manual.pdf#page=3``
a slide (1-based)      ``deck.pptx#slide=2``
a worksheet            ``book.xlsx#sheet=Prices``
a CSV/JSON(L) row      ``data.csv#row=12`` (1-based)
a chunk (0-based)      ``manual.pdf#page=3#chunk=0``
=====================  ==================================

Example:
    >>> doc = Document(document_id("notes.txt"), "Hello.", {"source": "notes.txt"})
    >>> doc.id
    'notes.txt'
    >>> document_id("manual.pdf", page=3), chunk_id("manual.pdf#page=3", 0)
    ('manual.pdf#page=3', 'manual.pdf#page=3#chunk=0')

"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

from ragstore.errors import InvalidArgumentError
from ragstore.metadata_validation import validate_metadata

# A metadata value a loader may attach: flat, so every loader's output can be
# stored and filtered on as it is (ragstore also accepts lists; loaders need none).
Scalar = Union[str, int, float, bool]


@dataclass(frozen=True)
class Document:
    """A unit of text with metadata: a file, a PDF page, a CSV row, or a chunk of one of those.

    Args:
        id: A stable id (see :func:`document_id` and :func:`chunk_id`).
        text: The text. It may be empty (an empty file, an image-only PDF page);
            splitters make no chunks of blank text.
        metadata: Flat metadata; values are ``str``, ``int``, ``float`` or ``bool``
            and keys follow ragstore's rules (non-empty, not starting with ``$`` or ``#``).

    Raises:
        InvalidArgumentError: The id is empty or the metadata would be rejected by a collection.

    Example:
        >>> Document("a.txt", "text", {"source": "a.txt", "page": 1}).metadata["page"]
        1
        >>> Document("a.txt", "text", {"tags": ["x"]})
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected metadata value for key 'tags' to be a str, int, float or bool, got ['x']

    """

    id: str
    text: str
    metadata: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidArgumentError(f"Expected a document id to be a non-empty str, got {self.id!r}")
        if not isinstance(self.text, str):
            raise InvalidArgumentError(f"Expected document text to be a str, got {type(self.text).__name__}")
        # The collection's own validation, so a document that loads is a document that can be added.
        checked = validate_metadata(self.metadata, None, allow_none_values=False) if self.metadata else {}
        for key, value in checked.items():
            if isinstance(value, list):
                raise InvalidArgumentError(f"Expected metadata value for key '{key}' to be a str, int, float or bool, got {value!r}")
        object.__setattr__(self, "metadata", checked)

    @property
    def source(self) -> str | None:
        """The ``source`` metadata (the file the document came from), if any.

        Example:
            >>> Document("a", "x", {"source": "docs/a.md"}).source
            'docs/a.md'

        """
        value = self.metadata.get("source")
        return value if isinstance(value, str) else None


def document_id(source: str, *, page: int | None = None, row: int | None = None, slide: int | None = None, sheet: str | None = None) -> str:
    """The stable id of a document loaded from ``source``, at a page, row, slide or sheet if it has one.

    Args:
        source: The document's ``source`` metadata (a path relative to the walked root, or the file path).
        page: The 1-based PDF page number.
        row: The 1-based row (CSV data row, JSON array element, JSONL line).
        slide: The 1-based slide number of a presentation.
        sheet: The name of a workbook's worksheet (names are unique within a workbook).

    Example:
        >>> document_id("a.csv", row=2), document_id("deck.pptx", slide=3), document_id("book.xlsx", sheet="Prices")
        ('a.csv#row=2', 'deck.pptx#slide=3', 'book.xlsx#sheet=Prices')

    """
    if page is not None:
        return f"{source}#page={page}"
    if row is not None:
        return f"{source}#row={row}"
    if slide is not None:
        return f"{source}#slide={slide}"
    if sheet is not None:
        return f"{source}#sheet={sheet}"
    return source


def chunk_id(document_id: str, chunk_index: int) -> str:
    """The stable id of the ``chunk_index``-th (0-based) chunk of a document.

    Ids come from the position, not the content, so re-splitting a changed file
    with the same settings overwrites its chunks in place (upsert) and the
    chunks past its new end are the ones to delete (``chunk_index >= count``).

    Example:
        >>> chunk_id("a.md", 4)
        'a.md#chunk=4'

    """
    return f"{document_id}#chunk={chunk_index}"
