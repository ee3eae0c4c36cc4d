r"""The recursive character splitter: LangChain's algorithm, computed on offsets.

The text is cut at the first separator that occurs in it (paragraphs, then
lines, then sentences, then words, then characters); pieces longer than
``chunk_size`` are cut again with the next separators, and neighbouring pieces
are merged back into chunks of up to ``chunk_size``, each new chunk starting
with up to ``chunk_overlap`` of the previous one's end (whole pieces only).

Unlike LangChain, the work is done on ``(start, end)`` offsets into the text
and a separator stays with the piece it ends, so:

- every chunk is an exact slice of the text (``start_index`` is exact, not
  found again by searching, which goes wrong when a passage repeats);
- no text is lost: every non-whitespace character is in some chunk, and
  between consecutive chunks there is overlap or whitespace only;
- no chunk is longer than ``chunk_size`` (measured with ``length_function``)
  unless the separators cannot cut a piece (never, with the default ``""``);
- chunks are stripped of surrounding whitespace, blank ones are dropped, and
  so is a chunk that lies wholly inside its neighbour.

Example:
    >>> splitter = RecursiveCharacterSplitter(chunk_size=30, chunk_overlap=8)
    >>> [(c.start_index, c.text) for c in splitter.split("Alpha beta. Gamma delta.\n\nEpsilon zeta eta theta.")]
    [(0, 'Alpha beta. Gamma delta.'), (26, 'Epsilon zeta eta theta.')]

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from ragstore.documents.splitting import Chunk
from ragstore.errors import InvalidArgumentError

DEFAULT_SEPARATORS = ("\n\n", "\n", ". ", " ", "")

Span = tuple[int, int]
Measure = Callable[[int, int], int]
"""The length of ``text[start:end]`` for the text being split."""


class RecursiveCharacterSplitter:
    """Split text into chunks of at most ``chunk_size`` characters at the most natural boundary.

    Args:
        chunk_size: The largest chunk, in units of ``length_function`` (characters by default).
        chunk_overlap: How much of a chunk's end the next chunk repeats, at most.
        separators: Boundaries to cut at, most natural first; ``""`` cuts between characters.
        length_function: Measures a piece of text; ``len`` by default.

    Raises:
        InvalidArgumentError: ``chunk_size`` is not positive, ``chunk_overlap`` is negative
            or not smaller than ``chunk_size``, or ``separators`` is empty.

    Example:
        >>> splitter = RecursiveCharacterSplitter(chunk_size=12, chunk_overlap=6)
        >>> [c.text for c in splitter.split("one two three four five")]
        ['one two', 'two three', 'three four', 'four five']

    """

    def __init__(
        self,
        chunk_size: int = 1000,
        chunk_overlap: int = 200,
        separators: Sequence[str] = DEFAULT_SEPARATORS,
        length_function: Callable[[str], int] = len,
    ) -> None:
        if chunk_size < 1:
            raise InvalidArgumentError(f"chunk_size must be at least 1, got {chunk_size}")
        if not 0 <= chunk_overlap < chunk_size:
            raise InvalidArgumentError(f"chunk_overlap must be at least 0 and smaller than chunk_size ({chunk_size}), got {chunk_overlap}")
        if isinstance(separators, str) or not separators:
            raise InvalidArgumentError(f"separators must be a non-empty sequence of strings, got {separators!r}")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.separators = tuple(separators)
        self.length_function = length_function

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chunk_size={self.chunk_size}, chunk_overlap={self.chunk_overlap})"

    def split(self, text: str) -> list[Chunk]:
        """The chunks of ``text``, in order; none for blank text.

        Example:
            >>> RecursiveCharacterSplitter(chunk_size=5, chunk_overlap=0).split("  ab  ")
            [Chunk(text='ab', start_index=2, metadata={})]

        """
        limit, overlap = self._limits()
        spans = self._split(text, 0, len(text), self.separators, self._measure(text), limit, overlap)
        spans = trim(text, self._refine(text, trim(text, spans)))
        return [Chunk(text[start:end], start) for start, end in spans]

    # Hooks for splitters that measure differently (the token splitter).

    def _limits(self) -> tuple[int, int]:
        """The size limit and overlap that pieces are merged with."""
        return self.chunk_size, self.chunk_overlap

    def _measure(self, text: str) -> Measure:
        """How long ``text[start:end]`` is; built once per text so it can precompute."""
        if self.length_function is len:
            return lambda start, end: end - start
        length = self.length_function
        return lambda start, end: length(text[start:end])

    def _refine(self, text: str, spans: list[Span]) -> list[Span]:
        """A last pass over the trimmed chunks: none here (lengths add up exactly with ``len``)."""
        return spans

    # The algorithm.

    def _split(
        self, text: str, start: int, end: int, separators: tuple[str, ...], measure: Measure, limit: int, overlap: int
    ) -> list[Span]:
        separator = separators[-1]
        finer: tuple[str, ...] = ()
        for i, candidate in enumerate(separators):
            if candidate == "" or text.find(candidate, start, end) != -1:
                separator, finer = candidate, separators[i + 1 :]
                break
        chunks: list[Span] = []
        fitting: list[_Piece] = []  # consecutive pieces that fit
        for piece_start, piece_end in _pieces(text, start, end, separator):
            size = measure(piece_start, piece_end)
            core_end = piece_end
            while core_end > piece_start and text[core_end - 1].isspace():
                core_end -= 1
            # A chunk is stripped, so the whitespace a piece ends with (its separator, mostly) takes no room at the end.
            core = size if core_end == piece_end else measure(piece_start, core_end)
            if core <= limit:
                fitting.append(_Piece(piece_start, piece_end, size, core))
                continue
            chunks.extend(_merge(fitting, limit, overlap))
            fitting = []
            if finer:
                chunks.extend(self._split(text, piece_start, piece_end, finer, measure, limit, overlap))
            else:  # nothing left to cut it with: the one case a chunk may exceed the limit
                chunks.append((piece_start, piece_end))
        chunks.extend(_merge(fitting, limit, overlap))
        return chunks


def _pieces(text: str, start: int, end: int, separator: str) -> list[Span]:
    """Cut ``text[start:end]`` after each ``separator`` (which stays with the piece it ends)."""
    if separator == "":
        return [(i, i + 1) for i in range(start, end)]
    pieces = []
    position = start
    while (found := text.find(separator, position, end)) != -1:
        pieces.append((position, found + len(separator)))
        position = found + len(separator)
    if position < end:
        pieces.append((position, end))
    return pieces


class _Piece(NamedTuple):
    start: int
    end: int
    size: int
    core: int  # the size without trailing whitespace


def _merge(pieces: list[_Piece], limit: int, overlap: int) -> list[Span]:
    """Merge consecutive pieces into chunks of up to ``limit``, carrying up to ``overlap`` over (LangChain's merge)."""
    chunks: list[Span] = []
    window: list[_Piece] = []
    total = 0
    for piece in pieces:
        if window and total + piece.core > limit:
            chunks.append((window[0].start, window[-1].end))
            # Keep the window's tail as the overlap, but always drop enough for the new piece to fit.
            drop = 0
            while drop < len(window) and (total > overlap or total + piece.core > limit):
                total -= window[drop].size
                drop += 1
            window = window[drop:]
        window.append(piece)
        total += piece.size
    if window:
        chunks.append((window[0].start, window[-1].end))
    return chunks


def trim(text: str, spans: list[Span]) -> list[Span]:
    """Strip whitespace from each span; drop blank spans and spans inside their neighbour.

    Example:
        >>> trim("ab cd ", [(0, 3), (0, 2), (2, 6)])
        [(0, 2), (3, 5)]

    """
    kept: list[Span] = []
    for start, end in spans:
        piece = text[start:end]
        stripped = piece.strip()
        if not stripped:
            continue
        start += len(piece) - len(piece.lstrip())
        end = start + len(stripped)
        if kept and kept[-1][0] <= start and end <= kept[-1][1]:
            continue
        while kept and start <= kept[-1][0] and kept[-1][1] <= end:
            kept.pop()
        kept.append((start, end))
    return kept
