"""``ragstore collections`` (list them), ``ragstore peek`` (look into one) and ``ragstore delete-collection``.

None of them creates a store: a ``--path`` that holds none is refused with one line.

Example:
    >>> [command.name for command in (collections, peek, delete_collection)]
    ['collections', 'peek', 'delete-collection']

"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ragstore.cli.errors import remembered_store
from ragstore.cli.query import hit_source, snippet
from ragstore.cli.store import open_client, store_options
from ragstore.configuration import hnsw_settings


@click.command()
@store_options
def collections(**store: Any) -> None:
    """List the store's collections with their record counts."""
    with open_client(**store, must_exist=True) as client:
        table = Table(title="Collections")
        for column in ("name", "records", "space", "embedding"):
            table.add_column(column, justify="right" if column == "records" else "left")
        for col in client.list_collections():
            ef = col.configuration.get("embedding_function") or {}
            table.add_row(col.name, str(col.count()), hnsw_settings(col.configuration).space, str(ef.get("name", "")))
    Console().print(table)


@click.command()
@click.argument("name")
@store_options
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 10_000), help="How many records.")
@click.option("--json", "as_json", is_flag=True, help="Print the records (id, document, metadata) as JSON instead of a table.")
def peek(name: str, limit: int, as_json: bool, **store: Any) -> None:
    """Show the first records of collection NAME: id, source and the start of the text."""
    with open_client(**store, must_exist=True) as client:
        # Without an embedding function: looking needs none, and a collection whose function cannot be rebuilt here can still be seen.
        collection = client.get_collection(name, embedding_function=None)
        records = collection.get(limit=limit, include=["documents", "metadatas"])
        total = collection.count()
    documents, metadatas = records["documents"] or [], records["metadatas"] or []
    if as_json:
        rows = [{"id": i, "document": d, "metadata": m or {}} for i, d, m in zip(records["ids"], documents, metadatas, strict=True)]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"First {len(records['ids'])} of {total} records in '{name}'")
    table.add_column("id")
    table.add_column("source")
    table.add_column("text")
    for id_, document, metadata in zip(records["ids"], documents, metadatas, strict=True):
        meta = metadata or {}
        table.add_row(id_, hit_source(meta.get("source"), meta.get("page"), ""), snippet(document, width=120))
    Console().print(table)


@click.command("delete-collection")
@click.argument("name")
@store_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete_collection(name: str, yes: bool, **store: Any) -> None:
    """Delete collection NAME and every record in it (asks first unless --yes)."""
    with open_client(**store, must_exist=True) as client:
        collection = client.get_collection(name, embedding_function=None)  # a missing one is one line: NotFoundError
        count = collection.count()
        address = remembered_store()
        where = address.describe() if address is not None else "the store"
        if not yes:
            # abort=True: "n", an empty answer, or no terminal at all (EOF) leave the collection alone and exit 1.
            click.confirm(f"Delete collection {name!r} ({count} records) from {where}?", abort=True, err=True)
        client.delete_collection(name)
    click.echo(f"Deleted collection {name!r} ({count} records).", err=True)
