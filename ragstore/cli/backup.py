"""``ragstore backup PATH DEST`` and ``ragstore restore DEST PATH``: see :mod:`ragstore.backup`.

Errors (no store at PATH, a non-empty target, a full disk) are :class:`~ragstore.errors.RagstoreError`
and reach the user as one line through the command group.

Example:
    >>> [command.name for command in (backup, restore)]
    ['backup', 'restore']

"""

from __future__ import annotations

import click

from ragstore import backup as backups


@click.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("dest", type=click.Path(file_okay=False))
def backup(path: str, dest: str) -> None:
    """Copy the store at PATH into the new folder DEST while it stays in use (writers and servers may keep running)."""
    report = backups.backup(path, dest)
    click.echo(
        f"Backed up {_count(report.records, 'record')} in {_count(report.collections, 'collection')} to {report.path} "
        f"({_count(report.indexes, 'saved index', 'saved indexes')} copied) in {report.seconds:.1f} s"
    )


@click.command()
@click.argument("dest", type=click.Path(file_okay=False))
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace the store at PATH if it is not empty (stop what uses it first).")
def restore(dest: str, path: str, force: bool) -> None:
    """Restore the backup DEST as the store at PATH (refuses a non-empty PATH without --force)."""
    report = backups.restore(dest, path, force=force)
    what = f"{_count(report.records, 'record')} in {_count(report.collections, 'collection')}"
    click.echo(f"Restored {what} to {report.path} in {report.seconds:.1f} s")


def _count(n: int, one: str, many: str | None = None) -> str:
    """``"1 collection"``, ``"2 collections"``."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"
