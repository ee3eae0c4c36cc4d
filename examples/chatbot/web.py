"""The web chatbot: a small page and a streaming JSON API, served by one FastAPI app.

Routes:

- ``GET /``: the page (``static/index.html`` with ``chat.js`` and ``chat.css``; no framework).
- ``GET /api/info``: the collection's name and size, how it is searched and how answers are made, and
  ``max_question_chars`` (the page cuts a longer pasted question to it, and says so).
- ``POST /api/chat`` with ``{"question": "...", "session": id or null}``: the answer as
  server-sent events, in this order: ``session`` (``{"id"}``: the conversation to send next
  time), ``sources`` (``{"query", "mode", "sources": [{"n", "label", "source", "score",
  "kept_for", "excerpt"}]}``; ``score`` is the cosine similarity, ``kept_for`` the rule that
  kept the passage, ``"similarity"`` or ``"terms"``: see :mod:`.retrieval`), one ``token``
  per piece of text (a JSON string) as the answer is produced, then ``done``
  (``{"mode", "fallback"}``: how the answer was made in the end, ``"extractive"`` with the reason
  in ``fallback`` when the LLM failed and the offline answer replaced it). A failure after the
  stream has started is an ``error`` event (``{"message"}``), and so is the server stopping
  (SIGINT/SIGTERM) mid-answer: the stream ends at once instead of holding the shutdown.
- ``POST /api/reset`` with ``{"session": id}``: forget that conversation (204).

Each browser tab is one session (see :mod:`.sessions`); a session answers one question at a
time, in order, so its memory sees every turn. The request body is checked again here
whatever the page does: at most :data:`MAX_BODY_BYTES`, a non-blank question of at most
:data:`MAX_QUESTION_CHARS` characters, a well-formed session id, no other fields.

Example:
    >>> import ragstore
    >>> from fastapi.testclient import TestClient
    >>> from examples.chatbot.retrieval import Retriever
    >>> col = ragstore.EphemeralClient().create_collection("ex-web", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> app = create_app(lambda: ChatEngine(Retriever(col)), lambda: {"collection": col.name})
    >>> TestClient(app).get("/api/info").json()
    {'collection': 'ex-web', 'max_question_chars': 2000}

"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.chatbot.engine import ChatEngine, Reply
from examples.chatbot.retrieval import Passage
from examples.chatbot.sessions import SESSION_ID, Sessions
from ragstore.errors import RagstoreError, ServerConnectionError
from ragstore.server.origin import HostCheck, HostPolicy, JsonBodies
from ragstore.server.protocol import protocol_options
from ragstore.server.run import AnnouncingServer, url_of
from ragstore.server.security import BodyLimit

logger = logging.getLogger("examples.chatbot.web")

STATIC = Path(__file__).with_name("static")
MAX_QUESTION_CHARS = 2000
MAX_BODY_BYTES = 16 * 1024
EXCERPT_CHARS = 400
STOP_POLL_SECONDS = 0.1
"""How often a stream waiting for the next piece checks whether the server is stopping."""
STOPPING = "the chatbot server is stopping; ask again once it is back"
SECURITY_HEADERS = [
    # Scripts and styles come from this server only, so text in answers can never run as code.
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class ChatRequest(BaseModel):
    """Body of ``POST /api/chat``."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS)
    session: str | None = Field(default=None, pattern=SESSION_ID.pattern)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise ValueError("the question is empty")
        return question.strip()


class ResetRequest(BaseModel):
    """Body of ``POST /api/reset``."""

    model_config = ConfigDict(extra="forbid")
    session: str = Field(pattern=SESSION_ID.pattern)


class _Session:
    """One tab's engine, and the lock that keeps its questions in order."""

    def __init__(self, engine: ChatEngine) -> None:
        self.engine = engine
        self.turn = asyncio.Lock()


def server_sent_event(event: str, data: Any) -> bytes:
    """One SSE frame; ``data`` as JSON on a single line.

    Example:
        >>> server_sent_event("token", "two\\nlines")
        b'event: token\\ndata: "two\\\\nlines"\\n\\n'

    """
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def source_json(number: int, passage: Passage) -> dict[str, Any]:
    """A source as the page shows it: number, label, file, score, the rule that kept it, and the start of its text.

    Example:
        >>> source_json(1, Passage("a", "Some text.", {"source": "a.md"}, 0.25))["score"]
        0.75

    """
    text = passage.text.strip()  # line breaks kept: code blocks stay readable (the page shows them pre-wrapped)
    excerpt = text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(None, 1)[0] + " …"
    score = round(passage.score, 4)
    return {"n": number, "label": passage.label, "source": passage.source, "score": score, "kept_for": passage.kept_for, "excerpt": excerpt}


class ServerStoppingError(Exception):
    """The server received SIGINT/SIGTERM while an answer was streaming."""


async def stream_pieces(pieces: Iterator[str], stopping: threading.Event) -> AsyncIterator[str]:
    """The pieces of an answer, read in a daemon thread, until they end or ``stopping`` is set.

    The reading blocks (retrieval, a slow LLM). In a worker thread of the server's pool it
    would hold a stopping server until the LLM ends its stream (measured: 30 s, then uvicorn
    cancelled the response with a traceback); a daemon thread is let go instead. Leaving the
    loop early (the client gone, or the server stopping) tells the thread to stop after its
    current piece.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str | None, BaseException | None]] = asyncio.Queue()
    abandoned = threading.Event()

    def send(item: tuple[str | None, BaseException | None]) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
            return True
        except RuntimeError:  # the event loop is closed: the server has stopped
            return False

    def read() -> None:
        try:
            for piece in pieces:
                if abandoned.is_set() or not send((piece, None)):
                    return
            send((None, None))
        except Exception as exc:  # reported in the stream by the caller
            send((None, exc))

    threading.Thread(target=read, name="answer", daemon=True).start()
    try:
        while True:
            try:
                piece, error = await asyncio.wait_for(queue.get(), STOP_POLL_SECONDS)
            except TimeoutError:
                if stopping.is_set():
                    raise ServerStoppingError from None
                continue
            if error is not None:
                raise error
            if piece is None:
                return
            yield piece
    finally:
        abandoned.set()


async def answer_events(session_id: str, session: _Session, question: str, stopping: threading.Event | None = None) -> AsyncIterator[bytes]:
    """The SSE frames of one answer (see the module docstring)."""
    yield server_sent_event("session", {"id": session_id})
    async with session.turn:
        try:
            reply: Reply = await run_in_threadpool(session.engine.ask, question)
            sources = [source_json(n, p) for n, p in enumerate(reply.passages, 1)]
            yield server_sent_event("sources", {"query": reply.query, "mode": reply.mode, "sources": sources})
            async for piece in stream_pieces(iter(reply), stopping or threading.Event()):
                yield server_sent_event("token", piece)
            yield server_sent_event("done", {"mode": reply.mode, "fallback": reply.fallback})
        except ServerStoppingError:
            yield server_sent_event("error", {"message": STOPPING})
        except RagstoreError as exc:  # the store's own errors, e.g. its server stopped: said plainly, no traceback in the log
            logger.warning("answering %r failed: %s", question, exc)
            yield server_sent_event("error", {"message": store_error_message(exc)})
        except Exception as exc:  # the response has started: report in the stream, not with a status
            logger.exception("answering %r failed", question)
            yield server_sent_event("error", {"message": f"{type(exc).__name__}: {exc}"})


def store_error_message(exc: RagstoreError) -> str:
    """What the page shows when the store fails: one readable line, "unreachable" first when its server is down.

    Example:
        >>> store_error_message(ServerConnectionError("Could not connect to a ragstore server at http://h:1: refused."))
        'The ragstore server is unreachable. Could not connect to a ragstore server at http://h:1: refused.'

    """
    return f"The ragstore server is unreachable. {exc}" if isinstance(exc, ServerConnectionError) else str(exc)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every response (plain ASGI, so streaming is untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def create_app(
    new_engine: Callable[[], ChatEngine],
    info: Callable[[], Mapping[str, Any]],
    sessions: Sessions[_Session] | None = None,
) -> FastAPI:
    """The web chatbot's app.

    Args:
        new_engine: Makes the engine of a new conversation (share the retriever and LLM between them).
        info: Makes what ``GET /api/info`` answers (collection name, size, answer mode).
        sessions: The session store (default: :class:`~.sessions.Sessions` with its limits).
    """
    store = sessions if sessions is not None else Sessions(lambda: _Session(new_engine()))
    app = FastAPI(title="ragstore chatbot", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = store
    app.state.stopping = stopping = threading.Event()  # set by serve() on SIGINT/SIGTERM: streams end at once

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "InvalidRequest", "message": problems}, status_code=422)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/info")
    async def describe() -> Mapping[str, Any]:
        described = await run_in_threadpool(info)  # may ask a remote store for its count
        return {**described, "max_question_chars": MAX_QUESTION_CHARS}

    @app.post("/api/chat")
    async def chat(body: ChatRequest) -> StreamingResponse:
        session_id, session = store.get_or_create(body.session)
        return StreamingResponse(
            answer_events(session_id, session, body.question, stopping),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # proxies must not buffer the stream
        )

    @app.post("/api/reset", status_code=204)
    async def reset(body: ResetRequest) -> Response:
        store.forget(body.session)
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Serve ``app`` until SIGINT/SIGTERM; prints the page's address once it listens. Returns the exit status."""
    # The server's own guards: a page elsewhere cannot post without a preflight (JSON only) nor
    # read answers through DNS rebinding (Host checked), and request heads are bounded.
    policy = HostPolicy.for_bind(host)
    limited = JsonBodies(BodyLimit(app, MAX_BODY_BYTES, hint="; ask a shorter question"))
    hint = "open the page through an address the chatbot is bound to (--web-host)"
    guarded = HostCheck(SecurityHeaders(limited), policy, allow_hint=hint)
    config = uvicorn.Config(
        guarded, host=host, port=port, log_level="warning", server_header=False, timeout_graceful_shutdown=5, **protocol_options()
    )

    def announce(bound_host: str, bound_port: int) -> None:
        print(f"Web chatbot at {url_of(bound_host, bound_port)}/ (Ctrl-C stops)", flush=True)

    server = _ChatServer(config, announce, app.state.stopping)
    server.run()
    return 0 if server.started else 1


class _ChatServer(AnnouncingServer):
    """The announcing server, telling the app's streams when a signal asks it to stop."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str, int], None], stopping: threading.Event) -> None:
        super().__init__(config, announce)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Stop the streams, then shut down as uvicorn does."""
        self.stopping.set()
        super().handle_exit(sig, frame)
