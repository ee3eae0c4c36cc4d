"""``ragstore ingest``: files into a collection, with a progress bar and a summary.

Example:
    >>> ingest.name
    'ingest'

"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragstore.cli.store import EMBEDDING_HELP, open_client, open_collection, store_options
from ragstore.ingest import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, IngestStats
from ragstore.ingest import ingest as run_ingest


def _summary(stats: IngestStats, collection: str, count: int) -> Table:
    table = Table(title=f"Ingested into '{collection}' ({count} chunks stored)", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("files", f"{stats.files - len(stats.failed)} loaded, {len(stats.failed)} failed"),
        ("chunks", str(stats.chunks)),
        ("written", f"{stats.written} ({stats.rate:.1f} chunks/s)"),
        ("unchanged", str(stats.unchanged)),
        ("deleted", str(stats.deleted)),
        ("time", f"{stats.seconds:.1f} s"),
    ):
        table.add_row(label, value)
    return table


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--collection", "-c", required=True, help="Collection to fill (created if missing).")
@store_options
@click.option("--glob", "globs", multiple=True, default=["**/*"], show_default=True, help="Files to load (repeatable).")
@click.option("--exclude", multiple=True, help="Patterns to leave out (repeatable; hidden files are always left out).")
@click.option("--chunk-size", default=DEFAULT_CHUNK_SIZE, show_default=True, type=click.IntRange(50), help="Characters per chunk.")
@click.option(
    "--chunk-overlap", default=DEFAULT_CHUNK_OVERLAP, show_default=True, type=click.IntRange(0), help="Characters shared by neighbours."
)
@click.option("--embedding", default=None, help=EMBEDDING_HELP)
def ingest(
    paths: Sequence[str],
    collection: str,
    globs: Sequence[str],
    exclude: Sequence[str],
    chunk_size: int,
    chunk_overlap: int,
    embedding: str | None,
    **store: Any,  # what @store_options adds: only open_client reads it
) -> None:
    """Load, split, embed and upsert the files under PATHS; re-running updates only what changed."""
    if chunk_overlap >= chunk_size:
        raise click.BadParameter("must be smaller than --chunk-size", param_hint="--chunk-overlap")
    console = Console(stderr=True)
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its recoverable-structure warnings would tear the progress bar
    client = open_client(**store)
    target = open_collection(client, collection, embedding, create=True)
    exclude_patterns = (".*", *exclude) if exclude else None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[embedded]} embedded · {task.fields[written]} written · {task.fields[rate]} chunks/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("ingest", total=None, embedded=0, written=0, rate="0.0")

        def progress(stats: IngestStats) -> None:
            # Called after every batch embedded or written (not only per file), so the rate moves inside a long file.
            rate = f"{stats.rate:.1f}"
            bar.update(task, total=stats.files, completed=stats.files_done, embedded=stats.embedded, written=stats.written, rate=rate)

        try:
            stats = run_ingest(
                target,
                list(paths),
                glob=list(globs),
                exclude=exclude_patterns,
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                progress=progress,
            )
        except KeyboardInterrupt:
            bar.stop()
            console.print("[yellow]Interrupted.[/] Every batch written so far is complete; run the same command again to finish.")
            client.close()
            sys.exit(130)
    for failure in stats.failed:
        console.print(f"[red]failed[/] {failure.source}: {failure.error}")
    console.print(_summary(stats, collection, target.count()))
    client.close()
