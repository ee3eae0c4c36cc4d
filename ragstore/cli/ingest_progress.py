"""How ``ragstore ingest`` shows its progress: a live bar on a terminal, periodic lines elsewhere.

On a terminal the bar redraws in place; its label says ``loading model ...`` while
the embedding model loads. Written to a file or a pipe (CI logs, ``nohup``), a bar
would show nothing until the end, so a line is printed instead every ``every``
seconds, and once when the model starts loading.

Example:
    >>> from rich.console import Console
    >>> from ragstore.ingest import IngestStats
    >>> console = Console(file=__import__("io").StringIO(), width=80)
    >>> with progress_display(console, every=0.0, model="all-MiniLM-L6-v2") as show:
    ...     show(IngestStats(files=4, loading_model=True))
    ...     show(IngestStats(files=4, files_done=1, embedded=128, written=128, seconds=2.0))
    >>> print(console.file.getvalue(), end="")
    ingest: loading model all-MiniLM-L6-v2 ...
    ingest: 1/4 files, 128 embedded, 128 written, 64.0 chunks/s, 2 s

"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ragstore.ingest import IngestStats

Show = Callable[[IngestStats], None]


def progress_line(stats: IngestStats) -> str:
    """One line of progress, as printed when the output is not a terminal.

    Example:
        >>> progress_line(IngestStats(files=10, files_done=3, embedded=300, written=200, seconds=4.0))
        '3/10 files, 300 embedded, 200 written, 50.0 chunks/s, 4 s'

    """
    return (
        f"{stats.files_done}/{stats.files} files, {stats.embedded:,} embedded, {stats.written:,} written, "
        f"{stats.rate:.1f} chunks/s, {stats.seconds:.0f} s"
    )


@contextmanager
def _bar(console: Console, loading: str) -> Iterator[Show]:
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

        def show(stats: IngestStats) -> None:
            # Called after every batch embedded or written (not only per file), so the rate moves inside a long file.
            bar.update(
                task,
                description=loading if stats.loading_model else "ingest",
                total=stats.files,
                completed=stats.files_done,
                embedded=stats.embedded,
                written=stats.written,
                rate=f"{stats.rate:.1f}",
            )

        yield show


@contextmanager
def _lines(console: Console, loading: str, every: float) -> Iterator[Show]:
    last = time.monotonic()
    said_loading = False

    def show(stats: IngestStats) -> None:
        nonlocal last, said_loading
        if stats.loading_model and not said_loading:
            said_loading = True
            console.print(f"ingest: {loading}", markup=False, highlight=False, soft_wrap=True)
            return
        now = time.monotonic()
        if stats.files_done and now - last >= every:  # nothing to say before the first file is done
            last = now
            console.print(f"ingest: {progress_line(stats)}", markup=False, highlight=False, soft_wrap=True)

    yield show


@contextmanager
def progress_display(console: Console, *, every: float, model: str | None = None) -> Iterator[Show]:
    """A progress callback for :func:`ragstore.ingest.ingest`: the bar on a terminal, else a line every ``every`` seconds.

    Args:
        console: Where to show it (its ``is_terminal`` decides which display).
        every: Seconds between two progress lines when ``console`` is not a terminal.
        model: The embedding model's name, for the ``loading model`` label.

    """
    loading = f"loading model {model} ..." if model else "loading model ..."
    display = _bar(console, loading) if console.is_terminal else _lines(console, loading, every)
    with display as show:
        yield show
