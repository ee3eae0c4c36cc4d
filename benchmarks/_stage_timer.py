"""Wall-clock timers wrapped around a library's functions, summed per stage: where the breakdown scripts' time goes.

A stage is a name for one or more wrapped callables (``"module:Owner.attribute"``, or
``"module:function"`` for a module-level one, wrapped in the module it is called through). Two
ways to count, one per script: a stage's whole time, the stages it calls included
(``breakdown.py`` subtracts the parts it lists), or its own time, each nested stage's time
counted there and not twice (``hybrid_breakdown.py``: the rows add up to the wall time). Either
way a re-entered stage (one calling itself through another wrapper, as a rebuild's catch-up
does) counts once, as its outermost call. Each wrapped call costs a few microseconds more.
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class _Frame:
    """A stage being timed: when it started, and how much of that went to the stages it called."""

    stage: str
    started: float
    nested: float = 0.0


class StageTimer:
    """Wall time per stage inside wrapped callables; ``own=True`` leaves out what a stage spends in other wrapped stages.

    Example:
        >>> class Store:
        ...     def add(self) -> None:
        ...         self.write()
        ...
        ...     def write(self) -> None:
        ...         time.sleep(0.01)
        >>> timer = StageTimer(own=True)
        >>> timer.wrap(Store, "add", "add")
        >>> timer.wrap(Store, "write", "write")
        >>> with timer.measuring() as seconds:
        ...     Store().add()
        >>> seconds["write"] >= 0.01 > seconds["add"], sorted(seconds)
        (True, ['add', 'total', 'write'])
    """

    def __init__(self, own: bool = False) -> None:
        self.own = own
        self.seconds: dict[str, float] = defaultdict(float)
        # One stack per thread: ragstore's indexer runs wrapped stages in its own thread, beside the caller's.
        self._local = threading.local()
        self._sum_lock = threading.Lock()

    @property
    def _stack(self) -> list[_Frame]:
        stack: list[_Frame] = self._local.__dict__.setdefault("stack", [])
        return stack

    def wrap(self, owner: Any, attribute: str, stage: str) -> None:
        """Replace ``owner.attribute`` by a timed wrapper (for as long as the process runs); a staticmethod stays one."""
        original = getattr(owner, attribute)
        wrapped_static = isinstance(owner.__dict__.get(attribute) if isinstance(owner, type) else None, staticmethod)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if any(frame.stage == stage for frame in self._stack):
                return original(*args, **kwargs)
            frame = _Frame(stage, time.perf_counter())
            self._stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.perf_counter() - frame.started
                with self._sum_lock:
                    self.seconds[stage] += spent - frame.nested if self.own else spent
                if self._stack:
                    self._stack[-1].nested += spent

        setattr(owner, attribute, staticmethod(timed) if wrapped_static else timed)

    def wrap_each(self, targets: Iterable[tuple[str, str]]) -> None:
        """:meth:`wrap` each ``("module:Owner.attribute", stage)`` (or ``"module:function"``), importing the module.

        Example:
            >>> timer = StageTimer()
            >>> timer.wrap_each([("_table:number", "format")])
            >>> import _table
            >>> with timer.measuring() as seconds:
            ...     _ = _table.number(41.8)
            >>> sorted(seconds)
            ['format', 'total']
        """
        for target, stage in targets:
            module, _, path = target.partition(":")
            *owners, attribute = path.split(".")
            owner: Any = importlib.import_module(module)
            for name in owners:
                owner = getattr(owner, name)
            self.wrap(owner, attribute, stage)

    @contextmanager
    def measuring(self) -> Iterator[dict[str, float]]:
        """Reset the sums, run the block, and leave the block's wall time under ``"total"``."""
        self.seconds.clear()
        started = time.perf_counter()
        yield self.seconds
        self.seconds["total"] = time.perf_counter() - started
