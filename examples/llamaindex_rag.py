"""Retrieval-augmented answers with LlamaIndex over a ragstore store, fully offline.

Usage::

    HF_HUB_OFFLINE=1 python examples/llamaindex_rag.py [FOLDER] [--path ./ragstore_llamaindex]
        [--question "How do I set a timeout?"] [--llm-url http://localhost:11434/v1 --llm-model llama3]

FOLDER (default: ../shared/data/docs/markdown) is read with ``SimpleDirectoryReader`` (Markdown
files), split, embedded with ragstore's bundled all-MiniLM-L6-v2 (wrapped as a LlamaIndex
``BaseEmbedding``) and stored through ``VectorStoreIndex`` in a ``RagstoreVectorStore``.
The answer comes from any OpenAI-compatible chat endpoint when ``--llm-url`` and
``--llm-model`` (or ``LLM_URL`` / ``LLM_MODEL``, key in ``LLM_API_KEY``) are given, otherwise
from a small extractive answerer: the retrieved sentences closest to the question.
Sources are listed with their file names either way.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeWithScore
from llama_index.vector_stores.ragstore import RagstoreVectorStore

from ragstore.embeddings import DefaultEmbeddingFunction

REPO = Path(__file__).resolve().parents[1]
SHARED_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown"
DEFAULT_QUESTION = "How do I set a timeout on requests?"


class RagstoreEmbedding(BaseEmbedding):
    """ragstore's offline default model (all-MiniLM-L6-v2) as a LlamaIndex embedding model."""

    model_name: str = "all-MiniLM-L6-v2"
    _function: Any = None

    def _embed(self, texts: list[str]) -> list[list[float]]:
        if self._function is None:
            self._function = DefaultEmbeddingFunction()
        return [np.asarray(v, dtype=float).tolist() for v in self._function(texts)]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)


def source_name(hit: NodeWithScore) -> str:
    """The file a retrieved passage comes from."""
    meta = hit.node.metadata
    return str(meta.get("file_name") or meta.get("file_path") or hit.node.ref_doc_id)


def extractive_answer(question: str, hits: list[NodeWithScore], embed: RagstoreEmbedding, sentences: int = 3) -> str:
    """The retrieved sentences most similar to the question, each tagged with its source file."""
    candidates: list[tuple[str, str]] = []
    for hit in hits:
        for sentence in re.split(r"(?<=[.!?])\s+|\n{2,}", hit.node.get_content()):
            cleaned = " ".join(sentence.split())
            if len(cleaned) > 25:
                candidates.append((cleaned, source_name(hit)))
    if not candidates:
        return "No relevant passage found."
    vectors = np.asarray(embed.get_text_embedding_batch([c[0] for c in candidates]))
    scores = vectors @ np.asarray(embed.get_query_embedding(question))
    best = sorted(np.argsort(-scores)[:sentences])
    return " ".join(f"{candidates[i][0]} [{candidates[i][1]}]" for i in best)


class LLMError(RuntimeError):
    """The chat endpoint could not be reached or gave no usable answer (a one-line message)."""


def llm_answer(question: str, hits: list[NodeWithScore], url: str, model: str, api_key: str | None) -> str:
    """Ask an OpenAI-compatible chat endpoint to answer from the retrieved passages only."""
    context = "\n\n".join(f"[{source_name(h)}]\n{h.node.get_content()}" for h in hits)
    messages = [
        {"role": "system", "content": "Answer from the context only and cite the [file names] you used."},
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


def main() -> int:
    """Index the folder, retrieve passages for the question, print the answer and its sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED_DOCS)
    parser.add_argument("--path", default="./ragstore_llamaindex", help="persistent store directory")
    parser.add_argument("--collection", default="llamaindex-docs")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("-k", type=int, default=4, help="passages to retrieve")
    parser.add_argument("--llm-url", default=os.environ.get("LLM_URL"), help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    parser.add_argument("--llm-model", default=os.environ.get("LLM_MODEL"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    embed = RagstoreEmbedding()
    store = RagstoreVectorStore.from_params(args.collection, persist_dir=args.path)
    documents = SimpleDirectoryReader(str(args.folder), recursive=True, required_exts=[".md"], filename_as_id=True).load_data()
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32)],
    )
    print(f"Indexed {len(documents)} files from {args.folder} into {args.path} ({store.client.count()} chunks stored)")

    hits = index.as_retriever(similarity_top_k=args.k).retrieve(args.question)
    if args.llm_url and args.llm_model:
        try:
            answer = llm_answer(args.question, hits, args.llm_url, args.llm_model, os.environ.get("LLM_API_KEY"))
        except LLMError as exc:
            print(f"error: {exc}", file=sys.stderr)
            store.close()
            return 1
    else:
        answer = extractive_answer(args.question, hits, embed)
    print(f"\nQ: {args.question}\nA: {answer}\n\nSources:")
    for hit in hits:
        print(f"  - {source_name(hit)} (score {hit.score:.3f})")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
