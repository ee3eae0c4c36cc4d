"""Convert between LangChain ``Document`` objects and ragstore records.

Writes replace a record, as LangChain expects of ``add_documents`` with an existing id:
ragstore's ``upsert`` merges metadata key by key, so keys the new document no longer has
are sent as ``None`` (which deletes them). ``None`` values in a document's metadata mean
"absent" and are not stored.

Example:
    >>> replacement_metadata({"a": 1, "b": None}, previous={"a": 0, "c": 2})
    {'a': 1, 'c': None}
    >>> documents_from_query({"ids": [["x"]], "documents": [["text"]], "metadatas": [[None]], "distances": [[0.5]]})
    [(Document(id='x', metadata={}, page_content='text'), 0.5)]

"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document


class InvalidRecordsError(ValueError):
    """``texts``, ``metadatas`` and ``ids`` do not line up, or an id is not a string."""


@dataclass(frozen=True)
class Batch:
    """The records of one write, at most the client's maximum batch size.

    Example:
        >>> Batch(["a"], ["text"], [{"k": 1}], [[1.0]]).ids
        ['a']

    """

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: list[list[float]]


def prepare_ids(count: int, ids: Sequence[str | None] | None) -> list[str]:
    """The ids of ``count`` new records: the given ones, with a uuid4 for each missing one.

    Raises:
        InvalidRecordsError: ``ids`` has the wrong length or a non-string entry.

    Example:
        >>> ids = prepare_ids(2, ["a", None])
        >>> ids[0], len(ids[1])
        ('a', 36)

    """
    if ids is None:
        return [str(uuid.uuid4()) for _ in range(count)]
    given = list(ids)
    if len(given) != count:
        raise InvalidRecordsError(f"Got {len(given)} ids for {count} texts")
    result: list[str] = []
    for item in given:
        if item is None or item == "":
            result.append(str(uuid.uuid4()))
        elif isinstance(item, str):
            result.append(item)
        else:
            raise InvalidRecordsError(f"Expected ids to be strings, got {item!r}")
    return result


def prepare_metadatas(count: int, metadatas: Sequence[Mapping[str, Any] | None] | None) -> list[dict[str, Any]]:
    """Copies of the metadatas (never the caller's dicts), one per text.

    Raises:
        InvalidRecordsError: ``metadatas`` has the wrong length or a non-dict entry.

    Example:
        >>> prepare_metadatas(2, None)
        [{}, {}]

    """
    if metadatas is None:
        return [{} for _ in range(count)]
    given = list(metadatas)
    if len(given) != count:
        raise InvalidRecordsError(f"Got {len(given)} metadatas for {count} texts")
    for item in given:
        if item is not None and not isinstance(item, Mapping):
            raise InvalidRecordsError(f"Expected each metadata to be a dict, got {type(item).__name__}")
    return [dict(item or {}) for item in given]


def batches(
    ids: list[str], texts: list[str], metadatas: list[dict[str, Any]], size: int
) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
    """Split parallel lists into slices of at most ``size`` records.

    Example:
        >>> [b[0] for b in batches(["a", "b", "c"], ["1", "2", "3"], [{}, {}, {}], 2)]
        [['a', 'b'], ['c']]

    """
    if size < 1:
        raise ValueError(f"Expected a batch size of at least 1, got {size}")
    for start in range(0, len(ids), size):
        end = start + size
        yield ids[start:end], texts[start:end], metadatas[start:end]


def replacement_metadata(new: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The metadata to upsert so the record ends up with exactly ``new``'s non-``None`` keys.

    Example:
        >>> replacement_metadata({"a": 1}, previous=None)
        {'a': 1}

    """
    result = {key: value for key, value in new.items() if value is not None}
    for key in previous or {}:
        if key not in result:
            result[key] = None
    return result


def upsert_metadatas(batch_ids: list[str], metadatas: list[dict[str, Any]], existing: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The ``metadatas=`` argument of an upsert: replacements, ``None`` for records with none at all.

    Args:
        batch_ids: The ids written.
        metadatas: Their new metadata.
        existing: A ragstore ``get(ids=batch_ids, include=["metadatas"])`` result.

    Example:
        >>> upsert_metadatas(["a", "b"], [{}, {"k": 1}], {"ids": ["a"], "metadatas": [{"old": 1}]})
        [{'old': None}, {'k': 1}]

    """
    previous = dict(zip(existing.get("ids") or [], existing.get("metadatas") or [], strict=False))
    rows: list[dict[str, Any] | None] = []
    for record_id, metadata in zip(batch_ids, metadatas, strict=True):
        merged = replacement_metadata(metadata, previous.get(record_id))
        rows.append(merged or None)
    if all(row is None for row in rows):
        return None
    # ragstore takes None for "no metadata" in a list; an empty dict is rejected.
    return rows  # type: ignore[return-value]


def _document(record_id: str, text: str | None, metadata: Mapping[str, Any] | None) -> Document:
    return Document(id=record_id, page_content=text or "", metadata=dict(metadata or {}))


def documents_from_get(result: Mapping[str, Any]) -> list[Document]:
    """Documents (with ``id``) from a ragstore ``get`` result.

    Example:
        >>> documents_from_get({"ids": ["a"], "documents": ["A"], "metadatas": [{"k": 1}]})
        [Document(id='a', metadata={'k': 1}, page_content='A')]

    """
    ids = result.get("ids") or []
    texts = result.get("documents") or [None] * len(ids)
    metas = result.get("metadatas") or [None] * len(ids)
    return [_document(i, t, m) for i, t, m in zip(ids, texts, metas, strict=True)]


def documents_from_query(result: Mapping[str, Any]) -> list[tuple[Document, float]]:
    """``(Document, distance)`` pairs, nearest first, from a one-query ragstore ``query`` result.

    Example:
        >>> documents_from_query({"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]})
        []

    """
    ids = (result.get("ids") or [[]])[0]
    texts = (result.get("documents") or [[None] * len(ids)])[0]
    metas = (result.get("metadatas") or [[None] * len(ids)])[0]
    distances = (result.get("distances") or [[0.0] * len(ids)])[0]
    return [(_document(i, t, m), float(d)) for i, t, m, d in zip(ids, texts, metas, distances, strict=True)]


def embeddings_from_query(result: Mapping[str, Any]) -> list[list[float]]:
    """The embeddings of a one-query ragstore ``query`` result (``include=["embeddings"]``).

    Example:
        >>> import numpy as np
        >>> embeddings_from_query({"embeddings": [np.array([[1.0, 2.0]], dtype=np.float32)]})
        [[1.0, 2.0]]

    """
    rows = (result.get("embeddings") or [[]])[0]
    return [[float(x) for x in row] for row in rows]
