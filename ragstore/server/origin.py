"""Guards against web pages: requests a browser sends for a page of another site.

A page on any site can make the visitor's browser send requests to a server
on ``127.0.0.1``. Two kinds reach the data without the server's consent:

* "Simple" cross-site requests skip the CORS preflight, and a ``POST`` with a
  ``text/plain`` body is one; a server that parses such a body as JSON lets any
  page create collections or reset the store. :class:`JsonBodies` refuses a
  ``POST``/``PUT``/``PATCH``, or any request with a body, unless it declares
  ``Content-Type: application/json``, which only a preflighted (and so
  CORS-approved) request can send. chromadb's and ragstore's clients always
  declare it.
* DNS rebinding: the page's own host name is re-pointed to ``127.0.0.1``, so
  the browser treats the server as same-origin and lets the page read the
  answers. The browser still sends the page's name in ``Host``, so
  :class:`HostCheck` answers only to the names in a :class:`HostPolicy` (a
  rebinding attack always uses a name, never an IP address).

:func:`with_cors` adds Starlette's CORS middleware for origins an operator
allows (``ragstore run --cors-origin``); there is none by default.

Example:
    >>> policy = HostPolicy.for_bind("127.0.0.1")
    >>> policy.allows(b"localhost:8000"), policy.allows(b"evil.example:8000")
    (True, False)

"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Iterable, Sequence

from starlette.middleware.cors import CORSMiddleware

from ragstore.errors import InvalidArgumentError
from ragstore.server.security import ASGIApp, Receive, Scope, Send, send_error

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")  # binding one of these listens on every interface
JSON_MEDIA_TYPE = b"application/json"
# The one write method a page may send without a CORS preflight, with or without a body (PUT,
# PATCH and DELETE always preflight; a body on any method is checked by its Content-Type).
_PREFLIGHT_FREE_WRITES = frozenset({"POST"})


def host_name(value: bytes) -> str:
    """The host part of a ``Host`` header, lower case, without port, brackets or a final dot.

    Example:
        >>> host_name(b"[::1]:8000"), host_name(b"Example.COM."), host_name(b"localhost:80")
        ('::1', 'example.com', 'localhost')

    """
    text = value.decode("latin-1").strip().lower()
    if text.startswith("["):  # an IPv6 literal: [addr]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    return text.rstrip(".")


def is_ip_address(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address rather than a DNS name.

    Example:
        >>> is_ip_address("10.0.0.1"), is_ip_address("::1"), is_ip_address("example.com")
        (True, True, False)

    """
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)

    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class HostPolicy:
    """Which ``Host`` headers the server answers to.

    Attributes:
        names: Host names (lower case) accepted besides IP addresses.
        any_name: Accept every host (``--allow-host '*'``): no check at all.

    """

    names: frozenset[str]
    any_name: bool = False

    @classmethod
    def for_bind(cls, host: str, allowed: Iterable[str] = ()) -> HostPolicy:
        """The policy of a server bound to ``host``, plus the ``allowed`` names (``*`` = any).

        IP addresses are always accepted; names are: ``localhost`` when the server is
        bound to loopback or to every interface, the bound name itself, this machine's
        host name when bound to every interface, and ``allowed``.

        Example:
            >>> sorted(HostPolicy.for_bind("127.0.0.1", ["ragstore.internal"]).names)
            ['localhost', 'ragstore.internal']
            >>> HostPolicy.for_bind("127.0.0.1", ["*"]).any_name
            True

        """
        extra = {name.strip().lower().rstrip(".") for name in allowed if name.strip()}
        names = {name for name in extra if name != "*"}
        bound = host.strip().lower()
        if is_loopback(bound) or bound in WILDCARD_ADDRESSES:
            names.add("localhost")
        if bound in WILDCARD_ADDRESSES:
            names.add(socket.gethostname().lower())
        elif not is_ip_address(bound):
            names.add(bound)
        return cls(frozenset(name for name in names if not is_ip_address(name)), any_name="*" in extra)

    def allows(self, host_header: bytes) -> bool:
        """Whether a request with this ``Host`` header is answered.

        Example:
            >>> HostPolicy(frozenset({"localhost"})).allows(b"[::1]:8000")
            True

        """
        if self.any_name:
            return True
        name = host_name(host_header)
        return name in self.names or is_ip_address(name)

    def describe(self) -> str:
        """The accepted hosts, for error messages.

        Example:
            >>> HostPolicy(frozenset({"localhost"})).describe()
            'IP addresses and localhost'

        """
        return "IP addresses and " + ", ".join(sorted(self.names)) if self.names else "IP addresses"


_ALLOW_HINT = "start the server with --allow-host {name} or RAGSTORE_ALLOW_HOSTS"


class HostCheck:
    """Answer only requests whose ``Host`` the :class:`HostPolicy` allows (421 otherwise).

    A request without ``Host`` (HTTP/1.0) passes: browsers always send one.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> app = HostCheck(PlainTextResponse("ok"), HostPolicy.for_bind("127.0.0.1"))
        >>> [TestClient(app, base_url=f"http://{host}").get("/").status_code for host in ("localhost:8000", "evil.example")]
        [200, 421]

    """

    def __init__(self, app: ASGIApp, policy: HostPolicy, allow_hint: str = _ALLOW_HINT) -> None:
        self.app = app
        self.policy = policy
        self.allow_hint = allow_hint  # how to answer that name too ({name}: the refused one), for the message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http":
            host = next((value for name, value in scope["headers"] if name == b"host"), None)
            if host is not None and not self.policy.allows(host):
                shown = host.decode("latin-1")
                message = (
                    f"This server does not answer to Host '{shown}' (it answers to {self.policy.describe()}); "
                    f"to allow it, {self.allow_hint.format(name=host_name(host) or shown)}"
                )
                await send_error(send, InvalidArgumentError(message), status=421)
                return
        await self.app(scope, receive, send)


def media_type(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    """The media type of ``Content-Type`` (lower case, parameters dropped), if there is one.

    Example:
        >>> media_type([(b"content-type", b"Application/JSON; charset=utf-8")])
        b'application/json'

    """
    for name, value in headers:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower()
    return None


def has_body(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """Whether the request declares a body (a non-zero ``Content-Length`` or a ``Transfer-Encoding``).

    Example:
        >>> has_body([(b"content-length", b"0")]), has_body([(b"transfer-encoding", b"chunked")])
        (False, True)

    """
    return any(name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0") for name, value in headers)


class JsonBodies:
    """Refuse with 415 a ``POST`` or a body that does not declare ``application/json``.

    Checked from the headers alone, so such a body is never read. A ``POST``
    without a body must declare it too: a page can send an empty ``POST`` (to
    ``/reset``, say) without a preflight.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> http = TestClient(JsonBodies(PlainTextResponse("ok")))
        >>> [http.post("/", content=b"{}", headers={"Content-Type": kind}).status_code for kind in ("application/json", "text/plain")]
        [200, 415]

    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "http" and (scope["method"] in _PREFLIGHT_FREE_WRITES or has_body(scope["headers"])):
            declared = media_type(scope["headers"])
            if declared != JSON_MEDIA_TYPE:
                got = f"got '{declared.decode('latin-1')}'" if declared else "got none"
                message = f"Request bodies must be JSON: send 'Content-Type: application/json' ({got})"
                await send_error(send, InvalidArgumentError(message), status=415)
                return
        await self.app(scope, receive, send)


def with_cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    """``app`` behind Starlette's CORS middleware for ``origins`` (``*`` = any); ``app`` itself if none.

    Pages of those origins may call every route with the token headers and a
    JSON body; no cookies are involved, so credentials stay off.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> with_cors(app, []) is app, type(with_cors(app, ["https://app.example"])).__name__
        (True, 'CORSMiddleware')

    """
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Chroma-Token"],
        max_age=600,
    )
