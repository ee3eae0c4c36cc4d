"""Checking the text index (``documents_fts``) and the sparse values (``sparse_terms``) against the records, and rebuilding them.

Text index. ``documents_fts`` is an FTS5 trigram index with ``records`` as external content,
holding the documents of the collections whose ``text_indexed`` flag is set
(:mod:`ragstore.local.text_index`). Three tests: FTS5's own ``integrity-check`` (its
b-trees and segments; it cannot be run read-only, and compares nothing with ``records``,
since the index leaves out the collections never searched by text); coverage (FTS5's
``docsize`` table has a row for exactly each indexed document); and a spot check: up to
:data:`SPOT_CHECKS` documents per collection must be found by a phrase of their own text,
which catches terms a bad ``'delete'`` removed. A repair empties the index (or, if FTS5
cannot, makes the table again) and indexes those collections' documents again, in one
write transaction.

Sparse values. Each record's row in ``sparse_terms`` must be what the engine computes
from the record now (:func:`ragstore.local.sparse_upkeep.values_of`: BM25 term counts of
its source text, or the sparse vector in its metadata), and no row may hold a key the
collection declares no index for. A repair writes the right values through
:func:`ragstore.local.sparse_index.write_terms` as a write does, stamping the records
with a new sequence, so running processes' in-memory sparse indexes catch up too.

Example:
    >>> SPOT_CHECKS
    200

"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence

from ragstore.check import CheckReport, Finding, describe_collection, find_collection, snapshot
from ragstore.collection_schema import SparseIndexSpec
from ragstore.local import catalog
from ragstore.local.catalog import CollectionRow
from ragstore.local.records import load_metadata
from ragstore.local.sparse_index import EncodedTerms, write_terms
from ragstore.local.sparse_upkeep import values_of

__all__ = ["SPOT_CHECKS", "check_sparse", "check_text"]

SPOT_CHECKS = 200  # documents per collection searched for by their own text: enough to see damage, cheap on any size
_PHRASE = 24  # characters of a document a spot check searches for
_BATCH = 2_000  # records whose sparse values are computed at once (memory stays flat)
_INDEXED = "SELECT pk FROM collections WHERE text_indexed"
# As schema.py's migration 1 creates it (for a table FTS5 can no longer empty).
_CREATE_FTS = (
    "CREATE VIRTUAL TABLE documents_fts USING fts5(document, content='records', content_rowid='rowid', tokenize='trigram case_sensitive 1')"
)


def check_text(conn: sqlite3.Connection, report: CheckReport) -> None:
    """Check the full-text index of the collections that have one; a problem found gets a rebuild as its fix."""
    problems = _text_problems(conn)
    if not problems:
        count = conn.execute(_INDEXED.replace("SELECT pk", "SELECT count(*)")).fetchone()[0]
        report.note(f"text index: ok ({count} collections indexed)")
        return
    finding = Finding("text index", "; ".join(problems), "index the documents again")

    def fix() -> bool:
        _reindex(conn)
        left = _text_problems(conn)
        if left:
            finding.problem += f" (still wrong after the repair: {'; '.join(left)})"
        return not left

    finding.fix = fix
    report.add(finding)


def _text_problems(conn: sqlite3.Connection) -> list[str]:
    problems = []
    try:
        # An INSERT that only reads, undone: a check writes nothing. It holds the write lock meanwhile
        # (taken up front, so it waits its turn: a read snapshot cannot become a write once a writer commits).
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            problems.append(f"FTS5 integrity-check failed ({exc})")
    except sqlite3.DatabaseError as exc:
        problems.append(f"FTS5 integrity-check failed ({exc})")
    try:
        with snapshot(conn):  # the records and the index as of one moment
            missing = conn.execute(
                f"SELECT count(*) FROM records r WHERE r.document IS NOT NULL AND r.collection_pk IN ({_INDEXED}) "
                "AND NOT EXISTS (SELECT 1 FROM documents_fts_docsize d WHERE d.id = r.rowid)"
            ).fetchone()[0]
            extra = conn.execute(
                "SELECT count(*) FROM documents_fts_docsize d WHERE NOT EXISTS (SELECT 1 FROM records r "
                f"WHERE r.rowid = d.id AND r.document IS NOT NULL AND r.collection_pk IN ({_INDEXED}))"
            ).fetchone()[0]
            if missing or extra:
                problems.append(f"{missing} documents are not indexed, {extra} indexed rows have no indexed document")
            unfound = sum(_unfound(conn, pk) for (pk,) in conn.execute(_INDEXED).fetchall())
            if unfound:
                problems.append(f"{unfound} of the spot-checked documents are not found by their own text")
    except sqlite3.DatabaseError as exc:
        problems.append(f"the index cannot be read ({exc})")
    return problems


def _unfound(conn: sqlite3.Connection, collection_pk: int) -> int:
    """How many of up to :data:`SPOT_CHECKS` documents, spread over the collection, a phrase of their own text misses."""
    count = conn.execute("SELECT count(document) FROM records WHERE collection_pk = ?", (collection_pk,)).fetchone()[0]
    step = max(1, count // SPOT_CHECKS)
    sample = conn.execute(
        "SELECT rowid, document FROM (SELECT rowid, document, row_number() OVER (ORDER BY rowid) AS n FROM records "
        "WHERE collection_pk = ? AND document IS NOT NULL) WHERE n % ? = 0 LIMIT ?",
        (collection_pk, step, SPOT_CHECKS),
    ).fetchall()
    unfound = 0
    for rowid, document in sample:
        middle = max(0, len(document) // 2 - _PHRASE // 2)
        phrase = document[middle : middle + _PHRASE]
        if len(phrase) < 3:  # a trigram index finds nothing shorter
            continue
        query = '"' + phrase.replace('"', '""') + '"'
        if conn.execute("SELECT 1 FROM documents_fts WHERE documents_fts MATCH ? AND rowid = ?", (query, rowid)).fetchone() is None:
            unfound += 1
    return unfound


def _reindex(conn: sqlite3.Connection) -> None:
    """Index the text-indexed collections' documents again, from nothing, in one write transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        try:
            conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('delete-all')")
        except sqlite3.DatabaseError:  # segments too damaged for FTS5 to drop: make the table again
            conn.execute("DROP TABLE documents_fts")
            conn.execute(_CREATE_FTS)
        conn.execute(
            f"INSERT INTO documents_fts (rowid, document) SELECT rowid, document FROM records "
            f"WHERE document IS NOT NULL AND collection_pk IN ({_INDEXED})"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def check_sparse(conn: sqlite3.Connection, row: CollectionRow, report: CheckReport) -> None:
    """Check the collection's sparse values against its records; a problem found gets a rewrite as its fix."""
    where = f"{describe_collection(row)}: sparse index"
    specs = row.sparse_indexes
    keys = sorted(spec.key for spec in specs)
    stray = conn.execute(
        "SELECT count(*) FROM sparse_terms s JOIN records r ON r.rowid = s.record_rowid WHERE r.collection_pk = ? "
        "AND (s.collection_pk != r.collection_pk OR s.key NOT IN (SELECT value FROM json_each(?)))",
        (row.pk, _json(keys)),
    ).fetchone()[0]
    if stray:
        fix = functools.partial(_remove_stray, conn, row, keys)
        report.add(Finding(where, f"{stray} values are stored under a key or collection the index does not have", "remove them", fix=fix))
    for spec in specs:
        wrong = _wrong_values(conn, row, spec)
        if not wrong:
            report.note(f"{where} {spec.key!r}: ok")
            continue
        fix = functools.partial(_rewrite, conn, row, spec, wrong)
        report.add(
            Finding(f"{where} {spec.key!r}", f"{len(wrong)} records' values differ from their records", "compute them again", fix=fix)
        )


def _json(values: Sequence[object]) -> str:
    return json.dumps(list(values))


def _wrong_values(conn: sqlite3.Connection, row: CollectionRow, spec: SparseIndexSpec) -> list[str]:
    """The ids of the records whose stored value (or its absence) is not what their record gives."""
    wrong: list[str] = []
    after = 0
    while True:
        batch = conn.execute(
            "SELECT r.rowid, r.id, r.document, r.metadata_json, s.key, s.terms, s.weights, s.length FROM records r "
            "LEFT JOIN sparse_terms s ON s.record_rowid = r.rowid WHERE r.collection_pk = ? AND r.rowid > ? ORDER BY r.rowid LIMIT ?",
            (row.pk, after, _BATCH),
        ).fetchall()
        if not batch:
            return wrong
        after = batch[-1][0]
        expected = values_of(spec, [(document, load_metadata(metadata)) for _, _, document, metadata, *_ in batch])
        for (_, id_, _, _, key, terms, weights, length), value in zip(batch, expected, strict=True):
            stored = EncodedTerms(terms, weights, length) if key == spec.key else None
            if stored != value:
                wrong.append(id_)


def _remove_stray(conn: sqlite3.Connection, row: CollectionRow, keys: Sequence[str]) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "DELETE FROM sparse_terms WHERE record_rowid IN (SELECT s.record_rowid FROM sparse_terms s JOIN records r "
            "ON r.rowid = s.record_rowid WHERE r.collection_pk = ? AND (s.collection_pk != r.collection_pk "
            "OR s.key NOT IN (SELECT value FROM json_each(?))))",
            (row.pk, _json(keys)),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def _rewrite(conn: sqlite3.Connection, row: CollectionRow, spec: SparseIndexSpec, ids: Sequence[str]) -> bool:
    """Store the values the records give now, as a new sequence the in-memory indexes will catch up on."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = find_collection(conn, row.id)
        if now is None:  # deleted meanwhile: nothing left to repair
            conn.execute("COMMIT")
            return True
        seq = now.last_seq + 1
        changed = 0
        for start in range(0, len(ids), _BATCH):
            chunk = list(ids[start : start + _BATCH])
            stored = {
                id_: (document, load_metadata(metadata))
                for id_, document, metadata in conn.execute(
                    "SELECT id, document, metadata_json FROM records WHERE collection_pk = ? AND id IN (SELECT value FROM json_each(?))",
                    (now.pk, _json(chunk)),
                )
            }
            present = [id_ for id_ in chunk if id_ in stored]  # a writer may have deleted some meanwhile
            changed += write_terms(conn, now.pk, spec.key, seq, present, values_of(spec, [stored[id_] for id_ in present]))
        if changed:
            catalog.advance(conn, now.pk, seq, now.tombstone_floor, None)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True
