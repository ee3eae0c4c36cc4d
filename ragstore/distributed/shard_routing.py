"""Which shard holds a record: a stable hash of its id, the same in every process and on every machine.

Python's ``hash`` of a string changes from one process to the next (``PYTHONHASHSEED``), so a router
that restarted would look for records on the wrong shard; BLAKE2b of the id's UTF-8 bytes does not.
The shard count is fixed when a sharded store is created: changing it would move most records (there
is no resharding yet, see ``docs/scale-out.md``).

Example:
    >>> shard_of("doc-1", 4) == shard_of("doc-1", 4)
    True
    >>> split_ids(["a", "g", "b"], 2)
    [['g'], ['a', 'b']]

"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from ragstore.types import RecordSet


def shard_of(record_id: str, shards: int) -> int:
    """The shard (``0 <= shard < shards``) that holds ``record_id``.

    Example:
        >>> shard_of("anything", 1)
        0

    """
    digest = hashlib.blake2b(record_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def split_ids(ids: Sequence[str], shards: int) -> list[list[str]]:
    """``ids`` split by shard, each list in the given order.

    Example:
        >>> split_ids(["x"], 3)[shard_of("x", 3)]
        ['x']

    """
    parts: list[list[str]] = [[] for _ in range(shards)]
    for record_id in ids:
        parts[shard_of(record_id, shards)].append(record_id)
    return parts


def split_records(records: RecordSet, shards: int) -> list[RecordSet | None]:
    """One record set per shard (``None`` where the write has no record), each keeping the write's order.

    Example:
        >>> rs = RecordSet(["a", "g", "b"], np.eye(3, dtype=np.float32), None, ["A", "G", "B"], None)
        >>> [p.documents for p in split_records(rs, 2) if p is not None]
        [['G'], ['A', 'B']]

    """
    positions: list[list[int]] = [[] for _ in range(shards)]
    for i, record_id in enumerate(records.ids):
        positions[shard_of(record_id, shards)].append(i)
    return [_subset(records, chosen) if chosen else None for chosen in positions]


def _subset(records: RecordSet, chosen: list[int]) -> RecordSet:
    def pick(values: Sequence[object] | None) -> list[object] | None:
        return None if values is None else [values[i] for i in chosen]

    embeddings = None if records.embeddings is None else records.embeddings[np.asarray(chosen, dtype=np.intp)]
    return RecordSet(
        [records.ids[i] for i in chosen],
        embeddings,
        pick(records.metadatas),  # type: ignore[arg-type]
        pick(records.documents),  # type: ignore[arg-type]
        pick(records.uris),  # type: ignore[arg-type]
    )
