r"""CSV (and TSV) files, one document per row.

The header row names the columns. One column is the text (``text_column``) and
the others become metadata, with numbers parsed so they can be filtered with
``$gt`` and friends: ``"42"`` becomes ``42`` and ``"2.5"`` becomes ``2.5``,
while ``"007"``, ``"1e999"`` and ``"n/a"`` stay strings (leading zeros mark an
identifier, not a quantity). Empty cells are left out (metadata has no null).
Without a ``text_column`` a row's text is its non-empty cells as ``column: value``
lines, which embeds well for tables with no single text column.

Each row gets ``source`` and ``row`` metadata (the 1-based data row, header not
counted) and an id like ``data.csv#row=12``; these two keys win over columns of
the same name.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "films.csv"
    >>> _ = path.write_text("title,year,rating\nAlien,1979,8.5\n")
    >>> doc = next(load_csv(path, text_column="title", source="films.csv"))
    >>> doc.id, doc.text, doc.metadata
    ('films.csv#row=1', 'Alien', {'year': 1979, 'rating': 8.5, 'source': 'films.csv', 'row': 1})

"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ragstore.documents.document import Document, Scalar, document_id
from ragstore.documents.errors import DocumentLoadError
from ragstore.documents.text_loader import read_text
from ragstore.errors import InvalidArgumentError
from ragstore.validation import INT64_MAX, INT64_MIN

_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?[0-9]+[eE][+-]?[0-9]+")


def parse_scalar(value: str) -> Scalar:
    """A cell as metadata: an ``int`` or ``float`` when it is plainly one, else the stripped string.

    Example:
        >>> parse_scalar(" 42 "), parse_scalar("-2.5e3"), parse_scalar("007"), parse_scalar("nan")
        (42, -2500.0, '007', 'nan')

    """
    value = value.strip()
    if _INT.fullmatch(value):
        number = int(value)
        if INT64_MIN <= number <= INT64_MAX:  # what a collection can store as an int
            return number
    elif _FLOAT.fullmatch(value):
        real = float(value)
        if math.isfinite(real):
            return real
    return value


def load_csv(
    path: str | Path,
    *,
    text_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    delimiter: str = ",",
    source: str | None = None,
) -> Iterator[Document]:
    r"""Load a CSV file lazily, one document per data row.

    Args:
        path: The file (any encoding :func:`~ragstore.documents.decode_text` recognises).
        text_column: The column holding the text; ``None`` makes the text ``column: value`` lines
            (of the named columns).
        metadata_columns: The columns kept as metadata; by default every column but ``text_column``
            whose name can be a metadata key (not empty, not starting with ``$`` or ``#``).
        delimiter: The field separator (``"\t"`` for TSV).
        source: The ``source`` metadata and base of the ids; the path as given by default.

    Yields:
        A :class:`Document` per row, with ``source`` and ``row`` metadata.

    Raises:
        DocumentLoadError: The file cannot be read, a named column is missing, a column
            name cannot be a metadata key, or the CSV is malformed (raised when iterated).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.tsv"
        >>> _ = path.write_text("name\tage\nAda\t36\n")
        >>> next(load_csv(path, delimiter="\t", source="t.tsv")).text
        'name: Ada\nage: 36'

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    reader = csv.DictReader(io.StringIO(read_text(path, source), newline=""), delimiter=delimiter)
    try:
        columns = list(reader.fieldnames or ())
        for wanted in [text_column, *(metadata_columns or ())]:
            if wanted is not None and wanted not in columns:
                raise DocumentLoadError(f"{path.as_posix()} has no column {wanted!r} (its columns: {columns})", path, source)
        if metadata_columns is None:
            # Unnamed columns (pandas writes its index under an empty name) cannot be metadata keys.
            metadata_columns = [c for c in columns if c != text_column and c and c[0] not in "$#"]
        for number, row in enumerate(reader, start=1):
            cells = {c: v for c, v in row.items() if isinstance(c, str) and isinstance(v, str) and v.strip()}
            if text_column is not None:
                text = row.get(text_column) or ""
            else:
                text = "\n".join(f"{column}: {value.strip()}" for column, value in cells.items() if column)
            metadata: dict[str, Scalar] = {c: parse_scalar(cells[c]) for c in metadata_columns if c in cells}
            metadata.update(source=source, row=number)
            try:
                document = Document(document_id(source, row=number), text, metadata)
            except InvalidArgumentError as exc:
                raise DocumentLoadError(f"Row {number} of {path.as_posix()}: {exc}", path, source) from exc
            yield document
    except csv.Error as exc:
        raise DocumentLoadError(f"Malformed CSV in {path.as_posix()} (line {reader.line_num}): {exc}", path, source) from exc
