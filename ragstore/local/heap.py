"""Handing the C heap's free memory back to the operating system after a burst of allocations.

glibc's ``malloc`` keeps memory a program has freed, to reuse it, and returns it to the
system only from the top of each heap. Two bursts in ragstore leave a lot of it behind:

- the background indexer (:mod:`ragstore.local.indexer`) runs on its own thread, so glibc
  gives it its own *arena* (heap); reading rows from SQLite and inserting them into the
  graph churns megabytes there for as long as an ingest lasts;
- building a collection's columns (:mod:`ragstore.local.columns`) reads every record once.

Measured on 100,000 x 384 (persistent store, ``benchmarks/RESULTS.md``, "Memory (issue 19)"):
``malloc_trim(0)`` once the indexer had caught up released 26 MiB of resident memory in
4.4 ms, and after the columns were built 10 MiB in 0.9 ms. It only returns free pages
(``madvise``): nothing live moves, and later allocations work as before. Setting
``M_ARENA_MAX`` instead would change every thread of the host process, not only ours.

Elsewhere than glibc (musl, macOS, Windows) this does nothing.

Example:
    >>> release_free_memory() in (True, False)
    True

"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim`` (glibc), or ``None`` where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the C heap's free pages (every arena's) to the system; whether any were returned.

    It costs about a millisecond per hundred MiB of heap: call it after a burst, not per call.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
