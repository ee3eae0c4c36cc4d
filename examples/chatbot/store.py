"""Opening the store and filling an empty collection on first run.

Three modes: a local persistent store (``path``), a ``ragstore run`` server
(``host``/``port``), or an in-memory store (``ephemeral``, refilled every run).
The collection uses ragstore's default embedder (all-MiniLM-L6-v2, offline)
unless it already exists with another, and a new one gets a BM25 index
(:func:`ragstore.bm25_schema`), so the chatbot searches it hybrid; an existing
collection keeps the index it was created with (none, if it predates hybrid search). When it is empty and a docs folder is
given, :func:`ingest_folder` fills it through :func:`ragstore.ingest.ingest`
with a progress bar on stderr; Markdown is split at its headings, so passages
carry ``headers`` metadata for their sources.

Example:
    >>> client = open_client(ephemeral=True)
    >>> open_collection(client, "ex-store").count()
    0

"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import ragstore
from ragstore.documents import MarkdownHeaderSplitter
from ragstore.ingest import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, IngestStats, ingest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown"


def open_client(
    path: str | Path = "./ragstore_data",
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    auth_token: str | None = None,
    ephemeral: bool = False,
) -> ragstore.ClientAPI:
    """A client: in memory if ``ephemeral``, remote if ``host``, else persistent at ``path``.

    Example:
        >>> open_client(ephemeral=True).heartbeat() > 0
        True

    """
    if ephemeral:
        return ragstore.connect()
    if host:  # a server: its token, if any, goes with it
        return ragstore.connect(host=host, port=port, ssl=ssl, auth_token=auth_token or None)
    return ragstore.connect(path)


def open_collection(client: ragstore.ClientAPI, name: str) -> Any:
    """The collection ``name``, created with the default embedder and a BM25 index if missing.

    Example:
        >>> from ragstore.collection_schema import has_bm25_index
        >>> col = open_collection(open_client(ephemeral=True), "ex-open")
        >>> col.name, has_bm25_index(col.schema)
        ('ex-open', True)

    """
    return client.get_or_create_collection(name, schema=ragstore.bm25_schema())


def ingest_folder(collection: Any, folder: Path, console: Console | None = None, glob: str | Sequence[str] = "**/*") -> IngestStats:
    """Ingest ``folder`` into ``collection`` with a progress bar, and print a one-line summary.

    Files already stored unchanged are not embedded again, so a second run is quick.

    Args:
        collection: The collection to fill.
        folder: Folder (or file) of documents; every loadable file, hidden ones excepted.
        console: Where the bar and summary go (default: stderr).
        glob: Pattern(s) of the files to take under ``folder``.

    Returns:
        What the ingestion did.

    Example:
        >>> import io, pathlib, tempfile
        >>> root = pathlib.Path(tempfile.mkdtemp()); _ = (root / "a.md").write_text("# A\\n\\nSome text.")
        >>> col = open_client(ephemeral=True).create_collection("ex-ingest", embedding_function=ragstore.HashingEmbeddingFunction())
        >>> ingest_folder(col, root, Console(file=io.StringIO())).written
        1

    """
    console = console or Console(file=sys.stderr)
    splitter = MarkdownHeaderSplitter(chunk_size=DEFAULT_CHUNK_SIZE, chunk_overlap=DEFAULT_CHUNK_OVERLAP)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks written · {task.fields[rate]} chunks/s"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(f"ingest {folder.name}", total=None, chunks=0, rate="0.0")

        def progress(stats: IngestStats) -> None:
            bar.update(task, total=stats.files, completed=stats.files_done, chunks=stats.written, rate=f"{stats.rate:.1f}")

        stats = ingest(collection, [folder], glob=glob, splitter=splitter, progress=progress)
    for failure in stats.failed:
        console.print(f"[red]skipped[/] {failure.source}: {failure.error}", soft_wrap=True)
    fresh = f", {stats.written} embedded now" if stats.written != stats.chunks else ""
    console.print(
        f"Ingested {stats.files - len(stats.failed)} files of {folder} as {stats.chunks} chunks{fresh} in {stats.seconds:.1f} s"
        + (f" ({stats.rate:.1f} chunks/s)" if stats.written else ""),
        soft_wrap=True,
    )
    return stats
