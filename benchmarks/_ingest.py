"""One system's long ingest with a reader querying beside it: the worker side of ``ingest_latency.py``.

The writer (this thread) adds the corpus in batches, durable, with documents and metadata; a
reader thread sends single queries (k=10, documents, metadatas and distances) at a fixed rate
from the moment the first batch is acknowledged until the collection reports everything indexed.
Every query is one sample: when it started (seconds since the first add), how long it took, how
many records were acknowledged when it started, and what it returned. Recall is scored after the
run (:func:`score`), against the exact answer over the records acknowledged when the query
started: a record acknowledged while the query ran counts as a hit if it is as near.

The reader runs at a fixed rate, not flat out, so every system serves the same query load and a
system with fast queries does not steal more CPU from its own ingest. A query that overruns its
slot delays the next one (no catch-up burst), and its whole wait is its latency.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from _corpus import Corpus, K, exact_topk, recall_at_k, squared_l2
from _measure import percentile_ms, timed_each
from _stores import INCLUDE, open_target

STATUS_POLL_S = 0.05  # how often the writer asks an index that catches up in the background whether it is done


@dataclass
class Samples:
    """The reader's queries: start (s since the first add), latency (s), records acknowledged at start, ids returned."""

    started: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)
    query: list[int] = field(default_factory=list)  # which of the corpus's queries it was


@dataclass
class System:
    """What the two threads need of a system: add a slice of the corpus, a query function per thread, an indexing probe."""

    add: Callable[[int, int], None]
    new_reader: Callable[[], tuple[Callable[[np.ndarray], list[int]], Callable[[], None]]]  # (ask, close) for one thread
    unindexed: Callable[[], int | None]  # records not yet in the vector index; None if the system cannot tell


def indexing_probe(collection: Any) -> Callable[[], int | None]:
    """``collection.get_indexing_status().num_unindexed_ops`` where the client has it, else a probe that answers ``None``.

    chromadb's client defines ``get_indexing_status()`` (its local mode raises ``NotImplementedError``,
    ``chroma run`` an error saying it is not implemented);
    ragstore answers it in every mode (its graph insertion runs after the write is acknowledged).

    Example:
        >>> indexing_probe(object())()
    """
    status = getattr(collection, "get_indexing_status", None)
    if status is None:
        return lambda: None
    try:
        status()
    except Exception as exc:  # chromadb local: NotImplementedError; `chroma run`: InternalError "Method scout_logs is not implemented"
        if isinstance(exc, NotImplementedError) or "not implemented" in str(exc).lower():
            return lambda: None
        raise

    def unindexed() -> int | None:
        answer = status()
        return int(answer["num_unindexed_ops"] if isinstance(answer, dict) else answer.num_unindexed_ops)

    return unindexed


@contextmanager
def open_system(name: str, corpus: Corpus) -> Iterator[System]:
    """``name`` (a ``_stores.STORES`` row or ``hnswlib``) ready to ingest ``corpus``, closed afterwards."""
    if name == "hnswlib":
        yield _hnswlib(corpus)
        return
    with open_target(name) as target:
        collection = target.client.create_collection(f"ingest_{uuid.uuid4().hex[:12]}", embedding_function=None)
        ids, documents, metadatas = corpus.ids, corpus.documents, corpus.metadatas

        def add(lo: int, hi: int) -> None:
            collection.add(ids=ids[lo:hi], embeddings=corpus.vectors[lo:hi], documents=documents[lo:hi], metadatas=metadatas[lo:hi])

        def new_reader() -> tuple[Callable[[np.ndarray], list[int]], Callable[[], None]]:
            # Over HTTP the reader is a client of its own, as a second program would be; in process it shares the client.
            own = target.new_client() if target.new_client is not None else None
            mine = (own or target.client).get_collection(collection.name, embedding_function=None)

            def ask(query: np.ndarray) -> list[int]:
                return [int(i) for i in mine.query(query_embeddings=query[None, :], n_results=K, include=INCLUDE)["ids"][0]]

            return ask, getattr(own, "close", lambda: None)

        try:
            yield System(add, new_reader, indexing_probe(collection))
        finally:
            target.close()


def _hnswlib(corpus: Corpus) -> System:
    """Raw ``hnswlib``: ``add_items`` from the writer, ``knn_query`` from the reader, no lock (hnswlib allows both at once)."""
    import hnswlib
    from _baselines import EF_CONSTRUCTION, EF_SEARCH, THREADS, M

    n, dim = corpus.vectors.shape
    index = hnswlib.Index(space="l2", dim=dim)
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION)
    index.set_ef(EF_SEARCH)

    def add(lo: int, hi: int) -> None:
        index.add_items(corpus.vectors[lo:hi], np.arange(lo, hi), num_threads=THREADS)

    def ask(query: np.ndarray) -> list[int]:
        return [int(i) for i in index.knn_query(query, k=K)[0][0]]

    return System(add, lambda: (ask, lambda: None), lambda: None)


def ingest(system: System, corpus: Corpus, batch: int, qps: float) -> dict[str, Any]:
    """Add ``corpus`` in batches of ``batch`` while a reader queries at ``qps``; timings and the reader's samples.

    Returns ``ingest_s`` (first add to the last add's return), ``indexed_s`` (until the system
    reports nothing unindexed, or ``ingest_s`` if it cannot tell), ``indexed_by``, the
    acknowledgement times ``commits`` ([seconds, records] per batch) and ``samples``.
    """
    n = len(corpus.vectors)
    acknowledged = [0]
    first_batch, reader_going, stop = threading.Event(), threading.Event(), threading.Event()
    samples = Samples()
    failure: list[BaseException] = []
    started = [0.0]

    def reader() -> None:
        try:
            ask, close = system.new_reader()
            first_batch.wait()
            period, due, i = 1.0 / qps, time.perf_counter(), 0
            while not stop.is_set():
                which = i % len(corpus.queries)
                seen = acknowledged[0]
                t0 = time.perf_counter()
                reader_going.set()
                found = ask(corpus.queries[which])
                t1 = time.perf_counter()
                samples.started.append(t0 - started[0])
                samples.latency.append(t1 - t0)
                samples.acknowledged.append(seen)
                samples.rows.append(found)
                samples.query.append(which)
                i += 1
                due = max(due + period, t1)  # a late query pushes the schedule back instead of bunching the next ones
                stop.wait(max(0.0, due - time.perf_counter()))
            close()
        except BaseException as exc:
            failure.append(exc)
            reader_going.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    commits = []
    started[0] = time.perf_counter()
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        system.add(lo, hi)
        acknowledged[0] = hi
        commits.append([time.perf_counter() - started[0], hi])
        if lo == 0:
            first_batch.set()
            reader_going.wait()  # at least one query overlaps the ingest, however small the corpus
        if failure:
            break
    ingest_s = time.perf_counter() - started[0]
    indexed_by = "last add"
    while not failure and (left := system.unindexed()) is not None:
        indexed_by = "indexing status"
        if left == 0:
            break
        time.sleep(STATUS_POLL_S)
    indexed_s = time.perf_counter() - started[0]
    stop.set()
    thread.join()
    if failure:
        raise RuntimeError(f"the reader failed: {failure[0]!r}") from failure[0]
    return {"ingest_s": ingest_s, "indexed_s": indexed_s, "indexed_by": indexed_by, "commits": commits, "samples": samples}


def prefix_kth(vectors: np.ndarray, queries: np.ndarray, batch: int) -> np.ndarray:
    """Squared distance of each query's ``K``-th nearest among the first ``batch``, ``2 batch``, ... records: ``(batches, queries)``.

    Built one batch at a time (each batch's exact top ``K`` merged into a running top ``K``), so it
    costs one pass over the vectors rather than one per prefix. ``inf`` while fewer than ``K`` exist.

    Example:
        >>> line = np.repeat(np.arange(20, dtype=np.float32)[:, None], 2, axis=1)  # (0, 0), (1, 1), ... (19, 19)
        >>> prefix_kth(line, line[[0, 19]], batch=10).tolist()  # from (19, 19) the 10th nearest is (0, 0), then (10, 10)
        [[162.0, 722.0], [162.0, 162.0]]
    """
    best = np.full((len(queries), K), np.inf)
    out = np.empty((-(-len(vectors) // batch), len(queries)))
    for b, lo in enumerate(range(0, len(vectors), batch)):
        block = vectors[lo : lo + batch]
        top = exact_topk(block, queries, k=min(K, len(block)))
        near = np.array([squared_l2(block[rows], query) for rows, query in zip(top.rows, queries, strict=True)])
        best = np.sort(np.concatenate([best, near], axis=1), axis=1)[:, :K]
        out[b] = best[:, -1]
    return out


def score(samples: Samples, corpus: Corpus, kth: np.ndarray, batch: int) -> list[float]:
    """Each sample's recall@10 against the exact answer over the records acknowledged when it started (ties count)."""
    out = []
    for which, seen, rows in zip(samples.query, samples.acknowledged, samples.rows, strict=True):
        bound = kth[(seen - 1) // batch, which]  # the prefix that ends with the last acknowledged batch (only the last can be short)
        query = corpus.queries[which]
        found = np.asarray(rows, dtype=np.int64)
        good = int((squared_l2(corpus.vectors[found], query) <= bound * (1 + 1e-6) + 1e-9).sum()) if len(found) else 0
        expected = min(K, seen)
        out.append(min(good, expected) / expected)
    return out


def open_loop(latencies: list[float], period: float) -> list[float]:
    """The latencies a steady arrival every ``period`` would have seen: each measured one, plus the arrivals its stall held back.

    The reader waits for each answer, so a query that stalls for 2 s at 50 queries/s hides the
    100 queries a steady load would have sent meanwhile (coordinated omission). This adds them
    back, each waiting out the rest of the stall: HdrHistogram's correction for an expected interval.

    Example:
        >>> open_loop([5.0, 50.0], 20.0)
        [5.0, 50.0, 30.0, 10.0]
    """
    out = []
    for latency in latencies:
        out.append(latency)
        held = latency - period
        while held > 0:
            out.append(held)
            held -= period
    return out


def _columns(samples: Samples, recalls: list[float]) -> dict[str, list[Any]]:
    """The samples as columns for the JSON file (the returned ids are left out: recall says what they were worth)."""
    return {
        "t_s": samples.started,
        "latency_ms": [lat * 1000 for lat in samples.latency],
        "acknowledged": samples.acknowledged,
        "recall": [round(r, 2) for r in recalls],
    }


def measure(name: str, corpus: Corpus, batch: int, qps: float, kth: np.ndarray) -> dict[str, Any]:
    """Ingest ``corpus`` into a fresh ``name`` with the reader going, then ask every query once more on the finished collection.

    The result holds the table's numbers (add rate, indexed at, latency percentiles and recall
    during and after), the acknowledgement times and the samples.
    """
    with open_system(name, corpus) as system:
        run = ingest(system, corpus, batch, qps)
        ask, close = system.new_reader()
        after, hits = timed_each(ask, corpus.queries)
        close()
    samples: Samples = run.pop("samples")
    recalls = score(samples, corpus, kth, batch)
    during = [i for i, t in enumerate(samples.started) if t < run["indexed_s"]]
    out = {**run, "add_per_s": len(corpus.vectors) / run["ingest_s"], "during_queries": float(len(during))}
    for key, latencies in (("during", [samples.latency[i] for i in during]), ("after", after)):
        for pct in (50, 95, 99):
            out[f"{key}_p{pct}_ms"] = percentile_ms(latencies, pct) if latencies else None
    out["during_max_ms"] = max(samples.latency[i] for i in during) * 1000 if during else None
    out["during_recall"] = float(np.mean([recalls[i] for i in during])) if during else None
    out["after_recall"] = recall_at_k(hits, corpus.truth, corpus)
    out["samples"] = _columns(samples, recalls)
    return out
