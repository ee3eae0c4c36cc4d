"""The RE2 patterns for string filters, checked with the RE2 that ragstore runs them with (``ragstore.regex``).

Quoting is checked on every code point, string ranges against Python's own string order on
strings built from the characters where an off-by-one or a missed escape would show.
"""

from __future__ import annotations

import operator
import random
import string
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters
from ragstore.filters import MAX_REGEX_LENGTH, parse_where
from ragstore.regex import compile_regex, regex_search

from llama_index.vector_stores.ragstore.errors import UnsupportedFilterError
from llama_index.vector_stores.ragstore.string_patterns import LAST_CHAR, insensitive_substring, quote, string_range
from llama_index.vector_stores.ragstore.translation import plan_filters

EVERY_CHAR = [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]  # every code point a str can be stored with
ORDER: dict[str, Callable[[str, str], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
# Characters next to the edges a range pattern handles: NUL and the last code point, both sides of the surrogates,
# what RE2 would read as syntax in or out of a class, a newline (which "." skips without (?s)), multi-byte UTF-8.
TRICKY = ["\x00", "\x01", "\n", "-", "]", "[", "^", "\\", ".", "a", "b", "z", "é", "\ud7ff", "\ue000", "中", "😀", LAST_CHAR]


def fullmatch(pattern: str, text: str) -> bool:
    return regex_search(f"^(?:{pattern})\\z", text)


def test_quote_gives_only_literal_tokens_for_every_code_point() -> None:
    """RE2's QuoteMeta: an ASCII letter, digit or _ and every non-ASCII character stand as they are, NUL as \\x00, other ASCII escaped.

    RE2 reads a backslash before ASCII punctuation or a space as that character, and has no syntax outside ASCII.
    """
    for char in EVERY_CHAR:
        quoted = quote(char)
        if char == "\x00":
            assert quoted == "\\x00"
        elif not char.isascii() or char in string.ascii_letters + string.digits + "_":
            assert quoted == char, hex(ord(char))
        else:
            assert quoted == "\\" + char, hex(ord(char))


def test_quoted_text_matches_itself_for_every_code_point() -> None:
    for start in range(0, len(EVERY_CHAR), 2000):
        text = "".join(EVERY_CHAR[start : start + 2000])
        assert fullmatch(quote(text), text), start
        assert fullmatch(f"(?i){quote(text)}", text), start


def test_a_quoted_ascii_character_matches_that_character_only() -> None:
    ascii_chars = [chr(code) for code in range(128)]
    for char in ascii_chars:
        pattern = compile_regex(quote(char))
        assert [other for other in ascii_chars if pattern.search(other)] == [char]


def test_insensitive_substring_agrees_with_lower_on_ascii() -> None:
    rng = random.Random(4)
    letters = "aAbBzZ .*?+()[]{}|^$\\-_0"
    for _ in range(3000):
        needle = "".join(rng.choice(letters) for _ in range(rng.randint(0, 3)))
        haystack = "".join(rng.choice(letters) for _ in range(rng.randint(0, 6)))
        assert regex_search(insensitive_substring(needle), haystack) == (needle.lower() in haystack.lower()), (needle, haystack)


@pytest.mark.parametrize(
    ("needle", "haystack", "matches", "lowercase_matches"),
    [
        ("ÉCLAIR", "un éclair", True, True),  # accents fold as they lowercase
        ("straße", "STRAẞE", True, True),
        ("k", "K", True, True),  # the Kelvin sign
        ("s", "\u017f", True, False),  # the long s folds to s, and lowercases to itself
        ("\u00b5", "\u03bc", True, False),  # the micro sign and the Greek mu
        ("\u03c3", "\u0391\u03a3", True, False),  # lower() gives the final sigma U+03C2 at the end of a word
        ("i", "İ", False, True),  # lower() turns İ into i and a combining dot
    ],
)
def test_insensitive_substring_is_re2_case_folding(needle: str, haystack: str, matches: bool, lowercase_matches: bool) -> None:
    assert regex_search(insensitive_substring(needle), haystack) is matches
    assert (needle.lower() in haystack.lower()) is lowercase_matches


def test_empty_needles_match_every_string() -> None:
    assert regex_search(insensitive_substring(""), "") and regex_search(insensitive_substring(""), "x\ny")


@pytest.mark.parametrize("op", list(ORDER))
def test_string_range_is_pythons_order(op: str) -> None:
    rng = random.Random(op)
    words = ["".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 4))) for _ in range(220)]
    for bound in words:
        pattern = string_range(bound, op)
        for value in words:
            got = pattern is not None and regex_search(pattern, value)
            assert got == ORDER[op](value, bound), (value, op, bound, pattern)


def test_string_range_of_the_empty_string() -> None:
    assert string_range("", "<") is None  # nothing sorts below ""
    matched = {op: [v for v in ("", "a") if regex_search(str(string_range("", op)), v)] for op in (">", ">=", "<=")}
    assert matched == {">": ["a"], ">=": ["", "a"], "<=": [""]}


def test_string_range_refuses_other_operators() -> None:
    with pytest.raises(ValueError, match="Not a range operator"):
        string_range("a", "==")


def pattern_where(key: str, value: str, op: str) -> dict[str, Any] | None:
    return plan_filters(MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=FilterOperator(op))])).where


@pytest.mark.parametrize("op", list(ORDER))
@pytest.mark.parametrize("bound", ["".join(random.Random(1).choice(string.printable + "é中😀") for _ in range(200)), "!" * 200])
def test_range_bounds_of_two_hundred_characters_fit_ragstores_limit(op: str, bound: str) -> None:
    """200 characters fit, even punctuation, the longest to quote (NUL is longer, but has nothing below it)."""
    where = pattern_where("k", bound, op)
    assert where is not None and len(where["k"]["$regex"]) <= MAX_REGEX_LENGTH
    parse_where(where)  # ragstore compiles the pattern with its own limits
    with pytest.raises(UnsupportedFilterError, match="MAX_REGEX_LENGTH"):
        pattern_where("k", bound * 5, op)


def test_text_value_limits() -> None:
    """text_match_insensitive fits up to 2,046 punctuation characters; text_match takes ragstore's substring limit."""
    parse_where(pattern_where("k", "." * 2046, "text_match_insensitive"))
    parse_where(pattern_where("k", "a" * 4092, "text_match_insensitive"))
    with pytest.raises(UnsupportedFilterError, match="MAX_REGEX_LENGTH"):
        pattern_where("k", "." * 2047, "text_match_insensitive")
    parse_where(pattern_where("k", "." * 4096, "text_match"))
    with pytest.raises(UnsupportedFilterError, match="at most 4096 characters"):
        pattern_where("k", "." * 4097, "text_match")
