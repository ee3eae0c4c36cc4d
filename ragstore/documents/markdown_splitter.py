r"""The Markdown-header-aware splitter: sections first, then the size limit.

A Markdown text is cut at its headings (``#`` to ``######`` and setext
headings, found by a CommonMark parser, so a ``#`` comment in a code block is
not a heading). Each section keeps its heading line, so the chunk reads in
context, and gets ``headers`` metadata: the path of headings down to it,
joined with ``" > "`` (``"Intro > Setup"``). A heading directly followed by a
subheading (no text of its own) joins the subheading's section rather than
becoming a chunk of one line. Sections longer than the size limit are split
further by an inner splitter (a :class:`RecursiveCharacterSplitter` by
default; pass a :class:`TokenSplitter` to fit a model's window), and no chunk
ever spans two sections. Text before the first heading has no ``headers``.

Example:
    >>> text = "# Guide\n\n## Install\n\npip install x\n\n## Use\n\nimport x\n"
    >>> for chunk in MarkdownHeaderSplitter(chunk_size=100, chunk_overlap=0).split(text):
    ...     print(chunk.start_index, repr(chunk.text), chunk.metadata["headers"])
    0 '# Guide\n\n## Install\n\npip install x' Guide > Install
    36 '## Use\n\nimport x' Guide > Use

"""

from __future__ import annotations

from ragstore.documents.markdown_loader import Heading, find_headings
from ragstore.documents.recursive_splitter import RecursiveCharacterSplitter
from ragstore.documents.splitting import Chunk, Splitter
from ragstore.errors import InvalidArgumentError

HEADER_SEPARATOR = " > "


class MarkdownHeaderSplitter:
    r"""Split Markdown at its headings, keep the heading path as ``headers``, then apply a size limit.

    Args:
        chunk_size: The largest chunk, in characters (for the default inner splitter).
        chunk_overlap: Overlap between chunks of one section (for the default inner splitter).
        max_level: Headings deeper than this (``####`` is 4) do not start a section.
        splitter: The splitter applied to each section instead of a
            ``RecursiveCharacterSplitter(chunk_size, chunk_overlap)``.

    Example:
        >>> splitter = MarkdownHeaderSplitter(max_level=1)
        >>> [c.metadata for c in splitter.split("# A\ntext\n## B\nmore\n")]
        [{'headers': 'A'}]

    """

    def __init__(self, chunk_size: int = 1000, chunk_overlap: int = 200, *, max_level: int = 6, splitter: Splitter | None = None) -> None:
        if not 1 <= max_level <= 6:
            raise InvalidArgumentError(f"max_level must be between 1 and 6, got {max_level}")
        self.max_level = max_level
        self.splitter: Splitter = splitter if splitter is not None else RecursiveCharacterSplitter(chunk_size, chunk_overlap)

    def __repr__(self) -> str:
        return f"MarkdownHeaderSplitter(max_level={self.max_level}, splitter={self.splitter!r})"

    def sections(self, text: str) -> list[tuple[int, int, str | None]]:
        r"""The sections of ``text`` as ``(start, end, headers)``, covering it from start to end.

        Example:
            >>> MarkdownHeaderSplitter().sections("intro\n# A\nbody\n")
            [(0, 6, None), (6, 15, 'A')]

        """
        headings = [h for h in find_headings(text) if h.level <= self.max_level]
        sections: list[tuple[int, int, str | None]] = []
        if not headings or headings[0].start > 0:
            sections.append((0, headings[0].start if headings else len(text), None))
        path: list[Heading] = []
        start = None  # where the pending section starts: earlier headings with no text of their own join it
        for i, heading in enumerate(headings):
            while path and path[-1].level >= heading.level:
                path.pop()
            path.append(heading)
            end = headings[i + 1].start if i + 1 < len(headings) else len(text)
            start = heading.start if start is None else start
            if text[heading.end : end].strip() or end == len(text):
                headers = HEADER_SEPARATOR.join(h.title for h in path if h.title)
                sections.append((start, end, headers or None))
                start = None
        return sections

    def split(self, text: str) -> list[Chunk]:
        r"""The chunks of ``text``, section by section, each with the ``headers`` of its section.

        Example:
            >>> MarkdownHeaderSplitter().split("## Only\nbody")[0].metadata
            {'headers': 'Only'}

        """
        chunks = []
        for start, end, headers in self.sections(text):
            extra = {"headers": headers} if headers else {}
            for chunk in self.splitter.split(text[start:end]):
                chunks.append(Chunk(chunk.text, start + chunk.start_index, {**chunk.metadata, **extra}))
        return chunks
