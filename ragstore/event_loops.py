"""One value per running event loop: an async HTTP client's connection pool belongs to the loop that opened it.

Code called from several loops (a sync wrapper that runs ``asyncio.run`` per call, threads with
loops of their own) therefore needs one client each; both integrations keep theirs here.

Example:
    >>> import asyncio
    >>> async def open_client() -> str:
    ...     return "client"
    >>> clients = PerEventLoop(open_client)
    >>> asyncio.run(clients.get())
    'client'

"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PerEventLoop"]

T = TypeVar("T")


@dataclasses.dataclass
class _Slot(Generic[T]):
    """One loop's value, and the lock that makes its tasks open it once."""

    lock: asyncio.Lock
    opened: tuple[T] | None = None  # a 1-tuple once opened, so a value that is None still counts as opened


class PerEventLoop(Generic[T]):
    """One value per running event loop, opened on first use in that loop (an httpx async pool belongs to its loop).

    Tasks of one loop that ask at once wait for a single ``open``; another loop gets a value of its own.
    A loop that is garbage collected drops its value (it cannot be closed from another loop);
    :meth:`aclose` closes the running loop's value.

    Args:
        open: Makes the value, in the loop that asks for it.
        close: Releases a value (called by :meth:`aclose`, in the loop that opened it).

    Example:
        >>> import asyncio, itertools
        >>> counter = itertools.count()
        >>> async def make() -> int:
        ...     return next(counter)
        >>> per_loop = PerEventLoop(make)
        >>> async def twice() -> list[int]:
        ...     return [await per_loop.get(), await per_loop.get()]
        >>> asyncio.run(twice()), asyncio.run(twice())
        ([0, 0], [1, 1])

    """

    def __init__(self, open: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]] | None = None) -> None:  # noqa: A002
        self._open = open
        self._close = close
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slot[T]] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()  # loops in other threads may ask at the same time

    def _slot(self) -> _Slot[T]:
        loop = asyncio.get_running_loop()
        with self._guard:
            slot = self._slots.get(loop)
            if slot is None:
                slot = self._slots[loop] = _Slot(asyncio.Lock())
            return slot

    async def get(self) -> T:
        """The running loop's value, opened now if this loop has none.

        Example:
            >>> async def fresh() -> object:
            ...     return object()
            >>> per_loop = PerEventLoop(fresh)
            >>> async def two_tasks() -> bool:
            ...     first, second = await asyncio.gather(per_loop.get(), per_loop.get())
            ...     return first is second
            >>> asyncio.run(two_tasks())
            True

        """
        slot = self._slot()
        if slot.opened is None:
            async with slot.lock:
                if slot.opened is None:  # another task of this loop may have opened it while this one waited
                    slot.opened = (await self._open(),)
        return slot.opened[0]

    async def aclose(self) -> None:
        """Close the running loop's value if it opened one; the next :meth:`get` in this loop opens a new one.

        Example:
            >>> closed = []
            >>> async def open_pool() -> str:
            ...     return "pool"
            >>> async def close_pool(pool: str) -> None:
            ...     closed.append(pool)
            >>> async def use_and_close() -> None:
            ...     per_loop = PerEventLoop(open_pool, close_pool)
            ...     await per_loop.get()
            ...     await per_loop.aclose()
            >>> asyncio.run(use_and_close())
            >>> closed
            ['pool']

        """
        loop = asyncio.get_running_loop()
        with self._guard:
            slot = self._slots.pop(loop, None)
        if slot is None:
            return
        async with slot.lock:  # an open in progress finishes first, so its value is closed, not leaked
            if slot.opened is not None and self._close is not None:
                await self._close(slot.opened[0])
