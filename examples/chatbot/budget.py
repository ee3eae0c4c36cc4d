"""The token budget of the context sent to an LLM.

Tokens are counted with all-MiniLM-L6-v2's WordPiece tokenizer (the default
embedder's own, already on disk and fast), a real tokenizer whose counts are
close to those of the BPE tokenizers chat models use for English prose. When
it cannot be loaded, :func:`approximate_tokens` counts one token per four
characters (OpenAI's rule of thumb), rounded up.

:func:`fit_passages` keeps passages in rank order while they fit and drops the
lowest-ranked first; the best passage is always kept (cut to what is left of
the budget if it alone is too long), so an answer always has context.

Example:
    >>> from examples.chatbot.retrieval import Passage
    >>> passages = [Passage(str(i), "word " * 100) for i in range(3)]
    >>> [p.id for p in fit_passages(passages, budget=260, count=approximate_tokens)]
    ['0', '1']

"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace

from examples.chatbot.retrieval import Passage

TokenCounter = Callable[[str], int]


def approximate_tokens(text: str) -> int:
    """About one token per four characters, rounded up.

    Example:
        >>> approximate_tokens("12345678"), approximate_tokens("123456789")
        (2, 3)

    """
    return -(-len(text) // 4)


@functools.cache
def token_counter() -> TokenCounter:
    """The default counter: the embedding model's tokenizer, or :func:`approximate_tokens` without it.

    Example:
        >>> token_counter()("Hello world")
        2

    """
    try:
        from ragstore.documents.token_splitter import default_tokenizer

        tokenizer = default_tokenizer()
    except ImportError:
        return approximate_tokens

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def fit_passages(passages: Sequence[Passage], budget: int, count: TokenCounter) -> list[Passage]:
    """The best-ranked passages whose texts fit in ``budget`` tokens together (see the module docstring).

    Args:
        passages: Passages best first.
        budget: Tokens available for passage texts.
        count: Token counter.

    Returns:
        A prefix of ``passages`` (its first element possibly shortened).

    """
    kept: list[Passage] = []
    used = 0
    for passage in passages:
        size = count(passage.text)
        if used + size > budget:
            break
        kept.append(passage)
        used += size
    if not kept and passages:
        first = passages[0]
        share = max(budget, 0) / max(count(first.text), 1)
        kept.append(replace(first, text=first.text[: int(len(first.text) * share)]))
    return kept
