"""Normalise and validate what users pass in: ids, embeddings, documents, URIs, include and counts.

Every function raises :class:`~ragstore.errors.InvalidArgumentError` (a
``ValueError``) with chromadb's wording where chromadb has one, and the
operation name appended (``"... in add."``). The request objects of
:mod:`ragstore.record_requests` are built with them, so every mode rejects the same
input; metadata has its own rules in :mod:`ragstore.metadata_validation`.

Example:
    >>> normalize_ids("a", "add")
    ['a']
    >>> normalize_embeddings([1, 2, 3], "add").shape
    (1, 3)

"""

from __future__ import annotations

import functools
import reprlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.errors import BatchSizeExceededError, DuplicateIDError, InvalidArgumentError
from ragstore.types import INCLUDE_VALUES

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Limits on what one request may ask for (chromadb has none of these; each bounds the
# work or the answer one call can cause, and every mode checks them here).
#
# An id fits a file path (PATH_MAX is 4,096 bytes) plus a chunk number, or a long URL
# (common servers stop at 8 KB); a 10 MB id, copied into every answer that returns it,
# let a 2 KB query request produce a 505 MB response.
MAX_ID_LENGTH = 8_192
# Query vectors per query call: as many records as one write may carry.
MAX_QUERY_EMBEDDINGS = 16_384
# Query vectors x n_results: every result costs an id, a distance and the included
# fields; 10,000 queries x n_results 100 crashed a server inside the JSON encoder.
MAX_QUERY_RESULTS = 100_000


def invalid(message: str, op: str | None) -> InvalidArgumentError:
    """The error for ``message``, naming the operation as chromadb does (``"... in add."``)."""
    return InvalidArgumentError(f"{message} in {op}." if op else message)


def check_text(text: str, what: str, op: str | None) -> str:
    """Reject strings that are not valid Unicode text (lone surrogates cannot be stored).

    Example:
        >>> check_text("ok", "document", "add")
        'ok'

    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(f"Expected {what} to be valid Unicode text, got {short_repr(text)} (it contains a lone surrogate)", op) from None
    return text


def normalize_ids(ids: Any, op: str | None) -> list[str]:
    """Turn one id or a sequence of ids into a checked list.

    Args:
        ids: A string or a sequence of strings.
        op: The operation name for error messages (``"add"``, ``"get"``...).

    Raises:
        InvalidArgumentError: empty list, non-str or empty id.
        DuplicateIDError: an id appears twice.

    Example:
        >>> normalize_ids(["a", "b"], "get")
        ['a', 'b']

    """
    if isinstance(ids, str):
        ids = [ids]
    if isinstance(ids, np.ndarray):
        ids = ids.tolist()
    if not isinstance(ids, Sequence):
        raise invalid(f"Expected IDs to be a list, got {ids!r}", op)
    if len(ids) == 0:
        raise invalid("Expected IDs to be a non-empty list, got 0 IDs", op)
    for id_ in ids:
        if not isinstance(id_, str):
            raise invalid(f"Expected ID to be a str, got {id_!r}", op)
        if id_ == "":
            raise invalid("Empty ID, ID must have at least one character", op)
        if len(id_) > MAX_ID_LENGTH:
            raise invalid(f"Expected ID to be at most {MAX_ID_LENGTH} characters (MAX_ID_LENGTH), got {len(id_)}", op)
        check_text(id_, "ID", op)
    id_list: list[str] = list(ids)
    if len(set(id_list)) != len(id_list):
        seen: set[str] = set()
        dups: list[str] = []
        for id_ in id_list:
            if id_ in seen and id_ not in dups:
                dups.append(id_)
            seen.add(id_)
        if len(dups) < 10:
            listed = ", ".join(dups)
            raise DuplicateIDError(f"Expected IDs to be unique, found duplicates of: {listed}" + (f" in {op}." if op else ""))
        shown = ", ".join(dups[:5]) + ", ..., " + ", ".join(dups[-5:])
        raise DuplicateIDError(f"Expected IDs to be unique, found {len(dups)} duplicated IDs: {shown}" + (f" in {op}." if op else ""))
    return id_list


@functools.lru_cache(maxsize=64)
def _is_number_type(kind: type) -> bool:
    return issubclass(kind, (int, float, np.integer, np.floating)) and not issubclass(kind, (bool, np.bool_))


def _all_numbers(values: Sequence[Any]) -> bool:
    # One type() per value in C, then a check per distinct type: ~15x faster than isinstance per value.
    return all(_is_number_type(kind) for kind in set(map(type, values)))


def _bad_embeddings(embeddings: Any, op: str | None) -> InvalidArgumentError:
    # Built only on failure: repr() of a large batch costs more than validating it.
    return invalid(
        "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array, "
        f"or a list of numpy arrays, got {short_repr(embeddings)}",
        op,
    )


def normalize_embeddings(embeddings: Any, op: str | None) -> npt.NDArray[np.float32]:
    """Turn one embedding or many (lists, numpy arrays) into an ``(n, d)`` float32 array.

    Raises:
        InvalidArgumentError: empty input, ragged rows, non-numbers, NaN or inf.

    Example:
        >>> normalize_embeddings([[1.0, 2.0], [3.0, 4.0]], "add").tolist()
        [[1.0, 2.0], [3.0, 4.0]]

    """
    if isinstance(embeddings, np.ndarray):
        array = embeddings
        if array.ndim == 1:
            array = array.reshape(1, -1)
    elif isinstance(embeddings, Sequence) and not isinstance(embeddings, (str, bytes)):
        if len(embeddings) == 0:
            raise invalid(f"Expected Embeddings to be non-empty list or numpy array, got {embeddings!r}", op)
        if _all_numbers(embeddings[:1]) and _all_numbers(embeddings):  # the first check is O(1)
            rows: list[Any] = [embeddings]
        else:
            rows = list(embeddings)
        for row in rows:
            if isinstance(row, np.ndarray):
                if row.dtype.kind not in "iuf" or row.ndim != 1:
                    raise _bad_embeddings(embeddings, op)
            elif not isinstance(row, Sequence) or isinstance(row, (str, bytes)) or not _all_numbers(row):
                raise _bad_embeddings(embeddings, op)
        lengths = {len(row) for row in rows}
        if len(lengths) > 1:
            raise invalid(f"Expected all embeddings to have the same dimension, got dimensions {sorted(lengths)}", op)
        array = np.asarray(rows, dtype=np.float64) if rows else np.empty((0, 0))
    else:
        raise _bad_embeddings(embeddings, op)
    if array.ndim != 2 or array.dtype.kind not in "iuf":
        raise _bad_embeddings(embeddings, op)
    if array.shape[0] == 0:
        raise invalid(f"Expected Embeddings to be non-empty list or numpy array, got {short_repr(embeddings)}", op)
    if array.shape[1] == 0:
        raise invalid("Expected each embedding in the embeddings to be a non-empty list or numpy array with at least 1 int/float value", op)
    with np.errstate(over="ignore"):  # an overflow is reported below, not as a RuntimeWarning
        as32 = np.ascontiguousarray(array, dtype=np.float32)
    # One pass over the values on the way in (this runs for every query); which fault it was is
    # worked out only on failure: the input itself, or a value too large for float32.
    if not np.isfinite(as32).all():
        if as32 is not array and np.isfinite(array).all():
            raise invalid("Embedding values must fit in float32 (got a value that overflows to Infinity)", op)
        raise invalid("Embeddings must not contain NaN or Infinity values", op)
    return as32


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = 8


def short_repr(value: Any) -> str:
    """A bounded ``repr`` for messages: its cost does not grow with the input."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return _REPR.repr(value)


def normalize_documents(documents: Any, op: str | None, *, allow_none: bool) -> list[str | None]:
    """Turn one document or many into a list; ``None`` entries only when allowed.

    Example:
        >>> normalize_documents("hello", "add", allow_none=False)
        ['hello']

    """
    if isinstance(documents, str):
        return [documents]
    if isinstance(documents, np.ndarray):
        documents = documents.tolist()
    if not isinstance(documents, Sequence):
        raise invalid(f"Expected documents to be a list of str, got {short_repr(documents)}", op)
    out: list[str | None] = []
    for doc in documents:
        if doc is None and allow_none:
            out.append(None)
        elif not isinstance(doc, str):
            raise invalid(f"Expected document to be a str, got {short_repr(doc)}", op)
        else:
            out.append(check_text(doc, "document", op))
    return out


def normalize_uris(uris: Any, op: str | None) -> list[str | None]:
    """Turn one URI or many into a list of ``str`` (``None`` allowed per record)."""
    if isinstance(uris, str):
        return [uris]
    if not isinstance(uris, Sequence):
        raise invalid(f"Expected uris to be a list of str, got {short_repr(uris)}", op)
    for uri in uris:
        if uri is not None and not isinstance(uri, str):
            raise invalid(f"Expected URI to be a str, got {short_repr(uri)}", op)
        if uri is not None:
            check_text(uri, "URI", op)
    return list(uris)


def check_lengths(op: str | None, **fields: Sequence[Any] | npt.NDArray[Any] | None) -> None:
    """Raise unless every given field has the same length (``None`` fields are skipped).

    Example:
        >>> check_lengths("add", ids=["a", "b"], embeddings=[[1.0]])
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Unequal lengths for fields: ids: 2, embeddings: 1 in add.

    """
    present = {name: len(value) for name, value in fields.items() if value is not None}
    if len(set(present.values())) > 1:
        listed = ", ".join(f"{name}: {n}" for name, n in present.items())
        raise invalid(f"Unequal lengths for fields: {listed}", op)


def validate_include(include: Any, op: str, *, allow_distances: bool) -> list[str]:
    """Check an ``include`` list; ``distances`` is only valid for query.

    Example:
        >>> validate_include(["documents"], "get", allow_distances=False)
        ['documents']

    """
    if isinstance(include, str) or not isinstance(include, Sequence):
        raise invalid(f"Expected include to be a list, got {short_repr(include)}", op)
    allowed = ", ".join(INCLUDE_VALUES)
    for item in include:
        if item not in INCLUDE_VALUES:
            raise invalid(f"Expected include item to be one of {allowed}, got {item}", op)
        if item == "distances" and not allow_distances:
            raise invalid("Include item cannot be one of distances, got distances", op)
    return list(include)


def validate_non_negative_int(value: Any, name: str, op: str | None) -> int | None:
    """Check ``limit``/``offset``: ``None`` or an int >= 0 (bools are not ints here)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise invalid(f"Expected {name} to be a non-negative int, got {short_repr(value)}", op)
    if value < 0:
        raise invalid(f"Expected {name} to be a non-negative int, got {value}", op)
    if value > INT64_MAX:  # SQLite binds 64-bit ints only
        raise invalid(f"Expected {name} to be at most {INT64_MAX}, got {value}", op)
    return int(value)


def validate_n_results(n_results: Any) -> int:
    """Check ``n_results``: an int >= 1 (its product with the query count: :func:`check_query_size`)."""
    if isinstance(n_results, bool) or not isinstance(n_results, (int, np.integer)):
        raise InvalidArgumentError(f"Expected requested number of results to be a int, got {short_repr(n_results)} in query.")
    if n_results <= 0:
        raise InvalidArgumentError(f"Number of requested results {n_results}, cannot be negative, or zero. in query.")
    return int(n_results)


def check_batch_size(count: int, max_batch_size: int) -> None:
    """Refuse a write of more records than ``max_batch_size`` (what ``get_max_batch_size()`` reports).

    Example:
        >>> check_batch_size(3, 2)
        Traceback (most recent call last):
        ...
        ragstore.errors.BatchSizeExceededError: Batch size 3 exceeds maximum batch size 2

    """
    if count > max_batch_size:
        raise BatchSizeExceededError(f"Batch size {count} exceeds maximum batch size {max_batch_size}")


def check_query_size(n_queries: int, n_results: int) -> None:
    """Refuse a query asking for more than ``MAX_QUERY_EMBEDDINGS`` vectors or ``MAX_QUERY_RESULTS`` results.

    Example:
        >>> check_query_size(200, 1000)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected query embeddings x n_results to be at most 100000 (MAX_QUERY_RESULTS), ...

    """
    if n_queries > MAX_QUERY_EMBEDDINGS:
        raise invalid(f"Expected at most {MAX_QUERY_EMBEDDINGS} query embeddings (MAX_QUERY_EMBEDDINGS), got {n_queries}", "query")
    if n_queries * n_results > MAX_QUERY_RESULTS:
        raise invalid(
            f"Expected query embeddings x n_results to be at most {MAX_QUERY_RESULTS} (MAX_QUERY_RESULTS), got {n_queries} x {n_results}",
            "query",
        )
