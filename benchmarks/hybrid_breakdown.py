"""Where BM25 upkeep, a hybrid query's and a Search's time go, stage by stage, on Gutenberg chunks.

``hybrid_speed.py`` measures what each path costs; this script says why. It wraps the stages of
the add, query and Search paths with wall-clock timers (``_stage_timer.StageTimer(own=True)``:
each stage's own time, without the wrapped stages it calls), adds the data of
``hybrid_speed.load_data`` to a persistent collection without and one with a BM25 index (the add table: microseconds per record),
runs each kind of query over the queries on the BM25 collection (the query table: a row per
stage, a column per kind, microseconds per query), runs the Search Rrf queries again under
cProfile and lists the functions with the most own time, and times what an HTTP request adds
around a Search (its JSON body written and parsed back into a ``SearchRequest``).

Kinds: ``query`` dense (k=10; and k=200 with distances only, the hybrid's dense depth),
``query(mode="hybrid")`` (k=10), and ``collection.search`` with
a dense ``Knn``, a BM25 ``Knn`` and ``Rrf`` of both (candidates 200, limit 10, select document,
score and metadata), as in ``hybrid_speed.py``.

``--mode ephemeral`` adds to an in-memory store instead; ``--adds-only`` stops after the add table
(what the BM25 upkeep work needs, ~1 minute at 100,000). ``--upkeep-rounds N`` only measures the
BM25 upkeep, N times, with the two collections' adds interleaved batch by batch (robust to a
machine whose load changes; see :func:`interleaved_upkeep`).

Usage:
    .venv/bin/python benchmarks/hybrid_breakdown.py [--n 100000] [--queries 200] [--mode persistent|ephemeral] [--adds-only]
    .venv/bin/python benchmarks/hybrid_breakdown.py --upkeep-rounds 3 [--mode ephemeral]

Example:
    .venv/bin/python benchmarks/hybrid_breakdown.py --n 5000 --queries 50   # a quick look, about 15 s
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _stage_timer import StageTimer
from hybrid_speed import ADD_BATCH, WARMUP, Data, add_data, bm25_schema, load_data, ragstore_kinds, search_kinds

# (label, stage): each row is the stage's own time, without the wrapped stages it calls (they have rows of their own).
ADD_STAGES = [
    ("client: Collection.add, the rest (validation, WriteRequest)", "client add"),
    ("engine: LocalAPI.write, the rest (transaction, commit, catalog)", "engine add"),
    ("engine: validation (_checked)", "validation"),
    ("engine: SQLite rows (records.write_records)", "SQLite rows"),
    ("engine: write_sparse, the rest (source texts gathered, values encoded)", "sparse upkeep"),
    ("engine: tokenising documents (Bm25Tokenizer.term_counts_batch)", "tokenize"),
    ("engine: sparse_terms rows (write_terms: BLOBs, INSERT)", "write_terms"),
    ("engine: hand-off to the background indexer (a writer waits while too much is unindexed)", "index hand-off"),
    ("indexer thread, beside the rows above: hnswlib add_items", "hnswlib add"),
    ("indexer thread, beside the rows above: index file saves", "index save"),
]
QUERY_STAGES = [
    ("client: Collection.query / .search, the rest (QueryRequest, result objects)", "client"),
    ("client: SearchRequest built (each Search to_dict, checks)", "request"),
    ("client: Search.from_dict (strict parsing, a Knn vector float by float)", "from_dict"),
    ("client: text Knn embedded (chroma's BM25 function), the rest", "embed"),
    ("client or engine: tokenising query text (Bm25Tokenizer.term_counts)", "tokenize"),
    ("engine: LocalAPI.query / .search, the rest (catalog row, snapshot, SearchResult)", "engine"),
    ("engine: _ensure_text_index", "text index"),
    ("engine: compile_where", "compile_where"),
    ("engine: run_search / text_query, the rest (plan, probes, exclusions, slicing)", "executor"),
    ("engine: dense probe (reads.search), outside hnswlib", "dense"),
    ("engine: hnswlib knn_query (k=10, or 200 for a Knn / the hybrid)", "hnswlib"),
    ("engine: sparse probe (_sparse), the rest", "sparse"),
    ("engine: sparse index caught_up check", "catch-up"),
    ("engine: BM25 scoring (SparseIndex.search)", "bm25 scoring"),
    ("engine: fusion (rank_candidates / dbsf)", "fusion"),
    ("engine: result rows (reads.query_result)", "fetch"),
    ("engine: Search fields, the rest (_fields: select, float32 scores)", "fields"),
]


# (callable, stage): names imported into a module are wrapped where they are called from.
WRAPPED = [
    ("ragstore.collection:Collection.add", "client add"),
    ("ragstore.local.engine:LocalAPI.write", "engine add"),
    ("ragstore.local.engine:LocalAPI._checked", "validation"),
    ("ragstore.local.records:write_records", "SQLite rows"),
    ("ragstore.local.engine:write_sparse", "sparse upkeep"),
    ("ragstore.local.sparse_upkeep:write_terms", "write_terms"),
    ("ragstore.local.index_cache:IndexCache.written", "index hand-off"),
    ("ragstore.local.index:VectorIndex._apply", "hnswlib add"),
    ("ragstore.local.index:VectorIndex._save", "index save"),
    ("ragstore.collection:Collection.query", "client"),
    ("ragstore.collection:Collection.search", "client"),
    ("ragstore.record_requests:SearchRequest.__post_init__", "request"),
    ("ragstore.search.plan:Search.from_dict", "from_dict"),
    ("ragstore.collection:embed_search_queries", "embed"),
    ("ragstore.search_queries:embed_search_queries", "embed"),
    ("ragstore.local.engine:LocalAPI.query", "engine"),
    ("ragstore.local.engine:LocalAPI.search", "engine"),
    ("ragstore.local.engine:LocalAPI._ensure_text_index", "text index"),
    ("ragstore.local.engine:compile_where", "compile_where"),
    ("ragstore.local.search_executor:compile_where", "compile_where"),
    ("ragstore.local.engine:run_search", "executor"),
    ("ragstore.local.engine:text_query", "executor"),
    ("ragstore.local.reads:search", "dense"),  # the Search executor and hybrid_query call it through the module
    ("ragstore.local.engine:search", "dense"),  # the dense query imported it by name
    ("ragstore.local.index:VectorIndex._knn", "hnswlib"),
    ("ragstore.local.search_executor:_sparse", "sparse"),
    ("ragstore.bm25_text:Bm25Tokenizer.term_counts", "tokenize"),
    ("ragstore.bm25_text:Bm25Tokenizer.term_counts_batch", "tokenize"),
    ("ragstore.local.sparse_index:SparseIndexes.caught_up", "catch-up"),
    ("ragstore.local.sparse_postings:SparseIndex.search", "bm25 scoring"),
    ("ragstore.local.search_executor:rank_candidates", "fusion"),
    ("ragstore.local.hybrid_query:dbsf", "fusion"),
    ("ragstore.local.engine:query_result", "fetch"),
    ("ragstore.local.reads:query_result", "fetch"),  # the Search executor's _fields calls it through the module
    ("ragstore.local.search_executor:_fields", "fields"),
]

# The kinds of query broken down (row label, name in hybrid_speed.ragstore_kinds), asked as hybrid_speed.py asks them.
KINDS = {
    "query dense": "dense",
    "query k=200 distances": "dense200",
    "query hybrid": "hybrid",
    "Search dense": "s_dense",
    "Search BM25": "s_bm25",
    "Search Rrf": "s_rrf",
}


def stage_table(results: dict[str, dict[str, float]], q: int, stages: list[tuple[str, str]], unit: str) -> str:
    """Rows are stages, columns runs (kinds of query, or collections added to); microseconds per ``unit``, blank where unused."""
    names = list(results)
    lines = ["| stage | " + " | ".join(f"{name} (us/{unit})" for name in names) + " |", "|---|" + "--:|" * len(names)]
    for label, stage in stages:
        cells = [f"{results[name][stage] / q * 1e6:,.0f}" if stage in results[name] else "" for name in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    unwrapped = [results[n]["total"] - sum(v for k, v in results[n].items() if k != "total") for n in names]
    lines.append(
        "| outside every wrapped stage (the script's loop, building the Search or the batch) | "
        + " | ".join(f"{u / q * 1e6:,.0f}" for u in unwrapped)
        + " |"
    )
    lines.append(f"| **wall time per {unit}** | " + " | ".join(f"**{results[n]['total'] / q * 1e6:,.0f}**" for n in names) + " |")
    return "\n".join(lines)


def profile_top(ask: Callable[[int], Any], q: int, lines: int = 18) -> str:
    """cProfile over ``q`` calls of ``ask``: the functions with the most own time (tottime), as pstats prints them."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(q):
        ask(i)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    return text[text.find("   ncalls") :].rstrip()


def wire_cost(data: Data, q: int) -> tuple[float, float]:
    """Microseconds per Search Rrf request to write its JSON body and to parse one back (what HTTP adds on each side)."""
    import orjson

    from ragstore.record_requests import SearchRequest

    rrf = search_kinds(data)["s_rrf"]
    requests = [SearchRequest(rrf(i)) for i in range(q)]
    SearchRequest.from_json(orjson.loads(orjson.dumps(requests[0].to_json())))  # the first call imports what parsing needs
    started = time.perf_counter()
    bodies = [orjson.dumps(request.to_json()) for request in requests]
    written = time.perf_counter() - started
    started = time.perf_counter()
    for body in bodies:
        SearchRequest.from_json(orjson.loads(body))
    parsed = time.perf_counter() - started
    return written / q * 1e6, parsed / q * 1e6


def measure_adds(client: Any, data: Data, timer: StageTimer) -> tuple[dict[str, dict[str, float]], Any]:
    """Add ``data`` to a collection without and one with a BM25 index: the stage times of each, and the BM25 collection."""
    added: dict[str, dict[str, float]] = {}
    col: Any = None
    for name, schema in (("no BM25", None), ("with BM25", bm25_schema())):
        col = client.create_collection(f"breakdown-{len(added)}", schema=schema, embedding_function=None)
        with timer.measuring() as seconds:
            add_data(col, data)
        added[name] = dict(seconds)
    client.delete_collection("breakdown-0")
    return added, col


def interleaved_upkeep(data: Data, mode: str) -> tuple[float, float]:
    """BM25 upkeep (% of add time) with the two adds interleaved batch by batch: over the sums, and the median batch pair.

    ``hybrid_speed.py`` adds all of one collection, then all of the other, ~20 s each, so a
    machine whose load changes between the two moves its upkeep figure by tens of percent.
    Here a collection without and one with a BM25 index each get batch ``i`` in turn (which
    goes first alternates), so load hits both alike; both indexes grow in step, so each pair
    of batches gives a ratio, and their median ignores batches a burst of load hit.
    """
    import ragstore

    spent: dict[str, list[float]] = {"plain": [], "bm25": []}
    with tempfile.TemporaryDirectory(prefix="hybrid-upkeep-") as root:
        client = ragstore.PersistentClient(root) if mode == "persistent" else ragstore.EphemeralClient()
        cols = {
            name: client.create_collection(f"upkeep-{name}", schema=bm25_schema() if name == "bm25" else None, embedding_function=None)
            for name in spent
        }
        for i, lo in enumerate(range(0, len(data.ids), ADD_BATCH)):
            hi = min(lo + ADD_BATCH, len(data.ids))
            for name in ("plain", "bm25") if i % 2 == 0 else ("bm25", "plain"):
                started = time.perf_counter()
                cols[name].add(
                    ids=data.ids[lo:hi], embeddings=data.vectors[lo:hi], documents=data.texts[lo:hi], metadatas=data.metadatas[lo:hi]
                )
                spent[name].append(time.perf_counter() - started)
        client.close()
    ratios = sorted(b / p for p, b in zip(spent["plain"], spent["bm25"], strict=True))
    return 100 * (sum(spent["bm25"]) / sum(spent["plain"]) - 1), 100 * (ratios[len(ratios) // 2] - 1)


def measure_queries(col: Any, data: Data, timer: StageTimer) -> tuple[dict[str, dict[str, float]], str]:
    """Each kind of query over every query text (after a warm-up): stage times per kind, and a cProfile of Search Rrf."""
    q = len(data.query_texts)
    every = ragstore_kinds(col, data)
    kinds = {label: every[name] for label, name in KINDS.items()}
    for ask in kinds.values():  # warm the caches (and build the BM25 index) before anything is timed
        for i in range(min(WARMUP, q)):
            ask(i)
    asked: dict[str, dict[str, float]] = {}
    for name, ask in kinds.items():
        with timer.measuring() as seconds:
            for i in range(q):
                ask(i)
        asked[name] = dict(seconds)
    return asked, profile_top(kinds["Search Rrf"], q)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--mode", choices=("persistent", "ephemeral"), default="persistent")
    parser.add_argument("--adds-only", action="store_true", help="stop after the add table")
    parser.add_argument("--upkeep-rounds", type=int, default=0, help="only measure BM25 upkeep, adds interleaved, this many times")
    args = parser.parse_args(argv)
    import ragstore

    data = load_data(args.n, args.queries)
    if args.upkeep_rounds:  # before any timer is wrapped around the library
        for round_ in range(args.upkeep_rounds):
            total, median = interleaved_upkeep(data, args.mode)
            print(f"round {round_ + 1}: BM25 upkeep {total:.1f}% of add time over the sums, {median:.1f}% the median batch pair")
        return
    q = len(data.query_texts)
    timer = StageTimer(own=True)
    timer.wrap_each(WRAPPED)
    with tempfile.TemporaryDirectory(prefix="hybrid-breakdown-") as root:
        client = ragstore.PersistentClient(root) if args.mode == "persistent" else ragstore.EphemeralClient()
        added, col = measure_adds(client, data, timer)
        asked, profile = ({}, "") if args.adds_only else measure_queries(col, data, timer)
        client.close()
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}. "
        f"{args.n:,} Gutenberg chunks with 384-d vectors and 4 metadata fields added in batches of {ADD_BATCH:,} to a {args.mode} "
        "collection without and one with a BM25 index"
        + ("" if args.adds_only else f"; {q} keyword queries on the latter, each kind run over all of them (after {WARMUP} warm-ups each)")
        + ". Stage times are wall time inside the wrapped functions minus the wrapped stages "
        "they call, so the rows add up to the wall time; the timers add a few us per wrapped call.\n"
    )
    print(stage_table(added, args.n, ADD_STAGES, "record"))
    if args.adds_only:
        return
    written, parsed = wire_cost(data, q)
    print()
    print(stage_table(asked, q, QUERY_STAGES, "query"))
    print(f"\nOver HTTP a Search Rrf request also costs {written:,.0f} us to write as JSON and {parsed:,.0f} us to parse back.")
    print(f"\n**cProfile, Search Rrf, {q} queries, by own time** (profiling inflates Python-heavy stages):\n\n```\n{profile}\n```")


if __name__ == "__main__":
    main()
