"""A system's repeat in a fresh worker process: the driver's side and the worker's, as ``bench.py`` and ``hybrid_speed.py`` run them.

The driver starts the script again as ``script --worker SYSTEM ...`` for each system and repeat,
so each measurement has its own peak RSS and no warm caches from the one before; the systems
are interleaved inside each repeat, so load drift on the machine hits all of them alike. The
worker prints its result as one JSON line behind :data:`RESULT` (libraries may print too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from _table import Row

RESULT = "WORKER-RESULT "  # prefix of a worker's one result line on stdout


def print_result(out: Mapping[str, Any]) -> None:
    """The worker's side: its result as the one line :func:`spawn_worker` looks for.

    Example:
        >>> print_result({"p50_ms": 0.25})
        WORKER-RESULT {"p50_ms": 0.25}
    """
    print(RESULT + json.dumps(out), flush=True)


def spawn_worker(script: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python script args...`` in a fresh process; its result dict, or ``{"error": ...}`` if it failed or timed out.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        ...     _ = script.write("raise SystemExit('no such system')"), script.flush()
        ...     spawn_worker(script.name, ["--worker", "x"], timeout=60)
        {'error': 'exit 1: no such system'}
    """
    cmd = [sys.executable, str(Path(script).resolve()), *args]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT):
            return dict(json.loads(line[len(RESULT) :]))
    print(proc.stderr[-3000:], file=sys.stderr)
    tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
    return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}


def _progress(result: Mapping[str, Any]) -> str:
    """A result's numbers for the progress line, and its phase laps when the worker reported them."""
    shown = "  ".join(f"{key} {value:.4g}" for key, value in result.items() if isinstance(value, float) and key != "base_rss_mb")
    if result.get("laps"):
        shown += "  [s: " + " ".join(f"{phase} {sec:g}" for phase, sec in result["laps"].items()) + "]"
    return shown


def run_interleaved(rows: Mapping[str, Row], repeats: int, run: Callable[[str, int], dict[str, Any]]) -> list[str]:
    """Every system of ``rows`` once per repeat, interleaved: ``run(system, repeat)``'s results go to the system's row.

    Returns the failed runs, one line each; a line of progress per run goes to stderr.

    Example:
        >>> rows = {"a": Row("hnswlib"), "b": Row("numpy")}
        >>> run_interleaved(rows, 2, lambda system, repeat: {"error": "down"} if system == "b" else {"p50_ms": repeat})
        ['numpy brute force, repeat 1: down', 'numpy brute force, repeat 2: down']
        >>> rows["a"].runs
        [{'p50_ms': 0}, {'p50_ms': 1}]
    """
    failures: list[str] = []
    for repeat in range(repeats):
        for system, row in rows.items():
            started = time.perf_counter()
            result = run(system, repeat)
            if "error" in result:
                failures.append(f"{row.label}, repeat {repeat + 1}: {result['error']}")
                shown = f"FAILED: {result['error']}"
            else:
                row.runs.append(result)
                shown = _progress(result)
            took = time.perf_counter() - started
            print(f"  repeat {repeat + 1}/{repeats} {system:<20} {took:6.1f} s  {shown}", file=sys.stderr, flush=True)
    return failures
