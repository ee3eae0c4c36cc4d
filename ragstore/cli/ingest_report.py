"""What ``ragstore ingest`` says when it is done: each failed file once, the files it left out and why, a summary.

Every line is one line whatever the terminal's width (``soft_wrap``), and file
names and messages are printed as they are (never read as rich markup, so a
``[draft].docx`` shows as itself).

Example:
    >>> from pathlib import Path
    >>> skipped_lines([Path("a.doc"), Path("b.ppt"), Path("c.doc")], [])
    ['skipped 3 files: unsupported .doc (2), .ppt (1); old binary Office files: save them as .docx, .pptx or .xlsx']

"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ragstore.documents import FileError
from ragstore.ingest import IngestStats

_OLD_OFFICE = frozenset({".doc", ".ppt", ".xls"})
_NAMED = 5  # files named in a line before "and N more"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _names(paths: Sequence[Path]) -> str:
    shown = ", ".join(path.as_posix() for path in paths[:_NAMED])
    return shown if len(paths) <= _NAMED else f"{shown} and {len(paths) - _NAMED} more"


def one_line(error: BaseException) -> str:
    r"""An error's message on one line (a loader's message may hold a library's multi-line text).

    Example:
        >>> one_line(ValueError("Cannot read x.pdf:\n  bad xref"))
        'Cannot read x.pdf: bad xref'

    """
    return " ".join(str(error).split()) or type(error).__name__


def failure_line(failure: FileError) -> str:
    """``failed PATH: REASON`` for a file that failed to load.

    Example:
        >>> from pathlib import Path
        >>> failure_line(FileError(Path("docs/a.pdf"), "a.pdf", ValueError("not a PDF")))
        'failed docs/a.pdf: not a PDF'

    """
    return f"failed {failure.path.as_posix()}: {one_line(failure.error)}"


def skipped_lines(unsupported: Sequence[Path], sphinx_copies: Sequence[Path]) -> list[str]:
    """One line per reason files were left out: no loader for their extension, or a Sphinx build's copies.

    Example:
        >>> from pathlib import Path
        >>> skipped_lines([], [Path("site/_sources/index.rst.txt")])
        ["skipped 1 file: a Sphinx build's _sources/ copies of the pages loaded, and its _static/ files"]

    """
    lines = []
    if unsupported:
        by_suffix = Counter(path.suffix.lower() or "(no extension)" for path in unsupported)
        kinds = ", ".join(f"{suffix} ({count})" for suffix, count in sorted(by_suffix.items(), key=lambda kv: (-kv[1], kv[0])))
        line = f"skipped {_plural(len(unsupported), 'file')}: unsupported {kinds}"
        if _OLD_OFFICE & set(by_suffix):
            line += "; old binary Office files: save them as .docx, .pptx or .xlsx"
        lines.append(line)
    if sphinx_copies:
        lines.append(
            f"skipped {_plural(len(sphinx_copies), 'file')}: a Sphinx build's _sources/ copies of the pages loaded, and its _static/ files"
        )
    return lines


def empty_line(empty: Sequence[Path]) -> str | None:
    """A line naming the files that loaded but hold no text (``None`` if there are none).

    Example:
        >>> from pathlib import Path
        >>> empty_line([Path("scan.pdf")])
        'no text in 1 file (nothing stored for it): scan.pdf'

    """
    if not empty:
        return None
    return f"no text in {_plural(len(empty), 'file')} (nothing stored for {'it' if len(empty) == 1 else 'them'}): {_names(empty)}"


def summary(stats: IngestStats) -> Table:
    """The table of counts printed at the end (its heading is printed apart, so it never wraps into the table's width).

    Example:
        >>> summary(IngestStats(files=2, chunks=5)).row_count, summary(IngestStats(model_seconds=0.3)).row_count
        (6, 7)

    """
    table = Table(show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    loaded = stats.files - len(stats.failed)
    rows = [
        ("files", f"{loaded} loaded, {len(stats.failed)} failed"),
        ("chunks", str(stats.chunks)),
        ("written", f"{stats.written} ({stats.rate:.1f} chunks/s)"),
        ("unchanged", str(stats.unchanged)),
        ("deleted", str(stats.deleted)),
        ("time", f"{stats.seconds:.1f} s"),
    ]
    if stats.model_seconds is not None:
        rows.append(("model load", f"{stats.model_seconds:.1f} s"))
    for label, value in rows:
        table.add_row(label, value)
    return table


def print_report(console: Console, stats: IngestStats, unsupported: Sequence[Path], sphinx_copies: Sequence[Path]) -> None:
    """Print each failed file once, then why files were left out, then the files without text."""
    lines = [failure_line(failure) for failure in stats.failed]
    lines += skipped_lines(unsupported, sphinx_copies)
    empty = empty_line(stats.empty)
    if empty is not None:
        lines.append(empty)
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
