"""Helpers for tests of ragstore and of code built on it: a real server, and a relevance probe set.

A real ``ragstore run`` server on a free port, for tests and benchmarks that need a socket.
Starlette ships ``TestClient`` for in-process requests; this is the other half: a child process
running ``python -m ragstore run --port 0`` (the kernel picks a free port, so parallel test workers
never collide), whose port is read from the start line the server prints once it listens
(``ragstore X serving PATH at http://HOST:PORT (...)``). Its stdout and stderr are merged and
kept in :attr:`RunningServer.output`, so a server that fails to start is reported with what it said.

:data:`STARLETTE_PROBES` (a :class:`RelevanceProbes`): documentation pages, questions they answer and
queries they do not touch, so that ragstore's tests and its integrations' tests check relevance scores
against the same good and junk queries.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root, run_server(root) as server:
    ...     client = server.client()
    ...     client.heartbeat() > 0
    ...     client.close()
    True
    >>> server.returncode
    0

"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragstore.client import Client as ClientAPI
    from ragstore.store_address import StoreAddress

__all__ = ["STARLETTE_PROBES", "START_LINE", "RelevanceProbes", "RunningServer", "ragstore_command", "run_server", "start_line_port"]

START_LINE = re.compile(r"serving (?P<path>.+) at http://(?P<host>[^:\s]+):(?P<port>\d+)")
"""What ``ragstore run`` prints once it listens; ``port`` is the bound port (``--port 0`` resolved)."""


def start_line_port(text: str) -> int | None:
    """The port announced by a ``ragstore run`` start line found in ``text``, else ``None``.

    Example:
        >>> start_line_port("ragstore 0.1 serving /tmp/s at http://127.0.0.1:41234 (auth off, reset disabled)")
        41234
        >>> start_line_port("still booting") is None
        True

    """
    match = START_LINE.search(text)
    return int(match["port"]) if match else None


def ragstore_command(path: str | os.PathLike[str], *args: str) -> list[str]:
    """The command line of ``ragstore run`` on ``path`` at a port the kernel picks, with extra CLI ``args``.

    Example:
        >>> ragstore_command("store", "--auth-token-file", "t")[1:]
        ['-m', 'ragstore', 'run', '--path', 'store', '--port', '0', '--auth-token-file', 't']

    """
    # The running interpreter, so the child sees the same installed ragstore as the caller.
    return [sys.executable, "-m", "ragstore", "run", "--path", os.fspath(path), "--port", "0", *args]


class RunningServer:
    """A server child process that announced its port; a context manager that stops it on exit.

    Attributes:
        process: The child process (stdout and stderr merged into one text pipe).
        host: The address to connect to (``127.0.0.1``).
        port: The port the server announced.
        path: The store directory the server was started on.
        url: ``http://host:port``.
        output: Every line the server printed so far (a background thread drains the pipe, so a chatty
            server never blocks on a full pipe).
        auth_token: The token the server requires, if it was started with one; :meth:`client` sends it.
        returncode: The exit status once :meth:`stop` has run, else ``None``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     server = RunningServer.start(Path(root), auth_token="s3cret")
        ...     with server:
        ...         server.url == f"http://127.0.0.1:{server.port}", "auth on" in server.output[-1]
        (True, True)

    """

    def __init__(self, process: subprocess.Popen[str], port: int, path: Path, output: list[str], reader: threading.Thread) -> None:
        self.process = process
        self.port = port
        self.path = path
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{port}"
        self.output = output
        self.auth_token: str | None = None
        self.returncode: int | None = None
        self._reader = reader

    @classmethod
    def start(
        cls,
        path: str | os.PathLike[str],
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        auth_token: str | None = None,
    ) -> RunningServer:
        """Start ``ragstore run`` on ``path`` and wait until it listens.

        Args:
            path: The store directory.
            extra_args: More ``ragstore run`` options (``--cors-origin``, ``--host``, ...).
            env: Variables added to this process's environment (``HF_HUB_OFFLINE`` and the like are inherited).
            timeout: Seconds to wait for the start line.
            auth_token: Require this token (passed as ``RAGSTORE_AUTH_TOKEN``, never on the command line,
                where other users could read it); :meth:`client` then sends it.

        Raises:
            RuntimeError: The server exited or stayed silent for ``timeout`` seconds; the message holds its output.

        """
        variables = {**(env or {}), **({"RAGSTORE_AUTH_TOKEN": auth_token} if auth_token is not None else {})}
        server = cls.launch(ragstore_command(path, *extra_args), START_LINE, Path(path), env=variables, timeout=timeout)
        server.auth_token = auth_token
        return server

    @classmethod
    def launch(
        cls,
        command: Sequence[str],
        start_line: re.Pattern[str],
        path: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        cwd: Path | None = None,
    ) -> RunningServer:
        """Run any server ``command`` and wait for a line matching ``start_line`` (which has a ``port`` group).

        Raises:
            RuntimeError: No such line within ``timeout`` seconds, or the program exited first; the
                process is killed and waited for, its pipe closed, and the message holds its output.

        """
        process = subprocess.Popen(
            list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}, cwd=cwd
        )
        output: list[str] = []
        found: list[int] = []
        settled = threading.Event()  # set on the start line, or at end of output (the program exited)

        def drain() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                match = None if found else start_line.search(line)
                if match:
                    found.append(int(match["port"]))
                    settled.set()
            settled.set()

        # A thread rather than readline() in a loop: readline blocks, so a silent server would outlive the timeout.
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        exited = settled.wait(timeout) and not found  # read before the kill below ends the output too
        if found:
            return cls(process, found[0], path, output, reader)
        process.kill()
        process.wait()
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()  # else the unclosed pipe is an unraisable ResourceWarning (an error under -W error)
        said = "".join(output)
        why = f"exited with status {process.returncode}" if exited else f"did not start in {timeout:g} s"
        raise RuntimeError(f"{list(command)[:4]} {why}: {said}")

    @property
    def address(self) -> StoreAddress:
        """This server as a :class:`ragstore.StoreAddress`, its token included.

        Example:
            >>> import tempfile
            >>> with tempfile.TemporaryDirectory() as root, run_server(root, auth_token="s3cret") as server:
            ...     server.address.request_headers()
            {'Authorization': 'Bearer s3cret'}

        """
        from ragstore.store_address import StoreAddress  # here, not at module top: ``import ragstore.testing`` must not cost the client

        return StoreAddress(host=self.host, port=self.port, auth_token=self.auth_token)

    def client(self, **kwargs: Any) -> ClientAPI:
        """A client of this server, opened through :attr:`address` (so the auth token is sent if set).

        Args:
            **kwargs: :class:`ragstore.StoreAddress` fields (``headers``, ``timeout``, ...) and
                :meth:`ragstore.StoreAddress.client` arguments (``settings``, ``tenant``, ``database``).

        Returns:
            A ``ragstore.ClientAPI``; the caller closes it.

        """
        scope = {name: kwargs.pop(name) for name in ("settings", "tenant", "database") if name in kwargs}
        return dataclasses.replace(self.address, **kwargs).client(**scope)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` (SIGTERM: a graceful shutdown) and wait for the exit status; SIGKILL if it hangs.

        Raises:
            subprocess.TimeoutExpired: The server did not exit within ``timeout`` seconds (it is killed first).

        """
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.returncode = self.process.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.returncode = self.process.wait()
            raise
        finally:
            self._reader.join(timeout=60)  # the output is complete once the pipe is drained
            if self.process.stdout is not None:
                self.process.stdout.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


def run_server(
    path: str | os.PathLike[str],
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    auth_token: str | None = None,
) -> RunningServer:
    """Start ``ragstore run --path PATH --port 0 ARGS...`` and return it once it listens (use it in ``with``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root, run_server(root, "--allow-reset") as server:
        ...     "reset allowed" in "".join(server.output)
        True

    """
    return RunningServer.start(path, args, env=env, timeout=timeout, auth_token=auth_token)


# ---------------------------------------------------------------------------------- relevance probes


@dataclasses.dataclass(frozen=True)
class RelevanceProbes:
    """Pages, questions they answer and queries they do not touch, to see whether relevance scores tell good hits from junk.

    Index the pages, take the best hit of every question and of every junk query, and compare their
    scores: the worst answered question must score well above the best junk query. ragstore's own tests
    and both integrations' tests run the same probes, so a threshold means the same in each.

    Attributes:
        answers: Each answerable question, and the file name of the page that answers it.
        near_misses: More pages, on none of the questions: they make finding the right page harder.
        junk: Queries no page touches.

    Example:
        >>> import pathlib, tempfile
        >>> probes = RelevanceProbes({"What is A?": "a.md"}, near_misses=("b.md",), junk=("Banana bread?",))
        >>> docs = pathlib.Path(tempfile.mkdtemp())
        >>> for page in probes.pages:
        ...     _ = (docs / page).write_text(f"# {page}")
        >>> copied = probes.copy_pages(docs, docs / "copy")
        >>> sorted(p.name for p in copied.iterdir()), probes.questions
        (['a.md', 'b.md'], ('What is A?',))

    """

    answers: Mapping[str, str]
    near_misses: tuple[str, ...]
    junk: tuple[str, ...]

    @property
    def pages(self) -> tuple[str, ...]:
        """Every page: those with an answer, then the near misses."""
        return (*dict.fromkeys(self.answers.values()), *self.near_misses)

    @property
    def questions(self) -> tuple[str, ...]:
        """The answerable questions, in order."""
        return tuple(self.answers)

    def copy_pages(self, source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
        """Copy :attr:`pages` from the folder ``source`` into ``target`` (made if missing), and return ``target``."""
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        for page in self.pages:
            shutil.copy(Path(source) / page, folder / page)
        return folder


STARLETTE_PROBES = RelevanceProbes(
    answers={
        "How do I define routes with path parameters?": "routing.md",
        "How do I serve static files?": "staticfiles.md",
        "How do I accept a websocket connection?": "websockets.md",
        "How do I render a Jinja2 template?": "templates.md",
        "How do I run a task after the response is sent?": "background.md",
        "How do I add CORS middleware?": "middleware.md",
    },
    near_misses=("requests.md", "responses.md"),
    junk=(
        "What is the recipe for banana bread?",
        "Who won the football world cup in 1998?",
        "How tall is Mount Everest?",
        "What are the symptoms of the flu?",
    ),
)
"""Eight pages of Starlette's documentation (the shared data's ``docs/markdown/starlette``), six questions, four junk queries.

With the default model (all-MiniLM-L6-v2), ragstore's relevance scores the best hit of every question at 0.45 or more and
of every junk query at 0.25 or less, in every distance space and with every chunking the tests use.
"""
