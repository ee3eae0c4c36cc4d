r"""Steps 1 and 2 of chroma's BM25 pipeline (:mod:`ragstore.bm25_text`): the words of texts, lower-cased.

Chroma turns every run of characters that are neither word characters nor whitespace into a
space, lower-cases the text and splits it on whitespace: the words are the runs of word
characters (regex ``\w+``), lower-cased. :data:`WORD` finds them in any text;
:func:`batch_words` finds those of a write's documents at once, for the engine's BM25 upkeep.

:func:`batch_words` joins the texts into one UTF-8 buffer (a space between two texts), lets
``bytes.translate`` lower-case the ASCII word characters (``[A-Za-z0-9_]``, what ``\w`` matches
in ASCII) and blank every other ASCII byte, and blanks the punctuation of typeset prose
(:data:`PROSE_MARKS`: curly quotes, dashes, ellipsis, no-break space; none is a word character),
space for byte, so offsets hold. A word is then a run of bytes that are not blank:

- a run of ASCII bytes up to 16 long (nearly every word of English text: 94% of the words of
  ``benchmarks/hybrid_speed.py``'s Gutenberg chunks are up to 8 bytes, 5.6% 9-16) is read as an
  integer, its bytes little-endian (:func:`packed_word` reads it back; no word byte is 0, so
  distinct words are distinct integers), and one sort makes the batch's words distinct: the
  tokenizer then looks up each distinct word once per batch, not each occurrence;
- any other run (longer, or holding bytes of other characters: accented letters, and symbols
  that are not word characters) is split by :data:`WORD`. The blanks around the run stand for
  characters that are not word characters, so the regex finds in it exactly the words the text
  has there. Its ASCII letters are lower-cased already; lower-casing the word again gives what
  lower-casing the text gives (lower-casing does not change which letters are cased, the only
  context Unicode's one context-dependent mapping, final sigma, looks at).

On batches of 5,000 Gutenberg chunks of ~1,000 characters (CPU time on a shared 2-core
machine), :meth:`~ragstore.bm25_text.Bm25Tokenizer.term_counts_batch` costs 15 µs a chunk this
way (14 µs of it here), against 30 µs when each text was split alone (``bytes.split``, or the
regex for a text that is not ASCII) and each word looked up.

Example:
    >>> words = batch_words(["Cats chase CATS.", "naïve café"])
    >>> [packed_word(words.keys[i]) for i in words.inverse.tolist()], words.text_of.tolist()
    (['cats', 'chase', 'cats'], [0, 0, 0])
    >>> words.others
    [(1, 'naïve'), (1, 'café')]

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["ASCII_WORDS", "PACKED_MAX", "PROSE_MARKS", "WORD", "BatchWords", "batch_words", "packed_word"]

# The runs of word characters. What is left after chroma turns punctuation runs into spaces is word
# characters and whitespace, and str.split() splits on exactly the characters regex \s matches.
# Lower-casing each run alone equals lower-casing the text (final sigma, the one context-dependent
# mapping, looks no further than whitespace).
WORD = re.compile(r"\w+", flags=re.UNICODE)
# For ASCII, the same words as WORD without a regex: bytes.translate lower-cases word characters
# and blanks every other ASCII byte; bytes of other characters (128-255) stay as they are.
ASCII_WORDS = bytes(ord(chr(b).lower()) if chr(b).isalnum() or chr(b) == "_" else ord(" ") for b in range(128)) + bytes(range(128, 256))
# Punctuation of typeset prose (none of it a word character), blanked so that quoted and dashed
# English text stays ASCII (of the 100,000 Gutenberg chunks of benchmarks/hybrid_speed.py 44% are
# ASCII, 81% once these are blanked; SciFact's abstracts: 79% and 83%).
PROSE_MARKS = tuple(mark.encode() for mark in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0")
# The longest word read as an integer (two 64-bit halves).
PACKED_MAX = 16

Int64s = npt.NDArray[np.int64]

_BLANK = ord(" ")
_PROSE_MARK_ARRAYS = [np.frombuffer(mark, dtype=np.uint8) for mark in PROSE_MARKS]
# 2**64 / the golden ratio: multiplying by it spreads keys over a hash table's slots (Fibonacci hashing).
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)
# Probe steps of _factorize's hash table before the keys left take the slow, sure way (real text needs ~7).
_PROBES = 16
# _LOW_BYTES[n]: the low n bytes of a 64-bit word (n = 0..8).
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)


class BatchWords(NamedTuple):
    """The words of a batch of texts (see the module docstring).

    Attributes:
        text_of: The text each packed word is in (packed words in no particular order).
        inverse: Each packed word's position in ``keys``.
        keys: The distinct packed words, as integers (:func:`packed_word` reads one back).
        others: ``(text, word)`` of the words that were not packed, as :data:`WORD` finds them.

    """

    text_of: Int64s
    inverse: Int64s
    keys: list[int]
    others: list[tuple[int, str]]


def packed_word(key: int) -> str:
    """The word a key of :class:`BatchWords` stands for.

    Example:
        >>> packed_word(int.from_bytes(b"cats", "little"))
        'cats'

    """
    return key.to_bytes(PACKED_MAX, "little").rstrip(b"\0").decode("ascii")


def batch_words(texts: Sequence[str]) -> BatchWords:
    """The words of ``texts``, lower-cased: packed and made distinct where they are short ASCII runs (see the module docstring).

    Example:
        >>> words = batch_words(["Hello, World-wide web!", "", "web"])
        >>> sorted((t, packed_word(words.keys[i])) for t, i in zip(words.text_of.tolist(), words.inverse.tolist()))
        [(0, 'hello'), (0, 'web'), (0, 'wide'), (0, 'world'), (2, 'web')]

    """
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]  # a lone surrogate stays a non-ASCII run
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    # A blank before the first text and PACKED_MAX + 1 after the last: every run has a blank on each side, and
    # the 16 bytes read from a run's start (two 64-bit words) never pass the end.
    buffer = b" " + b" ".join(encoded).translate(ASCII_WORDS) + b" " * (PACKED_MAX + 1)
    data = np.frombuffer(buffer, dtype=np.uint8)
    if not buffer.isascii():
        data = _blank_prose_marks(data)
    solid = data != _BLANK
    edges = np.flatnonzero(solid[1:] != solid[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    firsts = np.concatenate(([1], 1 + np.cumsum(sizes[:-1] + 1)))  # each text's first byte
    text_of = np.searchsorted(firsts, starts, side="right") - 1
    lengths = ends - starts
    packable = lengths <= PACKED_MAX
    high = np.flatnonzero(data >= 0x80)
    if len(high):  # runs holding bytes of non-ASCII characters: every such byte is inside a run
        packable[np.searchsorted(starts, high, side="right") - 1] = False
    packed = np.flatnonzero(packable)
    keys, inverse = _distinct(data, starts[packed], lengths[packed])
    others = [
        (text, word)
        for text, start, end in zip(text_of[~packable].tolist(), starts[~packable].tolist(), ends[~packable].tolist(), strict=True)
        for word in WORD.findall(buffer[start:end].decode("utf-8", "surrogatepass"))
    ]
    return BatchWords(text_of[packed].astype(np.int64, copy=False), inverse, keys, others)


def _blank_prose_marks(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``data`` (a copy) with each of :data:`PROSE_MARKS` blanked byte for byte (UTF-8 lead bytes start no other match)."""
    data = data.copy()
    for mark in _PROSE_MARK_ARRAYS:
        at = np.flatnonzero(data[: len(data) - len(mark) + 1] == mark[0])
        for k in range(1, len(mark)):
            at = at[data[at + k] == mark[k]]
        for k in range(len(mark)):
            data[at + k] = _BLANK
    return data


def _distinct(
    data: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> tuple[list[int], npt.NDArray[np.int64]]:
    """The distinct words of the runs at ``starts`` (ASCII, 1-16 bytes) as integers, and each run's position among them.

    Runs up to 8 bytes are one 64-bit word each, made distinct by :func:`_factorize`; longer
    ones (a few percent) are pairs, made distinct by a ``lexsort``.
    """
    # Every byte offset's next 8 bytes as one little-endian integer: a strided view, nothing copied.
    eights = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    short = lengths <= 8
    at, size = starts[short], lengths[short]
    low_keys, low_inverse = _factorize(eights[at] & _LOW_BYTES[size])
    keys: list[int] = low_keys.tolist()
    inverse = np.empty(len(starts), dtype=np.int64)
    inverse[short] = low_inverse
    if not short.all():
        at, size = starts[~short], lengths[~short]
        low, high = eights[at], eights[at + 8] & _LOW_BYTES[size - 8]
        order = np.lexsort((low, high))
        low, high = low[order], high[order]
        new = np.concatenate(([True], (low[1:] != low[:-1]) | (high[1:] != high[:-1])))
        long_inverse = np.empty(len(order), dtype=np.int64)
        long_inverse[order] = len(keys) + np.cumsum(new) - 1
        inverse[~short] = long_inverse
        keys.extend(lo | (hi << 64) for lo, hi in zip(low[new].tolist(), high[new].tolist(), strict=True))
    return keys, inverse


def _factorize(keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint64], Int64s]:
    """The distinct ``keys`` (ascending) and each key's position among them: ``np.unique(keys, return_inverse=True)``, faster.

    ``np.unique`` finds the positions with an ``argsort``, 3x the time of numpy's vectorised
    ``sort`` here (a batch's ~880,000 words: 33 ms against 11 ms this way). Instead the keys
    are sorted, and each one is found in an open-addressing table of the distinct ones (at
    least 4 slots per key, Fibonacci hashing, linear probing), every probe step a numpy pass
    over the keys not found yet (most are found at the first). If the distinct keys are not
    all placed after :data:`_PROBES` steps (words made to collide), ``np.unique`` answers.

    Example:
        >>> distinct, inverse = _factorize(np.array([7, 3, 7, 9], dtype=np.uint64))
        >>> distinct.tolist(), inverse.tolist()
        ([3, 7, 9], [1, 0, 1, 2])

    """
    ordered = np.sort(keys)
    distinct = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(keys) else ordered
    bits = max(8, (4 * len(distinct)).bit_length())
    mask, shift = (1 << bits) - 1, np.uint64(64 - bits)
    table = np.full(1 << bits, -1, dtype=np.int64)
    pending = np.arange(len(distinct), dtype=np.int64)
    slots = ((distinct * _FIBONACCI) >> shift).astype(np.int64)
    for _ in range(_PROBES):  # place the distinct keys: per step, the first key for each free slot
        free = np.flatnonzero(table[slots] < 0)
        taken, first = np.unique(slots[free], return_index=True)
        table[taken] = pending[free[first]]
        placed = np.zeros(len(pending), dtype=bool)
        placed[free[first]] = True
        pending, slots = pending[~placed], (slots[~placed] + 1) & mask
    if len(pending):
        unique, inverse = np.unique(keys, return_inverse=True)
        return unique, inverse.reshape(-1).astype(np.int64, copy=False)
    inverse = np.empty(len(keys), dtype=np.int64)
    todo = np.arange(len(keys), dtype=np.int64)
    slots = ((keys * _FIBONACCI) >> shift).astype(np.int64)
    # A key placed at step r sits r - 1 slots past its own, with no empty slot between: found at step r, within _PROBES.
    while len(todo):
        found = table[slots]
        hit = distinct[found] == keys[todo]
        inverse[todo[hit]] = found[hit]
        todo, slots = todo[~hit], (slots[~hit] + 1) & mask
    return distinct, inverse
