"""The terminal chatbot: options, first-run ingestion, and the question-answer loop.

Each line on stdin is a question; the answer is printed as it streams, then
its sources (file, page or section, score). ``/reset`` forgets the
conversation, ``/quit`` or end of input (Ctrl-D) leaves with status 0, Ctrl-C
interrupts an answer (a second one at the prompt leaves with status 130).

Example:
    >>> parse_args(["--collection", "docs"]).k
    4

"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from examples.chatbot.engine import DEFAULT_CONTEXT_TOKENS, ChatEngine, Reply
from examples.chatbot.llm import ChatLLM
from examples.chatbot.retrieval import DEFAULT_MAX_DISTANCE, Retriever
from examples.chatbot.store import DEFAULT_DOCS, ingest_folder, open_client, open_collection


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
        "--max-distance", type=float, default=DEFAULT_MAX_DISTANCE, help="cosine distance above which a passage is irrelevant"
    )
    answer.add_argument("--context-tokens", type=int, default=DEFAULT_CONTEXT_TOKENS, help="token budget of the LLM prompt")
    answer.add_argument("--llm-url", default=None, help="OpenAI-compatible base URL [env RAGSTORE_LLM_URL], e.g. http://localhost:11434/v1")
    answer.add_argument("--llm-model", default=None, help="model name [env RAGSTORE_LLM_MODEL]; key in env RAGSTORE_LLM_API_KEY")
    return parser.parse_args(argv)


def print_reply(reply: Reply, out: TextIO) -> None:
    """Print the answer as its tokens arrive, then its sources.

    Example:
        >>> import io
        >>> from examples.chatbot.retrieval import Passage
        >>> buffer = io.StringIO()
        >>> print_reply(Reply("q", "q", [Passage("a", "t", {"source": "a.md"}, 0.2)], "extractive", iter(["Hi", "!"])), buffer)
        >>> print(buffer.getvalue().strip())
        bot> Hi!
        Sources:
          [1] a.md (score 0.80)

    """
    out.write("bot> ")
    out.flush()
    for piece in reply:
        out.write(piece)
        out.flush()
    out.write("\n")
    if reply.passages:
        out.write("Sources:\n")
        for number, passage in enumerate(reply.passages, 1):
            out.write(f"  [{number}] {passage.label} (score {passage.score:.2f})\n")
    out.write("\n")
    out.flush()


def chat(engine: ChatEngine, lines: TextIO, out: TextIO, prompt: bool) -> int:
    """Answer every line of ``lines`` until ``/quit`` or its end; returns the exit status."""
    while True:
        if prompt:
            out.write("you> ")
            out.flush()
        try:
            line = lines.readline()
        except KeyboardInterrupt:
            out.write("\n")
            return 130
        if not line:
            out.write("Bye.\n" if not prompt else "\nBye.\n")
            return 0
        question = line.strip()
        if not question:
            continue
        if question in ("/quit", "/exit"):
            out.write("Bye.\n")
            return 0
        if question == "/reset":
            engine.memory.clear()
            out.write("(conversation forgotten)\n\n")
            continue
        if not prompt:
            out.write(f"you> {question}\n")
        try:
            print_reply(engine.ask(question), out)
        except KeyboardInterrupt:
            out.write("\n(interrupted)\n\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the terminal chatbot; returns the exit status."""
    args = parse_args(argv)
    llm = ChatLLM.from_env(args.llm_url, args.llm_model)
    if bool(args.llm_url or os.environ.get("RAGSTORE_LLM_URL")) != bool(args.llm_model or os.environ.get("RAGSTORE_LLM_MODEL")):
        print("--llm-url and --llm-model (or RAGSTORE_LLM_URL and RAGSTORE_LLM_MODEL) go together", file=sys.stderr)
        return 2
    client = open_client(args.path, args.host, args.port, args.ssl, args.auth_token, args.ephemeral)
    try:
        collection = open_collection(client, args.collection)
        if collection.count() == 0:
            if not args.docs.exists():
                print(f"Collection {args.collection!r} is empty and there is no folder {args.docs} to ingest (--docs).", file=sys.stderr)
                return 1
            ingest_folder(collection, args.docs)
        engine = ChatEngine(Retriever(collection, k=args.k, max_distance=args.max_distance), llm, context_tokens=args.context_tokens)
        where = f"LLM {llm.model} at {llm.endpoint}" if llm else "offline extractive answers (no --llm-url)"
        print(f"Chatting with {args.collection!r} ({collection.count()} passages) · {where}. /reset forgets, /quit or Ctrl-D leaves.\n")
        return chat(engine, sys.stdin, sys.stdout, prompt=sys.stdin.isatty())
    finally:
        client.close()
