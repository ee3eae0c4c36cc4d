"""A readers-writer lock: many readers at once, or one writer alone.

:class:`RWLock` guards a vector index: searches read it (hnswlib's
``knn_query`` is safe to run concurrently and releases the GIL, so they run
in parallel), while changes to the graph write it.

It is *writer-preferring*: once a writer waits, new readers queue behind it,
so a steady stream of searches cannot starve writes. Readers can in turn
wait behind a steady stream of writers; writes to one index are serialised
by SQLite and short, so that stream is bounded in practice.

Re-entry is allowed where it cannot deadlock: the writer may take the lock
again (as writer or reader), and a reader may take the read lock again even
while a writer waits (queueing it behind that writer would deadlock, since
the writer waits for this very reader). Upgrading a read lock to a write lock
raises :class:`RuntimeError` instead of hanging: release it and acquire the
write lock, then re-check whatever was decided under the read lock.

Example:
    >>> lock = RWLock()
    >>> with lock.read():
    ...     lock.readers
    1
    >>> with lock.write():
    ...     lock.writing
    True
    >>> lock.acquire_read(timeout=0.1)
    True
    >>> lock.acquire_write()  # this thread reads: waiting for itself would hang forever
    Traceback (most recent call last):
    ...
    RuntimeError: cannot upgrade a read lock to a write lock; release it first
    >>> lock.release_read()

"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class RWLock:
    """A writer-preferring readers-writer lock (see the module docstring).

    Timeouts are in seconds; ``None`` waits for as long as it takes.

    Example:
        >>> lock = RWLock()
        >>> with lock.read(), lock.read():  # re-entry by one thread
        ...     lock.readers
        1

    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}  # thread ident -> how many times it holds the read lock
        self._writer: int | None = None  # ident of the thread that holds the write lock
        self._writer_depth = 0
        self._waiting_writers = 0
        self._waiting_readers = 0
        self.reader_waits = 0  # how many times a reader had to wait, ever: a writer compares it across its hold

    # ------------------------------------------------------------------ introspection

    @property
    def readers(self) -> int:
        """How many threads hold the read lock now."""
        return len(self._readers)

    @property
    def writing(self) -> bool:
        """Whether some thread holds the write lock now."""
        return self._writer is not None

    @property
    def waiting_writers(self) -> int:
        """How many threads wait for the write lock now."""
        return self._waiting_writers

    # ------------------------------------------------------------------ reading

    def acquire_read(self, timeout: float | None = None) -> bool:
        """Take the lock shared; ``False`` if ``timeout`` passed first.

        Example:
            >>> lock = RWLock()
            >>> lock.acquire_read(), lock.acquire_read(timeout=0)
            (True, True)
            >>> lock.release_read(); lock.release_read()

        """
        me = threading.get_ident()
        with self._cond:
            # Re-entry never waits: the writer we would queue behind may be waiting for us.
            if self._writer != me and me not in self._readers and not self._free_for_readers():
                self._waiting_readers += 1
                self.reader_waits += 1
                try:
                    free = self._cond.wait_for(self._free_for_readers, timeout)
                finally:
                    self._waiting_readers -= 1
                    if not self._waiting_readers:
                        self._cond.notify_all()  # a writer yielding to readers may be waiting for the last one
                if not free:
                    return False
            self._readers[me] = self._readers.get(me, 0) + 1
            return True

    def _free_for_readers(self) -> bool:
        return self._writer is None and not self._waiting_writers

    def release_read(self) -> None:
        """Give back one hold of the read lock taken by this thread.

        Raises:
            RuntimeError: This thread does not hold the read lock.

        """
        me = threading.get_ident()
        with self._cond:
            held = self._readers.get(me)
            if held is None:
                raise RuntimeError("release_read() by a thread that does not hold the read lock")
            if held > 1:
                self._readers[me] = held - 1
                return
            del self._readers[me]
            if not self._readers:
                self._cond.notify_all()  # a writer may be waiting for the last reader

    def read(self, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Hold the lock shared for the ``with`` block.

        Raises:
            TimeoutError: ``timeout`` passed before the lock was free.

        """
        return _holding(self.acquire_read, self.release_read, "read", timeout)

    # ------------------------------------------------------------------ writing

    def acquire_write(self, timeout: float | None = None, yield_to_readers: bool = False) -> bool:
        """Take the lock exclusively; ``False`` if ``timeout`` passed first.

        With ``yield_to_readers``, readers already waiting get the lock first: a writer that
        takes the lock again and again (a background indexer, batch after batch) would
        otherwise queue again before they wake, and keep them waiting for as long as it works.

        Raises:
            RuntimeError: This thread holds the read lock (and not the write lock):
                waiting would deadlock.

        Example:
            >>> lock = RWLock()
            >>> lock.acquire_write(), lock.acquire_write()  # re-entry by the writer
            (True, True)
            >>> lock.release_write(); lock.release_write(); lock.writing
            False

        """
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._writer_depth += 1
                return True
            if me in self._readers:
                raise RuntimeError("cannot upgrade a read lock to a write lock; release it first")
            deadline = None if timeout is None else time.monotonic() + timeout
            if yield_to_readers and not self._cond.wait_for(lambda: not self._waiting_readers, timeout):
                return False
            self._waiting_writers += 1
            free = False
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                free = self._cond.wait_for(lambda: self._writer is None and not self._readers, left)
            finally:
                self._waiting_writers -= 1
                if not free:
                    self._cond.notify_all()  # readers queued behind this writer may go now
            if not free:
                return False
            self._writer, self._writer_depth = me, 1
            return True

    def release_write(self) -> None:
        """Give back one hold of the write lock taken by this thread.

        Raises:
            RuntimeError: This thread does not hold the write lock.

        """
        with self._cond:
            if self._writer != threading.get_ident():
                raise RuntimeError("release_write() by a thread that does not hold the write lock")
            self._writer_depth -= 1
            if self._writer_depth == 0:
                self._writer = None
                self._cond.notify_all()

    def write(self, timeout: float | None = None, yield_to_readers: bool = False) -> contextlib.AbstractContextManager[None]:
        """Hold the lock exclusively for the ``with`` block (``yield_to_readers``: see :meth:`acquire_write`).

        Raises:
            TimeoutError: ``timeout`` passed before the lock was free.
            RuntimeError: This thread holds the read lock (see :meth:`acquire_write`).

        """
        return _holding(lambda wait: self.acquire_write(wait, yield_to_readers), self.release_write, "write", timeout)


@contextlib.contextmanager
def _holding(acquire: Callable[[float | None], bool], release: Callable[[], None], kind: str, timeout: float | None) -> Iterator[None]:
    # The lock is taken on entering the ``with`` block, not when read() or write() is called.
    if not acquire(timeout):
        raise TimeoutError(f"{kind} lock not acquired within {timeout} s")
    try:
        yield
    finally:
        release()
