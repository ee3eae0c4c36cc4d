"""The writer: applies the job's rows to the target collection, batch by batch, and keeps the run's counts.

It runs on the driver, which pulls batches from the job as it writes them. That is the
back-pressure: Ray Data's streaming executor stops starting tasks and feeding actors when
the batches nobody has pulled yet fill its object-store budget, so a slow target slows
the readers and embedders instead of piling up vectors. The driver (rather than a writer
actor) writes because it already holds the target open (it read the stored chunks to plan
the job), a local store's directory is on the driver's machine in any cluster, and a
write error is raised where the caller can see it. One writer is no bottleneck: the
embedder is (see ``benchmarks/RESULTS.md``), and a ``ragstore run`` target takes the writes
off the driver's machine anyway.

Every upsert is one atomic batch, and ids are the same whichever task or actor made a
row, so a retried task's rows overwrite, never duplicate; a batch that holds one id
twice (it never should) is written with its last row, as ``upsert`` rejects duplicate ids.

Example:
    >>> import numpy as np, ragstore
    >>> from ragstore.distributed.rows import FileOutcome, file_row, upsert_row
    >>> from ragstore.ingest_parts import IngestStats
    >>> col = ragstore.EphemeralClient().create_collection("notes", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> rows = [upsert_row("a#chunk=0", "apples", {"source": "a.txt"}), file_row(FileOutcome("a.txt", "/r/a.txt", chunks=1))]
    >>> stats = IngestStats()
    >>> RowWriter(col, stats).write({key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]})
    >>> col.count(), stats.written, stats.files_done, stats.chunks
    (1, 1, 1, 1)

"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.distributed.rows import DELETE, EMBEDDING, FILE, UPSERT, FileOutcome, RemoteLoadError, metadata_of
from ragstore.documents import FileError
from ragstore.ingest_parts import IngestStats

_DELETE_BATCH = 10_000  # ids per delete call, as the single-process ingest deletes gone files


class RowWriter:
    """Writes rows to ``collection`` and counts what it did in ``stats``.

    Args:
        collection: The target: any ragstore collection (a local store, or a ``ragstore run`` server through
            ``HttpClient``), or chromadb's.
        stats: Updated as rows land (``embedded``, ``written``, ``deleted``, and the file counts).
        on_write: Called after each batch (the progress display).

    """

    def __init__(self, collection: Any, stats: IngestStats, on_write: Callable[[], None] | None = None) -> None:
        self.collection = collection
        self.stats = stats
        self.on_write = on_write

    def write(self, batch: Mapping[str, npt.NDArray[Any]]) -> None:
        """Apply one batch: its deletes, its upserts (with their vectors when the job embedded), then its files' outcomes."""
        kinds = batch["kind"]
        deletes = [str(id_) for id_ in batch["id"][kinds == DELETE]]
        if deletes:
            self.delete(deletes)
        upserts = np.flatnonzero(kinds == UPSERT)
        if len(upserts):
            self._upsert(batch, upserts)
        for text in batch["metadata"][kinds == FILE]:
            self._file_done(FileOutcome.from_json(str(text)))
        if self.on_write is not None:
            self.on_write()

    def delete(self, ids: Sequence[str]) -> None:
        """Delete stored chunks by id (stale chunks of changed files, and chunks of files that are gone)."""
        for start in range(0, len(ids), _DELETE_BATCH):
            self.stats.deleted += self.collection.delete(ids=list(ids[start : start + _DELETE_BATCH]))["deleted"]

    def _upsert(self, batch: Mapping[str, npt.NDArray[Any]], rows: npt.NDArray[np.intp]) -> None:
        last = {str(batch["id"][row]): int(row) for row in rows}  # one row per id: the last one
        chosen = list(last.values())
        vectors: dict[str, Any] = {}
        if EMBEDDING in batch:
            vectors["embeddings"] = np.stack([np.frombuffer(batch[EMBEDDING][row], dtype=np.float32) for row in chosen])
            self.stats.embedded += len(chosen)
        self.collection.upsert(
            ids=list(last),
            documents=[str(batch["document"][row]) for row in chosen],
            metadatas=[metadata_of(str(batch["metadata"][row])) for row in chosen],
            **vectors,
        )
        if not vectors:  # the collection embedded as it wrote
            self.stats.embedded += len(chosen)
        self.stats.written += len(chosen)

    def _file_done(self, outcome: FileOutcome) -> None:
        self.stats.files_done += 1
        self.stats.chunks += outcome.chunks
        self.stats.unchanged += outcome.unchanged
        if outcome.error is not None:
            self.stats.failed.append(FileError(Path(outcome.path), outcome.source, RemoteLoadError(outcome.error, outcome.error_type)))
        elif outcome.empty:
            self.stats.empty.append(Path(outcome.path))
