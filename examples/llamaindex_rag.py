"""Retrieval-augmented answers with LlamaIndex over a ragstore store, fully offline.

Usage (from the repository root)::

    python -m examples.llamaindex_rag [FOLDER] [--path ./ragstore_llamaindex]
        [--question "How do I set a timeout?"] [--llm-url http://localhost:11434/v1 --llm-model llama3]

FOLDER (default: ../shared/data/docs/markdown) is read with ``SimpleDirectoryReader`` (Markdown
files), split, embedded with ragstore's bundled all-MiniLM-L6-v2 (wrapped as a LlamaIndex
``BaseEmbedding``) and stored through ``VectorStoreIndex`` in a ``RagstoreVectorStore``.
The answer streams from any OpenAI-compatible chat endpoint when ``--llm-url`` and
``--llm-model`` (or ``RAGSTORE_LLM_URL`` / ``RAGSTORE_LLM_MODEL``, key in ``RAGSTORE_LLM_API_KEY``)
are given, otherwise it is extractive: the retrieved sentences closest to the question. Answers
and the LLM client are the chatbot example's (``examples/chatbot``); this file shows the
LlamaIndex side. Sources are listed with their file names and scores either way; a failing
endpoint is a one-line ``error:`` and exit status 1.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the default model ships with ragstore; never download

import numpy as np
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeWithScore
from llama_index.vector_stores.ragstore import RagstoreVectorStore

from examples.chatbot.llm import ChatLLM
from examples.chatbot.retrieval import Passage
from examples.chatbot.terminal import print_answer
from ragstore.embeddings import DefaultEmbeddingFunction

REPO = Path(__file__).resolve().parents[1]
SHARED_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown"
DEFAULT_QUESTION = "How do I set a timeout on requests?"


class RagstoreEmbedding(BaseEmbedding):
    """ragstore's offline default model (all-MiniLM-L6-v2) as a LlamaIndex embedding model."""

    model_name: str = "all-MiniLM-L6-v2"
    _function: Any = None

    @property
    def function(self) -> DefaultEmbeddingFunction:
        """The ragstore embedding function behind it (loaded on first use)."""
        if self._function is None:
            self._function = DefaultEmbeddingFunction()
        function: DefaultEmbeddingFunction = self._function
        return function

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return [np.asarray(v, dtype=float).tolist() for v in self.function(texts)]

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


def passages(hits: list[NodeWithScore]) -> list[Passage]:
    """Retrieved LlamaIndex nodes as the chatbot's passages (file label; cosine distance from the score)."""
    return [Passage(hit.node.node_id, hit.node.get_content(), {"source": source_name(hit)}, 1.0 - (hit.score or 0.0)) for hit in hits]


def main() -> int:
    """Index the folder, retrieve passages for the question, print the answer and its sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED_DOCS)
    parser.add_argument("--path", default="./ragstore_llamaindex", help="persistent store directory")
    parser.add_argument("--collection", default="llamaindex-docs")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("-k", type=int, default=4, help="passages to retrieve")
    parser.add_argument("--llm-url", help="OpenAI-compatible base URL [env RAGSTORE_LLM_URL]")
    parser.add_argument("--llm-model", help="model name [env RAGSTORE_LLM_MODEL]")
    args = parser.parse_args()
    try:
        llm = ChatLLM.from_env(args.llm_url, args.llm_model)
    except ValueError as exc:
        parser.error(str(exc))

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

    found = passages(index.as_retriever(similarity_top_k=args.k).retrieve(args.question))
    answered = print_answer(args.question, found, llm, embed.function)
    store.close()
    return 0 if answered else 1


if __name__ == "__main__":
    raise SystemExit(main())
