"""The ``ragstore`` command line (``ragstore <command> ...`` or ``python -m ragstore <command> ...``).

Commands: ``run`` (serve a store over HTTP), ``ingest`` (files into a collection),
``query`` (search a collection), ``collections`` (list them).

Example:
    >>> from click.testing import CliRunner
    >>> result = CliRunner().invoke(main, ["--version"])
    >>> result.output.startswith("ragstore, version")
    True

"""

from __future__ import annotations

import click

from ragstore._version import __version__
from ragstore.cli.ingest import ingest
from ragstore.cli.query import collections, query
from ragstore.cli.run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ragstore")
def main() -> None:
    """ragstore: an embeddable vector store for retrieval-augmented generation."""


main.add_command(run)
main.add_command(ingest)
main.add_command(query)
main.add_command(collections)

__all__ = ["main", "run"]
