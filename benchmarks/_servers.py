"""Shared pieces of ``bench.py``: the corpus, result records, and the HTTP servers the HTTP rows talk to."""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIM = 384
K = 10
CLUSTERS = 50
SEED = 1234
FILTER_CLUSTERS = 5  # the filtered query keeps clusters 0-4, about 10% of the records
WHERE = {"cluster": {"$lt": FILTER_CLUSTERS}}


@dataclass
class Data:
    """The benchmark corpus, the queries, and the exact top-``K`` row indices per query (unfiltered and filtered)."""

    vectors: np.ndarray
    cluster: np.ndarray
    ids: list[str]
    documents: list[str]
    metadatas: list[dict[str, int]]
    queries: np.ndarray
    truth: list[set[int]]
    filtered_truth: list[set[int]]
    get_ids: list[str]  # one id per get-by-id call


@dataclass
class Run:
    """One system's measurements from one repeat; ``None`` where a metric does not apply."""

    add_per_s: float
    p50_ms: float
    p99_ms: float
    recall: float
    fp50_ms: float | None = None
    frecall: float | None = None
    get_p50_ms: float | None = None


@dataclass
class Row:
    """One line of the table: a system and its runs over all repeats."""

    name: str
    baseline: str  # the row whose values the "vs chromadb" column divides by
    runs: list[Run]

    def median(self, field: str) -> float | None:
        values = [getattr(r, field) for r in self.runs]
        return None if None in values else statistics.median(values)

    def cell(self, field: str, fmt: str) -> str:
        values = [getattr(r, field) for r in self.runs]
        if None in values:
            return "-"
        return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Row indices of the ``k`` nearest vectors (squared L2) for each query, nearest first."""
    norms = np.einsum("ij,ij->i", vectors, vectors)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        q = queries[start : start + 256]
        d = norms[None, :] - 2.0 * (q @ vectors.T)
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start : start + 256] = np.take_along_axis(part, order, axis=1)
    return out


def make_data(n: int, q: int, seed: int = SEED) -> Data:
    """``n`` vectors in ``CLUSTERS`` Gaussian clusters, and ``q`` queries near random data points."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (CLUSTERS, DIM)).astype(np.float32)
    cluster = rng.integers(0, CLUSTERS, n)
    vectors = (centers[cluster] + rng.normal(0.0, 0.35, (n, DIM))).astype(np.float32)
    anchors = rng.integers(0, n, q)
    queries = (vectors[anchors] + rng.normal(0.0, 0.2, (q, DIM))).astype(np.float32)
    truth = [set(row.tolist()) for row in exact_topk(vectors, queries)]
    subset = np.flatnonzero(cluster < FILTER_CLUSTERS)
    filtered_truth = [set(subset[row].tolist()) for row in exact_topk(vectors[subset], queries)]
    return Data(
        vectors=vectors,
        cluster=cluster,
        ids=[str(i) for i in range(n)],
        documents=[f"document {i} about topic {c}" for i, c in enumerate(cluster.tolist())],
        metadatas=[{"cluster": c, "i": i} for i, c in enumerate(cluster.tolist())],
        queries=queries,
        truth=truth,
        filtered_truth=filtered_truth,
        get_ids=[str(i) for i in rng.integers(0, n, q).tolist()],
    )


def percentile_ms(latencies: list[float], pct: float) -> float:
    return float(np.percentile(np.array(latencies) * 1000.0, pct))


def recall_at_k(hits: list[set[int]], truth: list[set[int]]) -> float:
    return float(np.mean([len(h & t) / K for h, t in zip(hits, truth, strict=True)]))


# --- HTTP servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], int | None], what: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        port = ready()
        if port is not None:
            return port
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s")


def _start_ragstore(path: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``python -m ragstore run --port 0``; the port comes from its start line ``... at http://127.0.0.1:PORT ...``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ragstore", "run", "--path", path, "--port", "0"], stdout=out, stderr=subprocess.STDOUT
        )

    def ready() -> int | None:
        match = re.search(r"at http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        return int(match.group(1)) if match else None

    return proc, _wait(proc, ready, "ragstore server")


def _start_chroma(path: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``chroma run`` on a free port, ready once ``/api/v2/heartbeat`` answers."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(chroma), "run", "--path", path, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)

    def ready() -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as response:
                return port if response.status == 200 else None
        except OSError:
            return None

    return proc, _wait(proc, ready, "chroma server")


@contextmanager
def http_servers() -> Iterator[dict[str, int]]:
    """Start a ragstore and a chroma server on temporary directories; yield their ports; SIGTERM both at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench_http_", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        try:
            ports = {}
            for key, start in (("ragstore", _start_ragstore), ("chromadb", _start_chroma)):
                (root / key).mkdir()
                proc, ports[key] = start(str(root / key), root / f"{key}.log")
                procs.append(proc)
            yield ports
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
