"""``ragstore import-chroma CHROMA_PATH [--into PATH]``: move a chromadb 1.x persistent directory into a ragstore store.

The chromadb folder is only read (chromadb need not be installed); see :mod:`ragstore.chroma_import`.

Example:
    >>> import_chroma_command.name
    'import-chroma'

"""

from __future__ import annotations

import click

from ragstore.chroma_import import import_chroma
from ragstore.cli.errors import remember_store
from ragstore.store_address import StoreAddress


@click.command("import-chroma")
@click.argument("chroma_path", type=click.Path(file_okay=False))
@click.option(
    "--into",
    default="./ragstore_data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The ragstore store to create the collections in (made if missing; it must not hold a collection of the same name).",
)
def import_chroma_command(chroma_path: str, into: str) -> None:
    """Copy every tenant, database and collection of the chromadb store at CHROMA_PATH into a ragstore store.

    Records keep their ids, documents, metadata and vectors; collections keep their metadata, HNSW settings and
    embedding-function name. Nothing is written when the source cannot be read whole or a name is taken.
    """
    remember_store(StoreAddress(path=into))
    summary = import_chroma(chroma_path, into)
    for name in summary.tenants:
        click.echo(f"tenant {name}: created")
    for name in summary.databases:
        click.echo(f"database {name}: created")
    for name, count in summary.collections.items():
        click.echo(f"collection {name}: {count} records")
    click.echo(
        f"Imported {len(summary.collections)} collections, {sum(summary.collections.values())} records from {chroma_path} into {into}"
    )
