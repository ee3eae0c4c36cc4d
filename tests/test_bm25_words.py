"""A batch's words found at once (ragstore.bm25_words) are chroma's words, and its term counts each text's own."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import Murmur3AbsHasher
from hypothesis import given, settings
from hypothesis import strategies as st

import ragstore.bm25_text as bm25_text
import ragstore.bm25_words as bm25_words
from ragstore.bm25_text import Bm25Tokenizer
from ragstore.bm25_words import PACKED_MAX, batch_words, packed_word
from tests.shared_data import GUTENBERG, needs_data
from tests.test_bm25_text import TRICKY, chroma_tokenizer, scifact_texts


def chroma_words(text: str) -> list[str]:
    """Steps 1 and 2 as chroma writes them."""
    return re.sub(r"[^\w\s]+", " ", text).lower().split()


def words_by_text(texts: list[str]) -> list[list[str]]:
    """Each text's words as batch_words finds them (sorted: a batch keeps no order within a text)."""
    found = batch_words(texts)
    words: list[list[str]] = [[] for _ in texts]
    for text, i in zip(found.text_of.tolist(), found.inverse.tolist(), strict=True):
        words[text].append(packed_word(found.keys[i]))
    for text, word in found.others:
        words[text].append(word.lower())
    return [sorted(w) for w in words]


def chroma_counts(text: str) -> Counter[int]:
    hasher = Murmur3AbsHasher()
    return Counter(hasher.hash(stem) for stem in chroma_tokenizer().tokenize(text))


def batch_counts(tokenizer: Bm25Tokenizer, texts: list[str]) -> list[Counter[int]]:
    batch = tokenizer.term_counts_batch(texts)
    out = []
    for i in range(len(texts)):
        start, end = int(batch.offsets[i]), int(batch.offsets[i + 1])
        counts = Counter(dict(zip(batch.hashes[start:end].tolist(), batch.counts[start:end].tolist(), strict=True)))
        assert batch.lengths[i] == sum(counts.values())
        out.append(counts)
    return out


# Words around the packing limits (8 and 16 bytes), in any case, with digits and underscores, next to
# accented letters, non-word symbols and the prose marks that are blanked byte for byte.
LETTERS = st.sampled_from([*"aZ9_xQé", "ß", "Σ", "İ"])
WORDS = st.lists(LETTERS, min_size=1, max_size=PACKED_MAX + 3).map("".join)
GAPS = st.sampled_from([" ", "  ", ", ", "-", "\n", "\u2019", "\u201c", "\u2014", "\u00a0", "\u2026", "£", "\u00d7", "🙂", "'"])
PIECES = st.lists(st.tuples(WORDS, GAPS).map("".join), max_size=12).map("".join)


@given(st.lists(PIECES, max_size=5))
@settings(max_examples=300, deadline=None)
def test_batch_words_are_chromas_words(texts: list[str]) -> None:
    assert words_by_text(texts) == [sorted(chroma_words(text)) for text in texts]


@given(st.lists(PIECES, max_size=5))
@settings(max_examples=200, deadline=None)
def test_batch_term_counts_are_chromas(texts: list[str]) -> None:
    assert batch_counts(Bm25Tokenizer(), texts) == [chroma_counts(text) for text in texts]


def test_tricky_texts_in_one_batch() -> None:
    texts = [*TRICKY, "x" * 8, "y" * 9, "z" * 16, "w" * 17, "ab", "", "cd"]
    assert words_by_text(texts) == [sorted(chroma_words(text)) for text in texts]
    assert batch_counts(Bm25Tokenizer(), texts) == [chroma_counts(text) for text in texts]


def test_words_never_run_across_texts() -> None:
    found = batch_words(["ab", "", "cd", "x" * 20, "é"])
    assert found.text_of.tolist() == [0, 2] and [packed_word(k) for k in found.keys] == ["ab", "cd"]
    assert found.others == [(3, "x" * 20), (4, "é")]
    assert batch_words([]).keys == [] and batch_words([]).others == []


def test_a_lone_surrogate_splits_words_as_in_a_single_text() -> None:
    texts = ["caf\udce9 ok Cats", "plain cats"]
    tokenizer = Bm25Tokenizer()
    assert batch_counts(tokenizer, texts) == [Counter(tokenizer.hashes(text)) for text in texts]
    assert words_by_text(texts)[0] == ["caf", "cats", "ok"]


def test_remembered_packed_words_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_text, "_CACHE_MAX", 8)
    tokenizer = Bm25Tokenizer()
    texts = [" ".join(f"word{i} running cats longerwords{i}" for i in range(50))] * 2
    first = batch_counts(tokenizer, texts)
    assert 0 < len(tokenizer._packed_hashes) <= 8
    assert batch_counts(tokenizer, texts) == first == [chroma_counts(text) for text in texts]


@needs_data
def test_batches_of_real_text_count_as_chroma_does() -> None:
    gutenberg = [p.read_text(encoding="utf-8", errors="replace")[20_000:60_000] for p in sorted(GUTENBERG.glob("*.txt"))[:4]]
    texts = scifact_texts(400) + [book[i : i + 1000] for book in gutenberg for i in range(0, len(book), 1000)]
    assert batch_counts(Bm25Tokenizer(), texts) == [chroma_counts(text) for text in texts]
    batch = Bm25Tokenizer().term_counts_batch(texts)
    assert batch.hashes.dtype == np.uint32 and len(batch.offsets) == len(texts) + 1


def test_prose_marks_leave_words_packed() -> None:
    found = batch_words(["\u201cDon\u2019t\u201d \u2014 stop\u2026\u00a0now \u2013 caf\u00e9"])
    assert sorted(packed_word(found.keys[i]) for i in found.inverse.tolist()) == ["don", "now", "stop", "t"]
    assert found.others == [(0, "café")]  # only the run with an accented letter takes the regex


@given(st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 40), max_size=300))
@settings(max_examples=200, deadline=None)
def test_factorize_is_numpys_unique_with_inverse(values: list[int]) -> None:
    keys = np.array(values, dtype=np.uint64)
    distinct, inverse = bm25_words._factorize(keys)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    assert distinct.tolist() == expected.tolist() and inverse.tolist() == expected_inverse.reshape(-1).tolist()


def test_factorize_takes_the_sure_way_when_keys_collide() -> None:
    # k * inverse(phi) * phi = k: keys 0..99 times the multiplier's inverse all hash to slot 0, more collisions than probe steps.
    inverse_phi = pow(int(bm25_words._FIBONACCI), -1, 2**64)
    keys = np.array([(k * inverse_phi) % 2**64 for k in range(100)] * 2, dtype=np.uint64)
    assert len(set((keys * bm25_words._FIBONACCI).tolist())) == 100 and int((keys * bm25_words._FIBONACCI).max()) < 100
    distinct, inverse = bm25_words._factorize(keys)
    expected, expected_inverse = np.unique(keys, return_inverse=True)
    assert distinct.tolist() == expected.tolist() and inverse.tolist() == expected_inverse.reshape(-1).tolist()
