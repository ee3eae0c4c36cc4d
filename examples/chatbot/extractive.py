"""The offline answer: the retrieved sentences most similar to the question, code blocks kept as code.

Each passage is read as Markdown into units: sentences of its prose (cut at ``.``/``!``/``?``
followed by a space, and at blank lines), fenced code blocks (and ``>>>`` sessions), and lists.
Markdown decoration (heading marks, emphasis, backticks, link targets, ``!!! note`` markers) is
removed from prose, code spans and identifiers kept whole. The candidates are the sentences of
four words or more. A sentence right before a code block or list introduces it, so the two are
one candidate, scored and quoted together: code is quoted verbatim in a fenced block instead of
being flattened into prose. A sentence ending with a colon with nothing quotable after it (the
chunk ends, or a table follows) is no candidate: an answer never ends on a dangling colon.
Headings, tables, and code and lists with no sentence before them are left out.

The candidates are embedded with the collection's own embedding function, scored by cosine
similarity to the question, and the best few are returned in reading order, every one cited
by its passage's number (``[1]``), so each source the answer uses is cited where it is used.

Example:
    >>> import ragstore
    >>> from examples.chatbot.retrieval import Passage
    >>> passages = [Passage("a", "Apples are red and sweet. The sky is blue today.", {"source": "a.md"})]
    >>> extractive_answer("what colour are apples", passages, ragstore.HashingEmbeddingFunction(), sentences=1)
    'Apples are red and sweet. [1]'
    >>> code = Passage("b", "Set it on the client like this:\\n\\n```python\\nclient = Client(timeout=5)\\n```\\n")
    >>> print(extractive_answer("timeout on the client", [code], ragstore.HashingEmbeddingFunction()))
    Set it on the client like this [1]:
    <BLANKLINE>
    ```python
    client = Client(timeout=5)
    ```

"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from examples.chatbot.retrieval import Passage

NO_ANSWER = "The retrieved passages contain no sentence that answers this."
MAX_BLOCK_LINES = 25
"""Longer code blocks or lists are not quoted (the sentence introducing them is dropped with them)."""

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)(?:(?P<close>^[ \t]*(?P=fence)[ \t]*$)|\Z)", re.MULTILINE | re.DOTALL
)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s.*$", re.MULTILINE)
_ADMONITION = re.compile(r"^\s*(?:!!!|\?\?\?\+?)\s*\w+.*$", re.MULTILINE)  # MkDocs "!!! note" lines
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HEADING_MARK = re.compile(r"^#+\s*", re.MULTILINE)
_CODE_SPAN = re.compile(r"`+([^`]*)`+")
# Emphasis marks open before a non-space or close after one, never inside a word: snake_case stays whole.
_EMPHASIS = re.compile(r"(?<![\w*])[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?![\w*])")

Kind = Literal["sentence", "code", "list", "other"]


@dataclass(frozen=True)
class Unit:
    """One piece of a passage: a sentence, a code block (``text`` fenced, as quoted), a list, or something never quoted.

    Example:
        >>> Unit("sentence", "Hello there.").text
        'Hello there.'

    """

    kind: Kind
    text: str


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence, with the block it introduces when it ends with a colon, and its passage's number."""

    sentence: str
    block: str | None
    number: int

    def quoted(self) -> str:
        """The sentence cited (before its colon), then its block.

        Example:
            >>> Candidate("Like this:", "```\\nx\\n```", 2).quoted()
            'Like this [2]:\\n\\n```\\nx\\n```'

        """
        if self.block is None:
            return f"{self.sentence} [{self.number}]"
        if self.sentence.endswith(":"):
            return f"{self.sentence[:-1].rstrip()} [{self.number}]:\n\n{self.block}"
        return f"{self.sentence} [{self.number}]\n\n{self.block}"


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


def _prose_units(prose: str) -> list[Unit]:
    units = []
    for paragraph in _PARAGRAPH.split(_ADMONITION.sub("", _HEADING.sub("", prose))):
        lines = [line for line in paragraph.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].lstrip().startswith(">>>"):
            units.append(Unit("code", "```\n" + "\n".join(lines) + "\n```"))
        elif lines[0].lstrip().startswith(("|", "$ ")):
            units.append(Unit("other", paragraph))
        elif _LIST_ITEM.match(lines[0]):
            items: list[str] = []
            for line in lines:  # a line that is no item continues the one before
                if _LIST_ITEM.match(line) or not items:
                    items.append(clean(_LIST_ITEM.sub("", line)))
                else:
                    items[-1] += " " + clean(line)
            units.append(Unit("list", "\n".join(f"- {item}" for item in items)))
        else:
            units.extend(Unit("sentence", clean(part)) for part in _SENTENCE.split(paragraph.strip()) if part.strip())
    return units


def units(text: str) -> list[Unit]:
    """A passage's text as units in reading order; a code fence the chunk cuts off is an ``"other"`` unit.

    Example:
        >>> [u.kind for u in units("# Title\\n\\nFirst real sentence here. Then this:\\n\\n```\\nx = 1\\n```\\n\\n| a | b |")]
        ['sentence', 'sentence', 'code', 'other']

    """
    found: list[Unit] = []
    start = 0
    for fence in _FENCE.finditer(text):
        found += _prose_units(text[start : fence.start()])
        body = fence.group("body").rstrip("\n")
        closed = fence.group("close") is not None
        found.append(Unit("code", f"```{fence.group('info').strip()}\n{body}\n```") if closed else Unit("other", body))
        start = fence.end()
    return found + _prose_units(text[start:])


def candidates(passage: Passage, number: int) -> list[Candidate]:
    """The quotable sentences of a passage (see the module docstring).

    Example:
        >>> [c.block for c in candidates(Passage("a", "It works like this:\\n\\n- one item\\n- another item"), 1)]
        ['- one item\\n- another item']
        >>> candidates(Passage("a", "The chunk ends with this lead-in:"), 1)
        []

    """
    found = []
    pieces = units(passage.text)
    for index, unit in enumerate(pieces):
        if unit.kind != "sentence" or len(unit.text.split()) < 4:
            continue
        following = pieces[index + 1] if index + 1 < len(pieces) else None
        if following is not None and following.kind in ("code", "list") and following.text.count("\n") < MAX_BLOCK_LINES:
            found.append(Candidate(unit.text, following.text, number))
        elif not unit.text.endswith(":"):
            found.append(Candidate(unit.text, None, number))
    return found


def extractive_answer(question: str, passages: Sequence[Passage], embed: Any, sentences: int = 3) -> str:
    """The ``sentences`` sentences of ``passages`` closest to ``question`` (with the blocks they introduce), cited ``[n]``.

    Args:
        question: What was asked (for follow-ups, the rewritten retrieval query works best).
        passages: The retrieved passages, best first; ``[n]`` refers to their position (from 1).
        embed: An embedding function (``__call__(list[str])``; ``embed_query`` used when present).
        sentences: How many sentences to return.

    Returns:
        The answer text, or :data:`NO_ANSWER` when the passages have no usable sentence.

    """
    found = [candidate for number, passage in enumerate(passages, 1) for candidate in candidates(passage, number)]
    if not found:
        return NO_ANSWER
    # A sentence and the block it introduces are scored together: the code often holds the words asked about.
    vectors = np.asarray(embed([f"{c.sentence} {c.block or ''}".strip() for c in found]), dtype=np.float32)
    embed_query = getattr(embed, "embed_query", embed)
    query = np.asarray(embed_query([question])[0], dtype=np.float32)
    scores = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-12)
    quoted = [found[i] for i in sorted(int(i) for i in np.argsort(-scores, kind="stable")[:sentences])]  # reading order
    answer = quoted[0].quoted()
    for before, candidate in itertools.pairwise(quoted):  # sentences run on; a block stands apart
        answer += ("\n\n" if before.block or candidate.block else " ") + candidate.quoted()
    return answer
