"""The three raw data sets a benchmark run can use: ``clustered`` (synthetic), ``sift`` (SIFT-small) and ``scifact`` (MiniLM).

Each loader returns a :class:`Source`: vectors, queries, one document per vector, a small
integer ``cluster`` per vector (metadata the filtered queries select on) and, where the data set
ships one, its own ground truth. Everything derived from a source (exact answers, delete sets)
lives in ``_corpus.py``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
SHARED_DATA = BENCH_DIR.parents[1] / "shared" / "data"
SIFT_DIR = SHARED_DATA / "ann" / "siftsmall"
SCIFACT_DIR = SHARED_DATA / "retrieval" / "scifact"
SCIFACT_CACHE = CACHE_DIR / "scifact-minilm.npz"

DATASETS = ("clustered", "sift", "scifact")
CLUSTERS = 50  # the 10% filter keeps clusters 0-4, so every data set gets values 0-49
SEED = 1234


@dataclass
class Source:
    """One data set as loaded: what every system indexes and asks, plus a shipped ground truth if any."""

    name: str
    description: str
    vectors: np.ndarray  # (n, dim) float32
    queries: np.ndarray  # (q, dim) float32
    documents: list[str]
    cluster: np.ndarray  # (n,) int64 in [0, CLUSTERS)
    truth: np.ndarray | None = None  # (q, >=10) row indices of the true nearest neighbours, if the data set ships them


def clustered(n: int, q: int, dim: int = 384, seed: int = SEED) -> Source:
    """``n`` vectors in 50 Gaussian clusters and ``q`` queries near random data points.

    The draws happen in the same order as the first version of bench.py, so 384-dim runs keep
    their data (and their numbers stay comparable).
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (CLUSTERS, dim)).astype(np.float32)
    cluster = rng.integers(0, CLUSTERS, n)
    vectors = (centers[cluster] + rng.normal(0.0, 0.35, (n, dim))).astype(np.float32)
    anchors = rng.integers(0, n, q)
    queries = (vectors[anchors] + rng.normal(0.0, 0.2, (q, dim))).astype(np.float32)
    return Source(
        name="clustered",
        description=f"{n:,} x {dim} clustered vectors (50 Gaussian clusters, seed {seed}), {q:,} queries near data points",
        vectors=vectors,
        queries=queries,
        documents=[f"document {i} about topic {c}" for i, c in enumerate(cluster.tolist())],
        cluster=cluster.astype(np.int64),
    )


def read_vecs(path: Path, dtype: str) -> np.ndarray:
    """A texmex ``.fvecs``/``.ivecs`` file: per vector a little-endian int32 dimension, then the values."""
    raw = np.fromfile(path, dtype="<i4")
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise ValueError(f"{path}: vectors of different dimensions")
    return rows[:, 1:].copy().view(dtype)


def synthetic_cluster(n: int, seed: int = SEED) -> np.ndarray:
    """Uniform cluster labels 0-49 for data sets without their own (so the filtered queries have something to select)."""
    return np.random.default_rng(seed + 1).integers(0, CLUSTERS, n).astype(np.int64)


def sift(n: int | None, q: int | None) -> Source:
    """SIFT-small (10,000 x 128 base, 100 queries, L2). Its ground truth is kept only when the whole base set is used."""
    base = read_vecs(SIFT_DIR / "siftsmall_base.fvecs", "<f4").astype(np.float32)
    queries = read_vecs(SIFT_DIR / "siftsmall_query.fvecs", "<f4").astype(np.float32)
    truth = read_vecs(SIFT_DIR / "siftsmall_groundtruth.ivecs", "<i4").astype(np.int64)
    full = n is None or n >= len(base)
    base = base if full else base[:n]
    q = len(queries) if q is None else min(q, len(queries))
    return Source(
        name="sift",
        description=f"SIFT-small: {len(base):,} x 128 SIFT descriptors, {q} queries (texmex), synthetic cluster metadata",
        vectors=base,
        queries=queries[:q],
        documents=[f"sift descriptor {i}" for i in range(len(base))],
        cluster=synthetic_cluster(len(base)),
        truth=truth[:q] if full else None,
    )


def _jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def scifact_texts() -> tuple[list[str], list[str], list[str]]:
    """SciFact document ids, document texts (``title + " " + text``, as BEIR) and the test query texts, in file order."""
    corpus = _jsonl(SCIFACT_DIR / "corpus.jsonl")
    lines = (SCIFACT_DIR / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    test_ids = {line.split("\t")[0] for line in lines if line.strip()}
    queries = [row["text"] for row in _jsonl(SCIFACT_DIR / "queries.jsonl") if row["_id"] in test_ids]
    return [row["_id"] for row in corpus], [f"{row['title']} {row['text']}" for row in corpus], queries


def scifact_embeddings(doc_ids: list[str], documents: list[str], queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM vectors of the SciFact abstracts and test queries, from the cache or computed once (about 70 s) and cached."""
    if SCIFACT_CACHE.exists():
        cached = np.load(SCIFACT_CACHE)
        if cached["doc_ids"].tolist() == doc_ids and len(cached["queries"]) == len(queries):
            return cached["vectors"], cached["queries"]
        print(f"{SCIFACT_CACHE} does not match the corpus; embedding again", file=sys.stderr)
    from ragstore.embeddings import DefaultEmbeddingFunction

    ef = DefaultEmbeddingFunction()
    print(f"embedding {len(documents):,} SciFact abstracts with all-MiniLM-L6-v2 (once; about 70 s)...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    vectors = np.asarray(ef(documents), dtype=np.float32)
    query_vectors = np.asarray(ef.embed_query(queries), dtype=np.float32)
    print(f"embedded in {time.perf_counter() - started:.0f} s; cached in {SCIFACT_CACHE}", file=sys.stderr)
    CACHE_DIR.mkdir(exist_ok=True)
    tmp = SCIFACT_CACHE.with_suffix(".tmp.npz")
    np.savez(tmp, doc_ids=np.array(doc_ids), vectors=vectors, queries=query_vectors)
    tmp.replace(SCIFACT_CACHE)  # a run killed mid-write leaves no half cache behind
    return vectors, query_vectors


def scifact(n: int | None, q: int | None) -> Source:
    """BEIR SciFact: 5,183 abstracts and the 300 test queries as all-MiniLM-L6-v2 vectors (unit length, so L2 ranks like cosine)."""
    doc_ids, documents, queries = scifact_texts()
    vectors, query_vectors = scifact_embeddings(doc_ids, documents, queries)
    n = len(documents) if n is None else min(n, len(documents))
    q = len(queries) if q is None else min(q, len(queries))
    return Source(
        name="scifact",
        description=f"BEIR SciFact: {n:,} abstracts and {q} test queries as all-MiniLM-L6-v2 vectors (384-dim), synthetic cluster metadata",
        vectors=vectors[:n],
        queries=query_vectors[:q],
        documents=documents[:n],
        cluster=synthetic_cluster(n),
    )


def load_source(dataset: str, n: int | None, q: int | None, dim: int = 384) -> Source:
    """The named data set; ``n``/``q`` cut it (``None`` = its natural size: 100,000/1,000 for ``clustered``)."""
    if dataset == "clustered":
        return clustered(n or 100_000, q or 1_000, dim)
    if dataset == "sift":
        return sift(n, q)
    if dataset == "scifact":
        return scifact(n, q)
    raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")


if __name__ == "__main__":
    # `python benchmarks/_datasets.py scifact` fills the embedding cache ahead of a run.
    for name in sys.argv[1:] or ["scifact"]:
        source = load_source(name, None, None)
        print(f"{source.name}: {source.vectors.shape} vectors, {source.queries.shape} queries; {source.description}")
