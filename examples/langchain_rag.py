"""Retrieval-augmented answers with LangChain over a ragstore store, fully offline by default.

Usage::

    python examples/langchain_rag.py [FOLDER] [--question "..."] [--path DIR] [-k 4]
                                     [--llm-url URL --llm-model MODEL]

It loads the Markdown files under FOLDER (default: the httpx and starlette docs in
``../shared/data/docs/markdown``) with ``RagstoreLoader``, splits them, stores them through
``RagstoreVectorStore`` (ragstore's default embedder, all-MiniLM-L6-v2, from bundled weights),
builds a retriever and answers each question with its sources.

Without an LLM the answer is extractive: the retrieved sentences closest to the question.
With ``--llm-url``/``--llm-model`` (or ``LLM_URL``/``LLM_MODEL``, key in ``LLM_API_KEY``) any
OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, Ollama, vLLM, llama.cpp) writes it.
Needs ``pip install -e integrations/langchain-ragstore``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default model ships with ragstore; never download

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_ragstore import RagstoreLoader, RagstoreVectorStore

from ragstore.documents import RecursiveCharacterSplitter

REPO = Path(__file__).resolve().parents[1]
SHARED_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown"
QUESTIONS = ("How do I set a timeout on requests?", "How can I send requests through a proxy?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}")


def split(docs: list[Document], chunk_size: int, chunk_overlap: int) -> list[Document]:
    """Chunks of the loaded documents, with stable ids (``file#chunk=N``) and their file's metadata."""
    splitter = RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks = []
    for doc in docs:
        for index, chunk in enumerate(splitter.split(doc.page_content)):
            metadata = {**doc.metadata, "chunk_index": index, "start_index": chunk.start_index}
            chunks.append(Document(id=f"{doc.id}#chunk={index}", page_content=chunk.text, metadata=metadata))
    return chunks


def extractive_answer(question: str, docs: list[Document], embeddings: Embeddings, sentences: int = 3) -> str:
    """The retrieved sentences most similar to the question, each tagged with its source file."""
    candidates = [
        (" ".join(part.split()), str(doc.metadata.get("source", doc.id)))
        for doc in docs
        for part in _SENTENCE.split(doc.page_content)
        if len(part.split()) >= 4 and not part.lstrip().startswith(("```", "|"))
    ]
    if not candidates:
        return "(no answer found in the retrieved text)"
    vectors = np.asarray(embeddings.embed_documents([text for text, _ in candidates]))
    query = np.asarray(embeddings.embed_query(question))
    scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-12)
    best = sorted(np.argsort(-scores)[:sentences])  # keep the document order for readability
    return " ".join(f"{candidates[i][0]} [{candidates[i][1]}]" for i in best)


class LLMError(RuntimeError):
    """The chat endpoint could not be reached or gave no usable answer (a one-line message)."""


def llm_answer(question: str, docs: list[Document], url: str, model: str, api_key: str | None) -> str:
    """An answer from an OpenAI-compatible chat endpoint, told to use only the retrieved context."""
    import httpx

    context = "\n\n".join(f"[{d.metadata.get('source', d.id)}]\n{d.page_content}" for d in docs)
    messages = [
        {
            "role": "system",
            "content": "Answer from the context only, citing sources in [brackets]. Say so if the context lacks the answer.",
        },
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    endpoint = f"{url.rstrip('/')}/chat/completions"
    try:
        response = httpx.post(endpoint, json={"model": model, "messages": messages}, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        raise LLMError(f"cannot reach the chat endpoint {endpoint}: {str(exc) or type(exc).__name__}") from exc
    if response.is_error:
        body = " ".join(response.text.split())[:200]
        raise LLMError(f"the chat endpoint {endpoint} answered HTTP {response.status_code}" + (f": {body}" if body else ""))
    try:
        return str(response.json()["choices"][0]["message"]["content"]).strip()
    except (ValueError, LookupError, TypeError) as exc:
        raise LLMError(f"unexpected response from the chat endpoint {endpoint}: {' '.join(response.text.split())[:200]}") from exc


def main(argv: list[str] | None = None) -> int:
    """Load, split and store the folder, then answer each question with its sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED_DOCS)
    parser.add_argument("--question", "-q", action="append", help="ask this (repeatable); default: two sample questions")
    parser.add_argument("--path", type=Path, default=None, help="persistent store directory (default: a temporary one)")
    parser.add_argument("--glob", default="**/*.md")
    parser.add_argument("-k", type=int, default=4, help="chunks to retrieve per question")
    parser.add_argument("--llm-url", default=os.environ.get("LLM_URL"), help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    parser.add_argument("--llm-model", default=os.environ.get("LLM_MODEL"))
    args = parser.parse_args(argv)
    if bool(args.llm_url) != bool(args.llm_model):
        parser.error("--llm-url and --llm-model go together")
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
    embeddings = store.embeddings
    assert embeddings is not None
    for question in args.question or QUESTIONS:
        docs = retriever.invoke(question)
        if args.llm_url:
            try:
                answer = llm_answer(question, docs, args.llm_url, args.llm_model, os.environ.get("LLM_API_KEY"))
            except LLMError as exc:
                print(f"error: {exc}", file=sys.stderr)
                store.close()
                return 1
        else:
            answer = extractive_answer(question, docs, embeddings)
        print(f"\nQ: {question}\nA: {answer}\nSources:")
        for source in dict.fromkeys(str(d.metadata.get("source", d.id)) for d in docs):
            print(f"  - {source}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
