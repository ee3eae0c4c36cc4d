"""The benchmark scripts still run end to end (on a tiny corpus) and print what RESULTS.md quotes.

Speed is never asserted here: these tests only keep ``make bench`` and ``make bench-breakdown``
from rotting between the runs that produce ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

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
    assert "engine: index refresh: hnswlib add_items" in rows and "engine: hnswlib knn_query" in rows
    # The stage rows partition the wall time: their shares add up to about 100% in each table.
    tables = [section for section in report.split("\n\n") if section.startswith("| stage")]
    assert len(tables) == 2
    for table in tables:
        stages = [line for line in table.splitlines()[2:] if not line.startswith(("| **", "| raw"))]
        shares = [int(line.strip(" |").rsplit("|", 1)[1].strip().rstrip("%")) for line in stages]
        assert len(shares) >= 5 and 95 <= sum(shares) <= 105, table
