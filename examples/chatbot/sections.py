"""Sources that are the same section merge: one source per file section, its chunks joined in reading order.

A section longer than a chunk is stored as several chunks with the same label (file, page,
heading path), and a question about it often retrieves two of them: listed apart, the same
"timeouts.md · Fine tuning the configuration" showed twice under one answer, with two
numbers to cite. :func:`merge_sections` makes them one :class:`~.retrieval.Passage`: ranked
where its best chunk ranked, with the best score, and the texts in document order
(``start_index``, else ``chunk_index``), the overlap the splitter repeats at a chunk's start
written once, and ``…`` where chunks that were not retrieved lie between two that were.

Example:
    >>> from examples.chatbot.retrieval import Passage
    >>> a = Passage("a0", "Intro text that the splitter repeats.", {"source": "a.md", "headers": "A", "start_index": 0}, 0.4)
    >>> b = Passage("a1", "the splitter repeats. More text.", {"source": "a.md", "headers": "A", "start_index": 16}, 0.2)
    >>> [(p.label, p.text, round(p.score, 2)) for p in merge_sections([b, a])]
    [('a.md · A', 'Intro text that the splitter repeats. More text.', 0.8)]

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from examples.chatbot.retrieval import Passage

MIN_OVERLAP = 12
"""Fewest characters a chunk's end and the next one's start must share to count as the splitter's overlap."""
SEPARATOR_CHARS = 4
"""Characters (blank lines) the splitter may drop between adjacent chunks; a larger distance is a gap."""
GAP = "\n\n…\n\n"


def _position(passage: Passage) -> tuple[int, int]:
    meta = passage.metadata
    return int(meta.get("start_index") or 0), int(meta.get("chunk_index") or 0)


def join_chunks(first: str, second: str, gap: bool = False) -> str:
    """Two chunks in document order as one text: the part of ``second`` that repeats the end of ``first`` is dropped.

    Args:
        first: The earlier text.
        second: The later chunk.
        gap: Whether text lies between them (marked ``…``).

    Example:
        >>> join_chunks("one two three four", "two three four five")
        'one two three four five'
        >>> join_chunks("First paragraph.", "Next one."), join_chunks("First paragraph.", "Much later.", gap=True)
        ('First paragraph.\\n\\nNext one.', 'First paragraph.\\n\\n…\\n\\nMuch later.')

    """
    first, second = first.rstrip(), second.lstrip()
    for size in range(min(len(first), len(second)), MIN_OVERLAP - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return first + (GAP if gap else "\n\n") + second


def merge_sections(passages: Sequence[Passage]) -> list[Passage]:
    """``passages`` (best first) with those of the same section merged (see the module docstring).

    The merged passage keeps the best chunk's id, the earliest chunk's metadata, the best
    score, the most query terms held, and is "kept for its similarity" if any chunk was.
    """
    groups: dict[str, list[Passage]] = {}
    for passage in passages:
        groups.setdefault(passage.label, []).append(passage)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        ordered = sorted(group, key=_position)
        text, end = ordered[0].text, _position(ordered[0])[0] + len(ordered[0].text)
        for chunk in ordered[1:]:
            start = _position(chunk)[0]
            text = join_chunks(text, chunk.text, gap="start_index" in chunk.metadata and start > end + SEPARATOR_CHARS)
            end = max(end, start + len(chunk.text))
        best = max(group, key=lambda p: p.score)
        terms = max((p.terms for p in group if p.terms is not None), default=None)
        by_similarity = any(p.kept_for == "similarity" for p in group)
        merged.append(
            replace(best, text=text, metadata=ordered[0].metadata, terms=terms, kept_for="similarity" if by_similarity else "terms")
        )
    return merged
