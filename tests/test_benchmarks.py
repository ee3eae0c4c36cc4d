"""The benchmark scripts still run end to end (on a tiny corpus) and print what RESULTS.md quotes.

Speed is never asserted here: these tests only keep ``make bench`` and ``make bench-breakdown``
from rotting between the runs that produce ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
pytestmark = pytest.mark.slow


def run_script(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / args[0]), *args[1:]], capture_output=True, text=True, timeout=300, cwd=BENCHMARKS.parent
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def table_rows(report: str) -> dict[str, list[str]]:
    """The markdown table's rows by their first cell."""
    rows = {}
    for line in report.splitlines():
        if line.startswith("| ") and not line.startswith("| system") and not line.startswith("| stage"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_prints_one_row_per_system_with_ratios_to_chromadb() -> None:
    systems = "ragstore-persistent,ragstore-http,chromadb-persistent,hnswlib,numpy"
    report = run_script(
        "bench.py", "--n", "1000", "--queries", "20", "--repeats", "2", "--spawns", "1", "--concurrent-seconds", "0.5", "--systems", systems
    )
    rows = table_rows(report)
    assert set(rows) >= {"ragstore persistent", "ragstore http", "chromadb persistent", "hnswlib (raw)", "numpy brute force"}
    header = next(line for line in report.splitlines() if line.startswith("| system"))
    columns = [cell.strip() for cell in header.strip("|").split("|")][1:]
    persistent = dict(zip(columns, rows["ragstore persistent"], strict=True))
    # Each cell is "median (min-max) ratio" (two repeats give a range); on 1,000 clustered vectors recall is essentially exact.
    assert re.fullmatch(r"[\d,.]+ \([\d,.]+-[\d,.]+\) [\d,.]+x", persistent["add (vec/s)"])
    assert float(persistent["recall@10"].split()[0]) >= 0.95
    assert float(persistent["10% filter recall"].split()[0]) == 1.0
    assert persistent["start to 1st query (s)"] != "-" and persistent["disk (MiB)"] != "-"
    http = dict(zip(columns, rows["ragstore http"], strict=True))
    assert http["32 clients (q/s)"] != "-"
    assert dict(zip(columns, rows["hnswlib (raw)"], strict=True))["10% filter p50 (ms)"] == "-"


def test_breakdown_accounts_for_the_add_and_query_time() -> None:
    report = run_script("breakdown.py", "--n", "1000", "--queries", "20")
    rows = table_rows(report)
    assert "engine: hand-off to the indexer (a writer waits while too much is unindexed)" in rows and "engine: hnswlib knn_query" in rows
    assert "In the indexer's thread, beside the rows above: hnswlib add_items" in report
    # The stage rows partition the wall time: their shares add up to about 100% in each table.
    tables = [section for section in report.split("\n\n") if section.startswith("| stage")]
    assert len(tables) == 2
    for table in tables:
        stages = [line for line in table.splitlines()[2:] if not line.startswith(("| **", "| raw"))]
        shares = [int(line.strip(" |").rsplit("|", 1)[1].strip().rstrip("%")) for line in stages]
        assert len(shares) >= 5 and 95 <= sum(shares) <= 105, table


def markdown_rows(report: str, header: str) -> dict[str, dict[str, str]]:
    """The rows of the table whose header line starts with ``| header``, by first cell, as ``{column: cell}``."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} "))
    columns = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2 :]):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns[1:], cells[1:], strict=True))
    return rows


TORCH = "sentence-transformers function (torch, today)"
INT8 = "ONNX int8 (DefaultEmbeddingFunction)"


def test_embedding_throughput_has_the_four_methods_per_corpus_with_ratios_to_encode() -> None:
    report = run_script("embedding_throughput.py", "--docs", "6", "--repeats", "1")
    lines = [line for line in report.splitlines() if line.startswith(("| abstracts", "| mixed"))]
    methods = {(line.split("|")[1].split()[0], line.split("|")[2].strip()) for line in lines}
    assert methods == {(corpus, m) for corpus in ("abstracts", "mixed") for m in ("encode (torch)", TORCH, INT8, "ONNX fp32")}
    encode_rows = [line for line in lines if "| encode (torch) |" in line]
    assert all("| 1.00x |" in line for line in encode_rows)  # encode is the reference of its own ratio
    assert all(re.search(r"\| [\d,.]+ \| [\d.]+x \| [\d.]+ \|$", line) for line in lines)


def test_embedding_latency_times_the_embedders_and_the_cli_on_both_collections() -> None:
    report = run_script("embedding_latency.py", "--calls", "4", "--chunks", "120", "--spawns", "1")
    in_process = markdown_rows(report, "embedder")
    assert set(in_process) == {TORCH, INT8, "ONNX fp32"}
    assert in_process[TORCH]["p50 vs torch"] == "1.00x" and float(in_process[INT8]["p50 (ms)"]) > 0
    cli = markdown_rows(report, "collection (embedding function)")
    assert len(cli) == 3  # default, torch, and the cold first use
    assert all(float(row["p50 (s)"]) > 0 for row in cli.values())
    assert "120 chunks" in report


def test_embedding_ingest_ingests_a_folder_per_embedder(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / f"guide{i}.md").write_text(
            f"# Guide {i}\n\n## Timeouts\n\nSet a timeout per request.\n\n## Retries\n\nRetry {i} times.\n"
        )
    report = run_script("embedding_ingest.py", "--repeats", "1", "--embedders", "int8,torch", "--docs", str(tmp_path))
    rows = markdown_rows(report, "embedding function")
    assert set(rows) == {TORCH, INT8}
    assert rows[TORCH]["faster than torch"] == "1.00x"
    chunks = int(re.search(r"(\d+) chunks per ingest", report).group(1))  # type: ignore[union-attr]
    assert chunks >= 4  # two files, two sections each


def test_scifact_retrieval_scores_each_embedder() -> None:
    report = run_script("scifact_retrieval.py", "--docs", "40", "--queries", "5", "--embedders", "int8,torch")
    rows = markdown_rows(report, "embedder")
    assert set(rows) == {TORCH, INT8}
    for row in rows.values():
        assert 0.0 <= float(row["nDCG@10"]) <= 1.0 and 0.0 <= float(row["recall@100"]) <= 1.0
    assert rows[TORCH]["ingest faster than torch"] == "1.00x"
    assert "5 queries, 40 abstracts" in report


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG that decodes completely (Pillow comes with matplotlib)."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # decodes every pixel: a truncated or corrupt file raises here
        return image.size


def draw(tmp_path: Path, *args: str) -> list[Path]:
    out = tmp_path / "charts"
    printed = run_script("charts.py", *args, "--out", str(out))
    return [Path(line) for line in printed.splitlines()]


def test_ingest_latency_times_queries_during_and_after_an_ingest_and_charts_draw_it(tmp_path: Path) -> None:
    summary, samples = tmp_path / "ingest.json", tmp_path / "samples.json"
    systems = "ragstore-persistent,ragstore-http,chromadb-persistent,chromadb-http,hnswlib"
    report = run_script(
        "ingest_latency.py", "--n", "2000", "--queries", "20", "--batch", "250", "--qps", "200", "--systems", systems,
        "--json", str(summary), "--samples", str(samples),
    )  # fmt: skip
    rows = markdown_rows(report, "system")
    assert set(rows) == {"ragstore persistent", "ragstore http", "chromadb persistent", "chromadb http", "hnswlib (raw)"}
    # One repeat: "value ratio" on every row but the baseline, chromadb persistent, which has no ratio.
    assert re.fullmatch(r"[\d,.]+ [\d,.]+x", rows["ragstore http"]["during p99 (ms)"])
    assert re.fullmatch(r"[\d,.]+", rows["chromadb persistent"]["add (vec/s)"])
    for row in rows.values():
        assert float(row["during recall@10"].split()[0]) >= 0.9 and float(row["after recall@10"].split()[0]) >= 0.95
        assert float(row["indexed at (s)"].split()[0]) > 0
        assert re.match(r"[\d,.]+", row["steady-load p99 (ms)"])
    assert "from get_indexing_status() for ragstore http, ragstore persistent" in report  # chromadb's and hnswlib's: the last add
    assert "the end of the last add for chromadb http, chromadb persistent, hnswlib (raw)" in report
    # --replay prints the same paragraph and table from the two files, measuring nothing.
    assert run_script("ingest_latency.py", "--replay", "--json", str(summary), "--samples", str(samples)) == report

    data = json.loads(summary.read_text())
    raw = json.loads(samples.read_text())
    assert (data["n"], data["batch"]) == (2000, 250)
    for system in systems.split(","):
        run = data["systems"][system]["runs"][0]
        assert [count for _, count in run["commits"]] == list(range(250, 2001, 250))
        assert run["indexed_s"] >= run["commits"][-1][0]
        sampled = raw["systems"][system][0]
        # Every query started after the first acknowledged batch and saw a whole number of batches.
        assert sampled["t_s"] == sorted(sampled["t_s"]) and sampled["t_s"][0] >= run["commits"][0][0]
        assert all(seen % 250 == 0 and seen >= 250 for seen in sampled["acknowledged"])
        assert data["systems"][system]["queries"] == {"t_s": sampled["t_s"], "latency_ms": sampled["latency_ms"]}
        assert len(sampled["latency_ms"]) == len(sampled["recall"]) >= 1
        assert run["during_queries"] >= len(sampled["latency_ms"]) - 1  # a query may start as the ingest is declared over

    (chart,) = draw(tmp_path, "--ingest", str(summary))
    assert chart.name == "ingest_latency.png"
    width, height = png_size(chart)
    assert width > 1000 and height > 4 * 200  # one panel per system


def test_scaling_writes_its_measurements_as_json_and_charts_draw_them(tmp_path: Path) -> None:
    measurements = tmp_path / "scaling.json"
    report = run_script(
        "scaling.py", "--sizes", "1000,2000", "--queries", "10", "--repeats", "2", "--systems", "ragstore-persistent,hnswlib",
        "--json", str(measurements),
    )  # fmt: skip
    records = json.loads(measurements.read_text())["results"]
    assert {(r["system"], r["n"], r["repeat"]) for r in records} == {
        (system, n, repeat) for system in ("ragstore-persistent", "hnswlib") for n in (1000, 2000) for repeat in (1, 2)
    }
    # The JSON holds what the table shows: each cell's median is the median of the two repeats' records.
    rows = markdown_rows(report, "system")
    for record in records:
        cell = rows[record["label"]][f"{record['n'] // 1000}k x 384 add (vec/s)"]
        both = [r["add_per_s"] for r in records if (r["system"], r["n"]) == (record["system"], record["n"])]
        assert float(cell.split()[0].replace(",", "")) == pytest.approx(sum(both) / 2, rel=0.01)

    (chart,) = draw(tmp_path, "--scaling", str(measurements))
    assert chart.name == "scaling.png" and png_size(chart)[0] > 1000


def test_charts_draw_the_committed_results_and_results_md_embeds_charts_that_exist(tmp_path: Path) -> None:
    charts = draw(tmp_path)  # no file named: every JSON in benchmarks/results/
    assert {chart.name for chart in charts} == {"scaling.png", "ingest_latency.png"}
    assert all(png_size(chart)[0] > 1000 for chart in charts)
    embedded = re.findall(r"!\[[^\]]*\]\((charts/[^)]+\.png)\)", (BENCHMARKS / "RESULTS.md").read_text())
    assert {"charts/scaling.png", "charts/ingest_latency.png"} <= set(embedded)
    assert all((BENCHMARKS / path).is_file() for path in embedded)


def test_ray_shard_ingest_fills_each_system_and_measures_every_store_process(tmp_path: Path) -> None:
    measurements = tmp_path / "ray_shard_ingest.json"
    report = run_script(
        "ray_shard_ingest.py", "--n", "3000", "--shards", "2", "--batch", "500", "--queries", "10", "--json", str(measurements)
    )
    rows = markdown_rows(report, "system")
    assert set(rows) == {"ragstore run", "ray, 2 shards x 1", "local store"}
    for row in rows.values():
        assert row["count"] == "3,000"  # every chunk arrived, through the router too
        assert float(row["recall@10"]) >= 0.9
    # The sharded row shows each replica's peak memory after the sum: "total (shard 0, shard 1)".
    assert re.fullmatch(r"[\d,.]+ \([\d,.]+, [\d,.]+\)", rows["ray, 2 shards x 1"]["store processes' peak RSS (MiB)"])
    records = {r["system"]: r for r in json.loads(measurements.read_text())["results"]}
    assert [len(records[name]["processes"]) for name in ("ragstore run", "ray, 2 shards x 1", "local store")] == [1, 2, 1]
    assert all(r["indexed_s"] >= r["add_s"] > 0 for r in records.values())
