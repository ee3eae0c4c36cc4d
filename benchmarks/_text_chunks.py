"""Real text for the hybrid speed benchmark: Gutenberg books cut into ~1,000-character chunks, with keyword queries.

The 31 books in ``../shared/data/text/gutenberg`` hold about 15.5 M characters of text once the
Gutenberg header and footer are cut off: about 15,500 distinct 1,000-character chunks. To reach
100,000 chunks of real prose, the chunks are windows of :data:`CHUNK_CHARS` characters whose starts
are spread evenly over the text (every ~155 characters at 100,000), each snapped to a word boundary.
So at 100,000 chunks, neighbouring windows overlap and a rare word sits in about six chunks instead
of one: BM25 posting lists of rare terms are longer than in 100,000 distinct chunks (slightly
pessimistic for the sparse side), while common words' lists are as long as in any 100,000 chunks.

Queries are 2-6 consecutive words of a random chunk, lowercased (what people type into a search
box); every query shares words with the corpus, so BM25 always has postings to score.

Example:
    >>> chunks = gutenberg_chunks(50)
    >>> len(chunks.texts), 800 < len(chunks.texts[0]) <= CHUNK_CHARS, len(chunks.books) == len(chunks.texts)
    (50, True, True)
    >>> len(keyword_queries(chunks.texts, 3, seed=1))
    3

"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _datasets import SHARED_DATA

GUTENBERG_DIR = SHARED_DATA / "text" / "gutenberg"
CHUNK_CHARS = 1_000
_START = re.compile(r"\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG[^\n]*\n")
_END = re.compile(r"\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG")
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass(frozen=True)
class Chunks:
    """Chunk texts and, per chunk, the book it comes from (the file's stem, e.g. ``2600-0``)."""

    texts: list[str]
    books: list[str]


def _book_text(path: Path) -> str:
    """A book's text between the Gutenberg header and footer, whitespace collapsed to single spaces."""
    raw = path.read_text(encoding="utf-8-sig", errors="replace")
    start = _START.search(raw)
    end = _END.search(raw)
    body = raw[start.end() if start else 0 : end.start() if end else len(raw)]
    return " ".join(body.split())


def gutenberg_chunks(n: int, directory: Path = GUTENBERG_DIR) -> Chunks:
    """``n`` windows of up to :data:`CHUNK_CHARS` characters, their starts spread evenly over all the books' text."""
    paths = sorted(directory.glob("*.txt"))
    if not paths:
        raise FileNotFoundError(f"no Gutenberg books in {directory}")
    bodies = [_book_text(path) for path in paths]
    text = " ".join(bodies)
    # Where each book starts in the joined text, to name a chunk's book by its start.
    starts = np.cumsum([0] + [len(body) + 1 for body in bodies[:-1]])
    last_start = len(text) - CHUNK_CHARS
    positions = np.linspace(0, last_start, n).astype(np.int64) if n > 1 else np.zeros(1, np.int64)
    texts, books = [], []
    for position in positions.tolist():
        # Snap both ends to spaces, so a chunk holds whole words, as a text splitter's chunks do.
        begin = position if position == 0 else text.find(" ", position) + 1
        end = text.rfind(" ", begin, begin + CHUNK_CHARS)
        texts.append(text[begin : end if end > begin else begin + CHUNK_CHARS])
        books.append(paths[int(np.searchsorted(starts, begin, side="right")) - 1].stem)
    return Chunks(texts, books)


def keyword_queries(texts: list[str], q: int, seed: int) -> list[str]:
    """``q`` queries of 2-6 consecutive words (three letters or more) from random chunks, lowercased."""
    rng = np.random.default_rng(seed)
    queries: list[str] = []
    while len(queries) < q:
        words = _WORD.findall(texts[int(rng.integers(len(texts)))])
        size = int(rng.integers(2, 7))
        if len(words) < size:
            continue
        first = int(rng.integers(len(words) - size + 1))
        queries.append(" ".join(words[first : first + size]).lower())
    return queries
