"""What a record operation asks of an engine: checked once, carried across the API as one object.

``Collection.get`` / ``query`` / ``delete`` build a :class:`GetRequest`,
:class:`QueryRequest` or :class:`DeleteRequest`; the engine (:class:`ragstore.api.API`)
takes that object, and the HTTP client sends it with :meth:`to_json` while the server
rebuilds it with :meth:`from_json`. Each request checks its fields when it is built
(``__post_init__``), so a request object cannot exist with bad input: one rule set for
every mode, and untrusted input (an HTTP body) meets the same rules as a local call. The
filters are parsed once, at construction, and the parsed tree (:attr:`filter`) travels
with the request to the engine instead of being parsed again there.

Adding a parameter to an operation means a field here (with its check and its JSON
key), its use in the engine, and its description in ``server/schemas.py``.

Example:
    >>> request = GetRequest(ids="a", where={"page": {"$gt": 2}}, limit=5)
    >>> request.ids, request.limit, request.include
    (['a'], 5, ('metadatas', 'documents'))
    >>> GetRequest.from_json(request.to_json()) == request
    True
    >>> GetRequest(limit=-1)
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: Expected limit to be a non-negative int, got -1 in get.

"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError
from ragstore.filters import Node, combine, parse_where, parse_where_document
from ragstore.metadata_validation import normalize_metadatas
from ragstore.types import DEFAULT_GET_INCLUDE, DEFAULT_QUERY_INCLUDE, RecordSet
from ragstore.validation import (
    check_lengths,
    check_query_size,
    normalize_documents,
    normalize_embeddings,
    normalize_ids,
    normalize_uris,
    validate_include,
    validate_n_results,
    validate_non_negative_int,
)


def checked_records(op: str, ids: Any, embeddings: Any, metadatas: Any, documents: Any, uris: Any, *, embedded: bool) -> RecordSet:
    """The records of an ``add`` / ``upsert`` / ``update``, checked by the one rule set of every mode.

    A client checks them before embedding (``embedded=False``: documents may stand in for
    embeddings); an engine checks them again as they arrive (``embedded=True``: add and
    upsert must carry embeddings, since clients embed documents first).

    Example:
        >>> checked_records("add", "a", None, None, "apples", None, embedded=False).documents
        ['apples']
        >>> checked_records("add", "a", None, None, "apples", None, embedded=True)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected embeddings for every record in add (the client embeds documents first)

    """
    id_list = normalize_ids(ids, op)
    vectors = normalize_embeddings(embeddings, op) if embeddings is not None else None
    metas = normalize_metadatas(metadatas, op, allow_none_values=op != "add") if metadatas is not None else None
    docs = normalize_documents(documents, op, allow_none=vectors is not None) if documents is not None else None
    uri_list = normalize_uris(uris, op) if uris is not None else None
    check_lengths(op, ids=id_list, embeddings=vectors, metadatas=metas, documents=docs, uris=uri_list)
    if vectors is None and op != "update":
        if embedded:
            raise InvalidArgumentError(f"Expected embeddings for every record in {op} (the client embeds documents first)")
        if docs is None:
            listed = "documents, uris, images" if op == "add" else "documents, images"
            raise InvalidArgumentError(f"Exactly one of {listed} must be provided in {op}.")
    return RecordSet(id_list, vectors, metas, docs, uri_list)


def _body_list(data: dict[str, Any], key: str, op: str) -> list[Any] | None:
    """``data[key]`` of a request body, which must be an array or absent (see ``wire.json_list``)."""
    from ragstore.http.wire import json_list  # the wire package imports this module: a late import breaks the cycle

    return json_list(data, key, op)


def _set(request: object, name: str, value: Any) -> None:
    """Store a checked value on a frozen request (only ever from its own ``__post_init__``)."""
    object.__setattr__(request, name, value)


def _filters(request: Any, op: str) -> None:
    """Check and parse ``where`` / ``where_document`` into :attr:`filter` (``{}`` means no filter)."""
    _set(request, "where", request.where or None)
    _set(request, "where_document", request.where_document or None)
    _set(request, "filter", combine(parse_where(request.where, op), parse_where_document(request.where_document, op)))


def _include(include: Any, op: str, *, allow_distances: bool) -> tuple[str, ...]:
    # "data" is the client's business (its data loader reads URIs): the engine never sees it.
    return tuple(item for item in validate_include(include, op, allow_distances=allow_distances) if item != "data")


@dataclasses.dataclass(frozen=True)
class GetRequest:
    """Which records ``get`` returns (by id and/or filter, paged) and which of their fields.

    Example:
        >>> GetRequest(where={"k": 1}).filter is not None
        True

    """

    ids: list[str] | None = None  # one id (a str) is accepted and stored as a list
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = None
    offset: int | None = None
    include: Sequence[str] = DEFAULT_GET_INCLUDE
    filter: Node | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set(self, "include", _include(self.include, "get", allow_distances=False))
        _set(self, "ids", normalize_ids(self.ids, "get") if self.ids is not None else None)
        _set(self, "limit", validate_non_negative_int(self.limit, "limit", "get"))
        _set(self, "offset", validate_non_negative_int(self.offset, "offset", "get"))
        _filters(self, "get")

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST .../get``."""
        return {
            "ids": self.ids,
            "where": self.where,
            "where_document": self.where_document,
            "limit": self.limit,
            "offset": self.offset,
            "include": list(self.include),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GetRequest:
        """A ``get`` body (untrusted), checked as a local call is."""
        include = data.get("include")
        return cls(
            _body_list(data, "ids", "get"),
            data.get("where"),
            data.get("where_document"),
            data.get("limit"),
            data.get("offset"),
            DEFAULT_GET_INCLUDE if include is None else include,
        )


@dataclasses.dataclass(frozen=True)
class DeleteRequest:
    """Which records ``delete`` removes: by id and/or filter, at most ``limit`` of them (filters only).

    Example:
        >>> DeleteRequest(limit=3)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: At least one of ids, where, or where_document must be provided in delete.

    """

    ids: list[str] | None = None  # one id (a str) is accepted and stored as a list
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    limit: int | None = None
    filter: Node | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ids is None and not self.where and not self.where_document:
            raise InvalidArgumentError("At least one of ids, where, or where_document must be provided in delete.")
        _set(self, "ids", normalize_ids(self.ids, "delete") if self.ids is not None else None)
        _set(self, "limit", validate_non_negative_int(self.limit, "limit", "delete"))
        if self.limit is not None and not self.where and not self.where_document:
            raise InvalidArgumentError("limit can only be specified when a where or where_document clause is provided in delete.")
        _filters(self, "delete")

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST .../delete``."""
        return {"ids": self.ids, "where": self.where, "where_document": self.where_document, "limit": self.limit}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeleteRequest:
        """A ``delete`` body (untrusted), checked as a local call is."""
        return cls(_body_list(data, "ids", "delete"), data.get("where"), data.get("where_document"), data.get("limit"))


QUERY_MODES = ("dense", "hybrid", "bm25")  # query's modes: chromadb's dense search, and ragstore's two with BM25


@dataclasses.dataclass(frozen=True, eq=False)  # numpy vectors have no single truth value to compare by
class QueryRequest:
    """A nearest-neighbour search: query vectors (or texts still to embed) and what to return.

    Exactly one of ``embeddings`` and ``texts`` is given. Engines take only embeddings: a
    client embeds the texts with its collection's function (:meth:`with_embeddings`) first.
    ``ids=[]`` restricts the search to no records (every answer is empty).

    ``mode`` (a ragstore extension; chromadb's query is ``"dense"``) asks for ``"hybrid"``
    (dense and BM25 fused) or ``"bm25"`` search of a collection with a BM25 index: both need
    ``texts``, which the engine keeps for the BM25 side; hybrid embeds them too (or takes
    ``embeddings`` given with them), BM25 alone embeds nothing.

    Example:
        >>> request = QueryRequest(texts="red apples", n_results=3)
        >>> request.texts, request.embeddings
        (['red apples'], None)
        >>> request.with_embeddings([[0.5, 0.5]]).embeddings.shape
        (1, 2)

    """

    embeddings: Any = None
    n_results: int = 10
    ids: list[str] | None = None  # one id (a str) is accepted and stored as a list
    where: dict[str, Any] | None = None
    where_document: dict[str, Any] | None = None
    include: Sequence[str] = DEFAULT_QUERY_INCLUDE
    texts: list[str] | None = None  # one text (a str) is accepted and stored as a list
    mode: str = "dense"
    filter: Node | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in QUERY_MODES:
            raise InvalidArgumentError(f"Expected mode to be one of {', '.join(QUERY_MODES)} in query, got {self.mode!r}")
        if self.mode != "dense" and self.texts is None:
            raise InvalidArgumentError(f"Expected query_texts in query with mode={self.mode!r}: BM25 searches text")
        if self.mode == "bm25" and self.embeddings is not None:
            raise InvalidArgumentError("Expected no query_embeddings in query with mode='bm25' (it searches text alone)")
        if self.embeddings is None and self.texts is None:
            raise InvalidArgumentError("At least one of one of embeddings, documents, images, uris must be provided in query.")
        if self.mode == "dense" and self.embeddings is not None and self.texts is not None:
            raise InvalidArgumentError("Expected only one of query_embeddings or query_texts in query, got both.")
        _set(self, "include", _include(self.include, "query", allow_distances=True))
        _set(self, "n_results", validate_n_results(self.n_results))
        _filters(self, "query")
        counts = []
        if self.embeddings is not None:
            _set(self, "embeddings", normalize_embeddings(self.embeddings, "query"))
            counts.append(len(self.embeddings))
        if self.texts is not None:
            texts = normalize_documents(self.texts, "query", allow_none=False)
            if not texts:
                raise InvalidArgumentError("Expected query_texts to be a non-empty list in query.")
            _set(self, "texts", texts)
            counts.append(len(texts))
        if len(set(counts)) > 1:
            raise InvalidArgumentError(f"Expected as many query_embeddings as query_texts in query, got {counts[0]} and {counts[1]}")
        check_query_size(counts[0], self.n_results)
        if self.ids is not None:
            empty = isinstance(self.ids, (list, tuple)) and len(self.ids) == 0
            _set(self, "ids", [] if empty else normalize_ids(self.ids, "query"))

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """The query embeddings; :class:`InvalidArgumentError` while the texts are not embedded yet."""
        if self.embeddings is None:
            raise InvalidArgumentError("Expected query embeddings in query (clients embed query texts before calling the engine)")
        vectors: npt.NDArray[np.float32] = self.embeddings
        return vectors

    def texts_to_embed(self) -> list[str] | None:
        """The texts a client must embed before an engine can answer (``None``: nothing to embed)."""
        return self.texts if self.embeddings is None and self.mode != "bm25" else None

    def with_embeddings(self, embeddings: Any) -> QueryRequest:
        """This request with its texts' ``embeddings`` (the texts dropped, unless BM25 still needs them)."""
        vectors = normalize_embeddings(embeddings, "query")
        check_query_size(len(vectors), self.n_results)
        if self.texts is not None and len(vectors) != len(self.texts):
            raise InvalidArgumentError(f"Expected {len(self.texts)} query embeddings in query, got {len(vectors)}")
        embedded = copy.copy(self)  # not dataclasses.replace: that would check and parse everything again
        _set(embedded, "embeddings", vectors)
        if self.mode == "dense":
            _set(embedded, "texts", None)
        return embedded

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST .../query`` (only an embedded request can be sent; ``mode`` and texts only when not dense)."""
        body = {
            "query_embeddings": self.vectors if self.mode != "bm25" else None,
            "n_results": self.n_results,
            "ids": self.ids,
            "where": self.where,
            "where_document": self.where_document,
            "include": list(self.include),
        }
        return body if self.mode == "dense" else body | {"mode": self.mode, "query_texts": self.texts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueryRequest:
        """A ``query`` body (untrusted), checked as a local call is."""
        mode = data.get("mode", "dense")
        if data.get("query_embeddings") is None and mode != "bm25":
            raise InvalidArgumentError("Expected query_embeddings in the query request body")
        from ragstore.http.wire import decode_embeddings

        include, n_results = data.get("include"), data.get("n_results")
        embeddings = data.get("query_embeddings")
        return cls(
            decode_embeddings(embeddings, "query") if embeddings is not None else None,
            10 if n_results is None else n_results,
            _body_list(data, "ids", "query"),
            data.get("where"),
            data.get("where_document"),
            DEFAULT_QUERY_INCLUDE if include is None else include,
            texts=_body_list(data, "query_texts", "query") if mode != "dense" else None,
            mode=mode,
        )


MAX_SEARCHES = 64  # searches in one request (chromadb's client sets none; each runs its own probes)


@dataclasses.dataclass(frozen=True, eq=False)
class SearchRequest:
    """One or more Search API searches (:class:`ragstore.search.Search`) on a collection, checked once.

    Each search is parsed strictly (``Search.from_dict``), whether it came as an object or as
    chroma's wire dict, so an engine only ever sees well-formed ones. Text queries on
    ``#embedding`` are the client's to embed (:meth:`map_queries`); text on a BM25 key may stay
    text: the engine tokenises it.

    Example:
        >>> from ragstore.search import K, Knn, Search
        >>> request = SearchRequest(Search().where(K("page") > 1).rank(Knn(query=[0.1, 0.2])).limit(3))
        >>> len(request.searches), request.read_level
        (1, 'index_and_wal')
        >>> SearchRequest.from_json(request.to_json()).to_json() == request.to_json()
        True

    """

    searches: Any  # a Search, a wire dict, or a sequence of them; stored as a tuple of Search
    read_level: str = "index_and_wal"

    def __post_init__(self) -> None:
        from ragstore.search import ReadLevel, Search

        given = [self.searches] if isinstance(self.searches, (Search, dict)) else self.searches
        if not isinstance(given, (list, tuple)):
            raise InvalidArgumentError(f"Expected a Search or a list of them in search, got {type(self.searches).__name__}")
        if len(given) > MAX_SEARCHES:
            raise InvalidArgumentError(f"Expected at most {MAX_SEARCHES} searches in one search call, got {len(given)}")
        parsed = tuple(
            Search.from_dict(item.to_dict() if isinstance(item, Search) else item, f"searches[{i}]") for i, item in enumerate(given)
        )
        _set(self, "searches", parsed)
        try:
            _set(self, "read_level", ReadLevel(self.read_level).value)
        except ValueError:
            levels = ", ".join(level.value for level in ReadLevel)
            raise InvalidArgumentError(f"Expected read_level to be one of {levels}, got {self.read_level!r}") from None

    def map_queries(self, change: Any) -> SearchRequest:
        """This request with every Knn leaf replaced by ``change(leaf)`` (how a client embeds text queries).

        Only the new queries are checked (``check_knn_query``): the rest was checked when this request was built.
        """
        from dataclasses import replace

        from ragstore.search import map_knn
        from ragstore.search.rank_parsing import check_knn_query

        def checked(leaf: Any) -> Any:
            new = change(leaf)
            return new if new is leaf else replace(new, query=check_knn_query(new.query, "query"))

        searches = tuple(s if s.parts().rank is None else s.rank(map_knn(s.parts().rank, checked)) for s in self.searches)
        mapped = copy.copy(self)  # not a new SearchRequest: that would parse every search again
        _set(mapped, "searches", searches)
        return mapped

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST .../search``, as chromadb's client sends it."""
        return {"searches": [s.to_dict() for s in self.searches], "read_level": self.read_level}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchRequest:
        """A ``search`` body (untrusted), checked as a local call is."""
        searches = _body_list(data, "searches", "search")
        if searches is None:
            raise InvalidArgumentError("Expected searches (a list of Search dicts) in the search request body")
        level = data.get("read_level")
        return cls(searches, "index_and_wal" if level is None else level)
