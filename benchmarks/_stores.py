"""The six store rows: ragstore and chromadb, each ephemeral, persistent and over HTTP, measured through the chromadb API.

:func:`open_target` opens one system's client (starting its server for the HTTP rows), and
:func:`measure_store` runs the phases in order on one fresh collection: add, single queries,
batched queries, the two filtered queries, get-by-id, 32 concurrent clients (HTTP rows),
delete 10% and query again, then (after closing the client) disk size and cold start
(persistent rows) and the server's peak memory (HTTP rows).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _corpus import Corpus, K, recall_at_k
from _measure import Laps, batch_rate, cold_start_s, concurrent_rate, disk_mb, percentile_ms, timed_each
from _servers import Server, running_server

ADD_BATCH = 5_000
QUERY_BATCH = 100  # query vectors per call in the batched-throughput phase
BATCH_AT_LEAST = 1_000  # queries sent in that phase (the query set is cycled if smaller)
DELETE_BATCH = 1_000  # ids per delete call
CONCURRENT_CLIENTS = 32
INCLUDE = ["documents", "metadatas", "distances"]
STORES = ("ragstore-ephemeral", "ragstore-persistent", "ragstore-http", "chromadb-ephemeral", "chromadb-persistent", "chromadb-http")

# Run by a fresh interpreter after the worker closed its client: import, open the store, answer one query.
_COLD_START = {
    "ragstore": """
import sys
import numpy as np
import ragstore
client = ragstore.PersistentClient(sys.argv[1])
collection = client.get_collection(sys.argv[2])
""",
    "chromadb": """
import sys
import numpy as np
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
collection = client.get_collection(sys.argv[2], embedding_function=None)
""",
}
_COLD_QUERY = """
result = collection.query(query_embeddings=np.load(sys.argv[3])[None, :], n_results=10, include=["documents", "metadatas", "distances"])
print("ANSWER", len(result["ids"][0]), flush=True)
"""


@dataclass
class Target:
    """An open client of one system, and what the later phases need to know about it."""

    library: str  # "ragstore" or "chromadb"
    client: Any
    close: Callable[[], None]
    store_dir: Path | None = None  # persistent rows: the directory to measure and cold-start from
    new_client: Callable[[], Any] | None = None  # HTTP rows: one more client, for the concurrent phase
    server: Server | None = None


def _chromadb_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _close_chromadb(client: Any) -> None:
    # chromadb 1.5.9 clients have no close(); stopping the shared systems releases the store.
    client.clear_system_cache()


@contextmanager
def open_target(system: str) -> Iterator[Target]:
    """A client of ``system`` (one of :data:`STORES`) on a temporary store that is removed afterwards."""
    library, mode = system.split("-")
    with tempfile.TemporaryDirectory(prefix=f"bench_{library}_", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        with ExitStack() as stack:
            # The server boots while this process imports the client library: two cores, two start-ups at once.
            server = stack.enter_context(running_server(library, root)) if mode == "http" else None
            yield _open(library, mode, root, server)


def _open(library: str, mode: str, root: Path, server: Server | None) -> Target:
    """One client of ``library`` in ``mode``: in memory, on ``root/store``, or of ``server`` (already booting)."""
    if library == "ragstore":
        import ragstore

        if mode == "ephemeral":
            client = ragstore.EphemeralClient()
            return Target(library, client, client.close)
        if mode == "persistent":
            client = ragstore.PersistentClient(str(root / "store"))
            return Target(library, client, client.close, store_dir=root / "store")
        assert server is not None
        port = server.port

        def new_client() -> Any:
            return ragstore.HttpClient(host="127.0.0.1", port=port)

        client = new_client()
        return Target(library, client, client.close, new_client=new_client, server=server)

    import chromadb

    if mode == "ephemeral":
        client = chromadb.EphemeralClient(settings=_chromadb_settings())
        return Target(library, client, lambda: _close_chromadb(client))
    if mode == "persistent":
        client = chromadb.PersistentClient(str(root / "store"), settings=_chromadb_settings())
        return Target(library, client, lambda: _close_chromadb(client), store_dir=root / "store")
    assert server is not None
    port = server.port

    def new_chromadb_client() -> Any:
        # Each chromadb HttpClient gets a system (and httpx session) of its own, as ragstore's does.
        return chromadb.HttpClient(host="127.0.0.1", port=port, settings=_chromadb_settings())

    client = new_chromadb_client()
    return Target(library, client, lambda: _close_chromadb(client), new_client=new_chromadb_client, server=server)


def _rows(result: Any) -> list[list[int]]:
    return [[int(i) for i in ids] for ids in result["ids"]]


def measure_store(target: Target, corpus: Corpus, full: bool, concurrent_seconds: float, spawns: int) -> dict[str, Any]:
    """Run the phases on a fresh collection of ``target``; ``full=False`` stops after the single queries (scaling.py)."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    collection = target.client.create_collection(name, embedding_function=None)
    ids, documents, metadatas, n = corpus.ids, corpus.documents, corpus.metadatas, len(corpus.vectors)
    laps = Laps()
    out: dict[str, Any] = {"laps": laps.seconds}

    started = time.perf_counter()
    for lo in range(0, n, ADD_BATCH):
        hi = lo + ADD_BATCH
        collection.add(ids=ids[lo:hi], embeddings=corpus.vectors[lo:hi], documents=documents[lo:hi], metadatas=metadatas[lo:hi])
    out["add_per_s"] = n / (time.perf_counter() - started)
    # The queries below run on the finished index (ingest_latency.py measures them during an ingest):
    # ragstore acknowledges an add before its graph holds it, chromadb's local modes and hnswlib do not.
    from _ingest import STATUS_POLL_S, indexing_probe  # here: _ingest imports this module

    # Polled as ingest_latency.py does: every 5 ms, the status calls alone (a count of the
    # collection's records each) took CPU the indexer needed, and the benchmark slowed what it timed.
    unindexed = indexing_probe(collection)
    while unindexed():
        time.sleep(STATUS_POLL_S)
    out["indexed_s"] = time.perf_counter() - started
    laps("add")

    def ask(query: np.ndarray, where: dict[str, Any] | None = None, on: Any = collection) -> list[int]:
        return _rows(on.query(query_embeddings=query[None, :], n_results=K, where=where, include=INCLUDE))[0]

    latencies, hits = timed_each(ask, corpus.queries)
    out.update(p50_ms=percentile_ms(latencies, 50), p99_ms=percentile_ms(latencies, 99), recall=recall_at_k(hits, corpus.truth, corpus))
    laps("query")
    if not full:
        target.close()
        return out

    out["batch_qps"] = batch_rate(
        lambda block: collection.query(query_embeddings=block, n_results=K, include=INCLUDE), corpus.queries, QUERY_BATCH, BATCH_AT_LEAST
    )
    laps("batch")
    for key, where, truth, mask in (
        ("f10", corpus.where10, corpus.f10_truth, corpus.mask10()),
        ("f05", corpus.where05, corpus.f05_truth, corpus.mask05()),
    ):
        assert truth is not None
        latencies, hits = timed_each(lambda query, where=where: ask(query, where), corpus.queries)
        out[f"{key}_p50_ms"], out[f"{key}_recall"] = percentile_ms(latencies, 50), recall_at_k(hits, truth, corpus, mask)
        laps(key)

    get_ids = [str(row) for row in corpus.get_rows.tolist()]
    latencies, got = timed_each(lambda id_: collection.get(ids=[id_], include=["documents", "metadatas"]), get_ids)
    if any(result["ids"] != [id_] for result, id_ in zip(got, get_ids, strict=True)):
        raise RuntimeError("get(ids=[id]) returned the wrong records")
    out["get_p50_ms"] = percentile_ms(latencies, 50)
    laps("get")

    if target.new_client is not None:
        new_client = target.new_client

        def session() -> tuple[Callable[[np.ndarray], Any], Callable[[], None]]:
            # Each thread gets its own client and its own collection handle, as 32 separate programs would.
            client = new_client()
            mine = client.get_collection(name, embedding_function=None)
            return (lambda query: ask(query, on=mine)), getattr(client, "close", lambda: None)

        out["conc_qps"], out["conc_p99_ms"] = concurrent_rate(session, corpus.queries, CONCURRENT_CLIENTS, concurrent_seconds)
        laps("concurrent")

    doomed = [str(row) for row in corpus.deleted.tolist()]
    started = time.perf_counter()
    for lo in range(0, len(doomed), DELETE_BATCH):
        collection.delete(ids=doomed[lo : lo + DELETE_BATCH])
    out["delete_per_s"] = len(doomed) / (time.perf_counter() - started)
    if collection.count() != n - len(doomed):
        raise RuntimeError(f"count() after deleting {len(doomed)} of {n} records is {collection.count()}")
    assert corpus.after_truth is not None
    latencies, hits = timed_each(ask, corpus.queries)
    out["del_p50_ms"], out["del_recall"] = percentile_ms(latencies, 50), recall_at_k(hits, corpus.after_truth, corpus, corpus.alive())
    laps("delete")

    target.close()
    laps("close")
    if target.store_dir is not None:
        out["disk_mb"] = disk_mb(target.store_dir)
        query_file = target.store_dir.parent / "query.npy"
        np.save(query_file, corpus.queries[0])
        code = _COLD_START[target.library] + _COLD_QUERY
        args = [str(target.store_dir), name, str(query_file)]
        out["start_s"] = float(np.median([cold_start_s(code, args, marker=f"ANSWER {K}") for _ in range(spawns)]))
        laps("start")
    if target.server is not None:
        out["server_rss_mb"] = target.server.peak_rss_mb()
    return out
