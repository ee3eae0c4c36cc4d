"""``serve``: run the server with uvicorn until SIGINT/SIGTERM, then close the store cleanly.

uvicorn handles both signals as a graceful shutdown: it stops accepting
connections, lets running requests finish, then runs the app's lifespan
exit, which closes the ``LocalAPI`` (index caches saved). Every write was
already committed to SQLite before its request answered, so nothing is lost.

Example:
    >>> callable(serve)
    True

"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from ragstore import __version__
from ragstore.local import LocalAPI
from ragstore.server.app import ServerConfig, create_app
from ragstore.settings import Settings

logger = logging.getLogger("ragstore.server")


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that reports its real address once it listens, and exits 0 on SIGINT/SIGTERM.

    Args:
        config: The uvicorn configuration (``port=0`` picks a free port).
        announce: Called with the bound host and port (port 0 resolved) once the socket listens.

    Example:
        >>> server = AnnouncingServer(uvicorn.Config(app=None, port=0), lambda host, port: print(host, port))
        >>> server.started
        False

    """

    def __init__(self, config: uvicorn.Config, announce: Callable[[str, int], None]) -> None:
        super().__init__(config)
        self._announce = announce

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Treat SIGINT and SIGTERM as a graceful shutdown, then exit normally (status 0).

        uvicorn's own version re-raises the signal afterwards, which turns a clean stop
        into a "killed by signal" exit status.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Start listening, then announce the bound address (port 0 resolved)."""
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if not self.started:
            return
        host, port = self.config.host, self.config.port
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                break
        self._announce(str(host), int(port))


def url_of(host: str, port: int) -> str:
    """The ``http://`` address of a bound socket (IPv6 hosts in brackets).

    Example:
        >>> url_of("127.0.0.1", 8000), url_of("::1", 8000)
        ('http://127.0.0.1:8000', 'http://[::1]:8000')

    """
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    auth_token: str | None = None,
    allow_reset: bool = False,
    max_body_size: int = 64 * 1024 * 1024,
    log_level: str = "info",
) -> None:
    """Serve the store at ``path`` on ``host:port`` until interrupted."""
    store = Path(path).expanduser().resolve()
    api = LocalAPI(store, Settings(allow_reset=allow_reset, is_persistent=True, persist_directory=str(store)))
    app = create_app(api, ServerConfig(auth_token=auth_token or None, max_body_size=max_body_size))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning" if log_level == "info" else log_level,  # our one start line replaces uvicorn's four
        access_log=log_level == "debug",
        timeout_graceful_shutdown=30,
        server_header=False,
    )

    def announce(bound_host: str, bound_port: int) -> None:
        print(
            f"ragstore {__version__} serving {store} at {url_of(bound_host, bound_port)} "
            f"(auth {'on' if auth_token else 'off'}, reset {'allowed' if allow_reset else 'disabled'})",
            flush=True,
        )

    server = AnnouncingServer(config, announce)
    try:
        server.run()
    finally:
        api.close()  # idempotent; covers a failed start (port in use) too
    if not server.started:
        sys.exit(1)
