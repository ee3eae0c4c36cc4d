"""Linear-time regular expressions for ``$regex`` / ``$not_regex``.

Python's ``re`` backtracks and can be made to run for hours by one pattern
(``(a+)+b``); RE2 cannot, and its syntax is close to the Rust ``regex`` crate
that chromadb uses. Compiled patterns are cached per process.

Example:
    >>> compile_regex("(?i)hello").search("Say HELLO") is not None
    True

"""

from __future__ import annotations

import functools
from typing import Any

import re2

# RE2 refuses patterns whose compiled program would exceed this many bytes, which
# bounds the memory (and so the cost) one pattern can take.
_MAX_PROGRAM_MEMORY = 8 << 20


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax, or is too costly to compile."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are raised as exceptions, not printed to stderr
    options.max_mem = _MAX_PROGRAM_MEMORY
    return options


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Any:
    """Compile ``pattern`` with RE2 (cached).

    Raises:
        RegexError: invalid syntax or a pattern that needs too much memory.

    """
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if "pattern too large" in detail:
            detail = f"pattern too costly: it compiles to more than {_MAX_PROGRAM_MEMORY >> 20} MiB ({detail})"
        raise RegexError(detail) from None


def regex_search(pattern: str, text: str | None) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (``None`` never matches)."""
    if text is None:
        return False
    return compile_regex(pattern).search(text) is not None
