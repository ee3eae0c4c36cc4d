"""Ingest a folder of real documents with the offline default model, then answer questions with sources.

Usage::

    python examples/ingest_and_ask.py [FOLDER] [--path ./ragstore_data]

FOLDER defaults to the httpx documentation in ``../shared/data/docs/markdown/httpx``
(or, when that is not there, this repository's own Markdown files). Running it
again is fast: unchanged files are not embedded again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ragstore
from ragstore.ingest import ingest

REPO = Path(__file__).resolve().parents[1]
SHARED_DOCS = REPO.parent / "shared" / "data" / "docs" / "markdown" / "httpx"
QUESTIONS = (
    "How do I set a timeout on requests?",
    "How can I send requests through a proxy?",
    "How do I use HTTP/2?",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folder", nargs="?", type=Path, default=SHARED_DOCS if SHARED_DOCS.is_dir() else REPO)
    parser.add_argument("--path", default="./ragstore_data", help="persistent store directory")
    args = parser.parse_args()

    with ragstore.PersistentClient(args.path) as client:
        docs = client.get_or_create_collection("docs")  # the default embedder: all-MiniLM-L6-v2, offline
        stats = ingest(docs, [args.folder], glob="**/*.md")
        print(f"Ingested {args.folder}: {stats.files} files, {stats.chunks} chunks ({stats.written} embedded now) in {stats.seconds:.1f} s")
        for question in QUESTIONS:
            hits = docs.query(query_texts=[question], n_results=3, include=["documents", "metadatas", "distances"])
            assert hits["documents"] is not None and hits["metadatas"] is not None and hits["distances"] is not None
            print(f"\nQ: {question}")
            for text, meta, distance in zip(hits["documents"][0], hits["metadatas"][0], hits["distances"][0], strict=True):
                snippet = " ".join(text.split())[:140]
                print(f"  [{meta['source']} · distance {distance:.3f}] {snippet}")
    print("\nAsk your own: ragstore query 'your question' --collection docs --path", args.path)


if __name__ == "__main__":
    main()
