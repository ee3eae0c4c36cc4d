"""The offline answer: the retrieved sentences most similar to the question.

The top passages are cut into sentences (at ``.``/``!``/``?`` followed by
space, and at blank lines); Markdown decoration (heading marks, emphasis,
backticks, link targets) is removed, code spans and identifiers kept whole; headings, code, tables and fragments of fewer than
four words are left out. The rest are embedded with the collection's own
embedding function, scored by cosine similarity to the question, and the best
few are returned in reading order, each followed by its passage number (``[1]``).

Example:
    >>> import ragstore
    >>> from examples.chatbot.retrieval import Passage
    >>> passages = [Passage("a", "Apples are red and sweet. The sky is blue today.", {"source": "a.md"})]
    >>> extractive_answer("what colour are apples", passages, ragstore.HashingEmbeddingFunction(), sentences=1)
    'Apples are red and sweet. [1]'

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from examples.chatbot.retrieval import Passage

NO_ANSWER = "The retrieved passages contain no sentence that answers this."
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s.*$", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HEADING_MARK = re.compile(r"^#+\s*", re.MULTILINE)
_CODE_SPAN = re.compile(r"`+([^`]*)`+")
# Emphasis marks open before a non-space or close after one, never inside a word: snake_case stays whole.
_EMPHASIS = re.compile(r"(?<![\w*])[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?![\w*])")


def clean(text: str) -> str:
    """Markdown decoration removed and whitespace collapsed; code spans and identifiers kept as written.

    Example:
        >>> clean("## Use `httpx.get()` — see [docs](http://x)")
        'Use httpx.get() — see docs'
        >>> clean("Pass **`query_texts`** or _a_ `__init__` path like ./ragstore_data")
        'Pass query_texts or a __init__ path like ./ragstore_data'

    """
    parts = _CODE_SPAN.split(_HEADING_MARK.sub("", _LINK.sub(r"\1", text)))
    kept = [part if odd else _EMPHASIS.sub("", part) for odd, part in zip([False, True] * len(parts), parts, strict=False)]
    return " ".join("".join(kept).split())


def split_sentences(passage: Passage) -> list[str]:
    """The answer-worthy sentences of a passage (no code, tables or short fragments).

    Example:
        >>> split_sentences(Passage("a", "# Title\\n\\nFirst real sentence here. ```code``` \\n\\n| a | b |"))
        ['First real sentence here.']

    """
    found = []
    for part in _SENTENCE.split(_HEADING.sub("", passage.text)):
        stripped = part.strip()
        if stripped.startswith(("```", "|", ">>>", "$ ")) or "```" in stripped:
            continue
        text = clean(stripped)
        if len(text.split()) >= 4:
            found.append(text)
    return found


def extractive_answer(question: str, passages: Sequence[Passage], embed: Any, sentences: int = 3) -> str:
    """The ``sentences`` sentences of ``passages`` closest to ``question``, tagged ``[n]``.

    Args:
        question: What was asked (for follow-ups, the rewritten retrieval query works best).
        passages: The retrieved passages, best first; ``[n]`` refers to their position (from 1).
        embed: An embedding function (``__call__(list[str])``; ``embed_query`` used when present).
        sentences: How many sentences to return.

    Returns:
        The answer text, or :data:`NO_ANSWER` when the passages have no usable sentence.

    """
    candidates = [(text, number) for number, passage in enumerate(passages, 1) for text in split_sentences(passage)]
    if not candidates:
        return NO_ANSWER
    vectors = np.asarray(embed([text for text, _ in candidates]), dtype=np.float32)
    embed_query = getattr(embed, "embed_query", embed)
    query = np.asarray(embed_query([question])[0], dtype=np.float32)
    scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-12)
    best = sorted(int(i) for i in np.argsort(-scores, kind="stable")[:sentences])  # reading order
    return " ".join(f"{candidates[i][0]} [{candidates[i][1]}]" for i in best)
