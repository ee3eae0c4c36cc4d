"""The text ``ragstore query`` searches for: refused when empty, and a note when it is longer than is read.

Two limits can cut a query: the search path takes at most
:data:`~ragstore.search.limits.MAX_QUERY_TEXT_LENGTH` characters (the CLI cuts there and says so,
rather than fail), and a transformer embedder reads only its window of word pieces (256 for
all-MiniLM-L6-v2) and drops the rest silently. :func:`model_window_note` tells the user the second
happened; BM25's side of a hybrid search still reads every word.

Example:
    >>> query_text("  how do I set a proxy?  ")
    ('how do I set a proxy?', None)
    >>> query_text("   ")
    Traceback (most recent call last):
    ...
    click.exceptions.ClickException: The query is empty: give the text to search for, e.g. ragstore query "how do I set a proxy?" -c docs

"""

from __future__ import annotations

from typing import Any

import click

from ragstore.search.limits import MAX_QUERY_TEXT_LENGTH


def query_text(text: str, limit: int = MAX_QUERY_TEXT_LENGTH) -> tuple[str, str | None]:
    """``text`` stripped, cut to ``limit`` characters, and the note to print when it was cut (else ``None``).

    Raises:
        click.ClickException: ``text`` is empty or only whitespace (a search for nothing ranks records arbitrarily).

    Example:
        >>> query_text("abcdef", limit=4)
        ('abcd', 'Note: the query is 6 characters; only its first 4 are searched (the limit of a text query).')

    """
    stripped = text.strip()
    if not stripped:
        raise click.ClickException('The query is empty: give the text to search for, e.g. ragstore query "how do I set a proxy?" -c docs')
    if len(stripped) <= limit:
        return stripped, None
    note = f"Note: the query is {len(stripped):,} characters; only its first {limit:,} are searched (the limit of a text query)."
    return stripped[:limit], note


def model_window_note(embedding_function: Any, text: str) -> str | None:
    """A note when ``embedding_function`` reads only the start of ``text`` (its window of word pieces), else ``None``.

    Knows ragstore's ONNX embedders (the default included) and sentence-transformers models; for any other
    function (hashing, an OpenAI-compatible server) the window is unknown here and nothing is said.

    Example:
        >>> from ragstore.embeddings import DefaultEmbeddingFunction, HashingEmbeddingFunction
        >>> model_window_note(DefaultEmbeddingFunction(), "a proxy " * 10) is None
        True
        >>> print(model_window_note(DefaultEmbeddingFunction(), "proxy " * 300))  # doctest: +ELLIPSIS
        Note: the query is 300 word pieces; the embedding model reads only its first 254 (up to "... proxy"), ...
        >>> model_window_note(HashingEmbeddingFunction(), "proxy " * 300) is None
        True

    """
    from ragstore.embeddings import OnnxEmbeddingFunction, SentenceTransformerEmbeddingFunction

    if isinstance(embedding_function, OnnxEmbeddingFunction):
        cut = _onnx_cut(embedding_function, text)
    elif isinstance(embedding_function, SentenceTransformerEmbeddingFunction):
        cut = _sentence_transformer_cut(embedding_function, text)
    else:
        return None
    if cut is None:
        return None
    total, kept, end = cut
    tail = " ".join(text.strip()[:end].split()[-3:])
    return (
        f'Note: the query is {total:,} word pieces; the embedding model reads only its first {kept:,} (up to "... {tail}"), '
        "so the dense side of the search ignores the rest; a shorter query is more precise."
    )


def _onnx_cut(embedding_function: Any, text: str) -> tuple[int, int, int] | None:
    """``(word pieces, word pieces read, characters read)`` when the ONNX encoder truncates ``text``."""
    # The encoder's own tokenizer (truncation on, as it embeds): the first part is what the model reads and
    # ``overflowing`` holds the rest, each part framed by [CLS] ... [SEP].
    encoding = embedding_function.encoder().tokenizer.encode(text.strip())
    if not encoding.overflowing:
        return None
    kept = len(encoding.ids) - 2
    total = kept + sum(len(part.ids) - 2 for part in encoding.overflowing)
    end = max(stop for start, stop in encoding.offsets)
    return total, kept, end


def _sentence_transformer_cut(embedding_function: Any, text: str) -> tuple[int, int, int] | None:
    """``(word pieces, word pieces read, characters read)`` when the sentence-transformers model truncates ``text``."""
    model = embedding_function.model()
    window = int(model.max_seq_length) - 2  # [CLS] and [SEP] take two places of the window
    encoding = model.tokenizer(text.strip(), add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False)
    pieces = encoding["input_ids"]
    if len(pieces) <= window:
        return None
    return len(pieces), window, int(encoding["offset_mapping"][window - 1][1])
