"""``serve``: run the server with uvicorn until SIGINT/SIGTERM, then close the store cleanly.

Start-up failures (a port in use, a store that cannot be opened, an unreadable
token file) raise :class:`StartupError` with one line naming the problem; the
command line prints it and exits with status 1.

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
import ctypes
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import uvicorn

from ragstore._version import __version__
from ragstore.local import LocalAPI
from ragstore.local.reads import DEFAULT_MAX_RESPONSE_BYTES
from ragstore.server.app import ServerConfig, create_app
from ragstore.server.log_format import configure_logging
from ragstore.server.origin import HostPolicy, is_loopback
from ragstore.server.protocol import protocol_options
from ragstore.settings import Settings

_M_MMAP_THRESHOLD = -3  # mallopt parameter number, <malloc.h>
_MMAP_THRESHOLD = 128 * 1024

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


class StartupError(Exception):
    """``ragstore run`` cannot start; the message is one line naming the problem (the CLI prints it)."""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type when it has none).

    Example:
        >>> one_line(OSError(13, "Permission denied")), one_line(KeyError())
        ('[Errno 13] Permission denied', 'KeyError')

    """
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def read_token_file(path: str | Path) -> str:
    """The token in ``path``, surrounding whitespace (the final newline) stripped.

    Raises:
        StartupError: The file cannot be read or holds no token.

    Example:
        >>> read_token_file("/nonexistent/token")
        Traceback (most recent call last):
        ...
        ragstore.server.run.StartupError: cannot read the token file /nonexistent/token: No such file or directory

    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else one_line(exc)
        raise StartupError(f"cannot read the token file {path}: {reason}") from exc
    if not token:
        raise StartupError(f"the token file {path} is empty")
    return token


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, bound as uvicorn binds one (IPv6 when ``host`` has a colon).

    Binding before uvicorn starts turns a taken port into a :class:`StartupError`
    instead of uvicorn's log line and exit.

    Example:
        >>> with listen("127.0.0.1", 0) as sock:
        ...     sock.getsockname()[0]
        '127.0.0.1'

    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio and uvicorn: restart despite TIME_WAIT
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {url_of(host, port)}: {exc.strerror or one_line(exc)}") from exc
    return sock


def return_freed_memory() -> bool:
    """Have glibc map large blocks on their own, so memory an answer freed goes back to the system.

    glibc raises its mmap threshold each time a large mapped block is freed (up to
    32 MiB), after which large answers come from the heap, whose freed space it
    rarely hands back: after the issue-13 reproductions (large answers refused or sent
    one after another) a server stayed ~184 MB above its idle size; with the threshold
    fixed at 128 KiB, ~126 MB. Returns whether the setting took (glibc only).

    Example:
        >>> return_freed_memory() in (True, False)
        True

    """
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False


def open_store(store: Path, allow_reset: bool, max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES) -> LocalAPI:
    """The engine on ``store``; any failure to open it is a :class:`StartupError`.

    Example:
        >>> open_store(Path("/dev/null"), allow_reset=False)
        Traceback (most recent call last):
        ...
        ragstore.server.run.StartupError: cannot open the store at /dev/null: it is a file, not a directory

    """
    if store.exists() and not store.is_dir():
        raise StartupError(f"cannot open the store at {store}: it is a file, not a directory")
    try:
        settings = Settings(allow_reset=allow_reset, is_persistent=True, persist_directory=str(store))
        return LocalAPI(store, settings, max_response_bytes=max_response_bytes)
    except Exception as exc:
        reason = one_line(exc)
        raise StartupError(reason if str(store) in reason else f"cannot open the store at {store}: {reason}") from exc


def serve(
    path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    auth_token: str | None = None,
    allow_reset: bool = False,
    max_body_size: int = 64 * 1024 * 1024,
    max_response_size: int = DEFAULT_MAX_RESPONSE_BYTES,
    allow_hosts: Sequence[str] = (),
    cors_origins: Sequence[str] = (),
    log_level: str = "info",
    log_format: str = "text",
    access_log: bool = False,
    metrics_public: bool = False,
    backup_dir: str | Path | None = None,
) -> None:
    """Serve the store at ``path`` on ``host:port`` until interrupted.

    The log goes to stderr as :func:`~ragstore.server.log_format.configure_logging` says (``access_log``:
    one line a request); ``metrics_public`` lets ``/metrics`` answer without the token; ``backup_dir``
    serves the backup route (:mod:`ragstore.backup_route`) into that folder.

    Raises:
        StartupError: The port cannot be bound or the store cannot be opened (nothing was served).

    """
    store = Path(path).expanduser().resolve()
    configure_logging(log_level, log_format, access_log)
    sock = listen(host, port)
    return_freed_memory()
    try:
        api = open_store(store, allow_reset, max_response_size)
    except BaseException:
        sock.close()
        raise
    config = ServerConfig(
        auth_token=auth_token or None,
        max_body_size=max_body_size,
        hosts=HostPolicy.for_bind(host, allow_hosts),
        cors_origins=tuple(cors_origins),
        metrics_public=metrics_public,
        backup_dir=Path(backup_dir).expanduser().resolve() if backup_dir is not None else None,
    )
    uvicorn_config = uvicorn.Config(
        create_app(api, config),
        host=host,
        port=port,
        log_level="warning" if log_level == "info" else log_level,  # our one start line replaces uvicorn's four
        access_log=False,  # ours (ragstore.server.request_log) has the request id, route and duration
        log_config=None,  # uvicorn's lines go through configure_logging's handler, in its format
        timeout_graceful_shutdown=30,
        server_header=False,
        **protocol_options(),
    )

    def announce(bound_host: str, bound_port: int) -> None:
        if not auth_token and not is_loopback(host):  # before the start line, which tells a supervisor "ready"
            print(
                f"warning: {url_of(bound_host, bound_port)} is reachable beyond this machine and needs no token: "
                "anyone who can reach it can read and change the store (set RAGSTORE_AUTH_TOKEN or --auth-token-file)",
                file=sys.stderr,
                flush=True,
            )
        print(
            f"ragstore {__version__} serving {store} at {url_of(bound_host, bound_port)} "
            f"(auth {'on' if auth_token else 'off'}, reset {'allowed' if allow_reset else 'disabled'})",
            flush=True,
        )

    server = AnnouncingServer(uvicorn_config, announce)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        api.close()  # idempotent; covers a failed start too
    if not server.started:
        sys.exit(1)
