"""``ragstore check PATH [--repair]``: verify a store, and rebuild its derived state.

Exit status, for cron and CI: 0 the store is sound, 1 problems were found (repaired or
not: the report says which), 2 the store cannot be checked (no store at PATH, not a
SQLite file, an unknown schema). The checks are :mod:`ragstore.check`'s.

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(check, ["/nonexistent"])
    >>> result.exit_code, result.output.strip()
    (2, 'Error: Cannot check /nonexistent: no ragstore store there (no ragstore.sqlite3)')

"""

from __future__ import annotations

import sys

import click

from ragstore.check import check_store
from ragstore.errors import StorageError

CANNOT_CHECK = 2


@click.command("check")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--repair", is_flag=True, help="Rebuild what is derived and found wrong (index files, text index, sparse values).")
def check(path: str, repair: bool) -> None:
    """Verify the store at PATH: SQLite's integrity, counts, and every index against the records.

    Says what --repair would rebuild; with --repair, rebuilds it (a server may keep running).
    Exit status: 0 sound, 1 problems found (repaired or not), 2 cannot check.
    """
    try:
        report = check_store(path, repair=repair)
    except StorageError as exc:  # not a problem in the store: there is no store to check
        click.echo(f"Error: {exc}", err=True)
        sys.exit(CANNOT_CHECK)
    for line in report.lines():
        click.echo(line)
    sys.exit(report.exit_status)
