r"""JSON and JSON Lines files: records whose text sits at a dotted field path.

A JSON file holds one record (an object: one document) or an array of records
(one document each); ``records_field`` points at an array inside an object
(``{"data": [...]}``). A JSON Lines file holds one record per line and is read
line by line, so a large file is never in memory as a whole.

Field paths are dotted: ``"body"``, ``"content.text"``, ``"paragraphs.0"`` (a
digit indexes an array). The text field's value is used as is when it is a
string, as JSON otherwise; without a ``text_field`` the whole record is the
text (as JSON, unless it is a string). ``metadata_fields`` are copied under
their path as key; they must hold a string, number or boolean, and a field that
is missing or ``null`` is left out.

Records of an array or lines get ``row`` metadata (1-based; a JSONL row is its
line number, so blank lines do not shift later ids) and ids like
``data.jsonl#row=3``; every document gets ``source``.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "qa.jsonl"
    >>> _ = path.write_text('{"q": {"text": "Why?"}, "lang": "en"}\n')
    >>> doc = next(load_jsonl(path, text_field="q.text", metadata_fields=["lang"], source="qa.jsonl"))
    >>> doc.id, doc.text, doc.metadata
    ('qa.jsonl#row=1', 'Why?', {'lang': 'en', 'source': 'qa.jsonl', 'row': 1})

"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ragstore.documents.document import Document, Scalar, document_id
from ragstore.documents.errors import DocumentLoadError
from ragstore.documents.text_loader import read_text
from ragstore.errors import InvalidArgumentError


def get_field(record: Any, field_path: str) -> Any:
    """The value at a dotted path in a parsed JSON record, or ``None`` when any step is missing.

    Example:
        >>> get_field({"a": {"b": [10, 20]}}, "a.b.1"), get_field({"a": 1}, "a.x")
        (20, None)

    """
    value = record
    for part in field_path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Records:
    """Turns parsed records into documents with one set of field rules."""

    def __init__(self, path: Path, source: str, text_field: str | None, metadata_fields: Sequence[str]) -> None:
        self.path, self.source = path, source
        self.text_field, self.metadata_fields = text_field, list(metadata_fields)

    def fail(self, message: str, row: int | None) -> DocumentLoadError:
        where = f"row {row} of {self.path.as_posix()}" if row is not None else self.path.as_posix()
        return DocumentLoadError(f"{where}: {message}", self.path, self.source)

    def document(self, record: Any, row: int | None) -> Document:
        if self.text_field is None:
            text = _as_text(record)
        else:
            value = get_field(record, self.text_field)
            if value is None:
                raise self.fail(f"no text at field {self.text_field!r}", row)
            text = _as_text(value)
        metadata: dict[str, Scalar] = {}
        for field_path in self.metadata_fields:
            value = get_field(record, field_path)
            if value is None:
                continue
            if not isinstance(value, (str, int, float, bool)):
                raise self.fail(f"metadata field {field_path!r} holds {type(value).__name__}, not a string, number or boolean", row)
            metadata[field_path] = value
        metadata["source"] = self.source
        if row is not None:
            metadata["row"] = row
        try:
            return Document(document_id(self.source, row=row), text, metadata)
        except InvalidArgumentError as exc:
            raise self.fail(str(exc), row) from exc


def load_json(
    path: str | Path,
    *,
    text_field: str | None = None,
    metadata_fields: Sequence[str] = (),
    records_field: str | None = None,
    source: str | None = None,
) -> Iterator[Document]:
    """Load a JSON file: one document for an object, one per element for an array of records.

    Args:
        path: The file.
        text_field: Dotted path of the text in each record; ``None`` uses the whole record.
        metadata_fields: Dotted paths copied into metadata (under the path as key).
        records_field: Dotted path of the array of records inside the top-level object.
        source: The ``source`` metadata and base of the ids; the path as given by default.

    Yields:
        A :class:`Document` per record.

    Raises:
        DocumentLoadError: The file cannot be read or parsed, ``records_field`` is missing,
            or a record lacks its text or has a non-scalar metadata field (raised when iterated).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "faq.json"
        >>> _ = path.write_text('{"items": [{"a": "Yes."}, {"a": "No."}]}')
        >>> [d.text for d in load_json(path, records_field="items", text_field="a")]
        ['Yes.', 'No.']

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    records = _Records(path, source, text_field, metadata_fields)
    try:
        data = orjson.loads(read_text(path, source))
    except orjson.JSONDecodeError as exc:
        raise records.fail(f"not valid JSON: {exc}", None) from exc
    if records_field is not None:
        data = get_field(data, records_field)
        if data is None:
            raise records.fail(f"no records at field {records_field!r}", None)
    if isinstance(data, list):
        for row, record in enumerate(data, start=1):
            yield records.document(record, row)
    else:
        yield records.document(data, None)


def load_jsonl(
    path: str | Path,
    *,
    text_field: str | None = None,
    metadata_fields: Sequence[str] = (),
    source: str | None = None,
) -> Iterator[Document]:
    r"""Load a JSON Lines file lazily, one document per non-blank line.

    Args:
        path: The file (UTF-8, a BOM allowed).
        text_field: Dotted path of the text in each record; ``None`` uses the whole record.
        metadata_fields: Dotted paths copied into metadata (under the path as key).
        source: The ``source`` metadata and base of the ids; the path as given by default.

    Yields:
        A :class:`Document` per record, with ``row`` = its line number.

    Raises:
        DocumentLoadError: The file cannot be read, a line is not JSON, or a record lacks
            its text or has a non-scalar metadata field (raised when that line is reached).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "lines.jsonl"
        >>> _ = path.write_text('"first"\n\n"third"\n')
        >>> [(d.id, d.text) for d in load_jsonl(path, source="lines.jsonl")]
        [('lines.jsonl#row=1', 'first'), ('lines.jsonl#row=3', 'third')]

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    records = _Records(path, source, text_field, metadata_fields)
    try:
        # utf-8-sig: JSON Lines is UTF-8 by definition; a BOM on the first line is tolerated.
        with path.open(encoding="utf-8-sig", newline=None) as lines:
            for row, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise records.fail(f"not valid JSON: {exc}", row) from exc
                yield records.document(record, row)
    except OSError as exc:
        raise DocumentLoadError(f"Cannot read {path.as_posix()}: {exc.strerror or exc}", path, source) from exc
    except UnicodeDecodeError as exc:
        raise records.fail(f"not UTF-8: {exc}", None) from exc
