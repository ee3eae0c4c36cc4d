"""The main demo (``make demo``): ingest real documents, answer sample questions with sources, show how to chat.

1. Opens the persistent store ``./ragstore_data`` (collection ``docs``, the default embedder
   all-MiniLM-L6-v2, which ships with ragstore: no download, no network, and a BM25 index).
2. Ingests the httpx and Starlette documentation in ``../shared/data/docs/markdown`` with a
   progress bar (Markdown split at its headings). A second run embeds only changed files.
   Without that folder (a clone without the shared data) it ingests this repository's own
   Markdown and asks about ragstore instead.
3. Answers sample questions with the chat engine of ``examples/chatbot``, searching hybrid
   (BM25 + dense; a ``docs`` collection made before hybrid search stays dense, and the
   demo says so). "How do I test my application?" is the one dense search alone turns
   away (no passage reaches its similarity threshold). Offline
   extractive answers (the passages' sentences closest to the question), or an LLM's when
   ``RAGSTORE_LLM_URL`` and ``RAGSTORE_LLM_MODEL`` name an OpenAI-compatible endpoint; each
   with its sources (file, section, score).
4. Prints how to start the terminal and the web chatbot on the same store.

Run from the repository root: ``python -m examples.demo [--path DIR] [--docs FOLDER]``.

Example:
    >>> demo_corpus(Path("/nonexistent")).name
    'ragstore'

"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default model ships with ragstore; never download

from examples.chatbot.cli import answers_description  # imported after the environment is set
from examples.chatbot.engine import ChatEngine
from examples.chatbot.llm import ChatLLM
from examples.chatbot.retrieval import Retriever, retrieval_description
from examples.chatbot.store import DEFAULT_DOCS, ingest_folder, open_client, open_collection
from examples.chatbot.terminal import print_reply

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Corpus:
    """A folder of documents, which of its files to take, and questions it can answer."""

    name: str
    folder: Path
    glob: tuple[str, ...]
    questions: tuple[str, ...]


SHARED = Corpus(
    "httpx and Starlette documentation",
    DEFAULT_DOCS,
    ("**/*.md",),
    (
        "How do I set a timeout on requests?",
        "How do I serve static files?",
        "How can I run code when the application starts up?",
        "How do I test my application?",
    ),
)
OWN = Corpus(
    "ragstore",
    REPO,
    ("README.md", "benchmarks/RESULTS.md", "integrations/*/README.md"),
    (
        "How do I use ragstore with LangChain?",
        "What happens if the process is killed during a write?",
        "How fast are queries compared with chromadb?",
    ),
)


def demo_corpus(docs: Path = DEFAULT_DOCS) -> Corpus:
    """The shared documentation when ``docs`` is there, else this repository's own Markdown."""
    return SHARED if docs.is_dir() else OWN


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--path", default="./ragstore_data", help="persistent store directory (default: %(default)s)")
    parser.add_argument("--collection", default="docs", help="collection to fill and ask (default: %(default)s)")
    parser.add_argument("--own-docs", action="store_true", help="use this repository's Markdown (the default without the shared docs)")
    args = parser.parse_args(argv)

    corpus = OWN if args.own_docs else demo_corpus()
    try:
        llm = ChatLLM.from_env()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"ragstore demo: the {corpus.name} ({corpus.folder}) into {args.path}, collection {args.collection!r}\n", flush=True)
    with open_client(args.path) as client:
        collection = open_collection(client, args.collection)
        ingest_folder(collection, corpus.folder, glob=corpus.glob)
        retriever = Retriever(collection)
        print(f"\n{collection.count()} passages · {retrieval_description(retriever)} · {answers_description(llm)}\n")
        for question in corpus.questions:
            print(f"you> {question}")
            print_reply(ChatEngine(retriever, llm).ask(question), sys.stdout)  # a fresh conversation per sample question
    chat = f"python -m examples.chatbot --path {args.path} --collection {args.collection}"
    made = args.path == "./ragstore_data" and args.collection == "docs"  # what `make chat` opens
    print("Ask your own questions:")
    print(f"  terminal chatbot:  {'make chat        or  ' if made else ''}{chat}")
    print(f"  web chatbot:       {'make chat-web    or  ' if made else ''}{chat} --web   (then open http://127.0.0.1:8080/)")
    print("  with an LLM:       add --llm-url http://localhost:11434/v1 --llm-model llama3.2 (any OpenAI-compatible endpoint)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
