"""Run one store operation against a sync or an async ragstore collection.

Operations (:mod:`.operations`) are generators that yield collection calls as
``(method_name, kwargs)`` and receive each call's result, so one implementation
serves ``Collection`` (sync) and ``AsyncCollection`` (awaited) alike.

Example:
    >>> import ragstore
    >>> def count_twice():
    ...     first = yield ("count", {})
    ...     second = yield ("count", {})
    ...     return first + second
    >>> run_sync(ragstore.EphemeralClient().create_collection("drive-example"), count_twice())
    0

"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

T = TypeVar("T")
Call = tuple[str, dict[str, Any]]
Operation = Generator[Call, Any, T]


def run_sync(collection: Any, operation: Operation[T]) -> T:
    """Drive ``operation`` with a sync ``ragstore.Collection``; returns the operation's value."""
    try:
        name, kwargs = next(operation)
        while True:
            name, kwargs = operation.send(getattr(collection, name)(**kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(collection: Any, operation: Operation[T]) -> T:
    """Drive ``operation`` with a ``ragstore.AsyncCollection`` (every call awaited)."""
    try:
        name, kwargs = next(operation)
        while True:
            name, kwargs = operation.send(await getattr(collection, name)(**kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
