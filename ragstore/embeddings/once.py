"""Models loaded at most once per process per key, whichever thread asks first.

Loading a model takes from a fraction of a second (ONNX) to several seconds
(torch); several threads (a server's workers, the ingest pipeline) may ask for
the same one at once. :class:`OncePerKey` builds each value once: the first
caller of a key builds it, the others wait on that key's lock and share the
result, and callers of other keys are not held up.

Example:
    >>> models = OncePerKey()
    >>> models.get("a", lambda: object()) is models.get("a", lambda: object())
    True
    >>> models.built()
    ['a']

"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class OncePerKey:
    """A thread-safe table of values built once per key (see the module docstring)."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value of ``key``, built by ``build()`` on the first call (an exception leaves nothing stored)."""
        value = self._values.get(key)
        if value is not None:
            return value
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            value = self._values.get(key)
            if value is None:
                value = build()
                self._values[key] = value
        return value

    def built(self) -> list[Any]:
        """The keys built so far, in build order."""
        return list(self._values)
