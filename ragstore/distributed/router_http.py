"""The router's own HTTP server: uvicorn in a thread of the router replica, instead of Serve's HTTP proxy.

Through Serve's proxy a request crossed two processes before the router saw it (the proxy, then the
router replica through a deployment handle, the answer streamed back as messages): on this 2-core
machine under load that path alone cost ~10 ms at the median (``GET /api/v2/pre-flight-checks``, which
reaches no shard: 9.8 ms, against 0.63 ms from ``ragstore run``; ``benchmarks/ray_serve.py``). The router
now listens itself, as ``ragstore run`` does (the same uvicorn options: bounded request heads, no access
log of uvicorn's, ragstore's request log), and Serve runs without proxies. Serve still places, health-checks
and restarts the router; a restarted router listens on the same address again.

The router is pinned to the node that deployed the service (``node:<ip>``), so ``--host``/``--port`` name
an address of that machine, as they did with Serve's proxy on the head node.

Example:
    >>> server = RouterHttp(None, "127.0.0.1", 0)
    >>> server.url.startswith("http://127.0.0.1:"), server.alive()
    (True, True)
    >>> server.stop()
    >>> server.alive()
    False

"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from ragstore.server.protocol import protocol_options
from ragstore.server.run import listen, url_of

START_TIMEOUT_S = 30.0


class RouterHttp:
    """An ASGI app served by uvicorn on ``host:port`` in a daemon thread, listening before the constructor returns.

    Args:
        app: The ASGI application (``None`` answers nothing: for tests of the plumbing).
        host: The address to bind.
        port: The port (0: a free one; :attr:`url` tells which).

    Raises:
        StartupError: the address cannot be bound (taken, not local).
        RuntimeError: uvicorn did not start within ``START_TIMEOUT_S``.

    """

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._socket = listen(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.url = url_of(str(bound_host), int(bound_port))
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=5,
            server_header=False,
            lifespan="on" if app is not None else "off",
            **protocol_options(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="ragstore-router-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The router's HTTP server did not start on {self.url}")
            time.sleep(0.01)

    def alive(self) -> bool:
        """Whether the server still runs (Serve's health check of the router asks)."""
        return self._thread.is_alive() and not self._server.should_exit

    def stop(self) -> None:
        """Stop serving (open requests get ``timeout_graceful_shutdown``) and close the socket; idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self._socket.close()
