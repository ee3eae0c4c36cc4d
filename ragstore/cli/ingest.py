"""``ragstore ingest``: files into a collection, with progress, a report of what was left out, and a summary.

A file is never left out without a word: files no loader handles are counted by
extension, a Sphinx build's copies are counted, each file that fails to load is
named once with its reason, and files without text are named. The exit status is
1 when nothing was ingested (and a collection this run would have made is not
made) or when a file failed; ``--allow-empty`` and ``--allow-failures`` relax that.

With ``--ray`` the same ingest runs as a Ray Data job (:mod:`ragstore.distributed`):
files read and split in Ray tasks, chunks embedded by a pool of actors, batches
written by this process. Ray is imported only then, and a missing install is one line.

Example:
    >>> ingest.name
    'ingest'

"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

import ragstore
from ragstore.cli.ingest_progress import progress_display
from ragstore.cli.ingest_report import print_report, skipped_lines, summary
from ragstore.cli.store import EMBEDDING_HELP, open_client, open_collection, store_options
from ragstore.documents import LOADERS
from ragstore.ingest import DEFAULT_BATCH_SIZE, DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, FileSet, IngestStats, find_files
from ragstore.ingest import ingest as run_ingest

_HELP = f"""Load, split, embed and upsert the files under PATHS; re-running updates only what changed.

\b
Loaded by extension: {" ".join(sorted(LOADERS))}
(.docx, .pptx, .xlsx, .pdf and .html need the 'documents' extra).

Hidden files and folders are left out, and so are a Sphinx HTML build's _sources/ copies of the pages
it loads and its _static/ files, so a page does not come back twice, as HTML and as reST (to load the
sources, ingest the _sources folder itself). Files left out, files that fail to load and files without
text are reported. The exit status is 1 if nothing was ingested (no collection is then created) or a
file failed to load; see --allow-empty and --allow-failures.

With --ray the ingest runs as a Ray Data job: files are read and split in Ray tasks and embedded by
--ray-actors actors (one model each, a GPU each when the cluster has them); this process writes the
batches to the store. It joins the cluster at --ray-address (or RAY_ADDRESS), else starts a local
Ray instance; an address where nothing answers fails within seconds. Needs the 'ray' extra: pip install "ragstore[ray]".
"""


def _say(console: Console, *lines: str) -> None:
    for line in lines:  # as they are: one line each, never read as markup
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _exists(client: ragstore.ClientAPI, name: str) -> bool:
    try:
        client.get_collection(name)
    except ragstore.NotFoundError:
        return False
    return True


def _nothing_found(found: FileSet, globs: Sequence[str]) -> str:
    if found.unsupported or found.sphinx_copies:
        return "nothing to ingest: no file under PATHS has a loader (see ragstore ingest --help for the extensions)"
    return f"nothing to ingest: no file under PATHS matches --glob {' '.join(globs)}"


def _single_process() -> Callable[..., IngestStats]:
    """The single-process ingest, after checking that no --ray-* option was given without --ray."""
    context = click.get_current_context()
    for name in ("ray_address", "ray_actors", "ray_batch_size"):
        if context.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            raise click.UsageError(f"--{name.replace('_', '-')} needs --ray")
    return run_ingest


def _ray_runner(address: str | None, actors: int, batch_size: int) -> Callable[..., IngestStats]:
    """:func:`ragstore.distributed.ray_ingest` with the --ray-* options; Ray is imported and the cluster's address checked here.

    Both before any store is opened, so a missing install or a cluster that does not answer leaves no collection behind.
    """
    from ragstore.distributed import RayJobError, RayNotInstalledError, ray_ingest
    from ragstore.distributed.runtime import RayUnreachableError, check_reachable, require_ray

    try:
        require_ray()
        check_reachable(address)
    except (RayNotInstalledError, RayUnreachableError) as exc:
        raise click.ClickException(str(exc)) from None

    def run(*args: Any, **kwargs: Any) -> IngestStats:
        try:
            return ray_ingest(*args, address=address, actors=actors, batch_size=batch_size, **kwargs)
        except RayJobError as exc:  # a worker's error, said in one line (the remote traceback is in Ray's session logs)
            raise click.ClickException(f"{exc}; every batch written before it is complete") from exc

    # Ray's INFO lines (and Ray Data's note that its bars are off) would tear ragstore's progress display.
    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return run


@click.command(help=_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--collection", "-c", required=True, help="Collection to fill (created if missing).")
@store_options
@click.option(
    "--glob",
    "globs",
    multiple=True,
    default=["**/*"],
    show_default=True,
    help="Files to load (repeatable). Sphinx _sources/ copies of pages loaded are left out whatever the glob.",
)
@click.option("--exclude", multiple=True, help="Patterns to leave out (repeatable; hidden files are always left out).")
@click.option("--chunk-size", default=DEFAULT_CHUNK_SIZE, show_default=True, type=click.IntRange(50), help="Characters per chunk.")
@click.option(
    "--chunk-overlap", default=DEFAULT_CHUNK_OVERLAP, show_default=True, type=click.IntRange(0), help="Characters shared by neighbours."
)
@click.option("--embedding", default=None, help=EMBEDDING_HELP)
@click.option("--allow-failures", is_flag=True, help="Exit 0 even if some files fail to load (they are still listed).")
@click.option("--allow-empty", is_flag=True, help="Exit 0 even if nothing is ingested (no collection is created then either).")
@click.option("--ray", "use_ray", is_flag=True, help="Run as a Ray Data job (the 'ray' extra): see above.")
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDRESS",
    help="Ray cluster to join (HOST:6379, ray://HOST:10001, auto) [env RAY_ADDRESS]; with --ray.",
)
@click.option("--ray-actors", default=1, show_default=True, type=click.IntRange(1), help="Embedding actors, one model each; with --ray.")
@click.option(
    "--ray-batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(1),
    help="Chunks per embedding call and upsert; with --ray.",
)
@click.option(
    "--progress-every",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="When stderr is not a terminal (a log, a pipe), print a progress line this often instead of a bar.",
)
def ingest(
    paths: Sequence[str],
    collection: str,
    globs: Sequence[str],
    exclude: Sequence[str],
    chunk_size: int,
    chunk_overlap: int,
    embedding: str | None,
    allow_failures: bool,
    allow_empty: bool,
    progress_every: float,
    use_ray: bool,
    ray_address: str | None,
    ray_actors: int,
    ray_batch_size: int,
    **store: Any,  # what @store_options adds: only open_client reads it
) -> None:
    """The command (its help is ``_HELP``, which names the loaders' extensions)."""
    if chunk_overlap >= chunk_size:
        raise click.BadParameter("must be smaller than --chunk-size", param_hint="--chunk-overlap")
    runner = _ray_runner(ray_address, ray_actors, ray_batch_size) if use_ray else _single_process()
    console = Console(stderr=True)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its recoverable-structure warnings would tear the progress bar
    logging.getLogger("ragstore.documents").setLevel(logging.ERROR)  # failed files are reported below, once each
    found = find_files(list(paths), glob=list(globs), exclude=(".*", *exclude) if exclude else None)
    if not found.files and not allow_empty:  # refused before a store or collection is opened, let alone created
        _say(console, *skipped_lines(found.unsupported, found.sphinx_copies))
        raise click.ClickException(_nothing_found(found, globs))
    with open_client(**store) as client:
        existed = _exists(client, collection)
        if not found.files and not existed:
            _say(
                console, *skipped_lines(found.unsupported, found.sphinx_copies), f"nothing to ingest; collection {collection!r} not created"
            )
            return
        target = open_collection(client, collection, embedding, create=True)
        model = getattr(target.embedding_function, "model_name", None)
        with progress_display(console, every=progress_every, model=model) as show:
            try:
                stats = runner(target, found, chunk_size=chunk_size, chunk_overlap=chunk_overlap, progress=show)
            except KeyboardInterrupt:
                console.print("[yellow]Interrupted.[/] Every batch written so far is complete; run the same command again to finish.")
                sys.exit(130)
        print_report(console, stats, found.unsupported, found.sphinx_copies)
        if not stats.chunks and not existed:
            client.delete_collection(collection)  # made for this run, and nothing went in: as if never made
            _say(console, f"collection {collection!r} not created: nothing to store")
        else:
            heading = f"Ingested into '{collection}' ({target.count()} chunks stored)"
            console.print(heading, style="bold italic", markup=False, highlight=False, soft_wrap=True)
            console.print(summary(stats))
    if not stats.chunks and not allow_empty:
        failed = f": {len(stats.failed)} of {stats.files} files failed to load" if stats.failed else ""
        raise click.ClickException(f"nothing ingested{failed} (--allow-empty exits 0 all the same)")
    if stats.failed and not allow_failures:
        raise click.ClickException(
            f"{len(stats.failed)} of {stats.files} files failed to load (listed above; --allow-failures exits 0 all the same)"
        )
