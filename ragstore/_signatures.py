"""One function's parameters given to another, so a sync factory and its async twin are declared once.

``HttpClient`` and ``AsyncHttpClient`` take the same eight arguments (chromadb's, positions included).
Writing them twice let the two drift; :func:`arguments_of` gives the twin the first one's signature,
for type checkers (through ``ParamSpec``), for ``help()`` and ``inspect`` (through ``__signature__``), and
:func:`bind_arguments` binds a call to it, defaults filled in, as Python would.

Example:
    >>> import inspect
    >>> def greet(name: str, punctuation: str = "!") -> str:
    ...     return name + punctuation
    >>> @arguments_of(greet)
    ... async def agreet(*args: Any, **kwargs: Any) -> str:
    ...     given = bind_arguments(greet, args, kwargs)
    ...     return given["name"] + given["punctuation"]
    >>> str(inspect.signature(agreet))
    "(name: 'str', punctuation: 'str' = '!') -> 'str'"
    >>> import asyncio
    >>> asyncio.run(agreet("hi"))
    'hi!'

"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def arguments_of(model: Callable[P, object]) -> Callable[[Callable[..., Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a coroutine function taking ``*args, **kwargs`` so that it declares ``model``'s parameters.

    The decorated function keeps its own return annotation and reads its arguments with :func:`bind_arguments`.
    """

    def declare(function: Callable[..., Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        returns = inspect.signature(function).return_annotation
        function.__signature__ = inspect.signature(model).replace(return_annotation=returns)  # type: ignore[attr-defined]
        return function

    return declare


def bind_arguments(model: Callable[..., object], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``args``/``kwargs`` bound to ``model``'s parameters by name, defaults included (``TypeError`` as a call would raise).

    Example:
        >>> def f(a: int, b: int = 2) -> None: ...
        >>> bind_arguments(f, (1,), {})
        {'a': 1, 'b': 2}

    """
    bound = inspect.signature(model).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)
