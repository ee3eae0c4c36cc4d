"""``ragstore run``: serve a store over Chroma's REST v2 API.

Example:
    >>> run.name
    'run'

"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def split_names(values: tuple[str, ...]) -> list[str]:
    """Repeated option values and comma-separated environment values, as one list.

    Example:
        >>> split_names(("a.example,b.example", " c.example "))
        ['a.example', 'b.example', 'c.example']

    """
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _byte_limit(flag: str, default_mib: int, text: str) -> Callable[[F], F]:
    """A size limit option in bytes (at least 1 KiB), its default given in MiB and shown in --help."""
    return click.option(flag, default=default_mib * 1024 * 1024, show_default=True, type=click.IntRange(1024), help=text)


@click.command()
@click.option("--path", default="./ragstore_data", show_default=True, help="Directory of the store.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes the server to the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0 picks a free one).")
@click.option(
    "--auth-token",
    envvar="RAGSTORE_AUTH_TOKEN",
    default=None,
    help="Require 'Authorization: Bearer <token>' or 'X-Chroma-Token: <token>'. A token given here shows in 'ps': "
    "prefer RAGSTORE_AUTH_TOKEN or --auth-token-file [env RAGSTORE_AUTH_TOKEN].",
)
@click.option(
    "--auth-token-file",
    envvar="RAGSTORE_AUTH_TOKEN_FILE",
    default=None,
    metavar="PATH",
    help="Read the token from this file (surrounding whitespace stripped), instead of --auth-token [env RAGSTORE_AUTH_TOKEN_FILE].",
)
@click.option(
    "--allow-reset/--no-allow-reset",
    envvar="RAGSTORE_ALLOW_RESET",
    default=False,
    show_default=True,
    help="Allow POST /api/v2/reset to delete everything [env RAGSTORE_ALLOW_RESET].",
)
@_byte_limit("--max-body-size", 64, "Largest request body in bytes; larger ones get 413.")
@_byte_limit(
    "--max-response-size",
    32,
    "Largest answer to a get or query, in estimated JSON bytes; larger ones get 413 before they are built (page with limit/offset).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    envvar="RAGSTORE_ALLOW_HOSTS",
    metavar="NAME",
    help="Also answer requests whose Host header is NAME (repeatable; '*' = any). By default only IP addresses, "
    "localhost (bound to loopback or 0.0.0.0) and the bound name are answered, which stops DNS rebinding "
    "[env RAGSTORE_ALLOW_HOSTS, comma-separated].",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    envvar="RAGSTORE_CORS_ORIGINS",
    metavar="ORIGIN",
    help="Let web pages of ORIGIN (e.g. https://app.example; '*' = any) call the server from a browser (repeatable; "
    "none by default) [env RAGSTORE_CORS_ORIGINS, comma-separated].",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Server log verbosity; info prints only the start line and warnings, debug adds the access log "
    "and the traceback of a start-up failure.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="RAGSTORE_LOG_FORMAT",
    help="Log lines on stderr as plain text or as one JSON object a line [env RAGSTORE_LOG_FORMAT].",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    envvar="RAGSTORE_ACCESS_LOG",
    help="Log one line a request (request id, method, path, route, status, duration, bytes) [env RAGSTORE_ACCESS_LOG].",
)
@click.option(
    "--metrics-public/--no-metrics-public",
    default=False,
    show_default=True,
    envvar="RAGSTORE_METRICS_PUBLIC",
    help="Let GET /metrics (Prometheus) answer without the auth token [env RAGSTORE_METRICS_PUBLIC].",
)
@click.option(
    "--backup-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="RAGSTORE_BACKUP_DIR",
    help='Serve POST /api/v2/ragstore/backups {"name": ...}: online backups of the store into this folder [env RAGSTORE_BACKUP_DIR].',
)
def run(
    path: str,
    host: str,
    port: int,
    auth_token: str | None,
    auth_token_file: str | None,
    allow_reset: bool,
    max_body_size: int,
    max_response_size: int,
    allow_hosts: tuple[str, ...],
    cors_origins: tuple[str, ...],
    log_level: str,
    log_format: str,
    access_log: bool,
    metrics_public: bool,
    backup_dir: str | None,
) -> None:
    """Serve a store over Chroma's REST v2 API until SIGINT or SIGTERM."""
    try:
        from ragstore.server.run import StartupError, read_token_file, serve
    except ImportError as exc:  # fastapi / uvicorn missing
        raise click.ClickException(f"The server needs the 'server' extra: pip install \"ragstore[server]\" ({exc})") from exc
    try:
        if auth_token and auth_token_file:
            raise StartupError("give the token once: --auth-token (RAGSTORE_AUTH_TOKEN) or --auth-token-file (RAGSTORE_AUTH_TOKEN_FILE)")
        if auth_token_file:
            auth_token = read_token_file(auth_token_file)
        serve(
            path,
            host,
            port,
            auth_token=auth_token,
            allow_reset=allow_reset,
            max_body_size=max_body_size,
            max_response_size=max_response_size,
            allow_hosts=split_names(allow_hosts),
            cors_origins=split_names(cors_origins),
            log_level=log_level,
            log_format=log_format,
            access_log=access_log,
            metrics_public=metrics_public,
            backup_dir=backup_dir,
        )
    except StartupError as exc:
        if log_level == "debug":
            traceback.print_exception(exc.__cause__ or exc)
        raise click.ClickException(str(exc)) from exc
