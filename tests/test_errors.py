"""The error matrix: every malformed call raises the right class and message, and changes nothing.

Messages follow chromadb 1.5.9 (reference doc, sections 1.3 and 2.1-2.6) with ragstore's
" in <op>." suffix; classes follow ragstore's error tree. Every rejected write is checked
against a snapshot of the whole collection (records, vectors, count, search results).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.errors import (
    AuthorizationError,
    BatchSizeExceededError,
    ClosedError,
    DuplicateIDError,
    InvalidArgumentError,
    InvalidDimensionException,
    NotFoundError,
    RagstoreError,
    UniqueConstraintError,
    error_class_for,
    error_classes,
)
from ragstore.filters import MAX_FILTER_DEPTH, MAX_FILTER_SIZE

DIM = 3
WRITES = ("add", "upsert", "update")


@pytest.fixture
def col(client: ragstore.ClientAPI) -> ragstore.Collection:
    """Three records of dimension 3, with a mix of present and absent fields."""
    collection = client.create_collection("errors", embedding_function=None)
    collection.add(
        ids=["a", "b", "c"],
        embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        documents=["alpha", None, "gamma"],
        metadatas=[{"k": 1, "tags": ["x"]}, None, {"k": 3}],
        uris=["u://a", None, None],
    )
    return collection


def snapshot(col: ragstore.Collection) -> tuple[Any, ...]:
    got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
    assert got["embeddings"] is not None
    near = None
    if got["ids"]:  # the index answers too (a query of the collection's dimension)
        probe = np.linspace(0.9, 0.1, got["embeddings"].shape[1])
        near = col.query(query_embeddings=[probe], n_results=10, include=["distances"])["ids"]
    return col.count(), got["ids"], got["embeddings"].tolist(), got["documents"], got["metadatas"], got["uris"], near


@contextlib.contextmanager
def rejected(col: ragstore.Collection, exc: type[BaseException] = InvalidArgumentError, match: str | None = None) -> Iterator[None]:
    """The block must raise ``exc`` (message matching ``match``) and leave ``col`` exactly as it was."""
    before = snapshot(col)
    with pytest.raises(exc, match=match):
        yield
    assert snapshot(col) == before


def write(col: ragstore.Collection, op: str, **kwargs: Any) -> None:
    getattr(col, op)(**kwargs)


def batch_ids(op: str) -> list[str]:
    """Two ids for a batch: new ones for add, existing ones for update, one of each for upsert."""
    return {"add": ["n1", "n2"], "update": ["a", "b"], "upsert": ["a", "n2"]}[op]


# ---------------------------------------------------------------------------------- dimensions and vectors


@pytest.mark.parametrize("op", [*WRITES, "query"])
def test_dimension_mismatch(col: ragstore.Collection, op: str) -> None:
    message = "^Collection expecting embedding with dimension of 3, got 2$"
    with rejected(col, InvalidDimensionException, message):
        if op == "query":
            col.query(query_embeddings=[[1.0, 2.0]])
        else:
            write(col, op, ids=batch_ids(op), embeddings=[[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(InvalidDimensionException, match="dimension of 3, got 4") as info:
        col.query(query_embeddings=[[1.0, 2.0, 3.0, 4.0]])
    assert isinstance(info.value, InvalidArgumentError) and isinstance(info.value, ValueError)


def test_first_write_fixes_the_dimension(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("dims", embedding_function=None)
    assert col.query(query_embeddings=[[1.0]], n_results=1)["ids"] == [[]]  # empty: any dimension may be asked
    with rejected(col, InvalidArgumentError):  # a rejected batch does not fix the dimension
        col.add(ids=["x", "y"], embeddings=[[1.0, 2.0], [3.0, 4.0]], metadatas=[{"k": 1}, {"k": {"bad": 1}}])
    col.upsert(ids=["p"], embeddings=[[1.0, 2.0, 3.0, 4.0]])
    with rejected(col, InvalidDimensionException, "dimension of 4, got 2"):
        col.add(ids=["q"], embeddings=[[1.0, 2.0]])
    with rejected(col, InvalidDimensionException, "dimension of 4, got 5"):
        col.upsert(ids=["p"], embeddings=[[1.0, 2.0, 3.0, 4.0, 5.0]])
    with rejected(col, InvalidDimensionException, "dimension of 4, got 3"):
        col.update(ids=["p"], embeddings=[[1.0, 2.0, 3.0]])
    with rejected(col, InvalidDimensionException, "dimension of 4, got 1"):
        col.add(ids=["p"], embeddings=[[1.0]])  # even when every id exists (and would be skipped)
    col.delete(ids=["p"])
    with rejected(col, InvalidDimensionException):  # emptying the collection does not reset its dimension
        col.add(ids=["q"], embeddings=[[1.0, 2.0]])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("op", [*WRITES, "query"])
def test_non_finite_embeddings(col: ragstore.Collection, op: str, bad: float) -> None:
    message = "Embeddings must not contain NaN or Infinity values"
    for embeddings in ([[1.0, 2.0, 3.0], [1.0, bad, 3.0]], np.array([[1.0, 2.0, 3.0], [1.0, 2.0, bad]])):
        with rejected(col, InvalidArgumentError, message):
            if op == "query":
                col.query(query_embeddings=embeddings)
            else:
                write(col, op, ids=batch_ids(op), embeddings=embeddings)


@pytest.mark.parametrize("op", [*WRITES, "query"])
def test_embeddings_that_overflow_float32(col: ragstore.Collection, op: str) -> None:
    """Finite in float64, infinite in float32: rejected cleanly (no RuntimeWarning from numpy first)."""
    for embeddings in ([[1.0, 2.0, 3.0], [1e39, 0.0, 0.0]], np.array([[1.0, 2.0, 3.0], [0.0, -1e39, 0.0]])):
        with rejected(col, InvalidArgumentError, "fit in float32"):
            if op == "query":
                col.query(query_embeddings=embeddings)
            else:
                write(col, op, ids=batch_ids(op), embeddings=embeddings)


@pytest.mark.parametrize(
    ("embeddings", "message"),
    [
        ([[1.0, 2.0, 3.0], []], "Expected all embeddings to have the same dimension"),
        ([[], []], "Expected each embedding in the embeddings to be a non-empty list or numpy array with at least 1 int/float value"),
        ([[1.0, 2.0, 3.0], [True, False, True]], "Expected embeddings to be a list of floats or ints, a list of lists, a numpy array"),
        ([[1.0, 2.0, 3.0], ["1", "2", "3"]], "Expected embeddings to be a list of floats or ints"),
        ([[1.0, 2.0, 3.0], [1.0, 2.0]], "Expected all embeddings to have the same dimension, got dimensions \\[2, 3\\]"),
    ],
)
def test_malformed_embeddings(col: ragstore.Collection, embeddings: Any, message: str) -> None:
    for op in WRITES:
        with rejected(col, InvalidArgumentError, message):
            write(col, op, ids=batch_ids(op), embeddings=embeddings)


# ---------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("op", WRITES)
def test_empty_ids_list(col: ragstore.Collection, op: str) -> None:
    with rejected(col, InvalidArgumentError, f"in {op}\\.$"):
        write(col, op, ids=[], embeddings=[])
    with rejected(col, InvalidArgumentError, f"^Expected IDs to be a non-empty list, got 0 IDs in {op}\\.$"):
        write(col, op, ids=[], embeddings=[[1.0, 2.0, 3.0]])


def test_empty_ids_list_in_get_and_delete(col: ragstore.Collection) -> None:
    with rejected(col, InvalidArgumentError, "^Expected IDs to be a non-empty list, got 0 IDs in get\\.$"):
        col.get(ids=[])
    with rejected(col, InvalidArgumentError, "^Expected IDs to be a non-empty list, got 0 IDs in delete\\.$"):
        col.delete(ids=[])


@pytest.mark.parametrize("op", [*WRITES, "delete", "get"])
def test_empty_and_non_str_ids(col: ragstore.Collection, op: str) -> None:
    def call(ids: list[Any]) -> None:
        if op in ("delete", "get"):
            getattr(col, op)(ids=ids)
        else:
            write(col, op, ids=ids, embeddings=[[1.0, 2.0, 3.0]] * len(ids))

    with rejected(col, InvalidArgumentError, "^Empty ID, ID must have at least one character"):
        call(["a", ""])
    with rejected(col, InvalidArgumentError, f"^Expected ID to be a str, got 1 in {op}\\.$"):
        call(["a", 1])
    with rejected(col, InvalidArgumentError, "^Expected ID to be a str, got None"):
        call(["a", None])
    with rejected(col, InvalidArgumentError, "^Expected ID to be a str, got b'a'"):
        call(["a", b"a"])


@pytest.mark.parametrize("op", WRITES)
def test_duplicate_ids(col: ragstore.Collection, op: str) -> None:
    with rejected(col, DuplicateIDError, f"^Expected IDs to be unique, found duplicates of: d in {op}\\.$"):
        write(col, op, ids=["d", "e", "d"], embeddings=[[1.0, 2.0, 3.0]] * 3)
    with rejected(col, DuplicateIDError, f"^Expected IDs to be unique, found duplicates of: (a, b|b, a) in {op}\\.$"):
        write(col, op, ids=["a", "b", "b", "a"], embeddings=[[1.0, 2.0, 3.0]] * 4)
    many = [f"x{i}" for i in range(12)]
    message = f"^Expected IDs to be unique, found 12 duplicated IDs: (x[0-9]+, ){{5}}\\.\\.\\., (x[0-9]+, ){{4}}x[0-9]+ in {op}\\.$"
    with rejected(col, DuplicateIDError, message):
        write(col, op, ids=many + many, embeddings=[[1.0, 2.0, 3.0]] * 24)
    assert issubclass(DuplicateIDError, InvalidArgumentError) and issubclass(DuplicateIDError, ValueError)


# ---------------------------------------------------------------------------------- lengths, documents, uris


@pytest.mark.parametrize("op", WRITES)
def test_length_mismatches(col: ragstore.Collection, op: str) -> None:
    ids = batch_ids(op)
    one, two = [[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]] * 2
    with rejected(col, InvalidArgumentError, f"^Unequal lengths for fields: ids: 2, embeddings: 1 in {op}\\.$"):
        write(col, op, ids=ids, embeddings=one)
    with rejected(col, InvalidArgumentError, "^Unequal lengths for fields: .*metadatas: 1"):
        write(col, op, ids=ids, embeddings=two, metadatas=[{"k": 1}])
    with rejected(col, InvalidArgumentError, "^Unequal lengths for fields: .*documents: 3"):
        write(col, op, ids=ids, embeddings=two, documents=["x", "y", "z"])
    with rejected(col, InvalidArgumentError, "^Unequal lengths for fields: .*uris: 1"):
        write(col, op, ids=ids, embeddings=two, uris=["u://1"])


@pytest.mark.parametrize("op", WRITES)
def test_bad_documents_and_uris(col: ragstore.Collection, op: str) -> None:
    two = [[1.0, 2.0, 3.0]] * 2
    with rejected(col, InvalidArgumentError, f"^Expected document to be a str, got 5 in {op}\\.$"):
        write(col, op, ids=batch_ids(op), embeddings=two, documents=["fine", 5])
    with rejected(col, InvalidArgumentError, f"^Expected URI to be a str, got 5 in {op}\\.$"):
        write(col, op, ids=batch_ids(op), embeddings=two, uris=["u://fine", 5])


@pytest.mark.parametrize("op", WRITES)
def test_text_that_cannot_be_stored_is_rejected_whole(col: ragstore.Collection, op: str) -> None:
    """A lone surrogate cannot be encoded as UTF-8; the batch fails and nothing is written."""
    two = [[1.0, 2.0, 3.0]] * 2
    with rejected(col, InvalidArgumentError, "lone surrogate"):
        write(col, op, ids=batch_ids(op), embeddings=two, documents=["fine", "bad \ud800"])
    with rejected(col, InvalidArgumentError, "lone surrogate"):
        write(col, op, ids=batch_ids(op), embeddings=two, metadatas=[{"k": 1}, {"k": "bad \udc00"}])
    with rejected(col, InvalidArgumentError, "lone surrogate"):
        write(col, op, ids=[*batch_ids(op)[:1], "bad \ud800"], embeddings=two)
    with rejected(col, InvalidArgumentError, "lone surrogate"):
        write(col, op, ids=batch_ids(op), embeddings=two, metadatas=[{"k": 1}, {"bad \ud800": 1}])


def test_filter_operands_that_match_nothing_storable_are_rejected(col: ragstore.Collection) -> None:
    for where in ({"k": math.nan}, {"k": {"$gt": math.inf}}, {"k": {"$in": [1.0, math.nan]}}, {"k": "x\ud800"}):
        with pytest.raises(InvalidArgumentError, match=r"\(at where\.k\)"):
            col.get(where=where)
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        col.get(where_document={"$contains": "x\ud800"})
    too_big = {"$or": [{"k": i} for i in range(MAX_FILTER_SIZE + 1)]}
    with pytest.raises(InvalidArgumentError, match="at most 10000 conditions"):
        col.query(query_embeddings=[1.0, 2.0, 3.0], where=too_big)


# ---------------------------------------------------------------------------------- metadata

BAD_METADATA_VALUES: list[tuple[Any, str]] = [
    (
        {"b": 1},
        r"^Expected metadata value to be a str, int, float, bool, SparseVector, list, or None, got \{'b': 1\} which is a dict in {op}\.$",
    ),
    ([], r"^Expected metadata list value for key 'tags' to be non-empty in {op}\.$"),
    (
        ["a", 1],
        r"^Expected metadata list value for key 'tags' to contain only str, int, float, or bool "
        r"and all elements must be the same type, got \['a', 1\] in {op}\.$",
    ),
    ([True, 1], r"all elements must be the same type, got \[True, 1\]"),
    ([1, 2.5], r"all elements must be the same type, got \[1, 2\.5\]"),
    ([[1]], r"all elements must be the same type, got \[\[1\]\]"),
    ([1, None], r"all elements must be the same type"),
    ([math.nan], r"to be finite"),
    (math.nan, r"^Expected metadata float value for key 'tags' to be finite, got nan in {op}\.$"),
    (math.inf, r"to be finite, got inf"),
    (-math.inf, r"to be finite, got -inf"),
    (np.float64("nan"), r"to be finite"),
    (2**63, r"^Expected metadata int value for key 'tags' to fit in 64 bits, got 9223372036854775808 in {op}\.$"),
    (-(2**63) - 1, r"to fit in 64 bits"),
    (b"x", r"which is a bytes"),
    ({1, 2}, r"which is a set"),
]


@pytest.mark.parametrize(("value", "message"), BAD_METADATA_VALUES, ids=lambda v: repr(v)[:24])
@pytest.mark.parametrize("op", WRITES)
def test_bad_metadata_values(col: ragstore.Collection, op: str, value: Any, message: str) -> None:
    """Only the last record of the batch is bad; the whole batch is rejected."""
    with rejected(col, InvalidArgumentError, message.replace("{op}", op)):
        write(col, op, ids=batch_ids(op), embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"k": 1}, {"k": 2, "tags": value}])


def test_none_metadata_value_only_in_add(col: ragstore.Collection) -> None:
    with rejected(col, InvalidArgumentError, r"^Expected metadata value for key 'k' to be .*got None.* in add\.$"):
        col.add(ids=["n1", "n2"], embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"k": 1}, {"k": None}])
    col.update(ids=["a"], metadatas=[{"k": None}])  # update and upsert: None deletes the key
    assert col.get(ids="a")["metadatas"] == [{"tags": ["x"]}]


def test_metadata_integer_bounds_are_accepted(col: ragstore.Collection) -> None:
    col.add(ids=["big", "small"], embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"v": 2**63 - 1}, {"v": -(2**63)}])
    assert col.get(ids=["big", "small"])["metadatas"] == [{"v": 2**63 - 1}, {"v": -(2**63)}]


BAD_METADATA_KEYS: list[tuple[Any, str]] = [
    (1, r"^Expected metadata key to be a str, got 1 which is a int in {op}\.$"),
    (None, r"^Expected metadata key to be a str, got None"),
    ("", r"^Expected metadata key to be a non-empty str not starting with '\$' or '#', got '' in {op}\.$"),
    ("$x", r"not starting with '\$' or '#', got '\$x'"),
    ("#x", r"not starting with '\$' or '#', got '#x'"),
    ("#document", r"not starting with '\$' or '#'"),
    ("chroma:document", r"^Expected metadata to not contain the reserved key chroma:document in {op}\.$"),
]


@pytest.mark.parametrize(("key", "message"), BAD_METADATA_KEYS)
@pytest.mark.parametrize("op", WRITES)
def test_bad_metadata_keys(col: ragstore.Collection, op: str, key: Any, message: str) -> None:
    with rejected(col, InvalidArgumentError, message.replace("{op}", op)):
        write(col, op, ids=batch_ids(op), embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"k": 1}, {"k": 2, key: "v"}])


@pytest.mark.parametrize("op", WRITES)
def test_empty_or_non_dict_metadata(col: ragstore.Collection, op: str) -> None:
    with rejected(col, InvalidArgumentError, f"^Expected metadata to be a non-empty dict, got 0 metadata attributes in {op}\\.$"):
        write(col, op, ids=batch_ids(op), embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"k": 1}, {}])
    with rejected(col, InvalidArgumentError, "^Expected metadata to be a dict or None, got 'x'"):
        write(col, op, ids=batch_ids(op), embeddings=[[1.0, 2.0, 3.0]] * 2, metadatas=[{"k": 1}, "x"])


def test_no_embeddings_and_no_documents(col: ragstore.Collection) -> None:
    with rejected(col, InvalidArgumentError, r"^Exactly one of documents, uris, images must be provided in add\.$"):
        col.add(ids=["n1"])
    with rejected(col, InvalidArgumentError, r"^Exactly one of documents, images must be provided in upsert\.$"):
        col.upsert(ids=["n1"], metadatas=[{"k": 1}])


# ---------------------------------------------------------------------------------- filters

BAD_WHERE: list[tuple[Any, str]] = [
    ({"k": {"$exist": True}}, r"Expected where operator to be one of \$gt, \$gte, \$lt, \$lte, \$ne, \$eq, \$in, \$nin"),
    ({"k": {"$exists": 1}}, r"Expected operand value for operator \$exists to be true or false, got 1"),
    ({"k": {"$regex": "("}}, r"Regex syntax error"),
    ({"$contains": "x"}, r"Expected where key to be a metadata field name or a logical operator \(\$and, \$or, \$not\), got \$contains"),
    ({"k": {"$gt": "b"}}, r"Expected operand value to be an int or a float for operator \$gt"),
    ({"k": {"$lte": None}}, r"Expected operand value to be an int or a float for operator \$lte"),
    ({"k": {"$in": "x"}}, r"Expected where operand value to be a non-empty list, and all values to be of the same type"),
    ({"k": {"$nin": [1, "x"]}}, r"to be of the same type got \[1, 'x'\]"),
    ({"k": {"$eq": {"a": 1}}}, r"Expected where operand value to be a str, int, float, or bool"),
    ({"k": None}, r"Expected where value to be a str, int, float, or operator expression, got None"),
    ({"k": [1, 2]}, r"Expected where value to be a str, int, float, or operator expression, got \[1, 2\]"),
    ({"k": 1, "j": 2}, r"Expected where to have exactly one operator"),
    ({"k": {}}, r"Expected operator expression to have exactly one operator"),
    ({"$and": [{"k": 1}]}, r"Expected where value for \$and or \$or to be a list with at least two where expressions"),
    ({"$or": []}, r"at least two where expressions"),
    ({"$and": {"k": 1}}, r"at least two where expressions"),
    ({"#document": {"$contains": ""}}, r"non-empty str"),
    ({"#document": {"$regex": "a"}}, r"#document operator to be \$contains or \$not_contains"),
    ({"#document": "alpha"}, r"#document to be an operator expression"),
    ("k", r"Expected where to be a dict"),
    ({"k": 2**64}, r"Expected where operand int value to fit in 64 bits, got 18446744073709551616"),
    ({"k": {"$gt": -(2**63) - 1}}, r"to fit in 64 bits"),
    ({"k": {"$nin": [1, 2**63]}}, r"to fit in 64 bits"),
    ({"tags": {"$contains": 2**63}}, r"to fit in 64 bits"),
]

BAD_WHERE_DOCUMENT: list[tuple[Any, str]] = [
    (
        {"$eq": "x"},
        r"Expected where document operator to be one of \$contains, \$not_contains, \$regex, \$not_regex, \$and, \$or, \$not, got \$eq",
    ),
    ({"$contains": ""}, r"Expected where document operand value for operator \$contains to be a non-empty str"),
    ({"$not_contains": 3}, r"for operator \$not_contains to be a non-empty str"),
    ({"$contains": ["a"]}, r"to be a non-empty str"),
    ({"$regex": ""}, r"for operator \$regex to be a non-empty str"),
    ({"$and": [{"$contains": "a"}]}, r"Expected document value for \$and or \$or to be a list with at least two"),
    ({"$or": [{"$contains": "a"}]}, r"at least two where document expressions"),
    ({"$regex": "("}, r"Regex syntax error"),
    ({"$not_regex": "[a"}, r"Regex syntax error"),
    ({"$regex": "(?<=a)b"}, r"Regex syntax error"),  # look-behind: neither RE2 nor Rust's regex
    ({"$regex": r"(a)\1"}, r"Regex syntax error"),  # back-references likewise
    ({"$contains": "a", "$regex": "b"}, r"Expected where document to have exactly one operator"),
    ({"$regex": "a" * 5000}, r"Expected regex to be at most 4096 characters, got 5000"),
    ({"$regex": "((a{100}){100}){100}"}, r"Regex syntax error"),  # too costly to compile
]


def _nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    """A filter whose leaves sit at nesting level ``depth`` (the top level is 1)."""
    node = leaf
    for _ in range(depth - 1):
        node = {"$and": [node, leaf]}
    return node


def _check_rejected_filter(col: ragstore.Collection, message: str, **filters: Any) -> None:
    with rejected(col, InvalidArgumentError, message):
        col.get(**filters)
    with rejected(col, InvalidArgumentError, message):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], **filters)
    with rejected(col, InvalidArgumentError, message):
        col.delete(**filters)
    with rejected(col, InvalidArgumentError, message):
        col.delete(ids=["a", "b", "c"], **filters)


@pytest.mark.parametrize(("where", "message"), BAD_WHERE, ids=lambda v: repr(v)[:32])
def test_invalid_where(col: ragstore.Collection, where: Any, message: str) -> None:
    _check_rejected_filter(col, message, where=where)


@pytest.mark.parametrize(("where_document", "message"), BAD_WHERE_DOCUMENT, ids=lambda v: repr(v)[:32])
def test_invalid_where_document(col: ragstore.Collection, where_document: Any, message: str) -> None:
    _check_rejected_filter(col, message, where_document=where_document)


def test_filter_nesting_limit(col: ragstore.Collection) -> None:
    deepest_where = _nested(MAX_FILTER_DEPTH, {"k": {"$gte": 1}})
    deepest_document = _nested(MAX_FILTER_DEPTH, {"$contains": "a"})
    assert col.get(where=deepest_where, include=[])["ids"] == ["a", "c"]
    assert col.get(where_document=deepest_document, include=[])["ids"] == ["a", "c"]
    _check_rejected_filter(col, f"nested at most {MAX_FILTER_DEPTH} levels deep", where=_nested(MAX_FILTER_DEPTH + 1, {"k": 1}))
    _check_rejected_filter(
        col, f"nested at most {MAX_FILTER_DEPTH} levels deep", where_document=_nested(MAX_FILTER_DEPTH + 1, {"$contains": "a"})
    )
    hostile: dict[str, Any] = {"k": 1}
    for _ in range(5000):  # far deeper than Python's recursion limit: still a clean InvalidArgumentError
        hostile = {"$or": [hostile, {"k": 2}]}
    _check_rejected_filter(col, "levels deep", where=hostile)


def test_int64_bounds_in_where_are_accepted(col: ragstore.Collection) -> None:
    col.add(ids=["big"], embeddings=[[1.0, 1.0, 1.0]], metadatas=[{"k": 2**63 - 1}])
    assert col.get(where={"k": 2**63 - 1}, include=[])["ids"] == ["big"]
    assert col.get(where={"k": {"$gt": -(2**63)}}, include=[])["ids"] == ["a", "c", "big"]
    assert col.get(where={"k": {"$in": [-(2**63), 3]}}, include=[])["ids"] == ["c"]


def test_where_errors_are_rejected_before_a_valid_where_document_runs(col: ragstore.Collection) -> None:
    with rejected(col, InvalidArgumentError, r"\$foo"):
        col.delete(where={"k": {"$foo": 1}}, where_document={"$contains": "a"})
    with rejected(col, InvalidArgumentError, "Regex syntax error"):
        col.delete(where={"k": 1}, where_document={"$regex": "("})


# ---------------------------------------------------------------------------------- include, n_results, limit, offset


def test_unknown_include_values(col: ragstore.Collection) -> None:
    allowed = "documents, embeddings, metadatas, distances, uris, data"
    with rejected(col, InvalidArgumentError, f"^Expected include item to be one of {allowed}, got ids in get\\.$"):
        col.get(include=["ids"])
    with rejected(col, InvalidArgumentError, "^Include item cannot be one of distances, got distances in get\\.$"):
        col.get(include=["documents", "distances"])
    with rejected(col, InvalidArgumentError, f"^Expected include item to be one of {allowed}, got ids in query\\.$"):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], include=["ids"])
    with rejected(col, InvalidArgumentError, "got foo in query"):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], include=["distances", "foo"])
    with rejected(col, InvalidArgumentError, "^You must set a data loader on the collection if loading from URIs\\.$"):
        col.get(include=["data"])
    with rejected(col, InvalidArgumentError, "Expected include to be a list"):
        col.get(include="documents")


@pytest.mark.parametrize(
    ("n_results", "message"),
    [
        (0, r"^Number of requested results 0, cannot be negative, or zero\. in query\.$"),
        (-1, r"^Number of requested results -1, cannot be negative, or zero\. in query\.$"),
        (2.0, r"^Expected requested number of results to be a int, got 2\.0"),
        (True, r"^Expected requested number of results to be a int, got True"),
        ("3", r"^Expected requested number of results to be a int, got '3'"),
        (None, r"^Expected requested number of results to be a int, got None"),
    ],
)
def test_bad_n_results(col: ragstore.Collection, n_results: Any, message: str) -> None:
    with rejected(col, InvalidArgumentError, message):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=n_results)


def test_numpy_n_results_is_accepted(col: ragstore.Collection) -> None:
    assert col.query(query_embeddings=[[1.0, 0.5, 0.0]], n_results=np.int64(2))["ids"] == [["a", "b"]]


@pytest.mark.parametrize("name", ["limit", "offset"])
def test_negative_or_non_int_limit_and_offset(client: ragstore.ClientAPI, col: ragstore.Collection, name: str) -> None:
    with rejected(col, InvalidArgumentError, f"^Expected {name} to be a non-negative int, got -1 in get\\.$"):
        col.get(**{name: -1})
    with rejected(col, InvalidArgumentError, f"^Expected {name} to be a non-negative int"):
        col.get(**{name: 1.5})
    with rejected(col, InvalidArgumentError, f"^Expected {name} to be a non-negative int"):
        col.get(**{name: True})
    with pytest.raises(InvalidArgumentError, match=f"^Expected {name} to be a non-negative int, got -1 in list_collections\\.$"):
        client.list_collections(**{name: -1})
    assert col.get(**{name: 0}, include=[])["ids"] == ([] if name == "limit" else ["a", "b", "c"])


def test_delete_needs_something_to_match(col: ragstore.Collection) -> None:
    message = r"^At least one of ids, where, or where_document must be provided in delete\.$"
    with rejected(col, InvalidArgumentError, message):
        col.delete()
    with rejected(col, InvalidArgumentError, message):
        col.delete(where={}, where_document={})
    with rejected(col, InvalidArgumentError, message):
        col.delete(limit=1)


def test_delete_limit_needs_a_filter(col: ragstore.Collection) -> None:
    with rejected(
        col, InvalidArgumentError, r"^limit can only be specified when a where or where_document clause is provided in delete\.$"
    ):
        col.delete(ids=["a"], limit=1)
    with rejected(col, InvalidArgumentError, r"^Expected limit to be a non-negative int, got -1 in delete\.$"):
        col.delete(where={"k": 1}, limit=-1)
    with rejected(col, InvalidArgumentError, r"^Expected limit to be a non-negative int"):
        col.delete(where={"k": 1}, limit="1")


def test_query_input_errors(col: ragstore.Collection) -> None:
    with rejected(col, InvalidArgumentError, r"^At least one of one of embeddings, documents, images, uris must be provided in query\.$"):
        col.query()
    with rejected(col, InvalidArgumentError, r"^Expected only one of query_embeddings or query_texts in query"):
        col.query(query_embeddings=[[1.0, 0.0, 0.0]], query_texts=["x"])
    with rejected(col, InvalidArgumentError, r"^Expected Embeddings to be non-empty list or numpy array"):
        col.query(query_embeddings=[])


# ---------------------------------------------------------------------------------- collections


BAD_NAMES: list[tuple[Any, str]] = [
    ("ab", "^Validation error: name: Expected a name containing 3-512 characters from \\[a-zA-Z0-9._-\\], "),
    ("a" * 513, "3-512 characters"),
    ("-abc", "starting and ending with a character in \\[a-zA-Z0-9\\]\\. Got: -abc$"),
    ("abc-", "Got: abc-$"),
    ("_ab", "Got: _ab$"),
    ("a b c", "Got: a b c$"),
    ("abç", "Got: abç$"),
    ("", "Got: $"),
    ("ab!c", "Got: ab!c$"),
    ("a..b", "^Validation error: name: Expected a name that does not contains two consecutive periods \\(\\.\\.\\)\\. Got a\\.\\.b$"),
    ("192.168.1.1", "^Validation error: name: Expected a name that is not a valid ip address\\. Got 192\\.168\\.1\\.1$"),
    (5, "collection name to be a str"),
    (None, "collection name to be a str"),
]


@pytest.mark.parametrize(("name", "message"), BAD_NAMES, ids=lambda v: repr(v)[:16])
def test_bad_collection_names(client: ragstore.ClientAPI, name: Any, message: str) -> None:
    existing = client.create_collection("keep.me", embedding_function=None)
    with pytest.raises(InvalidArgumentError, match=message):
        client.create_collection(name)
    with pytest.raises(InvalidArgumentError, match=message):
        client.get_or_create_collection(name)
    if name is not None:  # modify(name=None) means "keep the name"
        with pytest.raises(InvalidArgumentError, match=message):
            existing.modify(name=name)
    assert [c.name for c in client.list_collections()] == ["keep.me"]
    assert client.get_collection("keep.me").name == "keep.me" and existing.name == "keep.me"


def test_good_collection_names(client: ragstore.ClientAPI) -> None:
    names = ["abc", "ABC", "a.b", "a_b-c", "a" * 512, "1.2.3", "192.168.1.1.5"]
    for name in names:
        client.create_collection(name, embedding_function=None)
    assert [c.name for c in client.list_collections()] == names


def test_missing_collection(client: ragstore.ClientAPI) -> None:
    with pytest.raises(NotFoundError, match=r"^Collection \[nope\] does not exist$"):
        client.get_collection("nope")
    with pytest.raises(NotFoundError, match=r"^Collection \[nope\] does not exist$"):
        client.delete_collection("nope")
    with pytest.raises(ValueError):
        client.get_collection("nope")
    assert client.count_collections() == 0


def test_existing_collection_on_create(client: ragstore.ClientAPI) -> None:
    first = client.create_collection("taken", metadata={"v": 1}, embedding_function=None)
    first.add(ids=["a"], embeddings=[[1.0, 2.0]])
    with pytest.raises(UniqueConstraintError, match=r"\[taken\] already exists"):
        client.create_collection("taken", metadata={"v": 2}, embedding_function=None)
    with pytest.raises(ValueError):
        client.create_collection("taken", embedding_function=None)
    other = client.create_collection("other", embedding_function=None)
    with pytest.raises(UniqueConstraintError):
        other.modify(name="taken")
    again = client.get_collection("taken", embedding_function=None)
    assert again.id == first.id and again.metadata == {"v": 1} and again.count() == 1
    assert client.get_or_create_collection("taken", metadata={"v": 3}, embedding_function=None).metadata == {"v": 1}
    assert [c.name for c in client.list_collections()] == ["taken", "other"]


def test_reset_without_allow_reset(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("survivor", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0]])
    with pytest.raises(AuthorizationError) as info:
        client.reset()
    assert not isinstance(info.value, ValueError) and info.value.code() == 403
    assert client.get_collection("survivor").count() == 1


def test_reset_with_allow_reset(reset_client: ragstore.ClientAPI, client: ragstore.ClientAPI) -> None:
    del client  # only for the mode; reset_client is the store under test
    reset_client.create_collection("gone", embedding_function=None).add(ids=["a"], embeddings=[[1.0]])
    assert reset_client.reset() is True
    assert reset_client.count_collections() == 0


def test_deleted_collection_object(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("doomed", embedding_function=None)
    col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["x"])
    client.delete_collection("doomed")
    calls: list[Callable[[], Any]] = [
        col.count,
        col.peek,
        lambda: col.get(),
        lambda: col.get(ids=["a"]),
        lambda: col.query(query_embeddings=[[1.0, 2.0]]),
        lambda: col.add(ids=["b"], embeddings=[[1.0, 2.0]]),
        lambda: col.upsert(ids=["a"], embeddings=[[1.0, 2.0]]),
        lambda: col.update(ids=["a"], embeddings=[[1.0, 2.0]]),
        lambda: col.delete(ids=["a"]),
        lambda: col.delete(where={"k": 1}),
        lambda: col.modify(name="renamed"),
        lambda: col.modify(metadata={"v": 1}),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match=rf"^Collection \[{col.id}\] does not exist$"):
            call()
    reborn = client.create_collection("doomed", embedding_function=None)  # same name, new collection
    for call in calls:
        with pytest.raises(NotFoundError):
            call()
    assert reborn.count() == 0 and reborn.id != col.id
    assert [c.name for c in client.list_collections()] == ["doomed"]


def test_batch_size_limit(col: ragstore.Collection, client: ragstore.ClientAPI) -> None:
    limit = client.get_max_batch_size()
    ids = [f"x{i}" for i in range(limit + 1)]
    with rejected(col, BatchSizeExceededError, rf"^Batch size {limit + 1} exceeds maximum batch size {limit}$"):
        col.add(ids=ids, embeddings=np.zeros((limit + 1, DIM), dtype=np.float32))


# ---------------------------------------------------------------------------------- the error tree


# Each class's wire name (Chroma's where Chroma has one, so chromadb clients understand a ragstore server) and status.
WIRE_NAMES_AND_STATUSES = {
    "InvalidArgumentError": ("InvalidArgumentError", 400),
    "DuplicateIDError": ("DuplicateID", 400),
    "InvalidDimensionException": ("InvalidDimension", 400),
    "BatchSizeExceededError": ("BatchSizeExceededError", 400),
    "RequestTooLargeError": ("RequestTooLarge", 413),
    "ResponseTooLargeError": ("ResponseTooLarge", 413),
    "NotFoundError": ("NotFoundError", 404),
    "UniqueConstraintError": ("UniqueConstraintError", 409),
    "AuthenticationError": ("AuthError", 401),
    "AuthorizationError": ("AuthorizationError", 403),
    "StorageError": ("StorageError", 507),
    "InternalError": ("InternalError", 500),
    "ClosedError": ("ClosedError", 500),
    "UnimplementedError": ("Unimplemented", 410),
    "ServerConnectionError": ("ServerUnavailable", 503),
}


def test_error_tree(client: ragstore.ClientAPI) -> None:
    client.heartbeat()  # every engine module is loaded, so their error classes are registered too
    classes = error_classes()
    assert classes[0] is RagstoreError
    assert all(issubclass(cls, RagstoreError) for cls in classes)
    names = [cls.wire_name for cls in classes]
    assert len(names) == len(set(names)), f"duplicate wire names: {names}"
    for cls in classes:
        assert error_class_for(cls.wire_name) is cls
        assert cls.name() == cls.wire_name
        assert cls("m").code() == cls.status_code
        assert cls("m").message == "m"
        assert cls.__module__ == "ragstore.errors", f"{cls.__name__} lives outside the error tree module"
    assert error_class_for("NoSuchError") is RagstoreError
    by_name = {cls.__name__: cls for cls in classes}
    assert set(by_name) == {"RagstoreError", *WIRE_NAMES_AND_STATUSES}
    assert {name: (by_name[name].wire_name, by_name[name].status_code) for name in WIRE_NAMES_AND_STATUSES} == WIRE_NAMES_AND_STATUSES
    invalid_arguments = ("DuplicateIDError", "InvalidDimensionException", "BatchSizeExceededError", "RequestTooLargeError")
    assert all(issubclass(by_name[name], InvalidArgumentError) for name in (*invalid_arguments, "ResponseTooLargeError"))
    value_errors = {"InvalidArgumentError", *invalid_arguments, "ResponseTooLargeError", "NotFoundError", "UniqueConstraintError"}
    assert {name for name, cls in by_name.items() if issubclass(cls, ValueError)} == value_errors
    assert {name for name, cls in by_name.items() if issubclass(cls, ConnectionError)} == {"ServerConnectionError"}
    assert {name for name, cls in by_name.items() if getattr(ragstore, name, None) is cls} == set(by_name)  # the package exports the tree


def test_closed_client_raises_from_the_tree(client_factory: Callable[..., ragstore.ClientAPI], client: ragstore.ClientAPI) -> None:
    del client  # only for the mode
    closing = client_factory()
    col = closing.get_or_create_collection("closing", embedding_function=None)
    closing.close()
    for call in (col.count, lambda: col.get(), closing.list_collections, closing.heartbeat):
        with pytest.raises(ClosedError, match="closed") as info:
            call()
        assert type(info.value) is ClosedError and not isinstance(info.value, ValueError)
