"""``python -m examples.chatbot``: options, opening the store, first-run ingestion, then the terminal or web chatbot.

Both front ends share everything up to the engine: the store (persistent
``--path``, a ``ragstore run`` server with ``--host``, or ``--ephemeral``), the
collection, filled from ``--docs`` with a progress bar when it is empty, the
retrieval settings (hybrid search when the collection has a BM25 index, which
the collections it creates have) and the optional LLM. The embedding model is loaded
before the first question can be asked (before the page is served, with ``--web``), so
the first answer does not wait for it. ``--web`` serves the page on
``--web-host:--web-port`` instead of reading questions from the terminal.

Example:
    >>> args = parse_args(["--collection", "docs", "--web", "--web-port", "0"])
    >>> args.k, args.web, args.web_port
    (4, True, 0)

"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from examples.chatbot.engine import DEFAULT_CONTEXT_TOKENS, ChatEngine
from examples.chatbot.llm import ChatLLM
from examples.chatbot.retrieval import DEFAULT_MIN_RELEVANCE, Retriever, retrieval_description
from examples.chatbot.store import DEFAULT_DOCS, ingest_folder, open_client, open_collection
from examples.chatbot.terminal import chat
from ragstore.errors import RagstoreError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``python -m examples.chatbot --help``).

    Example:
        >>> parse_args(["--host", "localhost"]).port
        8000

    """
    parser = argparse.ArgumentParser(prog="python -m examples.chatbot", description="Chat with a ragstore collection.")
    store = parser.add_argument_group("store")
    store.add_argument("--path", default="./ragstore_data", help="persistent store directory (default: %(default)s)")
    store.add_argument("--host", help="use a `ragstore run` server on this host instead")
    store.add_argument("--port", type=int, default=8000, help="the server's port (default: %(default)s)")
    store.add_argument("--ssl", action="store_true", help="reach the server over HTTPS")
    store.add_argument("--auth-token", default=os.environ.get("RAGSTORE_AUTH_TOKEN"), help="server token [env RAGSTORE_AUTH_TOKEN]")
    store.add_argument("--ephemeral", action="store_true", help="an in-memory store (ingests --docs on every run)")
    store.add_argument("--collection", default="docs", help="collection to chat with (default: %(default)s)")
    store.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="folder to ingest if the collection is empty (default: %(default)s)")
    answer = parser.add_argument_group("answers")
    answer.add_argument("-k", type=int, default=4, help="passages retrieved per question (default: %(default)s)")
    answer.add_argument(
        "--min-relevance",
        type=float,
        default=DEFAULT_MIN_RELEVANCE,
        help="relevance (cosine similarity, 0-1) below which a passage is irrelevant, unless it holds every query term (hybrid)"
        " (default: %(default)s)",
    )
    answer.add_argument("--context-tokens", type=int, default=DEFAULT_CONTEXT_TOKENS, help="token budget of the LLM prompt")
    answer.add_argument("--llm-url", default=None, help="OpenAI-compatible base URL [env RAGSTORE_LLM_URL], e.g. http://localhost:11434/v1")
    answer.add_argument("--llm-model", default=None, help="model name [env RAGSTORE_LLM_MODEL]; key in env RAGSTORE_LLM_API_KEY")
    web = parser.add_argument_group("web chatbot")
    web.add_argument("--web", action="store_true", help="serve the web chatbot instead of chatting in the terminal")
    web.add_argument("--web-host", default="127.0.0.1", help="address the page is served on (default: %(default)s)")
    web.add_argument("--web-port", type=int, default=8080, help="port of the page, 0 picks a free one (default: %(default)s)")
    return parser.parse_args(argv)


def answers_description(llm: ChatLLM | None) -> str:
    """How answers are written, for the start line and the page's header.

    Example:
        >>> answers_description(None)
        'offline extractive answers (no --llm-url)'

    """
    return f"LLM {llm.model} at {llm.endpoint}" if llm else "offline extractive answers (no --llm-url)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chatbot the command line asks for; returns the exit status."""
    args = parse_args(argv)
    try:
        llm = ChatLLM.from_env(args.llm_url, args.llm_model)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        return run(args, llm)
    except RagstoreError as exc:  # e.g. no server at --host, a wrong token: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, llm: ChatLLM | None) -> int:
    """Open the store and chat (terminal or web) as ``args`` say; returns the exit status."""
    client = open_client(args.path, args.host, args.port, args.ssl, args.auth_token, args.ephemeral)
    try:
        collection = open_collection(client, args.collection)
        if collection.count() == 0:
            if not args.docs.exists():
                print(f"Collection {args.collection!r} is empty and there is no folder {args.docs} to ingest (--docs).", file=sys.stderr)
                return 1
            ingest_folder(collection, args.docs)
        retriever = Retriever(collection, k=args.k, min_relevance=args.min_relevance)

        def new_engine() -> ChatEngine:
            return ChatEngine(retriever, llm, context_tokens=args.context_tokens)

        warm_up(new_engine())

        if args.web:
            return serve_web(args, collection, new_engine, llm, retrieval_description(retriever))
        print(
            f"Chatting with {args.collection!r} ({collection.count()} passages) · {retrieval_description(retriever)} · "
            f"{answers_description(llm)}. "
            "/help lists the commands, /quit or Ctrl-D leaves.\n"
        )
        return chat(new_engine(), sys.stdin, sys.stdout, prompt=sys.stdin.isatty())
    finally:
        client.close()


def warm_up(engine: ChatEngine) -> None:
    """Load the embedding model (and an LLM's tokenizer) now, saying so on stderr, so the first question does not wait."""
    function = engine.embed
    name = getattr(function, "model_name", None) or type(function).__name__
    print(f"Loading the embedding model {name} ...", end="", file=sys.stderr, flush=True)
    started = time.perf_counter()
    engine.warm_up()
    print(f" ready in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def serve_web(args: argparse.Namespace, collection: Any, new_engine: Callable[[], ChatEngine], llm: ChatLLM | None, search: str) -> int:
    """Serve the web chatbot (imported here: FastAPI and uvicorn are needed only for it)."""
    try:
        from examples.chatbot.web import create_app, serve
    except ImportError as exc:
        print(f"The web chatbot needs FastAPI and uvicorn: pip install 'ragstore[server]' ({exc})", file=sys.stderr)
        return 1

    if args.web_host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: no login: anyone who can reach {args.web_host} can read the collection through the page", file=sys.stderr)

    def info() -> dict[str, Any]:
        return {"collection": args.collection, "passages": collection.count(), "search": search, "answers": answers_description(llm)}

    return serve(create_app(new_engine, info), args.web_host, args.web_port)
