"""Measuring tools shared by the workers: latency loops, concurrent clients, peak memory, disk use and cold starts."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


class Laps:
    """Wall time per phase of a worker, reported next to its results so a slow run shows where the time went."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._mark, 2)
        self._mark = now


def percentile_ms(latencies: list[float], pct: float) -> float:
    """The ``pct`` percentile of latencies given in seconds, in milliseconds."""
    return float(np.percentile(np.array(latencies) * 1000.0, pct))


def timed_each(call: Callable[[T], Any], items: Iterable[T]) -> tuple[list[float], list[Any]]:
    """Call ``call`` once per item; return the latencies (s) and the results."""
    latencies, results = [], []
    for item in items:
        t0 = time.perf_counter()
        results.append(call(item))
        latencies.append(time.perf_counter() - t0)
    return latencies, results


def batch_rate(call: Callable[[np.ndarray], Any], queries: np.ndarray, per_call: int, at_least: int) -> float:
    """Queries per second when sending ``per_call`` queries per call, cycling over ``queries`` until ``at_least`` are sent.

    Cycling keeps a small query set (SIFT's 100) from being over in one or two calls,
    where timer noise and the first call's warm-up would dominate.
    """
    total = max(at_least, len(queries))
    order = np.arange(total) % len(queries)
    started = time.perf_counter()
    for lo in range(0, total, per_call):
        call(queries[order[lo : lo + per_call]])
    return total / (time.perf_counter() - started)


def concurrent_rate(
    session: Callable[[], tuple[Callable[[np.ndarray], Any], Callable[[], None]]], queries: np.ndarray, threads: int, seconds: float
) -> tuple[float, float]:
    """Throughput (queries/s) and p99 latency (ms) of ``threads`` threads, each with its own session, querying for ``seconds``.

    ``session()`` opens one client and returns its ``(ask, close)``. Every thread opens its
    session and sends one warm-up query before a barrier, so connection set-up is not timed;
    then all start together and stop at the same deadline.
    """
    ready, go = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    deadline = [0.0]

    def worker(slot: int) -> None:
        try:
            ask, close = session()
            ask(queries[slot % len(queries)])
        except BaseException as exc:  # reported after the barrier, so no thread waits forever
            errors.append(exc)
            ready.wait()
            go.wait()
            return
        ready.wait()
        go.wait()
        i = slot
        try:
            while time.perf_counter() < deadline[0]:
                query = queries[i % len(queries)]
                t0 = time.perf_counter()
                ask(query)
                latencies[slot].append(time.perf_counter() - t0)
                i += threads
        except BaseException as exc:
            errors.append(exc)
        close()

    pool = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()  # every session is open and warm: now fix the deadline, then let them go
    started = time.perf_counter()
    deadline[0] = started + seconds
    go.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {threads} concurrent clients failed: {errors[0]!r}")
    every = [lat for per_thread in latencies for lat in per_thread]
    return len(every) / elapsed, percentile_ms(every, 99)


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def start_memory_window() -> float:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` 5); return that RSS in MiB.

    Loading the corpus peaks higher than anything a store does afterwards (decompression,
    ground truth), so a plain ``ru_maxrss`` would report the loader. After the reset,
    :func:`peak_rss_mb` minus this value is what the system under test added at its peak.
    """
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident set size since :func:`start_memory_window`, in MiB."""
    return _status_mb("VmHWM")


def disk_mb(path: Path) -> float:
    """Disk space the files under ``path`` occupy, in MiB, counted in allocated blocks like ``du``."""
    return sum(item.lstat().st_blocks * 512 for item in path.rglob("*") if item.is_file()) / 2**20


def cold_start_s(code: str, args: list[str], marker: str, timeout: float = 300.0) -> float:
    """Wall time from spawning ``python -c code args...`` until it prints ``marker``: import, open the store, first answer.

    The clock stops when the line arrives, so interpreter shutdown is not counted.
    """
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    elapsed = None
    for line in proc.stdout:
        if line.startswith(marker):
            elapsed = time.perf_counter() - started
            break
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if elapsed is None or proc.returncode != 0:
        raise RuntimeError(f"cold-start process failed (exit {proc.returncode}):\n{err[-2000:]}")
    return elapsed
