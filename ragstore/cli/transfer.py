"""``ragstore export`` (a collection to JSON Lines) and ``ragstore import`` (JSON Lines into a new collection).

Both stream, ``--batch-size`` records at a time, with a progress bar on stderr when it is a terminal;
the file format is :mod:`ragstore.transfer`'s. An import that fails (a truncated or corrupt file, a
collection name already taken) is one line on stderr, exit status 1, and no collection is left behind.

Example:
    >>> [command.name for command in (export_command, import_command)]
    ['export', 'import']

"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragstore.cli.store import open_client, store_options
from ragstore.transfer import DEFAULT_BATCH_SIZE, export_collection, import_collection
from ragstore.transfer import Progress as ProgressCallback

_BATCH_SIZE = click.option(
    "--batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Records read and written at a time.",
)


@contextmanager
def _progress(console: Console, label: str) -> Iterator[ProgressCallback | None]:
    """A bar on stderr when it is a terminal (a log or a pipe gets only the summary line at the end)."""
    if not console.is_terminal:
        yield None
        return
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("records"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, expected: bar.update(task, completed=done, total=expected)


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    """Standard output, or ``path`` written whole or not at all (a temporary file renamed into place when complete)."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        return
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's file is private (0600); the export is an ordinary file, as '>' makes it
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


@click.command("export")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--collection", "-c", required=True, help="The collection to export.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option(
    "--embeddings",
    type=click.Choice(["base64", "floats"]),
    default="base64",
    show_default=True,
    help="Embeddings as base64 of little-endian float32 bytes, or as lists of numbers (bigger; both exact).",
)
@_BATCH_SIZE
def export_command(path: str, collection: str, output: str | None, embeddings: Literal["base64", "floats"], batch_size: int) -> None:
    r"""Write collection NAME of the store at PATH as JSON Lines: a header (its configuration and schema), its records, a trailer.

    \b
    ragstore export ./data --collection docs > docs.jsonl
    ragstore import docs.jsonl --path ./other --collection docs-copy
    """
    console = Console(stderr=True)
    with open_client(path, None, 8000, False, None, must_exist=True) as client:
        # Without an embedding function: exporting embeds nothing, and one that cannot be rebuilt here must not stop it.
        source = client.get_collection(collection, embedding_function=None)
        with _output(output) as out, _progress(console, "export") as show:
            count = export_collection(source, out, batch_size=batch_size, embeddings=embeddings, progress=show)
    console.print(f"Exported {count:,} records of {collection!r}.", markup=False, highlight=False)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@store_options
@click.option("--collection", "-c", default=None, help="Name of the new collection (default: the exported collection's name).")
@_BATCH_SIZE
def import_command(file: str, collection: str | None, batch_size: int, **store: Any) -> None:
    """Create a collection from FILE (a 'ragstore export'; - for standard input), all or nothing.

    The collection must not exist yet. A truncated or corrupt file, or a record the store refuses, leaves no
    collection behind. Its embedding function is the exported one's, by name; nothing is re-embedded.
    """
    console = Console(stderr=True)
    source = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
    try:
        with open_client(**store) as client, _progress(console, "import") as show:
            target = import_collection(client, source, name=collection, batch_size=batch_size, progress=show)
            count = target.count()
    finally:
        if file != "-":
            source.close()
    console.print(f"Imported {count:,} records into {target.name!r}.", markup=False, highlight=False)
