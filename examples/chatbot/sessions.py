"""Conversations of the web chatbot: one chat engine per browser tab, bounded in number and age.

A session is created on a tab's first question and named by a random,
unguessable id the page keeps for later questions. Each session owns a
:class:`~examples.chatbot.engine.ChatEngine` (so its own conversation memory);
the retriever, the LLM client and the token counter behind them are shared.

The store is bounded, because the server is reachable by anyone who can open
the page: at most ``max_sessions`` live at once (the least recently used one
is forgotten first) and a session unused for ``idle_seconds`` is dropped.
An unknown or expired id simply starts a new conversation.

Example:
    >>> sessions = Sessions(lambda: "an engine", max_sessions=2)
    >>> first, engine = sessions.get_or_create(None)
    >>> sessions.get_or_create(first) == (first, "an engine")
    True
    >>> sessions.get_or_create("not-a-known-id")[0] != first
    True

"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Engine = TypeVar("Engine")

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""What a session id looks like (``secrets.token_urlsafe`` output); anything else is refused by the web API."""


class Sessions(Generic[Engine]):
    """Engines by session id, least recently used first out.

    Args:
        new_engine: Makes the engine of a new session.
        max_sessions: Sessions kept at once.
        idle_seconds: A session unused this long is forgotten.
        clock: Seconds, monotonic (tests pass their own).

    Example:
        >>> sessions = Sessions(dict, max_sessions=1)
        >>> a, _ = sessions.get_or_create(None); b, _ = sessions.get_or_create(None)
        >>> len(sessions), sessions.get(a) is None
        (1, True)

    """

    def __init__(
        self,
        new_engine: Callable[[], Engine],
        max_sessions: int = 1000,
        idle_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.new_engine = new_engine
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._engines: OrderedDict[str, tuple[Engine, float]] = OrderedDict()
        self._lock = threading.Lock()  # requests run in a thread pool

    def __len__(self) -> int:
        return len(self._engines)

    def get(self, session_id: str | None) -> Engine | None:
        """The engine of a live session (marked as just used), else ``None``."""
        with self._lock:
            self._expire()
            if session_id is None or session_id not in self._engines:
                return None
            engine, _ = self._engines.pop(session_id)
            self._engines[session_id] = (engine, self.clock())
            return engine

    def get_or_create(self, session_id: str | None) -> tuple[str, Engine]:
        """The session ``session_id`` if it is live, else a new one; returns its id and engine."""
        engine = self.get(session_id)
        if engine is not None and session_id is not None:
            return session_id, engine
        new_id = secrets.token_urlsafe(18)
        engine = self.new_engine()
        with self._lock:
            while len(self._engines) >= self.max_sessions:
                self._engines.popitem(last=False)
            self._engines[new_id] = (engine, self.clock())
        return new_id, engine

    def forget(self, session_id: str) -> bool:
        """Drop a session; returns whether it existed."""
        with self._lock:
            return self._engines.pop(session_id, None) is not None

    def _expire(self) -> None:
        oldest_allowed = self.clock() - self.idle_seconds
        while self._engines:
            _, (_, last_used) = next(iter(self._engines.items()))
            if last_used >= oldest_allowed:
                break
            self._engines.popitem(last=False)
