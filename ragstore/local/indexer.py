"""The background indexer: one thread per store that inserts committed records into the HNSW graphs.

A write is acknowledged once SQLite has committed it; inserting its vectors into the
collection's graph (hnswlib's ``add_items``, four fifths of an add's time when it ran
on the write path) happens here, afterwards. Queries do not wait for it: they search
what the graph holds and the not-yet-indexed tail exactly (:mod:`ragstore.local.fresh_tail`).

The thread is started by the first :meth:`Indexer.notify` (a store that is only read
never starts it) and catches collections up one *step* at a time, round-robin, so a
long ingest into one collection does not hold up another's. What a step does is the
caller's (:meth:`ragstore.local.index_cache.IndexCache.step`): read a chunk of what the
graph lacks, insert it in small locked batches (queries run between them), and save
the graph now and then. A step that fails is logged and dropped; the next write or
query that finds the graph behind notifies again.

When the queue runs empty the thread calls ``idle`` (the store hands the C heap's free
memory back: :mod:`ragstore.local.heap`), at most one part in ``_IDLE_SHARE`` of the
time its steps took since the last call, so a stream of tiny writes does not pay for it
on every one.

Writers wait here when the unindexed tail grows past its bound (:meth:`Indexer.wait`),
so a query's exact search over the tail stays bounded during a long ingest. A wait ends
as soon as the indexer has nothing left to do for that collection (caught up, failed, or
the collection is gone), when the indexer is held (:meth:`Indexer.held`, a test hook) or
stopping, or after ``timeout``.

Example:
    >>> done = []
    >>> indexer = Indexer(lambda key: done.append(key) or False)
    >>> indexer.notify("docs")
    >>> indexer.flush(timeout=5)
    True
    >>> done
    ['docs']
    >>> indexer.stop()
    True

"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

# The idle hook runs only once the steps since its last run took this many times as long as that run did.
_IDLE_SHARE = 20


class Indexer(Generic[K]):
    """A thread that runs ``step(key)`` for every notified key until it returns ``False`` (nothing left).

    Thread-safe. ``step`` runs on the indexer's thread only, one call at a time.

    Args:
        step: Does one bounded piece of a key's work; returns whether more is left.
        name: The thread's name (shows in stack dumps and profilers).
        idle: Called on the thread when the queue runs empty after some work (see the module docstring).

    """

    def __init__(self, step: Callable[[K], bool], name: str = "ragstore-indexer", idle: Callable[[], object] | None = None) -> None:
        self._step = step
        self._name = name
        self._idle_hook = idle
        self._worked = 0.0  # seconds of steps since the idle hook last ran
        self._idle_cost = 0.0  # seconds the idle hook took last time
        self._cond = threading.Condition()
        self._pending: dict[K, None] = {}  # insertion-ordered: round-robin over keys
        self._busy: K | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._held = 0
        self._failing: set[K] = set()  # keys whose last step failed (logged once per streak)

    # ------------------------------------------------------------------ writers and readers

    def notify(self, key: K) -> None:
        """Ask for ``key``'s work to be done (starts the thread the first time).

        Example:
            >>> indexer = Indexer(lambda key: False)
            >>> indexer.notify("docs")
            >>> indexer.stop(timeout=5)
            True

        """
        with self._cond:
            if self._stopping:
                return
            self._pending.setdefault(key, None)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait(self, key: K, satisfied: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``satisfied()``, or until there is no work left for ``key``; ``False`` only on timeout.

        ``satisfied`` is called with the indexer's lock held, after every step: keep it cheap
        and free of locks of its own.

        Example:
            >>> Indexer(lambda key: False).wait("docs", lambda: False)  # nothing to do for it: no wait
            True

        """
        with self._cond:
            return self._cond.wait_for(lambda: satisfied() or not self._working_on(key) or self._held > 0 or self._stopping, timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every notified key's work is done; ``False`` if ``timeout`` passed first, or while held.

        Example:
            >>> Indexer(lambda key: False).flush(timeout=0)
            True

        """
        with self._cond:
            # Held, it cannot finish: waiting would hang (a close inside a test's hold, say).
            return self._cond.wait_for(lambda: self._idle() or self._stopping or self._held > 0, timeout) and self._idle()

    def working_on(self, key: K) -> bool:
        """Whether ``key`` has work queued or running.

        Example:
            >>> Indexer(lambda key: False).working_on("docs")
            False

        """
        with self._cond:
            return self._working_on(key)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Pause the indexer for the ``with`` block (a test hook: queries then meet unindexed records).

        The step running on entry finishes first; writers do not wait for a held indexer.

        Example:
            >>> indexer = Indexer(lambda key: False)
            >>> with indexer.held():
            ...     indexer.notify("docs")
            ...     indexer.working_on("docs")
            True
            >>> indexer.flush(timeout=5), indexer.working_on("docs")
            (True, False)
            >>> indexer.stop()
            True

        """
        with self._cond:
            self._held += 1
            self._cond.wait_for(lambda: self._busy is None)
            self._cond.notify_all()  # writers waiting for room stop waiting
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def stop(self, timeout: float | None = 0) -> bool:
        """Finish the work queued (for up to ``timeout`` seconds; ``None``: all of it), then end the thread.

        Returns whether everything queued was done. Work left over is not lost: SQLite holds
        it, and the next open (or the next write or query in this process) catches up.

        Example:
            >>> Indexer(lambda key: False).stop()
            True

        """
        done = self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()  # the step running now finishes: a graph is never left half-changed
        return done

    # ------------------------------------------------------------------ the thread

    def _working_on(self, key: K) -> bool:
        return key in self._pending or self._busy == key

    def _idle(self) -> bool:
        return not self._pending and self._busy is None

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or (self._pending and not self._held))
                if self._stopping:
                    return
                key = next(iter(self._pending))
                del self._pending[key]
                self._busy = key
            began = time.perf_counter()
            more = self._run_step(key)
            self._worked += time.perf_counter() - began
            with self._cond:
                self._busy = None
                if more and not self._stopping:
                    self._pending.setdefault(key, None)  # at the end: the other keys go first
                self._cond.notify_all()
                idle = not self._pending
            if idle:
                self._run_idle_hook()

    def _run_idle_hook(self) -> None:
        if self._idle_hook is None or self._worked < _IDLE_SHARE * self._idle_cost:
            return
        began = time.perf_counter()
        try:
            self._idle_hook()
        except Exception:  # a hook that fails must not end the thread
            logger.warning("The background indexer's idle hook failed", exc_info=True)
        self._idle_cost, self._worked = time.perf_counter() - began, 0.0

    def _run_step(self, key: K) -> bool:
        try:
            more = self._step(key)
        except Exception as exc:  # a failing step must not end the thread: other collections still need it
            if key not in self._failing:
                self._failing.add(key)
                logger.warning("Background indexing of %s failed (%s); queries search its new records exactly", key, exc, exc_info=True)
            time.sleep(0.01)  # a failure that repeats on every notify must not spin
            return False
        self._failing.discard(key)
        return more
