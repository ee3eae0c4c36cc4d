"""How the command line reports a user's mistake: one line on stderr and exit status 1, the traceback only with ``--debug``.

Every command runs inside :class:`RagstoreGroup`, so a :class:`~ragstore.errors.RagstoreError` (a short
collection name, an unknown ``--where`` operator, an embedding-function conflict, a missing collection),
a server that does not answer or wants a token, and an ``OSError`` (an unwritable ``--path``) are
turned into one :class:`click.ClickException` here, once, instead of in each command. Any other exception
is a bug in ragstore and keeps its traceback.

A command that opens a store records its address with :func:`remember_store`, so the line can say
*where* (``./data``, ``http://127.0.0.1:8000``) and what to do about it.

Example:
    >>> from ragstore.errors import NotFoundError
    >>> from ragstore.store_address import StoreAddress
    >>> one_line(NotFoundError("Collection [docs] does not exist"), StoreAddress(path="./data"))
    'Collection [docs] does not exist in ./data (see: ragstore collections)'

"""

from __future__ import annotations

import re
import sys
import traceback
from typing import Any

import click
import httpx

from ragstore.errors import AuthenticationError, NotFoundError, RagstoreError, ServerConnectionError
from ragstore.store_address import StoreAddress

_STORE_KEY = "ragstore.store_address"

USER_ERRORS: tuple[type[BaseException], ...] = (RagstoreError, httpx.HTTPError, OSError)
"""What a user's input or environment causes (``ConnectionError`` is an ``OSError``); anything else is a bug."""


def remember_store(address: StoreAddress) -> None:
    """Record the store the running command opens, for the error line (a no-op outside a click command).

    Example:
        >>> remember_store(StoreAddress(path="./data"))  # outside a command: nothing to record into

    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_STORE_KEY] = address  # meta is shared by the group's and the command's contexts


def remembered_store() -> StoreAddress | None:
    """The store the running command recorded with :func:`remember_store` (``None`` if none, or outside a command).

    Example:
        >>> remembered_store() is None
        True

    """
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_STORE_KEY) if ctx is not None else None


def _flat(text: str) -> str:
    return " ".join(text.split())


def one_line(exc: BaseException, address: StoreAddress | None = None) -> str:
    """The one line shown for ``exc``: what went wrong, where (the store, when known) and what to do.

    Example:
        >>> from ragstore.errors import AuthenticationError
        >>> one_line(AuthenticationError("Forbidden"), StoreAddress(host="localhost", auth_token="x"))
        'The server at http://localhost:8000 refused the token (Forbidden): check --auth-token or RAGSTORE_AUTH_TOKEN'

    """
    where = address.describe() if address is not None else None
    message = _flat(str(exc)) or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        server = f"The server at {where}" if where else "The server"
        if address is not None and address.auth_token is None:
            return f"{server} wants a token ({message}): pass --auth-token or set RAGSTORE_AUTH_TOKEN"
        return f"{server} refused the token ({message}): check --auth-token or RAGSTORE_AUTH_TOKEN"
    if isinstance(exc, ServerConnectionError):
        return f"{message} Check --host and --port."  # the message names the address and says "is it running"
    if isinstance(exc, httpx.HTTPError):  # an HTTP call outside the store's client (an OpenAI-compatible embedder)
        request = getattr(exc, "_request", None)
        target = f" {request.url}" if request is not None else ""
        return f"HTTP request{target} failed: {message} ({type(exc).__name__}); is that server up and its address right?"
    if isinstance(exc, NotFoundError):
        return f"{message} in {where} (see: ragstore collections)" if where else message
    if isinstance(exc, OSError) and not isinstance(exc, RagstoreError):
        return f"{message} ({type(exc).__name__})"
    if where is None or _names(message, where):
        return message
    return f"{message} (store: {where})"


def _names(message: str, where: str) -> bool:
    """Whether ``message`` already names the store ``where`` (as a whole path or URL: store ``st`` is not in ``starting``)."""
    return re.search(rf"(?<![\w/.]){re.escape(where)}(?![\w/])", message) is not None


class RagstoreGroup(click.Group):
    """A click group whose commands report user errors as :func:`one_line` (``--debug`` also prints the traceback).

    Example:
        >>> from click.testing import CliRunner
        >>> @click.group(cls=RagstoreGroup)
        ... @click.option("--debug", is_flag=True)
        ... def cli(debug: bool) -> None: ...
        >>> @cli.command()
        ... def boom() -> None:
        ...     raise NotFoundError("Collection [x] does not exist")
        >>> result = CliRunner().invoke(cli, ["boom"])
        >>> result.exit_code, result.output.strip()
        (1, 'Error: Collection [x] does not exist')

    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a :data:`USER_ERRORS` exception becomes one :class:`click.ClickException` line."""
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if ctx.params.get("debug"):
                traceback.print_exception(exc, file=sys.stderr)
            raise click.ClickException(one_line(exc, ctx.meta.get(_STORE_KEY))) from exc
