r"""Markdown files, and where their headings are.

The text is kept as Markdown (headings, lists and code fences are structure the
:class:`~ragstore.documents.MarkdownHeaderSplitter` and embedding models both
use). Headings are found by markdown-it-py, a CommonMark parser, so a ``#`` in
a code fence is not a heading and setext headings (``Title`` over ``===``) are.
A YAML front-matter block (``---`` ... ``---`` at the top, as MkDocs and Jekyll
use) is skipped when looking for headings.

Example:
    >>> [(h.level, h.title) for h in find_headings("# Guide\n\n```\n# code\n```\n## Setup\n")]
    [(1, 'Guide'), (2, 'Setup')]

"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ragstore.documents.document import Document, document_id
from ragstore.documents.errors import missing_dependency
from ragstore.documents.text_loader import read_text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
# markdown-it counts a line break as \r\n, \r or \n; offsets must count lines the same way.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Heading(NamedTuple):
    """A Markdown heading: its level (1-6), its text, and the character offsets of its lines."""

    level: int
    title: str
    start: int
    """Offset of the heading's first character (the ``#``, or the first line of a setext heading)."""
    end: int
    """Offset just past the heading's last line, its line break included."""


def front_matter(text: str) -> str | None:
    r"""The YAML front matter at the top of ``text`` (between the ``---`` lines), if any.

    Example:
        >>> front_matter("---\ntitle: Hi\n---\n# Body\n")
        'title: Hi\n'

    """
    match = _FRONT_MATTER.match(text)
    return match.group(1) if match else None


def find_headings(text: str) -> list[Heading]:
    r"""Every top-level heading of a Markdown text, in order (headings in quotes or lists are content).

    Example:
        >>> find_headings("Setext\n======\nbody\n")
        [Heading(level=1, title='Setext', start=0, end=14)]

    """
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:
        raise missing_dependency("markdown-it-py", "documents", "Finding Markdown headings") from exc
    match = _FRONT_MATTER.match(text)
    parsed = text
    if match:  # blank it out line for line, so the parser's line numbers stay those of the text
        parsed = "\n" * match.group(0).count("\n") + text[match.end() :]
    line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
    # Only block structure is needed: skipping inline parsing makes this several times faster.
    tokens = MarkdownIt("commonmark").disable("inline").parse(parsed)
    headings = []
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "heading_open" or opening.level != 0 or opening.map is None:
            continue
        first, last = opening.map
        end = line_starts[last] if last < len(line_starts) else len(text)
        title = " ".join(inline.content.split())  # a setext heading may span lines
        headings.append(Heading(int(opening.tag[1]), title, line_starts[first], end))
    return headings


def markdown_title(text: str) -> str | None:
    r"""The document's title: front matter's ``title:``, else the first heading's text.

    Example:
        >>> markdown_title("Some intro.\n\n## Routing\n")
        'Routing'
        >>> markdown_title("no headings") is None
        True

    """
    meta = front_matter(text)
    if meta is not None:
        found = _FRONT_MATTER_TITLE.search(meta)
        if found:
            return found.group(1).strip("\"'")
    for heading in find_headings(text):
        if heading.title:
            return heading.title
    return None


def load_markdown(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    r"""Load a Markdown file as one document, its text unchanged, with a ``title`` if it has one.

    Args:
        path: The file.
        source: Its ``source`` metadata and id; the path as given by default.

    Yields:
        One :class:`Document` with ``source`` and (when found) ``title`` metadata.

    Raises:
        DocumentLoadError: The file cannot be read or decoded (raised when iterated).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "guide.md"
        >>> _ = path.write_text("# User Guide\n\nWelcome.\n")
        >>> next(load_markdown(path, source="guide.md")).metadata
        {'source': 'guide.md', 'title': 'User Guide'}

    """
    source = source if source is not None else Path(path).as_posix()
    text = read_text(path, source)
    metadata: dict[str, str] = {"source": source}
    title = markdown_title(text)
    if title:
        metadata["title"] = title
    yield Document(document_id(source), text, metadata)
