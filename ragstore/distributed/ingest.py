"""``ray_ingest``: :func:`ragstore.ingest.ingest` as a Ray Data job, for corpora one machine embeds too slowly.

The job is the single-process ingest's pipeline with each stage spread out:

1. the driver lists the files and reads what the target holds of each root
   (:mod:`~ragstore.distributed.file_plan`);
2. Ray tasks load and split the files, and diff them against the stored digests
   (:mod:`~ragstore.distributed.file_chunks`), a few files per task;
3. an actor pool embeds the chunks, one model per actor, ``batch_size`` chunks a call
   (:mod:`~ragstore.distributed.embedder`), on a GPU each when the cluster has them;
4. the driver upserts the embedded batches into the target as it pulls them, which
   is the job's back-pressure (:mod:`~ragstore.distributed.writer`), then deletes the
   chunks of files that are gone.

The result is the single-process ingest's: the same ids, documents and metadata (the
vectors equal within float tolerance), unchanged chunks neither embedded nor written,
changed files replaced, stale and gone chunks deleted, failed files reported with
their chunks kept, unsupported files listed by :func:`~ragstore.ingest.find_files`.
A task or actor that dies is retried by Ray (an actor is restarted and its batch run
again); its rows carry the same ids, and writes are upserts, so a retry leaves neither
duplicates nor gaps. The target is any collection: a local store (the driver writes
it), or a ``ragstore run`` server through :class:`ragstore.HttpClient` (token and all).

Differences a user can see: the progress counts files as their outcome reaches the
driver; there is no ``loading model`` phase on the driver (each actor loads its own
model as it starts); a root given twice is ingested once.

Example (starts a Ray instance, so it is not run as a doctest; ``tests/test_ray_ingest.py`` runs it)::

    import ragstore
    from ragstore.distributed import ray_ingest

    collection = ragstore.PersistentClient("./ragstore_data").get_or_create_collection("docs")
    stats = ray_ingest(collection, ["docs/"], actors=2, batch_size=128)  # or address="ray://head:10001"
    print(stats.written, stats.unchanged, stats.deleted)

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragstore.distributed.embedder import Embedder, EmbedderRecipe
from ragstore.distributed.file_chunks import file_rows
from ragstore.distributed.file_plan import FilePlan, plan_files
from ragstore.distributed.runtime import READ_CPUS, RayJobError, actor_resources, ray_session, require_ray
from ragstore.distributed.writer import RowWriter
from ragstore.documents import RecursiveCharacterSplitter, Splitter
from ragstore.ingest_parts import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    FileSet,
    IngestStats,
    Progress,
    find_files,
    own_embedding_function,
    progress_reporter,
)

FILES_PER_TASK = 4
"""Files one read task loads: several, as starting a task costs more than loading a small file; few, so the embedders get
their first chunks soon and a slow PDF does not hold many small files back."""

_PREFETCH_BATCHES = 2  # batches the driver's iterator fetches ahead while it writes one


def ray_ingest(
    collection: Any,
    paths: Sequence[str | Path] | FileSet,
    *,
    address: str | None = None,
    actors: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    actor_cpus: float | None = None,
    actor_gpus: float | None = None,
    glob: str | Sequence[str] = "**/*",
    exclude: Sequence[str] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    splitter: Splitter | None = None,
    progress: Progress | None = None,
) -> IngestStats:
    """Bring ``collection`` in step with the files under ``paths``, on Ray (see the module docstring).

    Args:
        collection: The target: a ragstore collection of a local store or of a server (or chromadb's);
            its embedding function runs in the actors (one without any embeds as it writes, on the driver).
        paths: Folders or files, each a root of its own; or a :class:`~ragstore.ingest.FileSet`. In a
            multi-node cluster they must be at the same path on every node (a shared volume).
        address: The Ray cluster (``ray://head:10001``, ``auto``); default: the Ray this process already
            joined, else ``RAY_ADDRESS``, else a new local instance with every CPU of this machine.
        actors: Embedding actors (each loads one model).
        batch_size: Chunks per embedding call and per upsert.
        actor_cpus: Logical CPUs per actor (default 1, or less so the pool and a read task fit the cluster).
        actor_gpus: GPUs per actor (default: 1 when the cluster has one per actor, else none).
        glob: Pattern(s) of the files to load under a folder.
        exclude: Patterns to leave out (default: hidden files and folders).
        chunk_size: Characters per chunk (ignored when ``splitter`` is given).
        chunk_overlap: Characters shared by neighbouring chunks.
        splitter: Any splitter of :mod:`ragstore.documents` (it is pickled to the read tasks).
        progress: Called on the driver with the running :class:`~ragstore.ingest.IngestStats` after each batch written.

    Returns:
        The final :class:`~ragstore.ingest.IngestStats` (``model_seconds`` stays ``None``: the actors load the models).

    Raises:
        RayNotInstalledError: Ray is not installed (``pip install "ragstore[ray]"``), raised before anything is read.
        ValueError: ``actors`` or ``batch_size`` is below 1.
        RayJobError: A task's or actor's error once Ray's retries are spent (a file failing to load is only reported):
            a loader's extra missing on a node, PATHS not on a node, an embedding function's error.
        Exception: The target's own errors, as they are. Every batch written before an error is whole.

    """
    _, ray_data = require_ray()
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    splitter = splitter or RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    found = paths if isinstance(paths, FileSet) else find_files(paths, glob=glob, exclude=exclude)
    stats = IngestStats()
    report = progress_reporter(stats, progress)
    plan = plan_files(collection, found)
    stats.files = len(plan.tasks)
    report()
    writer = RowWriter(collection, stats, on_write=report)
    if plan.tasks:
        with ray_session(address, log_to_driver=progress is None) as ray:
            resources = ray.cluster_resources()
            chosen = actor_resources(
                cluster_cpus=float(resources.get("CPU", 0.0)),
                cluster_gpus=float(resources.get("GPU", 0.0)),
                actors=actors,
                cpus=actor_cpus,
                gpus=actor_gpus,
            )
            dataset = _dataset(ray_data, plan, splitter, own_embedding_function(collection), actors, batch_size, chosen)
            if progress is not None:  # ragstore's display shows the job: Ray's own bars and log lines would tear it
                dataset.context.enable_progress_bars = False
                dataset.context.print_on_execution_start = False
            try:
                for batch in dataset.iter_batches(batch_size=batch_size, batch_format="numpy", prefetch_batches=_PREFETCH_BATCHES):
                    writer.write(batch)
            except ray.exceptions.RayError as exc:  # a worker's error; the target's own errors pass as they are
                raise RayJobError.of(exc) from exc
    writer.delete(plan.gone)  # after every file's writes, as the single-process ingest does: an interrupted run keeps them
    report()
    return stats


def _dataset(
    ray_data: Any, plan: FilePlan, splitter: Splitter, embedding_function: Any, actors: int, batch_size: int, resources: Any
) -> Any:
    """The lazy Ray Data pipeline: file tasks, then (if the driver does not leave embedding to ``upsert``) the actor pool."""
    blocks = max(1, math.ceil(len(plan.tasks) / FILES_PER_TASK))
    dataset = ray_data.from_items(plan.tasks, override_num_blocks=blocks)
    dataset = dataset.flat_map(file_rows, fn_kwargs={"splitter": splitter, "loaders": plan.loaders}, num_cpus=READ_CPUS)
    if embedding_function is None:
        return dataset
    return dataset.map_batches(
        Embedder,
        fn_constructor_kwargs={"recipe": EmbedderRecipe.of(embedding_function)},
        compute=ray_data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=resources.cpus,
        num_gpus=resources.gpus or None,
    )
