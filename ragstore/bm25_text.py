r"""Chroma's BM25 text pipeline: tokens, stems, Murmur3 hashes and term counts.

A text becomes BM25 terms exactly as chromadb 1.5.9's ``ChromaBm25EmbeddingFunction``
tokenises it (``chromadb/utils/embedding_functions/schemas/bm25_tokenizer.py``), so the
hashes ragstore's engine indexes are the ones a chromadb client sends as query vectors:

1. every run of characters that are neither word characters nor whitespace
   (regex ``[^\w\s]+``, Unicode) becomes one space;
2. the text is lower-cased and split on whitespace;
3. stop words (chroma's English list, :data:`DEFAULT_STOPWORDS`) and tokens longer than
   ``token_max_length`` (40) characters are dropped;
4. each token is stemmed with the English Snowball stemmer (surrounding whitespace
   stripped; a token whose stem is empty is dropped);
5. each stem is hashed with Murmur3 (32-bit, seed 0, UTF-8), absolute value.

Stems come from PyStemmer, the Snowball C library: chroma uses ``snowballstemmer``,
whose pure-Python English stemmer gave the same stem for each of the 116,060 distinct
words of the shared corpora (SciFact, NFCorpus, Cranfield, Vaswani, the httpx and
Starlette docs) and is 15x slower (610 ms against 41 ms for SciFact's 36,172 words).

:meth:`Bm25Tokenizer.term_counts_batch` is the engine's entry point: for each text of a
write, the distinct hashes, their counts and the text's length in terms, counted for the
whole batch at once (one ``np.unique``, not one per text). The tokenizer remembers the hash
of each word it has seen (bounded), so a corpus stems each distinct word once; stemming
every word every time made it 2.5x slower. A batch's words are found together and made
distinct before they are looked up (:func:`ragstore.bm25_words.batch_words`); a single text's
(a query's) are found on their own, in one of two ways with equal results: a text that is ASCII
once the punctuation of typeset prose (curly quotes, dashes, ellipsis, no-break space) is blanked
is lower-cased and split with ``bytes.translate`` and ``bytes.split`` (14 µs per 1,000 characters
of Gutenberg text, where the word regex takes 32 µs); any other text goes through the regex.

Example:
    >>> tokenizer = Bm25Tokenizer()
    >>> tokenizer.tokenize("The cats are running, and the dog ran!")
    ['cat', 'run', 'dog', 'ran']
    >>> counts = tokenizer.term_counts("Cats chase cats.")
    >>> counts.length, dict(zip(counts.hashes.tolist(), counts.counts.tolist())) == {token_hash("cat"): 2, token_hash("chase"): 1}
    (3, True)

"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TypeVar

import mmh3
import numpy as np
import numpy.typing as npt
import Stemmer  # type: ignore[import-not-found]  # PyStemmer ships no type information

from ragstore.bm25_words import ASCII_WORDS, PROSE_MARKS, WORD, batch_words, packed_word

# chromadb's DEFAULT_CHROMA_BM25_STOPWORDS, in its order (data, copied). The forms with an
# apostrophe never match: step 1 has already split "don't" into "don" and "t".
DEFAULT_STOPWORDS: tuple[str, ...] = tuple(
    """
    a about above after again against ain all am an and any are aren aren't as at be because been before being below between
    both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don don't down during each few for from
    further had hadn hadn't has hasn hasn't have haven haven't having he her here hers herself him himself his how i if in
    into is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself needn needn't no
    nor not now o of off on once only or other our ours ourselves out over own re s same shan shan't she she's should
    should've shouldn shouldn't so some such t than that that'll the their theirs them themselves then there these they this
    those through to too under until up ve very was wasn wasn't we were weren weren't what when where which while who whom
    why will with won won't wouldn wouldn't y you you'd you'll you're you've your yours yourself yourselves
    """.split()  # noqa: SIM905 - 179 words read better as text than as a list literal
)
TOKEN_MAX_LENGTH = 40

_DROPPED = -1  # the cached "hash" of a token that yields no term
# Raw tokens whose hash is remembered. A corpus has far fewer distinct words (SciFact:
# 36,172); past this many the memory is cleared and refilled, so odd inputs (ids,
# numbers, code) cannot grow it without bound. ~120 bytes an entry.
_CACHE_MAX = 262_144
_Word = TypeVar("_Word", str, bytes, int)


def token_hash(token: str) -> int:
    """A term's index: Murmur3 (32-bit, seed 0) of its UTF-8 bytes, absolute value (chroma's ``Murmur3AbsHasher``).

    Example:
        >>> token_hash("cat")
        1751422759

    """
    return abs(mmh3.hash(token, seed=0))


class TermCounts(NamedTuple):
    """A text's BM25 terms: distinct hashes (ascending), how often each occurs, and the text's length in terms."""

    hashes: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]
    length: int


class BatchTermCounts(NamedTuple):
    """The BM25 terms of several texts, flat: text ``i``'s are ``hashes[offsets[i]:offsets[i + 1]]``.

    Attributes:
        offsets: Where each text's terms start, and the end (``len(texts) + 1`` values).
        hashes: Each text's distinct term hashes, ascending (``uint32``: Murmur3 absolute values fit).
        counts: How often each term occurs in its text.
        lengths: Each text's length in terms.

    """

    offsets: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint32]
    counts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]


class Bm25Tokenizer:
    """Chroma's BM25 tokenizer (see the module docstring), with a memory of token hashes.

    Args:
        stopwords: Words to drop (compared lower-cased); ``None``: :data:`DEFAULT_STOPWORDS`.
        token_max_length: Longer tokens (before stemming) are dropped.

    Thread-safe: the stemmer runs under a lock, the memory is a dict.

    """

    def __init__(self, stopwords: Iterable[str] | None = None, token_max_length: int = TOKEN_MAX_LENGTH) -> None:
        self._stopwords = frozenset(word.lower() for word in (DEFAULT_STOPWORDS if stopwords is None else stopwords))
        self._token_max_length = token_max_length
        self._stemmer = Stemmer.Stemmer("english")
        self._stem_lock = threading.Lock()
        self._hashes: dict[str, int] = {}  # words as the regex finds them (as written)
        self._ascii_hashes: dict[bytes, int] = {}  # words as the ASCII way finds them (lower-cased)
        self._packed_hashes: dict[int, int] = {}  # words a batch packs into integers (lower-cased; bm25_words)

    @staticmethod
    def raw_tokens(text: str) -> list[str]:
        """Steps 1 and 2: punctuation runs to spaces, lower case, split on whitespace.

        Example:
            >>> Bm25Tokenizer.raw_tokens("Hello, World-wide web!")
            ['hello', 'world', 'wide', 'web']

        """
        return [word.lower() for word in WORD.findall(text)]

    def _stem(self, token: str) -> str | None:
        """Steps 3 and 4 for one raw token: its stem, or ``None`` when it yields no term."""
        if token in self._stopwords or len(token) > self._token_max_length:
            return None
        with self._stem_lock:
            stem: str = self._stemmer.stemWord(token)
        return stem.strip() or None

    def tokenize(self, text: str) -> list[str]:
        """The stems of ``text``, in order (chroma's ``Bm25Tokenizer.tokenize``).

        Example:
            >>> Bm25Tokenizer().tokenize("Studies studied by the student")
            ['studi', 'studi', 'student']

        """
        stems = (self._stem(token) for token in self.raw_tokens(text))
        return [stem for stem in stems if stem is not None]

    def _hash_of(self, word: str) -> int:
        """The hash of one word's stem (a run of word characters, any case), or ``_DROPPED``."""
        stem = self._stem(word.lower())
        return _DROPPED if stem is None else token_hash(stem)

    def hashes(self, text: str) -> list[int]:
        """The hash of each term of ``text``, in order (``[token_hash(s) for s in tokenize(text)]``, faster).

        Example:
            >>> Bm25Tokenizer().hashes("cats") == [token_hash("cat")]
            True

        """
        return [value for value in self._word_hashes(text) if value != _DROPPED]

    def _word_hashes(self, text: str) -> list[int]:
        """The hash of each word of ``text``, in order, ``_DROPPED`` for a word that yields no term."""
        data = text.encode("utf-8", "surrogatepass")  # a lone surrogate stays non-ASCII: the regex takes the text
        if not data.isascii():
            for mark in PROSE_MARKS:
                data = data.replace(mark, b" ")
        if data.isascii():
            return self._known_hashes(data.translate(ASCII_WORDS).split(), self._ascii_hashes)
        return self._known_hashes(WORD.findall(text), self._hashes)  # remembered as written: a known word is not even lower-cased

    def _known_hashes(self, words: Sequence[_Word], memory: dict[_Word, int]) -> list[int]:
        """The hashes of ``words`` through ``memory``; words not seen yet are stemmed and remembered."""
        found = list(map(memory.get, words))
        if None in found:
            for i, value in enumerate(found):
                if value is None:
                    if len(memory) >= _CACHE_MAX:
                        memory.clear()
                    word = words[i]
                    found[i] = memory[word] = self._hash_of(_spelled(word))
        return found  # type: ignore[return-value]  # no None is left

    def term_counts(self, text: str) -> TermCounts:
        """Distinct term hashes of ``text`` (ascending), their counts, and its length in terms.

        Example:
            >>> Bm25Tokenizer().term_counts("the the the").length
            0

        """
        hashes = self.hashes(text)
        if not hashes:
            return TermCounts(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0)
        distinct, counts = np.unique(np.array(hashes, dtype=np.int64), return_counts=True)
        return TermCounts(distinct, counts.astype(np.int64, copy=False), len(hashes))

    def term_counts_batch(self, texts: Sequence[str]) -> BatchTermCounts:
        """:meth:`term_counts` of each text, counted for the batch at once.

        Example:
            >>> batch = Bm25Tokenizer().term_counts_batch(["Cats chase cats.", "the", "dogs"])
            >>> batch.offsets.tolist(), batch.lengths.tolist(), sorted(batch.counts[0:2].tolist())
            ([0, 2, 2, 3], [3, 0, 1], [1, 2])

        """
        words = batch_words(texts)  # each distinct short word once: looked up once, not at each occurrence
        packed = np.array(self._known_hashes(words.keys, self._packed_hashes), dtype=np.int64)[words.inverse]
        others = self._known_hashes([word for _, word in words.others], self._hashes)
        flat = np.concatenate((packed, np.array(others, dtype=np.int64)))
        text_of = np.concatenate((words.text_of, np.array([text for text, _ in words.others], dtype=np.int64)))
        kept = flat != _DROPPED
        flat, text_of = flat[kept], text_of[kept]
        lengths = np.bincount(text_of, minlength=len(texts)).astype(np.int64)
        # Hashes are below 2**32, so (text, hash) packs into one int64 and one sort counts every text's terms.
        keys, counts = np.unique((text_of << 32) | flat, return_counts=True)
        offsets = np.searchsorted(keys >> 32, np.arange(len(texts) + 1)).astype(np.int64)
        return BatchTermCounts(offsets, (keys & 0xFFFFFFFF).astype(np.uint32), counts.astype(np.int64, copy=False), lengths)


def _spelled(word: str | bytes | int) -> str:
    """A remembered word as text: as the regex found it (``str``), the ASCII way (``bytes``) or a batch packed it (``int``)."""
    if isinstance(word, str):
        return word
    return word.decode("ascii") if isinstance(word, bytes) else packed_word(word)


_DEFAULT: Bm25Tokenizer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_tokenizer() -> Bm25Tokenizer:
    """The shared tokenizer with chroma's defaults (its memory serves every caller).

    Example:
        >>> default_tokenizer() is default_tokenizer()
        True

    """
    global _DEFAULT
    if _DEFAULT is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = Bm25Tokenizer()
    return _DEFAULT


def term_counts(text: str) -> TermCounts:
    """:meth:`Bm25Tokenizer.term_counts` with chroma's default stop words and token length.

    Example:
        >>> term_counts("Running runners run").counts.tolist()
        [2, 1]

    """
    return default_tokenizer().term_counts(text)
