"""Connection details shared by the sync and async HTTP clients: URLs, headers, timeouts, errors.

Example:
    >>> server_url("localhost", 8000, ssl=False)
    'http://localhost:8000'
    >>> server_url("https://db.example.com/", 8000, ssl=False)
    'https://db.example.com'

"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import urlparse

import httpx

from ragstore._version import __version__
from ragstore.errors import InvalidArgumentError, ServerConnectionError
from ragstore.http.wire import JSON_CONTENT_TYPE
from ragstore.settings import Settings

# Connecting should be quick; a large write (index build) or query may legitimately take long.
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def client_timeout(seconds: float | None) -> httpx.Timeout:
    """A client factory's ``timeout=`` in seconds as an ``httpx.Timeout``: connecting still gives up after 10 s.

    Example:
        >>> client_timeout(300.0)
        Timeout(connect=10.0, read=300.0, write=300.0, pool=300.0)

    """
    connect = DEFAULT_TIMEOUT.connect if seconds is None or DEFAULT_TIMEOUT.connect is None else min(seconds, DEFAULT_TIMEOUT.connect)
    return httpx.Timeout(seconds, connect=connect)


def connection(
    host: str, port: int | None, ssl: bool, headers: Mapping[str, str] | None, settings: Settings | None, timeout: float | None
) -> tuple[Settings, str, dict[str, str], httpx.Timeout]:
    """What the ``HttpClient``/``AsyncHttpClient`` factories need: settings, URL, headers, timeout.

    Example:
        >>> settings, url, headers, timeout = connection("localhost", 8000, False, {"X-Team": "a"}, None, 30.0)
        >>> url, headers["X-Team"], timeout.connect
        ('http://localhost:8000', 'a', 10.0)

    """
    settings = (settings or Settings()).replace(chroma_server_host=host, chroma_server_http_port=port, chroma_server_ssl_enabled=ssl)
    merged = {**(settings.chroma_server_headers or {}), **(headers or {})}
    return settings, server_url(host, port, ssl), request_headers(merged, settings), client_timeout(timeout)


def server_url(host: str, port: int | None, ssl: bool) -> str:
    """The server's origin for chromadb-style ``host``/``port``/``ssl`` arguments.

    A ``host`` that is already a URL (``http://...``) is used as given, port included.
    """
    host = str(host).strip()
    if "://" in host:
        parsed = urlparse(host)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidArgumentError(f"Invalid server URL {host!r}: expected http://host:port or https://host:port")
        scheme = "https" if ssl else parsed.scheme
        return f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
    if "/" in host:
        raise InvalidArgumentError(f"Invalid host {host!r}: pass a host name, or a URL starting with http:// or https://")
    if ":" in host and not host.startswith("["):  # a bare IPv6 address
        host = f"[{host}]"
    return f"{'https' if ssl else 'http'}://{host}:{port if port is not None else 8000}"


def request_headers(headers: Mapping[str, str] | None, settings: Settings | None = None) -> dict[str, str]:
    """Headers for every request: JSON, user agent, auth from ``settings``, then the caller's own.

    Example:
        >>> s = Settings(chroma_client_auth_credentials="t0k")
        >>> request_headers(None, s)["Authorization"]
        'Bearer t0k'

    """
    result = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": f"ragstore-python/{__version__}"}
    if settings is not None and settings.chroma_client_auth_credentials:
        credentials = settings.chroma_client_auth_credentials
        provider = (settings.chroma_client_auth_provider or "").lower()
        if "basic" in provider:
            result["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        elif (settings.chroma_auth_token_transport_header or "").lower() == "x-chroma-token":
            result["X-Chroma-Token"] = credentials
        else:
            result["Authorization"] = f"Bearer {credentials}"
    result.update(headers or {})
    return result


def connection_error(base_url: str, exc: httpx.TransportError) -> ServerConnectionError:
    """A clear error naming the server address for a failed request."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"the request timed out ({type(exc).__name__})"
    else:
        reason = str(exc) or type(exc).__name__
    return ServerConnectionError(f"Could not connect to a ragstore server at {base_url}: {reason}. Is it running (ragstore run)?")
