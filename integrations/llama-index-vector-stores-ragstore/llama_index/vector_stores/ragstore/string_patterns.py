r"""RE2 patterns for the string filters that ragstore's ``where`` has no operator for.

ragstore's ``$regex`` matches a string metadata value with an RE2 pattern anywhere in it
(numbers, booleans, lists and missing keys never match). Two LlamaIndex operators become one:

* ``text_match_insensitive``: ``(?i)`` and the value quoted by RE2's own ``QuoteMeta``
  (``re2.escape``: every ASCII character other than a letter, digit or ``_`` is
  backslash-escaped, NUL becomes ``\x00``, non-ASCII characters stay as they are, RE2
  having no metacharacters outside ASCII). Case-insensitive means RE2's Unicode simple case
  folding, which agrees with ``str.lower()`` on ASCII and on most scripts but not on characters
  whose case mapping is not one-to-one: RE2 also matches folding variants (``s`` matches the
  long s U+017F, the micro sign U+00B5 the Greek mu U+03BC, the sigma U+03C3 the final sigma
  U+03C2 even where ``str.lower()`` picks the final form), and ``str.lower()`` turns ``İ`` into
  two characters (``i`` and a combining dot), so ``"i" in "İ".lower()`` holds while RE2 does
  not match ``i`` in ``İ``.
* ``> >= < <=`` on strings (ragstore's ``$gt`` and the rest take numbers only). Python
  compares strings by code point, the first difference deciding, a proper prefix sorting
  first. So ``v > x`` holds when ``v`` agrees with ``x`` up to some position and has a larger
  character there, or goes on after all of ``x``:
  ``^(?:[>x0]|x0(?:[>x1]|x1(?: ... |x(n-1)(?s:.))))``, where ``[>c]`` is the class of the
  code points above ``c``. ``>=`` also accepts ``v`` ending with ``x``; ``<`` and ``<=``
  mirror it, with ``\z`` (``v`` ends) as an alternative at each position. The pattern takes
  about ten characters per character of ``x``, and ragstore takes patterns of up to
  ``MAX_REGEX_LENGTH`` (4,096) characters.

Example:
    >>> print(insensitive_substring("a.b"))
    (?i)a\.b
    >>> string_range("b", ">") == "^(?:[c-\U0010ffff]|b(?s:.))"
    True

"""

from __future__ import annotations

import re2

LAST_CHAR = chr(0x10FFFF)  # classes of the characters above another run up to it
ANY_STRING = "^"  # $regex needs a non-empty pattern; this one matches every string value


def quote(text: str) -> str:
    r"""``text`` as an RE2 pattern that matches exactly it (RE2's ``QuoteMeta``).

    Example:
        >>> print(quote("1+1=2?"), quote("é"))
        1\+1\=2\? é

    """
    return str(re2.escape(text))


def insensitive_substring(text: str) -> str:
    """A pattern matching the strings that contain ``text`` up to case (RE2's case folding: see the module docstring).

    Example:
        >>> insensitive_substring("Red"), insensitive_substring("")
        ('(?i)Red', '^')

    """
    return f"(?i){quote(text)}" if text else ANY_STRING


def _choice(alternatives: list[str]) -> str:
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def _step(char: str, by: int) -> str:
    """The code point next to ``char`` (``by`` = 1 or -1), over the surrogates: no stored string holds one, and RE2 cannot take one."""
    code = ord(char) + by
    if 0xD800 <= code <= 0xDFFF:
        code = 0xE000 if by > 0 else 0xD7FF
    return chr(code)


def _above(char: str) -> str | None:
    """The class of the code points above ``char`` (``None`` above the last one)."""
    return None if char == LAST_CHAR else f"[{quote(_step(char, 1))}-{LAST_CHAR}]"


def _below(char: str) -> str | None:
    """The class of the code points below ``char`` (``None`` below NUL)."""
    return None if char == "\x00" else f"[\\x00-{quote(_step(char, -1))}]"


def string_range(bound: str, operator: str) -> str | None:
    r"""A pattern matching the strings ``v`` with ``v <operator> bound`` in Python's order; ``None`` when no string does.

    Args:
        bound: The string compared with.
        operator: ``">"``, ``">="``, ``"<"`` or ``"<="``.

    Example:
        >>> print(string_range("ab", "<="))
        ^(?:\z|[\x00-\`]|a(?:\z|[\x00-a]|b\z))
        >>> string_range("", "<") is None
        True

    """
    rest: str | None
    if operator in (">", ">="):
        # What must follow all of ``bound``: nothing more (>=) or at least one more character (>).
        rest = "" if operator == ">=" else "(?s:.)"
        for char in reversed(bound):
            rest = _choice([part for part in (_above(char), quote(char) + rest) if part is not None])
    elif operator in ("<", "<="):
        rest = "\\z" if operator == "<=" else None  # after all of ``bound`` the value may only end (<=), or nothing matches (<)
        for char in reversed(bound):
            # Here the value may end (a proper prefix of ``bound``), have a smaller character, or go on with this one.
            rest = _choice([part for part in ("\\z", _below(char), None if rest is None else quote(char) + rest) if part is not None])
    else:
        raise ValueError(f"Not a range operator: {operator!r}")
    return None if rest is None else f"^{rest}"
