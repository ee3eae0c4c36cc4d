"""ragstore quickstart: the client modes on one small collection.

Run with ``make demo`` (or ``python examples/quickstart.py --path ./ragstore_data``).
It uses the in-memory client, then a persistent store under ``--path``, and
reads that store back from a brand-new Python process to show it survived.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import ragstore

DOCS = {
    "hnsw": "HNSW is a graph index for approximate nearest neighbour search.",
    "sqlite": "SQLite stores the documents, metadata and vectors durably on disk.",
    "bm25": "BM25 ranks documents by term frequency and inverse document frequency.",
    "rag": "Retrieval-augmented generation feeds retrieved passages to a language model.",
}


def fill(collection: ragstore.Collection) -> None:
    collection.upsert(
        ids=list(DOCS),
        documents=list(DOCS.values()),
        metadatas=[{"topic": "index" if k in ("hnsw", "sqlite") else "ranking", "n": i} for i, k in enumerate(DOCS)],
    )


def show(title: str, result: ragstore.QueryResult) -> None:
    print(f"  {title}")
    assert result["documents"] is not None and result["distances"] is not None
    for id_, doc, dist in zip(result["ids"][0], result["documents"][0], result["distances"][0], strict=True):
        print(f"    {dist:6.3f}  {id_:<7} {doc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--path", default="./ragstore_data", help="where the persistent store lives")
    args = parser.parse_args()

    print(f"ragstore {ragstore.__version__}\n")
    print("1. EphemeralClient (in memory)")
    memory = ragstore.EphemeralClient()
    col = memory.create_collection("quickstart")
    fill(col)
    show("query 'graph index for vectors':", col.query(query_texts=["graph index for vectors"], n_results=2))
    show("same query, where topic == ranking:", col.query(query_texts=["graph index for vectors"], n_results=2, where={"topic": "ranking"}))

    print(f"\n2. PersistentClient(path={args.path!r})")
    with ragstore.PersistentClient(path=args.path) as client:
        col = client.get_or_create_collection("quickstart", configuration={"hnsw": {"space": "cosine"}})
        fill(col)
        print(f"  stored {col.count()} records")
        show("query 'durable storage on disk':", col.query(query_texts=["durable storage on disk"], n_results=2))

    print("\n3. Reading the persistent store back from a new Python process")
    reader = textwrap.dedent(
        f"""
        import ragstore
        col = ragstore.PersistentClient(path={args.path!r}).get_collection("quickstart")
        hits = col.query(query_texts=["language model"], n_results=1)
        print(f"  new process sees {{col.count()}} records; best hit for 'language model': {{hits['ids'][0][0]}}")
        """
    )
    subprocess.run([sys.executable, "-c", reader], check=True)
    print(f"\nServe the same store to other processes: ragstore run --path {args.path}   (then ragstore.HttpClient(port=8000))")


if __name__ == "__main__":
    main()
