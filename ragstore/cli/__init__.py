"""The ``ragstore`` command line (``ragstore <command> ...`` or ``python -m ragstore <command> ...``).

Commands: ``run`` (serve a store over HTTP), ``ingest`` (files into a collection),
``query`` (search a collection), ``collections`` (list them), ``peek`` (look into one),
``delete-collection``; operating a store: ``backup``, ``restore``, ``check``, ``import-chroma``
(and ``export`` / ``import`` of one collection).

A user's mistake (a bad name or filter, a missing store or collection, a server that does not
answer or wants a token) is one line on stderr and exit status 1; ``ragstore --debug ...`` also
prints the traceback (:mod:`ragstore.cli.errors`).

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(main, ["--version"])
    >>> result.output.startswith("ragstore, version")
    True

"""

from __future__ import annotations

import click

from ragstore._version import __version__
from ragstore.cli.backup import backup, restore
from ragstore.cli.check import check
from ragstore.cli.collections import collections, delete_collection, peek
from ragstore.cli.errors import RagstoreGroup
from ragstore.cli.import_chroma import import_chroma_command
from ragstore.cli.ingest import ingest
from ragstore.cli.query import query
from ragstore.cli.run import run
from ragstore.cli.serve import serve_command
from ragstore.cli.transfer import export_command, import_command


@click.group(cls=RagstoreGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ragstore")
@click.option(
    "--debug", is_flag=True, envvar="RAGSTORE_DEBUG", help="Print an error's traceback, not only its one line [env RAGSTORE_DEBUG]."
)
def main(debug: bool) -> None:
    """ragstore: an embeddable vector store for retrieval-augmented generation."""


main.add_command(run)
main.add_command(serve_command)
main.add_command(ingest)
main.add_command(query)
main.add_command(collections)
main.add_command(peek)
main.add_command(delete_collection)
main.add_command(backup)
main.add_command(restore)
main.add_command(check)
main.add_command(import_chroma_command)
main.add_command(export_command)
main.add_command(import_command)

__all__ = ["main", "run"]
