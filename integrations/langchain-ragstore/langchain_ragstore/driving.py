"""Run one store operation synchronously or asynchronously.

An operation (:mod:`langchain_ragstore.operations`) is a generator: it yields the calls it needs as
steps ``(target, method, kwargs)`` and receives each call's result, so one body serves the sync
methods and their ``a*`` twins. The drivers differ only in how a step is performed:

========================  ===============================  ================================================
target                    :func:`run_sync` calls            :func:`run_async` awaits
========================  ===============================  ================================================
``"collection"``          ``Collection.<method>``           ``AsyncCollection.<method>`` (same names)
``"embeddings"``          ``Embeddings.<method>``           ``Embeddings.a<method>`` (LangChain's naming)
``"connection"``          ``StoreConnection.<method>``      ``StoreConnection.a<method>``
========================  ===============================  ================================================

The caller's ``resolve`` turns a target name into the object (opening the collection on first use),
so an operation that needs no I/O opens nothing.

Example:
    >>> import asyncio
    >>> def twice():
    ...     first = yield ("embeddings", "embed_query", {"text": "hi"})
    ...     return first * 2
    >>> class Fake:
    ...     def embed_query(self, text):
    ...         return [1.0]
    ...     async def aembed_query(self, text):
    ...         return [2.0]
    >>> run_sync(twice(), lambda target: Fake())
    [1.0, 1.0]
    >>> async def resolve(target):
    ...     return Fake()
    >>> asyncio.run(run_async(twice(), resolve))
    [2.0, 2.0]

"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Target = Literal["collection", "embeddings", "connection"]
Step = tuple[Target, str, dict[str, Any]]
Operation = Generator[Step, Any, T]


def async_name(target: Target, method: str) -> str:
    """The name of ``method``'s coroutine twin on ``target``: ragstore's async collection keeps the names, LangChain prefixes ``a``.

    Example:
        >>> async_name("collection", "query"), async_name("embeddings", "embed_documents")
        ('query', 'aembed_documents')

    """
    return method if target == "collection" else f"a{method}"


def run_sync(operation: Operation[T], resolve: Callable[[Target], Any]) -> T:
    """Drive ``operation`` with sync calls on ``resolve(target)``; returns the operation's value."""
    try:
        target, method, kwargs = next(operation)
        while True:
            target, method, kwargs = operation.send(getattr(resolve(target), method)(**kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(operation: Operation[T], resolve: Callable[[Target], Awaitable[Any]]) -> T:
    """Drive ``operation`` with the awaited coroutine twins (:func:`async_name`) on ``await resolve(target)``."""
    try:
        target, method, kwargs = next(operation)
        while True:
            performer = getattr(await resolve(target), async_name(target, method))
            target, method, kwargs = operation.send(await performer(**kwargs))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
