"""Stages in threads joined by bounded queues, so each stage works while its neighbours do.

:class:`Pipeline` runs a source (any iterable) in one thread and each step in a
thread of its own; items flow in order through queues of ``depth`` items, so a
fast stage runs at most ``depth`` items ahead of a slow one and memory stays
bounded. It pays off when the stages spend their time outside the GIL (a model
in ONNX Runtime or torch, SQLite, sockets, file reads).

The caller's thread only watches: it runs ``on_tick`` whenever a stage calls
:meth:`Pipeline.tick` (so a progress display is only ever called from the
caller's thread), and it is the thread a Ctrl-C lands in. Whatever ends the run
early (an exception in any stage, or ``KeyboardInterrupt`` / an exception from
``on_tick`` in the caller's thread) stops every stage: a stage finishes the
item in hand (a step is never cut in the middle), takes no further item, and
its thread ends. :meth:`Pipeline.run` joins every thread before it returns or
raises, and a stage's exception is re-raised in the caller's thread as itself
(same type, its traceback kept).

Example:
    >>> squares = []
    >>> Pipeline().run(range(5), lambda n: n * n, squares.append)
    >>> squares
    [0, 1, 4, 9, 16]
    >>> Pipeline().run([1, 0], lambda n: 1 // n)
    Traceback (most recent call last):
    ...
    ZeroDivisionError: integer division or modulo by zero

"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

_POLL = 0.05  # seconds a blocked stage waits before looking at the stop flag again
_END = object()  # closes a queue: nothing follows
_TICK, _DONE, _FAILED = "tick", "done", "failed"


class StoppedError(Exception):
    """Raised inside a stage (by :meth:`Pipeline.wait` or a blocked hand-over) when the run has been stopped."""


class Pipeline:
    """One run of a source and steps, each in its own thread (see the module docstring).

    Args:
        depth: Items each queue between two stages holds; a stage blocks when the next one is this far behind.
        name: Prefix of the threads' names (they show in ``threading.enumerate()`` and tracebacks).
        on_tick: Called in the caller's thread after stages call :meth:`tick` (several ticks may make one call).

    Example:
        >>> seen = []
        >>> pipeline = Pipeline(depth=1, on_tick=lambda: seen.append("tick"))
        >>> pipeline.run(["a", "b"], lambda s: (pipeline.tick(), s.upper())[1])
        >>> "tick" in seen
        True

    """

    def __init__(self, *, depth: int = 2, name: str = "pipeline", on_tick: Callable[[], None] | None = None) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = depth
        self.name = name
        self._on_tick = on_tick
        self._stop = threading.Event()
        self._events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()

    def tick(self) -> None:
        """Ask the caller's thread to run ``on_tick`` soon (callable from any stage)."""
        self._events.put(_TICK)

    def wait(self, event: threading.Event) -> None:
        """Block a stage until ``event`` is set.

        Raises:
            StoppedError: The run was stopped meanwhile (let it propagate: the stage ends quietly).

        """
        while not event.wait(_POLL):
            if self._stop.is_set():
                raise StoppedError

    def run(self, source: Iterable[Any], *steps: Callable[[Any], Any]) -> None:
        """Feed ``source``'s items through ``steps`` in order; the last step's results are dropped.

        Raises:
            BaseException: The first exception of any stage, or of ``on_tick``, or a ``KeyboardInterrupt``
                in the caller's thread; every stage's thread has ended by then.

        """
        if self._stop.is_set():
            raise RuntimeError("a Pipeline runs once")
        queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=self.depth) for _ in steps]
        threads = [threading.Thread(target=self._guard, args=(self._feed, source, queues[0] if queues else None), name=f"{self.name}-0")]
        for index, step in enumerate(steps):
            outbox = queues[index + 1] if index + 1 < len(steps) else None
            args = (self._apply, step, queues[index], outbox)
            threads.append(threading.Thread(target=self._guard, args=args, name=f"{self.name}-{index + 1}"))
        try:
            for thread in threads:  # started inside the try: a Ctrl-C between two starts still stops and joins the first
                thread.daemon = True  # never keeps the interpreter alive; run() joins them all anyway
                thread.start()
            self._watch()
        finally:
            self._stop.set()
            self._join(threads)
        if self._error is not None:
            raise self._error

    # ------------------------------------------------------------------ the caller's thread

    def _watch(self) -> None:
        while True:
            try:
                events = [self._events.get(timeout=_POLL)]  # a timeout: a Ctrl-C that lands in another thread is seen within _POLL
            except queue.Empty:
                continue
            while not self._events.empty():  # ticks that piled up while on_tick ran make one call
                events.append(self._events.get_nowait())
            if _FAILED in events:
                return
            if _TICK in events and self._on_tick is not None:
                self._on_tick()
            if _DONE in events:
                return

    def _join(self, threads: list[threading.Thread]) -> None:
        interrupted: KeyboardInterrupt | None = None
        for thread in threads:
            while thread.is_alive():
                try:
                    thread.join()
                except KeyboardInterrupt as again:  # a second Ctrl-C: the stages end within one step, so wait for them still
                    interrupted = again
        if interrupted is not None:
            raise interrupted

    # ------------------------------------------------------------------ the stages' threads

    def _guard(self, stage: Callable[..., None], *args: Any) -> None:
        try:
            stage(*args)
        except StoppedError:
            pass
        except BaseException as exc:  # anything, so the caller hears of it rather than waiting forever
            with self._error_lock:
                if self._error is None:
                    self._error = exc
            self._stop.set()
            self._events.put(_FAILED)

    def _feed(self, source: Iterable[Any], outbox: queue.Queue[Any] | None) -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if outbox is not None:
                    self._put(outbox, item)
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):  # a generator's finally blocks run here, in its own thread, when the run stops early
                close()
        if outbox is None:
            self._events.put(_DONE)
        else:
            self._put(outbox, _END)

    def _apply(self, step: Callable[[Any], Any], inbox: queue.Queue[Any], outbox: queue.Queue[Any] | None) -> None:
        while (item := self._get(inbox)) is not _END:
            result = step(item)
            if outbox is not None:
                self._put(outbox, result)
        if outbox is None:
            self._events.put(_DONE)
        else:
            self._put(outbox, _END)

    def _get(self, inbox: queue.Queue[Any]) -> Any:
        while not self._stop.is_set():  # checked first: a stopped stage takes no further item, even one that is waiting
            try:
                return inbox.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise StoppedError

    def _put(self, outbox: queue.Queue[Any], item: Any) -> None:
        while not self._stop.is_set():
            try:
                outbox.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise StoppedError
