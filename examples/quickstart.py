"""ragstore quickstart: the client modes on one small collection.

Run with ``make quickstart`` (or ``python examples/quickstart.py --path ./ragstore_quickstart``).
It uses the in-memory client, then a persistent store under ``--path``, reads
that store back from a brand-new Python process to show it survived, and finally
serves the same store with ``ragstore run`` and queries it through ``HttpClient``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def running_server(path: str) -> Iterator[int]:
    """``ragstore run --path PATH --port 0`` in a child process; yields the port it bound, stops it with SIGTERM."""
    server = subprocess.Popen(
        [sys.executable, "-m", "ragstore", "run", "--path", path, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert server.stdout is not None
    try:
        for line in server.stdout:  # the start line names the address once the server listens
            match = re.search(r"at http://127\.0\.0\.1:(\d+)", line)
            if match:
                print(f"  {line.strip()}")
                yield int(match.group(1))
                break
        else:
            raise RuntimeError("ragstore run exited before it listened")
    finally:
        server.terminate()
        server.wait(timeout=60)


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

    print(f"\n4. HttpClient against `ragstore run --path {args.path}` (a server process on the same store)")
    with running_server(args.path) as port, ragstore.HttpClient(host="127.0.0.1", port=port) as remote:
        remote.heartbeat()
        col = remote.get_collection("quickstart")
        print(f"  the server sees {col.count()} records")
        show("query 'ranking passages for a model':", col.query(query_texts=["ranking passages for a model"], n_results=2))
    print(f"\nServe it yourself: ragstore run --path {args.path} --port 8000, then ragstore.HttpClient(port=8000)")


if __name__ == "__main__":
    main()
