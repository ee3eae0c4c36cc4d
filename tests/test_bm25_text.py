"""ragstore's BM25 text pipeline and ChromaBm25EmbeddingFunction against chromadb's own (the reference)."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any

import numpy as np
import pytest
from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction as ChromaBm25
from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import (
    DEFAULT_CHROMA_BM25_STOPWORDS,
    Murmur3AbsHasher,
)
from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import (
    Bm25Tokenizer as ChromaTokenizer,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from snowballstemmer.english_stemmer import EnglishStemmer  # the pure-Python stemmer, not PyStemmer behind snowballstemmer.stemmer

import ragstore.bm25_text as bm25_text
from ragstore.bm25_text import DEFAULT_STOPWORDS, Bm25Tokenizer, term_counts, token_hash
from ragstore.embeddings import (
    ChromaBm25EmbeddingFunction,
    HashingEmbeddingFunction,
    build_embedding_function,
    build_sparse_embedding_function,
    describe_embedding_function,
    register_sparse_embedding_function,
)
from ragstore.embeddings.base import embed
from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import SparseVector, is_sparse_embedding_function
from tests.shared_data import DATA, needs_data

SCIFACT = DATA / "retrieval" / "scifact" / "corpus.jsonl"

# Texts that exercise each step of the pipeline: punctuation runs, apostrophes, underscores and digits
# (word characters), Unicode case (final sigma, dotted I), non-ASCII whitespace, long tokens, stop words only.
TRICKY = [
    "",
    "   \t\n ",
    "the and of",
    "Don't stop-believing: it's 3.14, isn't it?",
    "snake_case_words and __dunder__ names_",
    "ΟΔΟΣ ΣΟΦΟΣ. Σίσυφος",
    "İstanbul DİYARBAKIR ıi",  # noqa: RUF001 - the dotless i is the point
    "naïve café coöperate façade Æsir straße STRASSE",
    "tabs\tnew\nlines\u00a0nbsp\u2003em\u3000ideographic\u2028sep",
    "x" * 40 + " " + "y" * 41 + " " + "z" * 39,
    "supercalifragilisticexpialidocious-antidisestablishmentarianism",
    "数据库 検索 데이터베이스 سلام עברית",
    "emoji 🙂🙂 and symbols ™®© ±×÷ ¼½",  # noqa: RUF001 - symbols are the point
    "RUNNING Runners ran; run, runs... running!!",
    "a1b2 100 1,000,000 3rd 2nd 10x COVID-19 SARS-CoV-2 IL-6",
    "generously generalization generalizations organizational",
]


def scifact_texts(limit: int | None = None) -> list[str]:
    texts = []
    with SCIFACT.open() as f:
        for line in f:
            doc = json.loads(line)
            texts.append(doc["title"] + " " + doc["text"])
            if limit is not None and len(texts) >= limit:
                break
    return texts


def chroma_tokenizer(stopwords: Any = None, token_max_length: int = 40) -> ChromaTokenizer:
    class PureSnowball:  # chroma's adapter, on the pure-Python stemmer
        def __init__(self) -> None:
            self.stemmer = EnglishStemmer()

        def stem(self, token: str) -> str:
            return str(self.stemmer.stemWord(token))

    return ChromaTokenizer(PureSnowball(), DEFAULT_CHROMA_BM25_STOPWORDS if stopwords is None else stopwords, token_max_length)


# ---------------------------------------------------------------------- the tokenizer


def test_stopwords_are_chromas() -> None:
    assert list(DEFAULT_STOPWORDS) == list(DEFAULT_CHROMA_BM25_STOPWORDS)


@pytest.mark.parametrize("text", TRICKY)
def test_tokenize_matches_chroma_on_tricky_texts(text: str) -> None:
    assert Bm25Tokenizer().tokenize(text) == chroma_tokenizer().tokenize(text)


@needs_data
def test_tokenize_and_hashes_match_chroma_on_scifact() -> None:
    ours, theirs, hasher = Bm25Tokenizer(), chroma_tokenizer(), Murmur3AbsHasher()
    for text in scifact_texts(1500):
        stems = theirs.tokenize(text)
        assert ours.tokenize(text) == stems
        assert ours.hashes(text) == [hasher.hash(stem) for stem in stems]


@needs_data
def test_stems_match_pure_python_snowball_on_the_scifact_vocabulary() -> None:
    vocabulary = {token for text in scifact_texts() for token in Bm25Tokenizer.raw_tokens(text)}
    assert len(vocabulary) > 30_000
    tokenizer, reference = Bm25Tokenizer(stopwords=[]), EnglishStemmer()
    different = [(word, tokenizer.tokenize(word), reference.stemWord(word)) for word in sorted(vocabulary)]
    different = [d for d in different if d[1] != ([d[2].strip()] if d[2].strip() and len(d[0]) <= 40 else [])]
    assert different == []


# Characters where a shortcut would differ from chroma's substitute, lower-case and split: final sigma,
# dotted capital I (lower-cases to i + a combining dot, which is not a word character), combining
# marks, separators that are whitespace to both, apostrophes and underscores.
SPECIAL = st.sampled_from(["Σ", "σ", "İ", "\u0307", "\x1c", "\u2028", "\u00a0", "'", "_", "-", " ", "ß", "ǅ", "Ⅻ", "²"])  # noqa: RUF001
TEXTS = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), SPECIAL), max_size=30).map("".join)


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_words_are_found_as_chroma_finds_them(text: str) -> None:
    assert Bm25Tokenizer.raw_tokens(text) == re.sub(r"[^\w\s]+", " ", text).lower().split()
    assert Bm25Tokenizer().hashes(text) == [Murmur3AbsHasher().hash(stem) for stem in chroma_tokenizer().tokenize(text)]


# ASCII text with the prose marks the fast way blanks (and a few other non-ASCII characters, which send a
# text the regex way): both ways must find chroma's words.
PROSE = st.lists(
    st.one_of(
        st.characters(max_codepoint=127),
        st.sampled_from(["\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026", "\u00a0", "é", "Σ"]),
    ),
    max_size=40,
).map("".join)


@given(PROSE)
@settings(max_examples=300, deadline=None)
def test_ascii_and_prose_texts_take_the_fast_way_to_chromas_words(text: str) -> None:
    assert Bm25Tokenizer().hashes(text) == [Murmur3AbsHasher().hash(stem) for stem in chroma_tokenizer().tokenize(text)]


@given(st.lists(st.one_of(PROSE, TEXTS), max_size=6))
@settings(max_examples=200, deadline=None)
def test_batch_term_counts_equal_each_texts_own(texts: list[str]) -> None:
    tokenizer = Bm25Tokenizer()
    batch = tokenizer.term_counts_batch(texts)
    assert batch.offsets.tolist()[0] == 0 and len(batch.offsets) == len(texts) + 1 and batch.hashes.dtype == np.uint32
    for i, text in enumerate(texts):
        alone = tokenizer.term_counts(text)
        start, end = batch.offsets[i], batch.offsets[i + 1]
        assert batch.hashes[start:end].tolist() == alone.hashes.tolist()
        assert batch.counts[start:end].tolist() == alone.counts.tolist() and batch.lengths[i] == alone.length


def test_token_hash_is_chromas_murmur3() -> None:
    hasher = Murmur3AbsHasher()
    for token in ["cat", "", "é", "数据", "x" * 40, "run", "🙂"]:
        assert token_hash(token) == hasher.hash(token)
    assert token_hash("cat") == 1751422759  # a fixed point: the wire format must never drift


def test_custom_stopwords_and_token_length() -> None:
    text = "The quick brown fox jumps over the lazy dog " + "w" * 12
    ours = Bm25Tokenizer(stopwords=["Quick", "fox"], token_max_length=10)
    assert ours.tokenize(text) == chroma_tokenizer(["Quick", "fox"], 10).tokenize(text)
    assert "quick" not in ours.tokenize(text) and "the" in ours.tokenize(text)


def test_term_counts_agree_with_tokenize() -> None:
    text = "Cats chase cats; dogs chase cats. The end."
    counts = term_counts(text)
    expected = Counter(token_hash(stem) for stem in Bm25Tokenizer().tokenize(text))
    assert dict(zip(counts.hashes.tolist(), counts.counts.tolist(), strict=True)) == expected
    assert counts.length == sum(expected.values()) == 7
    assert counts.hashes.dtype == np.int64 and list(counts.hashes) == sorted(counts.hashes)
    empty = term_counts("the of and")
    assert empty.length == 0 and len(empty.hashes) == len(empty.counts) == 0


def test_remembered_hashes_are_bounded_and_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bm25_text, "_CACHE_MAX", 8)
    tokenizer = Bm25Tokenizer()
    for text in [" ".join(f"word{i} running cats" for i in range(50)), " ".join(f"wörd{i} running cats" for i in range(50))]:
        first = tokenizer.hashes(text)  # ASCII, then not: each way's memory
        assert len(tokenizer._ascii_hashes) <= 8 and len(tokenizer._hashes) <= 8
        assert tokenizer.hashes(text) == first == [token_hash(stem) for stem in chroma_tokenizer().tokenize(text)]
    assert tokenizer._ascii_hashes and tokenizer._hashes


def test_threads_share_one_tokenizer() -> None:
    texts = [f"document {i} about running studies of {i % 7} cats and generalizations" for i in range(400)]
    tokenizer = Bm25Tokenizer()
    expected = [chroma_tokenizer().tokenize(t) for t in texts]
    results: dict[int, list[list[str]]] = {}

    def work(n: int) -> None:
        results[n] = [tokenizer.tokenize(t) for t in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


# ---------------------------------------------------------------------- the embedding function


def assert_same_vectors(ours: list[SparseVector], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.indices == b.indices
        assert a.labels == b.labels
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-6)


CONFIGS: list[dict[str, Any]] = [
    {},
    {"k": 0.9, "b": 0.4, "avg_doc_length": 120.0},
    {"stopwords": ["cell", "cells", "the"], "token_max_length": 8},
    {"include_tokens": True},
    {"k": 2, "b": 1, "avg_doc_length": 3, "token_max_length": 12, "include_tokens": True},
]


@pytest.fixture
def pure_snowball_in_chromadb(monkeypatch: pytest.MonkeyPatch) -> None:
    """chromadb's function on the pure-Python stemmer (with PyStemmer installed, snowballstemmer would delegate to it)."""
    import snowballstemmer

    monkeypatch.setattr(snowballstemmer, "stemmer", lambda language: EnglishStemmer())


@needs_data
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.usefixtures("pure_snowball_in_chromadb")
def test_embedding_function_matches_chromadb(config: dict[str, Any]) -> None:
    texts = scifact_texts(300) + [t for t in TRICKY if t.strip()]
    ours, theirs = ChromaBm25EmbeddingFunction(**config), ChromaBm25(**config)
    assert_same_vectors(ours(texts), theirs(texts))
    assert_same_vectors(ours.embed_query(texts[:5]), theirs.embed_query(texts[:5]))
    assert ours.get_config() == theirs.get_config()


def test_embedding_function_persists_and_is_rebuilt_as_sparse_only() -> None:
    ef = ChromaBm25EmbeddingFunction(k=1.5, stopwords=["foo"], include_tokens=True)
    description = describe_embedding_function(ef)
    assert description == {"type": "known", "name": "chroma_bm25", "config": ef.get_config()}
    rebuilt = build_sparse_embedding_function(description)
    assert isinstance(rebuilt, ChromaBm25EmbeddingFunction) and rebuilt.get_config() == ef.get_config()
    assert rebuilt(["foo bar"]) == ef(["foo bar"])
    assert build_embedding_function(description) is None  # never a collection's dense function
    dense = describe_embedding_function(HashingEmbeddingFunction(dim=4))
    assert build_sparse_embedding_function(dense) is None and build_embedding_function(dense) is not None
    # chromadb's config (the schema's "known" description) rebuilds the same function.
    chroma_config = ChromaBm25(k=1.5, stopwords=["foo"], include_tokens=True).get_config()
    assert build_sparse_embedding_function({"type": "known", "name": "chroma_bm25", "config": chroma_config}).get_config() == chroma_config


def test_a_sparse_function_never_embeds_dense_vectors() -> None:
    with pytest.raises(InvalidArgumentError, match="sparse embedding function"):
        embed(ChromaBm25EmbeddingFunction(), ["text"], query=False, op="add")
    assert is_sparse_embedding_function(ChromaBm25())  # chromadb's own class, recognised without importing chromadb
    assert not is_sparse_embedding_function(HashingEmbeddingFunction())
    with pytest.raises(InvalidArgumentError, match="not a SparseEmbeddingFunction"):
        register_sparse_embedding_function(HashingEmbeddingFunction)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"k": 1},
        {"k": "1"},
        {"b": True},
        {"avg_doc_length": None},
        {"token_max_length": 3.5},
        {"stopwords": []},
        {"stopwords": ["a", 1]},
        {"stopwords": "a b"},
        {"include_tokens": 1},
        {"include_tokens": False},
        {"nonsense": 1},
    ],
)
def test_validate_config_accepts_what_chromadb_accepts(config: dict[str, Any]) -> None:
    try:
        ChromaBm25.validate_config(config)
        chroma_ok = True
    except Exception:
        chroma_ok = False
    try:
        ChromaBm25EmbeddingFunction.validate_config(config)
        ours_ok = True
    except InvalidArgumentError:
        ours_ok = False
    assert ours_ok == chroma_ok


def test_validate_config_update_refuses_unknown_keys() -> None:
    ef = ChromaBm25EmbeddingFunction()
    ef.validate_config_update(ef.get_config(), {"k": 2.0, "stopwords": []})
    with pytest.raises(InvalidArgumentError, match=re.escape("Updating 'model' is not supported for chroma_bm25")):
        ef.validate_config_update(ef.get_config(), {"model": "x"})


def test_empty_input_and_empty_texts_are_chromas() -> None:
    ef = ChromaBm25EmbeddingFunction(include_tokens=True)
    assert ef(["the", ""]) == [SparseVector([], []), SparseVector([], [])]
    with pytest.raises(ValueError, match="non-empty list"):  # chromadb's protocol refuses an empty output
        ef([])
    with pytest.raises(ValueError, match="non-empty list"):
        ChromaBm25()([])
