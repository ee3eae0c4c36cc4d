"""Options every data command shares: which store (``--path`` or ``--host/--port``) and which embedder.

Example:
    >>> embedding_function("hashing").name()
    'ragstore_hashing'

"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import ragstore
from ragstore.cli.errors import remember_store, remembered_store
from ragstore.embeddings.base import embedding_functions_conflict
from ragstore.local.database import DATABASE_FILENAME

F = TypeVar("F", bound=Callable[..., Any])


def store_options(command: F) -> F:
    """Add ``--path``, ``--host``, ``--port``, ``--ssl`` and ``--auth-token`` to a command."""
    options = [
        click.option(
            "--path",
            default="./ragstore_data",
            show_default=True,
            type=click.Path(file_okay=False),
            help="Local store directory (ignored with --host).",
        ),
        click.option("--host", default=None, help="Use a ragstore server on this host instead of a local store."),
        click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The server's port."),
        click.option("--ssl/--no-ssl", default=False, help="Use HTTPS to reach the server."),
        click.option("--auth-token", envvar="RAGSTORE_AUTH_TOKEN", default=None, help="The server's token [env RAGSTORE_AUTH_TOKEN]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_client(
    path: str, host: str | None, port: int, ssl: bool, auth_token: str | None, *, must_exist: bool = False
) -> ragstore.ClientAPI:
    """A client of the chosen store: the server at ``host`` if given, else the local store at ``path``.

    Commands that only read pass ``must_exist``: a ``--path`` that holds no store is then refused with one
    line instead of a new, empty store being made there (a typo would otherwise list nothing and exit 0).
    Only commands that write (``ingest``) create a store.

    Example:
        >>> import tempfile
        >>> with open_client(tempfile.mkdtemp(), None, 8000, False, "ignored-without-a-host") as client:
        ...     client.get_settings().is_persistent
        True
        >>> open_client(tempfile.mkdtemp() + "/typo", None, 8000, False, None, must_exist=True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        click.exceptions.ClickException: No ragstore store at .../typo (it has no ragstore.sqlite3): check --path, ...

    """
    address = store_address(path, host, port, ssl, auth_token)
    remember_store(address)
    if must_exist and address.path is not None and not (Path(address.path) / DATABASE_FILENAME).is_file():
        raise click.ClickException(
            f"No ragstore store at {address.describe()} (it has no {DATABASE_FILENAME}): check --path, "
            "or make one with 'ragstore ingest FILES -c NAME --path ...'"
        )
    return address.client()


def store_address(path: str, host: str | None, port: int, ssl: bool, auth_token: str | None) -> ragstore.StoreAddress:
    """The store the options name: ``--host`` wins over ``--path`` (which has a default), and only a server gets the token.

    Example:
        >>> store_address("./data", "db.example.com", 9000, True, "").describe()
        'https://db.example.com:9000'

    """
    if host:
        return ragstore.StoreAddress(host=host, port=port, ssl=ssl, auth_token=auth_token or None)
    return ragstore.StoreAddress(path=path)


EMBEDDING_HELP = (
    "Embedding function for a new collection: 'default' (all-MiniLM-L6-v2 on ONNX Runtime, int8, offline), 'hashing' "
    "(fast, for tests), 'onnx:<folder>' or 'onnx-fp32:<folder>' (a local BERT-family sentence-transformers folder on ONNX "
    "Runtime, int8 or exact float32), 'st:<model name or path>' (a local sentence-transformers model on torch) or "
    "'openai:<model>' (an OpenAI-compatible "
    "/v1/embeddings server at $OPENAI_BASE_URL, key in $OPENAI_API_KEY). An existing collection keeps its own: naming a "
    "different one for it is an error."
)


def embedding_function(name: str) -> Any:
    """The embedding function a ``--embedding`` value names."""
    from ragstore.embeddings import HashingEmbeddingFunction, default_embedding_function

    if name == "default":
        return default_embedding_function()
    if name == "hashing":
        return HashingEmbeddingFunction()
    kind, _, model = name.partition(":")
    if kind in {"onnx", "onnx-fp32"} and model:
        from ragstore.embeddings import OnnxEmbeddingFunction
        from ragstore.embeddings.onnx.function import model_folder
        from ragstore.embeddings.onnx.graph import BertShape

        try:  # a folder that cannot be built is the user's mistake: one line now, not a traceback at the first embed
            BertShape.from_folder(model_folder(model))
        except (ValueError, OSError) as exc:  # InvalidArgumentError is a ValueError
            raise click.BadParameter(str(exc), param_hint="--embedding") from None
        return OnnxEmbeddingFunction(model_name=model, precision="fp32" if kind == "onnx-fp32" else "int8")
    if kind == "st" and model:
        from ragstore.embeddings import SentenceTransformerEmbeddingFunction

        return SentenceTransformerEmbeddingFunction(model_name=model)
    if kind == "openai" and model:
        import os

        from ragstore.embeddings import OpenAICompatibleEmbeddingFunction

        return OpenAICompatibleEmbeddingFunction(base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"), model=model)
    raise click.BadParameter(
        f"unknown embedding {name!r}; use default, hashing, onnx:<folder>, onnx-fp32:<folder>, st:<model> or openai:<model>",
        param_hint="--embedding",
    )


def open_collection(client: ragstore.ClientAPI, name: str, embedding: str | None, create: bool) -> Any:
    """The collection ``name``: its persisted embedder unless ``embedding`` names one; created if ``create``.

    A collection the CLI creates has a BM25 index (:func:`ragstore.bm25_schema`), so ``query`` can search it
    hybrid; an existing collection keeps what it has, its embedding function included.

    Raises:
        click.ClickException: No collection ``name`` (and not ``create``), or ``embedding`` names a function other
            than the one the collection records (one line that says so, instead of chromadb's conflict message).

    Example:
        >>> client = ragstore.Client()
        >>> open_collection(client, "notes", "hashing", create=True).embedding_function.name()
        'ragstore_hashing'
        >>> open_collection(client, "notes", "default", create=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        click.exceptions.ClickException: Collection 'notes' embeds with 'ragstore_hashing', not 'default' (--embedding default): ...

    """
    ef = embedding_function(embedding) if embedding else None
    try:
        # With --embedding, only the persisted configuration is needed here: the persisted function is not built.
        existing = client.get_collection(name) if ef is None else client.get_collection(name, embedding_function=None)
    except ragstore.NotFoundError:
        if not create:
            raise click.ClickException(f"No collection named {name!r} in {_where()} (see: ragstore collections)") from None
        if ef is None:
            return client.get_or_create_collection(name, schema=ragstore.bm25_schema())
        return client.get_or_create_collection(name, schema=ragstore.bm25_schema(), embedding_function=ef)
    if ef is None:
        return existing
    persisted = existing.configuration.get("embedding_function") or {}
    if embedding_functions_conflict(persisted, ef):  # said here in the CLI's words; the library's message is chromadb's
        raise click.ClickException(
            f"Collection {name!r} embeds with {persisted.get('name')!r}, not {ef.name()!r} (--embedding {embedding}): an existing "
            "collection keeps its own embedding function; leave out --embedding, or name a new collection"
        )
    return client.get_collection(name, embedding_function=ef)


def _where() -> str:
    """The store the running command opened, for a message (``this store`` outside a command)."""
    address = remembered_store()
    return address.describe() if address is not None else "this store"
