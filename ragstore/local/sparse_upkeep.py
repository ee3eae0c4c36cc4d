"""Keeping a collection's sparse indexes in step with its records, inside the write's transaction.

Each sparse index of a collection's schema (:func:`ragstore.collection_schema.sparse_indexes`)
is a key whose value every record may have:

- a BM25 index (chroma's ``chroma_bm25`` function with a ``source_key``): the engine reads
  the source text (the document, or a string metadata field) and stores its term counts
  and length (:mod:`ragstore.bm25_text`, chroma's tokenizer and hashes); what a chromadb
  client computed into the metadata under the key is kept as metadata, not indexed;
- any other sparse index: the record's metadata value under the key, a
  :class:`~ragstore.sparse_vectors.SparseVector`, stored as given (scored by dot product).

:func:`write_sparse` runs after the records are written. An ``add``/``upsert`` sets every
record's value; an ``update`` touches an index only if it changed the index's source (its
documents, or its metadata), reading the merged result back from ``records``; so does an
``upsert`` that leaves some documents out (an existing record keeps its document, and so its
terms). Deleted records lose their values with their rows (``ON DELETE CASCADE``).

Example:
    >>> from ragstore.collection_schema import SparseIndexSpec
    >>> spec = SparseIndexSpec("bm25", "#document", {"type": "known", "name": "chroma_bm25", "config": {}}, True, 1.2, 0.75)
    >>> value, nothing = values_of(spec, [("Cats chase cats.", None), (None, {"page": 1})])
    >>> value.length, sorted(np.frombuffer(value.weights, "<f4").tolist()), nothing
    (3.0, [1.0, 2.0], None)

"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from ragstore.bm25_text import TOKEN_MAX_LENGTH, Bm25Tokenizer, default_tokenizer
from ragstore.collection_schema import SparseIndexSpec
from ragstore.embeddings.base import build_sparse_embedding_function
from ragstore.local.records import load_metadata
from ragstore.local.sparse_index import EncodedTerms, TermWeights, encode, encode_counts, write_terms
from ragstore.sparse_vectors import SparseVector
from ragstore.types import RecordSet

DOCUMENT_KEY = "#document"


def tokenizer_for(spec: SparseIndexSpec) -> Bm25Tokenizer:
    """The tokenizer a BM25 index's function configures (its stop words and longest token), shared."""
    config = (spec.embedding_function or {}).get("config") or {}
    stopwords, longest = config.get("stopwords"), int(config.get("token_max_length", TOKEN_MAX_LENGTH))
    if stopwords is None and longest == TOKEN_MAX_LENGTH:
        return default_tokenizer()  # the one the clients' BM25 function uses too: stems remembered once
    return _tokenizer(tuple(stopwords) if stopwords is not None else None, longest)


@functools.lru_cache(maxsize=16)
def _tokenizer(stopwords: tuple[str, ...] | None, token_max_length: int) -> Bm25Tokenizer:
    return Bm25Tokenizer(stopwords, token_max_length)


def bm25_query(spec: SparseIndexSpec, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A text query's BM25 terms and weights, as the index's own function (``chroma_bm25``) embeds a query.

    Every path that sends text (``query(mode=...)``, a Search ``Knn`` with text) weights its
    terms as a chromadb client's vector does, so all of them score alike.

    Example:
        >>> from ragstore.collection_schema import SparseIndexSpec
        >>> spec = SparseIndexSpec("bm25", "#document", {"type": "known", "name": "chroma_bm25", "config": {}}, True, 1.2, 0.75)
        >>> terms, weights = bm25_query(spec, "cats cats dogs")
        >>> len(terms), bool(weights.max() > weights.min())
        (2, True)

    """
    embedded = _bm25_function(orjson.dumps(spec.embedding_function, option=orjson.OPT_SORT_KEYS)).embed_query([text])[0]
    return np.asarray(embedded.indices, dtype=np.int64), np.asarray(embedded.values, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _bm25_function(description: bytes) -> Any:
    """A BM25 index's function, built once per configuration (its tokenizer remembers stems)."""
    return build_sparse_embedding_function(orjson.loads(description))


def values_of(spec: SparseIndexSpec, records: Sequence[tuple[str | None, dict[str, Any] | None]]) -> list[EncodedTerms | None]:
    """Each record's value for ``spec`` given its ``(document, metadata)``, encoded (``None``: it has none).

    A BM25 index tokenises the records' source texts as one batch.
    """
    if spec.bm25:
        texts = [
            document if spec.source_key == DOCUMENT_KEY else (metadata or {}).get(spec.source_key or "") for document, metadata in records
        ]
        present = [i for i, text in enumerate(texts) if isinstance(text, str)]
        values: list[EncodedTerms | None] = [None] * len(records)
        counted = encode_counts(tokenizer_for(spec).term_counts_batch([cast(str, texts[i]) for i in present]))
        for i, value in zip(present, counted, strict=True):
            values[i] = value
        return values
    vectors = [(metadata or {}).get(spec.key) for _, metadata in records]
    return encode([TermWeights(vector.indices, vector.values) if isinstance(vector, SparseVector) else None for vector in vectors])


def write_sparse(
    conn: sqlite3.Connection,
    collection_pk: int,
    seq: int,
    specs: Sequence[SparseIndexSpec],
    op: str,
    records: RecordSet,
    existed: set[str],
    rowids: Mapping[str, int] | None = None,
) -> bool:
    """Bring every sparse index in step with the records ``op`` just wrote; whether any value changed.

    ``existed`` are the ids the collection held before the write: an ``add`` skips them (it
    wrote only new records), an ``update`` ignores the others (it wrote only existing ones).
    ``rowids``: the written records' rowids by id, if the caller knows them
    (:class:`ragstore.local.records.Written`).
    """
    positions = [i for i, id_ in enumerate(records.ids) if (id_ in existed) == (op == "update") or op == "upsert"]
    if not positions:
        return False
    ids = [records.ids[i] for i in positions]
    fresh = frozenset(ids).difference(existed) if op != "update" else frozenset()  # inserted by this write
    changed = False
    stored: dict[str, tuple[str | None, dict[str, Any] | None]] | None = None
    for spec in specs:
        reads_documents = spec.bm25 and spec.source_key == DOCUMENT_KEY
        if op == "update" and (records.documents if reads_documents else records.metadatas) is None:
            continue  # this update left the index's source alone
        documents = records.documents
        if op != "update" and reads_documents and documents is not None and all(documents[i] is not None for i in positions):
            values = values_of(spec, [(documents[i], None) for i in positions])  # every record's new document is here
        else:
            if stored is None:  # the records as they now stand (an update merges metadata)
                stored = _stored(conn, collection_pk, ids)
            values = values_of(spec, [stored[id_] for id_ in ids])
        changed |= write_terms(conn, collection_pk, spec.key, seq, ids, values, new=fresh, rowids=rowids) > 0
    return changed


def _stored(conn: sqlite3.Connection, collection_pk: int, ids: Sequence[str]) -> dict[str, tuple[str | None, dict[str, Any] | None]]:
    rows = conn.execute(
        "SELECT id, document, metadata_json FROM records WHERE collection_pk = ? AND id IN (SELECT value FROM json_each(?))",
        (collection_pk, orjson.dumps(list(ids)).decode()),
    )
    return {id_: (document, load_metadata(text)) for id_, document, text in rows}
