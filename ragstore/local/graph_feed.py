"""What a collection's HNSW graph lacks, read from SQLite a chunk at a time.

A graph (:class:`ragstore.local.index.VectorIndex`) is described by two numbers:

- its *mark*: every record whose label is at most the mark, and that is still live, is
  in the graph. Labels are handed out in increasing order inside the write transaction
  and every new vector gets a new one (``records.label``), so the records a graph lacks
  are exactly the live ones with a label above its mark, and reading them in label order
  moves the mark forward with every row;
- its *applied sequence*: the graph is complete at that sequence (every vector live then
  is in it, every deletion up to it applied).

A :class:`Feed` is one chunk of the missing rows, read in one snapshot. When the chunk
holds all of them (fewer rows than asked), it also carries what completes the graph at
that snapshot: the labels deleted since the applied sequence (deleted records and
replaced vectors, from ``tombstones``) and the store's label counter, since no label
below it can be missing any more.

Because the rows are chosen by label and not by sequence, each chunk may come from a
newer snapshot than the last: nothing is read twice and nothing is skipped, so the
background indexer (:mod:`ragstore.local.indexer`) needs no long-lived read transaction.

Example:
    >>> import sqlite3
    >>> conn = sqlite3.connect(":memory:")
    >>> _ = conn.executescript(
    ...     "CREATE TABLE records (collection_pk, label, seq, embedding);"
    ...     "CREATE TABLE tombstones (collection_pk, label, seq);"
    ...     "CREATE TABLE label_counter (next); INSERT INTO label_counter VALUES (4);"
    ... )
    >>> vector = np.array([1.0, 2.0], dtype="<f4").tobytes()
    >>> _ = conn.executemany("INSERT INTO records VALUES (1, ?, 1, ?)", [(1, vector), (2, vector), (3, vector)])
    >>> first = read_feed(conn, 1, dim=2, mark=0, applied_seq=0, last_seq=1, limit=2)
    >>> first.labels.tolist(), first.complete
    ([1, 2], False)
    >>> rest = read_feed(conn, 1, dim=2, mark=2, applied_seq=0, last_seq=1, limit=2)
    >>> rest.labels.tolist(), rest.complete, rest.next_label
    ([3], True, 4)

"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Feed:
    """Rows a graph lacks (ascending labels), and, if they are all of them, what completes the graph.

    Attributes:
        labels: The rows' labels, ascending.
        vectors: Their vectors, one row each.
        last_seq: The collection's sequence in the snapshot the rows were read in.
        complete: Whether these are all the missing rows at ``last_seq``.
        deleted: Labels deleted after the graph's applied sequence, up to ``last_seq`` (only when complete).
        next_label: The store's label counter at ``last_seq`` (only when complete; 0 otherwise).

    """

    labels: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    last_seq: int
    complete: bool
    deleted: list[int] = field(default_factory=list)
    next_label: int = 0


def read_feed(conn: sqlite3.Connection, collection_pk: int, dim: int, mark: int, applied_seq: int, last_seq: int, limit: int) -> Feed:
    """The next chunk of at most ``limit`` rows a graph at ``mark`` lacks, read through ``conn``.

    Args:
        conn: A connection inside a read transaction (one snapshot), in which the collection's
            sequence is ``last_seq``.
        collection_pk: The collection.
        dim: Its dimension.
        mark: The graph's mark (see the module docstring).
        applied_seq: The graph's applied sequence.
        last_seq: The collection's sequence in this snapshot.
        limit: The most rows to read.

    """
    rows = conn.execute(
        "SELECT label, embedding FROM records WHERE collection_pk = ? AND label > ? ORDER BY label LIMIT ?",
        (collection_pk, mark, limit),
    ).fetchall()
    labels = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dim)
    if len(rows) == limit:
        return Feed(labels, vectors, last_seq, complete=False)
    deleted = [
        row[0]
        for row in conn.execute(
            "SELECT label FROM tombstones WHERE collection_pk = ? AND seq > ? AND seq <= ?", (collection_pk, applied_seq, last_seq)
        )
    ]
    return Feed(labels, vectors, last_seq, complete=True, deleted=deleted, next_label=next_label(conn))


def next_label(conn: sqlite3.Connection) -> int:
    """The label the store hands out next (``label_counter``): every label below it is taken.

    Example:
        >>> conn = sqlite3.connect(":memory:")
        >>> _ = conn.executescript("CREATE TABLE label_counter (next); INSERT INTO label_counter VALUES (7);")
        >>> next_label(conn)
        7

    """
    return int(conn.execute("SELECT next FROM label_counter").fetchone()[0])
