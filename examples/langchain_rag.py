"""Retrieval-augmented answers with LangChain over a ragstore store, fully offline by default.

Usage (from the repository root)::

    python -m examples.langchain_rag [FOLDER] [--question "..."] [--path DIR] [-k 4]
                                     [--llm-url URL --llm-model MODEL]

It loads the Markdown files under FOLDER (default: the httpx and starlette docs in
``../shared/data/docs/markdown``) with ``RagstoreLoader``, splits them, stores them through
``RagstoreVectorStore`` (ragstore's default embedder, all-MiniLM-L6-v2, from bundled weights),
builds a retriever and answers each question with its sources.

Without an LLM the answer is extractive: the retrieved sentences closest to the question.
With ``--llm-url``/``--llm-model`` (or ``RAGSTORE_LLM_URL``/``RAGSTORE_LLM_MODEL``, key in
``RAGSTORE_LLM_API_KEY``) any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, Ollama,
vLLM, llama.cpp) writes it, streamed. Answers and the LLM client are the chatbot example's
(``examples/chatbot``); this file shows the LangChain side. A failing endpoint is a one-line
``error:`` and exit status 1. Needs ``pip install -e integrations/langchain-ragstore``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default model ships with ragstore; never download

from langchain_core.documents import Document
from langchain_ragstore import RagstoreLoader, RagstoreVectorStore

from examples.chatbot.llm import ChatLLM
from examples.chatbot.retrieval import Passage
from examples.chatbot.terminal import print_answer
from ragstore.documents import RecursiveCharacterSplitter
from ragstore.embeddings import DefaultEmbeddingFunction

REPO = Path(__file__).resolve().parents[1]
SHARED_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown"
QUESTIONS = ("How do I set a timeout on requests?", "How can I send requests through a proxy?")


def split(docs: list[Document], chunk_size: int, chunk_overlap: int) -> list[Document]:
    """Chunks of the loaded documents, with stable ids (``file#chunk=N``) and their file's metadata."""
    splitter = RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks = []
    for doc in docs:
        for index, chunk in enumerate(splitter.split(doc.page_content)):
            metadata = {**doc.metadata, "chunk_index": index, "start_index": chunk.start_index}
            chunks.append(Document(id=f"{doc.id}#chunk={index}", page_content=chunk.text, metadata=metadata))
    return chunks


def passages(docs: list[Document]) -> list[Passage]:
    """Retrieved LangChain documents as the chatbot's passages (numbered sources, file labels)."""
    return [Passage(str(doc.id), doc.page_content, dict(doc.metadata)) for doc in docs]


def main(argv: list[str] | None = None) -> int:
    """Load, split and store the folder, then answer each question with its sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED_DOCS)
    parser.add_argument("--question", "-q", action="append", help="ask this (repeatable); default: two sample questions")
    parser.add_argument("--path", type=Path, default=None, help="persistent store directory (default: a temporary one)")
    parser.add_argument("--glob", default="**/*.md")
    parser.add_argument("-k", type=int, default=4, help="chunks to retrieve per question")
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL [env RAGSTORE_LLM_URL]")
    parser.add_argument("--llm-model", help="model name [env RAGSTORE_LLM_MODEL]")
    args = parser.parse_args(argv)
    try:
        llm = ChatLLM.from_env(args.llm_url, args.llm_model)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.folder.exists():
        parser.error(f"no such folder: {args.folder}")

    path = args.path or Path(tempfile.mkdtemp(prefix="langchain-rag-"))
    store = RagstoreVectorStore("langchain-rag", persist_directory=path)  # no embedding_function: ragstore's default model
    loader = RagstoreLoader(args.folder, glob=args.glob)
    loaded = loader.load()
    chunks = split(loaded, chunk_size=800, chunk_overlap=100)
    if not chunks:
        print(f"No documents matching {args.glob} under {args.folder}", file=sys.stderr)
        return 1
    store.add_documents(chunks)  # ids are stable, so a second run replaces instead of duplicating
    print(f"Stored {len(chunks)} chunks from {len({d.metadata.get('source') for d in loaded})} files of {args.folder} in {path}")
    for failure in loader.errors:
        print(f"  skipped {failure.source}: {failure.error}", file=sys.stderr)

    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": args.k, "fetch_k": 4 * args.k})
    embed = DefaultEmbeddingFunction()  # the store's own model, for the extractive answer's sentences
    for question in args.question or QUESTIONS:
        found = passages(retriever.invoke(question))
        if not print_answer(question, found, llm, embed, scores=False):  # MMR retrieval gives no scores
            store.close()
            return 1
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
