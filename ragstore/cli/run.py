"""``ragstore run``: serve a store over Chroma's REST v2 API.

Example:
    >>> run.name
    'run'

"""

from __future__ import annotations

import click


@click.command()
@click.option("--path", default="./ragstore_data", show_default=True, type=click.Path(file_okay=False), help="Directory of the store.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 exposes the server to the network).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0 picks a free one).")
@click.option(
    "--auth-token",
    envvar="RAGSTORE_AUTH_TOKEN",
    default=None,
    help="Require 'Authorization: Bearer <token>' or 'X-Chroma-Token: <token>' [env RAGSTORE_AUTH_TOKEN].",
)
@click.option(
    "--allow-reset/--no-allow-reset",
    envvar="RAGSTORE_ALLOW_RESET",
    default=False,
    show_default=True,
    help="Allow POST /api/v2/reset to delete everything [env RAGSTORE_ALLOW_RESET].",
)
@click.option(
    "--max-body-size",
    default=64 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest request body in bytes; larger ones get 413.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="Server log verbosity; info prints only the start line and warnings, debug adds an access log.",
)
def run(path: str, host: str, port: int, auth_token: str | None, allow_reset: bool, max_body_size: int, log_level: str) -> None:
    """Serve a store over Chroma's REST v2 API until SIGINT or SIGTERM."""
    try:
        from ragstore.server.run import serve
    except ImportError as exc:  # fastapi / uvicorn missing
        raise click.ClickException(f"The server needs the 'server' extra: pip install \"ragstore[server]\" ({exc})") from exc
    serve(path, host, port, auth_token=auth_token, allow_reset=allow_reset, max_body_size=max_body_size, log_level=log_level)
