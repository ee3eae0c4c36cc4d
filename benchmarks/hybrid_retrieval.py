"""Retrieval quality of dense, BM25 and fused (hybrid) search on the four judged collections (issue 16).

One table, a row per collection, split and method, with nDCG@10, recall@100 and query time:

- **dense**: ragstore's public API as it is today: a cosine collection holding each corpus's
  cached all-MiniLM-L6-v2 vectors (see ``_judged.py``), ``collection.query(query_embeddings=...)``;
- **bm25s**: the raw library bm25s (Lucene BM25, k1=1.5, b=0.75) with PyStemmer's English
  Snowball stemmer and bm25s's English stop words: the reference a ragstore BM25 must reach;
  and bm25s over ``ragstore.bm25_text``'s tokens (chroma's tokenizer) with chroma's k1=1.2,
  b=0.75: what ragstore's engine-owned BM25, which must hash those tokens, should reproduce;
- **RRF / DBSF / min-max**: the dense and bm25s lists fused in this script (``_fusion.py``), top
  200 of each side (``_fusion.CANDIDATES``): the references for ragstore's hybrid;
- **ragstore bm25 / ragstore hybrid**: the same through ``collection.search`` with chromadb's
  Search API, on a collection whose schema has a BM25 sparse index on the documents (key
  ``bm25``). They run only where ``ragstore.Search`` and ``Collection.search`` exist; elsewhere
  they print ``-`` and the script says why in one line.

``--tune`` chooses each fusion's parameters (RRF k, dense:bm25 weights, candidates per side) on
the SciFact **train** queries only, prints the grid, then reports two choices per fusion on SciFact
test and the other three collections, which were never tuned on: the grid's argmax, and the
one-standard-error choice (the setting nearest the literature's default among those within one
paired standard error of the best; see :func:`tune`).

Quality is deterministic, so each row is one run. Query times are wall time of one batched call
over all the split's queries divided by their number (dense and bm25s), the fusion alone for the
script's fusions (add the two sides for a full hybrid query), and per ``search`` call for ragstore's
rows; they are indicative only (two shared cores). Embedding time is excluded everywhere: the
query vectors come from the cache.

Usage::

    python benchmarks/hybrid_retrieval.py [--collections scifact,nfcorpus,vaswani,cranfield] [--tune]

``--queries Q`` keeps the first Q queries of each split (a smoke test; the scores then mean little).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
from _embedders import cpu_name, load_average
from _fusion import CANDIDATES, DEFAULT_SETTINGS, OUTPUT, RRF_K, Ranked, Setting
from _judged import COLLECTIONS, EMBEDDER_LABEL, DenseVectors, JudgedCollection, Quality, dense_vectors, load, ndcg_at, quality
from _retrievers import SplitRuns, split_runs, timer
from _search_side import SearchSide, search_api_missing

import ragstore

PUBLISHED = (
    "Published SciFact test nDCG@10: BM25 0.665 (BEIR), bm25s 0.686 here, dense all-MiniLM-L6-v2 0.645; "
    "Qdrant's hybrid article (200 candidates): dense 0.624, BM25 0.689, RRF 0.718, DBSF 0.732. "
    "NFCorpus: BM25 0.325 (BEIR, 3,633 docs), MiniLM 0.316."
)


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    collection: str
    split: str
    method: str
    quality: Quality | None  # None: not run (ragstore's Search missing)
    ms_per_query: float | None


def fused_quality(collection: JudgedCollection, split: str, runs: SplitRuns, setting: Setting) -> tuple[Quality, float]:
    """Quality of ``setting``'s fusion over a split, and the fusion's own milliseconds per query."""
    doc_ids = collection.doc_ids
    with timer() as elapsed:
        fused = {q: [doc_ids[i] for i in setting.fuse(runs.dense[q], runs.bm25[q])] for q in runs.query_ids}
    return quality(fused, _qrels(collection, split, runs)), elapsed[0] * 1000 / max(len(runs.query_ids), 1)


def _qrels(collection: JudgedCollection, split: str, runs: SplitRuns) -> dict[str, dict[str, int]]:
    return {q: collection.qrels[split][q] for q in runs.query_ids}


def side_quality(collection: JudgedCollection, split: str, runs: SplitRuns, side: dict[str, Ranked]) -> Quality:
    """Quality of one side alone (its top :data:`OUTPUT`)."""
    doc_ids = collection.doc_ids
    ranked = {q: [doc_ids[i] for i in side[q].indices[:OUTPUT].tolist()] for q in runs.query_ids}
    return quality(ranked, _qrels(collection, split, runs))


# -- ragstore's own Search API (rows that run once it exists) ----------------------------------


ONE_LINE_HYBRID = 'ragstore hybrid, query(mode="hybrid") (the engine\'s DBSF, 200 a side)'


def ragstore_rows(
    collection: JudgedCollection, vectors: DenseVectors, runs: dict[str, SplitRuns], settings: Sequence[Setting]
) -> list[Row]:
    """The ragstore rows of every split (``-`` when the Search API is missing).

    ``ragstore dense`` / ``ragstore bm25``: one ``Knn`` alone; ``ragstore hybrid``: chroma's ``Rrf``
    through ``search`` for each RRF setting; for the score fusions, which chroma's rank expressions
    cannot state (they need each list's mean and spread), ragstore's two lists fused in this script.
    For the first RRF setting it also prints how often the engine's ``Rrf`` top 10 equals the
    script's RRF over the same collection's two lists (it should, exact ties aside).
    """
    rrf_settings = [s for s in settings if s.method == "rrf"]
    score_settings = [s for s in settings if s.method != "rrf"]
    methods = ["ragstore dense (Search, Knn #embedding)", "ragstore bm25 (Search, Knn key=bm25)"]
    methods += [f"ragstore hybrid (Search, {s.label})" for s in rrf_settings]
    methods += [f"ragstore dense + bm25, {s.label} (fused in script)" for s in score_settings]
    methods += [ONE_LINE_HYBRID]
    if search_api_missing():
        return [Row(collection.name, split, method, None, None) for split in runs for method in methods]
    side = SearchSide(collection, vectors)
    print(f"{collection.name}: {len(collection.documents):,} documents into the hybrid collection in {side.ingest_seconds:.1f} s")
    doc_ids, index = collection.doc_ids, {doc_id: i for i, doc_id in enumerate(collection.doc_ids)}
    rows = []
    try:
        for split, split_run in runs.items():
            qrels, query_ids = _qrels(collection, split, split_run), split_run.query_ids
            texts = [collection.queries[split][q] for q in query_ids]
            query_vectors = dict(zip(*vectors.for_split(collection, split), strict=True))
            # scores ascend (lower is better): a cosine Knn yields the distance, a sparse Knn the negated BM25
            sides = []
            for method, searches in zip(
                methods[:2], ([side.dense(query_vectors[q]) for q in query_ids], [side.bm25(t) for t in texts]), strict=True
            ):
                ids, scores, ms = side.run(searches)
                rows.append(
                    Row(collection.name, split, method, quality({q: r[:OUTPUT] for q, r in zip(query_ids, ids, strict=True)}, qrels), ms)
                )
                sides.append(
                    {q: Ranked.of([index[i] for i in r], [-x for x in sc]) for q, r, sc in zip(query_ids, ids, scores, strict=True)}
                )
            dense, bm25 = sides  # this collection's own lists: the engine's fusion must equal the script's over them
            for setting in rrf_settings:
                fused, _, ms = side.run([side.hybrid(t, query_vectors[q], setting) for q, t in zip(query_ids, texts, strict=True)])
                rows.append(
                    Row(
                        collection.name,
                        split,
                        f"ragstore hybrid (Search, {setting.label})",
                        quality(dict(zip(query_ids, fused, strict=True)), qrels),
                        ms,
                    )
                )
                if setting is rrf_settings[0]:
                    script = [[doc_ids[i] for i in setting.fuse(dense[q], bm25[q])][:10] for q in query_ids]
                    same = sum(a[:10] == b for a, b in zip(fused, script, strict=True))
                    print(
                        f"{collection.name} {split}: engine Rrf top 10 = script RRF of ragstore's lists in {same}/{len(query_ids)} queries"
                    )
            for setting in score_settings:
                with timer() as elapsed:
                    fused_ids = {q: [doc_ids[i] for i in setting.fuse(dense[q], bm25[q])] for q in query_ids}
                label = f"ragstore dense + bm25, {setting.label} (fused in script)"
                rows.append(Row(collection.name, split, label, quality(fused_ids, qrels), elapsed[0] * 1000 / max(len(query_ids), 1)))
            one_line, ms = side.hybrid_query(texts, [query_vectors[q] for q in query_ids], OUTPUT)
            rows.append(Row(collection.name, split, ONE_LINE_HYBRID, quality(dict(zip(query_ids, one_line, strict=True)), qrels), ms))
    finally:
        side.close()
    return rows


# -- tuning on SciFact train ----------------------------------------------------------------------


GRID_K = (5, 10, 20, 40, 60, 100)
GRID_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GRID_CANDIDATES = (50, 100, 200)


def _per_query_ndcg(collection: JudgedCollection, split: str, runs: SplitRuns, setting: Setting) -> np.ndarray:
    doc_ids, qrels = collection.doc_ids, collection.qrels[split]
    return np.array([ndcg_at([doc_ids[i] for i in setting.fuse(runs.dense[q], runs.bm25[q])], qrels[q], 10) for q in runs.query_ids])


def _distance_from_default(setting: Setting) -> tuple[float, int, float]:
    """How far a setting strays from the literature's (equal weights, 200 candidates, k=60), for the one-standard-error rule."""
    # candidates before k: fewer than 100 per side cannot fill the 100 answers recall@100 reads
    return (abs(setting.dense_weight - 0.5), abs(setting.candidates - CANDIDATES), abs(math.log(setting.k / RRF_K)))


def tune(collection: JudgedCollection, runs: SplitRuns, split: str) -> list[Setting]:
    """Each fusion's setting chosen on ``split`` (SciFact train), printing every grid point; returns the argmax and the 1-SE choice.

    The choice follows the one-standard-error rule (Breiman et al.): among the settings whose mean
    nDCG@10 is within one standard error of the best (the SE of the per-query paired difference),
    take the one closest to the literature's default; with a few hundred queries, differences
    smaller than that are noise, and the argmax of a 100-point grid is an optimistic pick.
    """
    chosen: list[Setting] = []
    print(f"\nTuning on {collection.name} {split} ({len(runs.query_ids)} queries): nDCG@10; columns: dense weight (bm25: 1 - it)")
    print("* = best on this split; + = within one standard error of it (paired, per query)\n")
    for method, ks in (("rrf", GRID_K), ("dbsf", (RRF_K,)), ("minmax", (RRF_K,))):
        grid = [Setting(method, w, k, c) for c, k, w in itertools.product(GRID_CANDIDATES, ks, GRID_WEIGHTS)]
        # grid order: fewer candidates and smaller k first, so an exact tie keeps the cheaper setting
        per_query = {setting: _per_query_ndcg(collection, split, runs, setting) for setting in grid}
        best = max(grid, key=lambda setting: float(per_query[setting].mean()))
        within = set()
        for setting in grid:
            diff = per_query[best] - per_query[setting]
            if diff.mean() <= diff.std(ddof=1) / math.sqrt(len(diff)):
                within.add(setting)
        pick = min(within, key=_distance_from_default)
        print(f"| {method} | " + " | ".join(f"w={w:g}" for w in GRID_WEIGHTS) + " |")
        print("|---|" + "--:|" * len(GRID_WEIGHTS))
        for candidates, k in itertools.product(GRID_CANDIDATES, ks):
            cells = []
            for weight in GRID_WEIGHTS:
                setting = Setting(method, weight, k, candidates)
                mark = "*" if setting == best else "+" if setting in within else ""
                cells.append(f"{per_query[setting].mean():.4f}{mark}")
            where = f"{candidates} cand." + (f", k={k}" if method == "rrf" else "")
            print(f"| {where} | " + " | ".join(cells) + " |")
        print(f"\n{method}: best {best.label} ({per_query[best].mean():.4f}); one-SE choice {pick.label} ({per_query[pick].mean():.4f})\n")
        chosen += [best, pick]
    return chosen


def machine() -> str:
    """One line: date, CPU, cores, Python, the libraries measured, where ragstore comes from, the load average."""
    return (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"bm25s {version('bm25s')}, PyStemmer {version('PyStemmer')}, onnxruntime {version('onnxruntime')}; "
        f"ragstore from {Path(ragstore.__file__).parent}; load average {load_average()}"
    )


# -- the table ------------------------------------------------------------------------------------


def collection_rows(
    collection: JudgedCollection, vectors: DenseVectors, runs: dict[str, SplitRuns], settings: Sequence[Setting]
) -> list[Row]:
    """Every row of one collection: dense, bm25s, the script's fusions, then ragstore's Search rows."""
    rows = []
    for split, split_run in runs.items():
        rows.append(
            Row(
                collection.name,
                split,
                "dense: ragstore collection.query (cosine)",
                side_quality(collection, split, split_run, split_run.dense),
                split_run.dense_ms,
            )
        )
        rows.append(
            Row(
                collection.name,
                split,
                "bm25s (stemmed, stop words)",
                side_quality(collection, split, split_run, split_run.bm25),
                split_run.bm25_ms,
            )
        )
        if split_run.bm25_ragstore_tokens is not None:
            label = "bm25s over ragstore.bm25_text tokens, k1=1.2 b=0.75 (ragstore bm25's target)"
            tokens_quality = side_quality(collection, split, split_run, split_run.bm25_ragstore_tokens)
            rows.append(Row(collection.name, split, label, tokens_quality, split_run.bm25_ragstore_tokens_ms))
        for setting in settings:
            fused, ms = fused_quality(collection, split, split_run, setting)
            rows.append(Row(collection.name, split, f"{setting.label} (script; fusion only)", fused, ms))
    by_split: dict[str, list[Row]] = {split: [r for r in rows if r.split == split] for split in runs}
    for row in ragstore_rows(collection, vectors, runs, settings):
        by_split[row.split].append(row)
    return [row for split in runs for row in by_split[split]]


def print_table(rows: Sequence[Row]) -> None:
    """The markdown table."""
    print("| collection | split | queries | method | nDCG@10 | recall@100 | ms/query |")
    print("|---|---|--:|---|--:|--:|--:|")
    for row in rows:
        q = row.quality
        cells = (f"{q.queries}", f"{q.ndcg_at_10:.4f}", f"{q.recall_at_100:.4f}") if q else ("-", "-", "-")
        ms = f"{row.ms_per_query:.2f}" if row.ms_per_query is not None else "-"
        print(f"| {row.collection} | {row.split} | {cells[0]} | {row.method} | {cells[1]} | {cells[2]} | {ms} |")


def main(argv: Sequence[str] | None = None) -> None:
    """Run every collection, print the tuning grid if asked, then the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--collections", default=",".join(COLLECTIONS), help=f"a subset of {','.join(COLLECTIONS)} (or nfcorpus-all, ...)")
    parser.add_argument("--tune", action="store_true", help="choose fusion parameters on SciFact train, then report them everywhere")
    parser.add_argument("--queries", type=int, default=None, help="only the first Q queries of each split (smoke tests)")
    args = parser.parse_args(argv)
    names = args.collections.split(",")
    if args.tune and "scifact" not in names:
        names.insert(0, "scifact")

    print("Hybrid retrieval quality: dense (ragstore), BM25 (bm25s), fusions, ragstore's Search API")
    print(f"Machine: {machine()}")
    print(f"Dense vectors: {EMBEDDER_LABEL}, cached; candidates per side {CANDIDATES}, {OUTPUT} ranked per query")
    if why := search_api_missing():
        print(why)
    loaded = {name: load(name) for name in names}
    vectors = {name: dense_vectors(c) for name, c in loaded.items()}
    runs = {name: split_runs(c, vectors[name], args.queries) for name, c in loaded.items()}

    settings = list(DEFAULT_SETTINGS)
    if args.tune:
        tuned = tune(loaded["scifact"], runs["scifact"]["train"], "train")
        settings = list(dict.fromkeys(settings + tuned))  # a choice equal to a default (or to the other choice) prints once
    rows = [row for name, c in loaded.items() for row in collection_rows(c, vectors[name], runs[name], settings)]
    print()
    print(PUBLISHED)
    print()
    print_table(rows)
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
