r"""HTML files: the text a reader sees, laid out in lines and paragraphs, and the page title.

beautifulsoup4 (with Python's own ``html.parser``, so no compiled parser is
needed) builds the tree and detects the encoding (``<meta charset>``, BOM or
guessing). What is dropped, because it is code, chrome or invisible rather than
content:

- ``script``, ``style``, ``noscript``, ``template``, ``svg``, ``iframe``, the ``head`` and ``title``;
- navigation and page chrome: ``nav``, ``header``, ``footer``, ``aside``, and
  elements with the equivalent ARIA roles (Sphinx marks its sidebars
  ``role="navigation"`` on plain ``div`` elements);
- hidden elements (``hidden``, ``aria-hidden="true"``) and comments;
- Sphinx's "¶" permalink anchors (``a.headerlink``).

Text inside an element is joined with single spaces, as a browser renders it;
block elements (paragraphs, headings, list items, table rows, ...) start new
lines, and ``pre`` keeps its line breaks and indentation.

Example:
    >>> html = b"<title>Hi</title><script>var x;</script><nav>Menu</nav><h1>Hello</h1><p>A <b>bold</b>\n  claim.</p>"
    >>> html_to_text(html)
    ('Hello\n\nA bold claim.', 'Hi')

"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragstore.documents.document import Document, document_id
from ragstore.documents.errors import DocumentLoadError, missing_dependency

DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "head", "title", "nav", "header", "footer", "aside")
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
# Elements after which a reader sees a blank line, or at least a line break.
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "hr"})
_LINES = frozenset(
    {"div", "section", "article", "main", "li", "dt", "dd", "tr", "caption", "figcaption", "form", "fieldset", "details", "summary"}
    | {"address", "legend", "option", "br"}
)
_CELLS = frozenset({"td", "th"})
_PRESERVING = frozenset({"pre", "textarea"})
# Stand-ins for a pre block's line breaks and spaces while whitespace elsewhere is collapsed
# (Unicode noncharacters: never meant to appear in interchanged text).
_PRE_NEWLINE, _PRE_SPACE = "\ufdd0", "\ufdd1"
_WHITESPACE = re.compile(r"\s+")
_BREAK_RANK = {"": 0, " ": 1, "\n": 2, "\n\n": 3}


class _Break(str):
    """A line break implied by the layout (as opposed to text)."""


def _is_hidden(tag: Any) -> bool:
    attrs = tag.attrs or {}
    return (
        "hidden" in attrs
        or str(attrs.get("aria-hidden", "")).lower() == "true"
        or str(attrs.get("role", "")).lower() in _DROPPED_ROLES
        or (tag.name == "a" and "headerlink" in (attrs.get("class") or ()))
    )


def _pieces(root: Any) -> list[str]:
    """The visible strings and layout breaks under ``root``, in document order (iterative: deep pages must not recurse)."""
    from bs4.element import CData, NavigableString, Tag

    pieces: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, in_pre = stack.pop()
        if isinstance(node, _Break):
            if node:
                pieces.append(node)
        elif isinstance(node, NavigableString):
            if type(node) not in (NavigableString, CData):  # comments, doctypes, processing instructions
                continue
            if in_pre:
                pieces.append(str(node).replace("\r\n", "\n").replace("\n", _PRE_NEWLINE).replace(" ", _PRE_SPACE))
            else:
                pieces.append(_WHITESPACE.sub(" ", str(node)))
        elif isinstance(node, Tag):
            if _is_hidden(node):
                continue
            name = node.name
            around = _Break("\n\n" if name in _PARAGRAPHS else "\n" if name in _LINES else " " if name in _CELLS else "")
            # A stack pops last in first: the closing break, then the children, then the opening break.
            stack.append((around, in_pre))
            stack.extend((child, in_pre or name in _PRESERVING) for child in reversed(node.contents))
            stack.append((around, in_pre))
    return pieces


def _layout(pieces: list[str]) -> str:
    joined: list[str] = []
    pending = ""  # the strongest break since the last text: a closing </li> and an opening <li> make one line break
    for piece in pieces:
        if isinstance(piece, _Break):
            pending = max(pending, piece, key=_BREAK_RANK.__getitem__)
        elif not piece.strip():
            if not pending:
                joined.append(piece)
        else:
            if pending:
                joined.append(pending)
                pending = ""
            joined.append(piece)
    text = "".join(joined)
    text = re.sub(r" *\n *", "\n", text)  # no spaces at line ends or starts (a pre block's are stand-ins)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r" {2,}", " ", text)
    text = text.strip().replace(_PRE_NEWLINE, "\n").replace(_PRE_SPACE, " ")
    return re.sub(r"\n{3,}", "\n\n", text)  # a pre block's own last line break meets the break after it


def html_to_text(data: bytes | str, dropped_tags: tuple[str, ...] = DROPPED_TAGS) -> tuple[str, str | None]:
    r"""The visible text of an HTML document and its title (``<title>``, else the first ``<h1>``).

    Args:
        data: The HTML, as bytes (the encoding is detected) or text.
        dropped_tags: Elements removed with everything inside them.

    Example:
        >>> html_to_text("<pre>if x:\n    y()</pre><p>after</p>")
        ('if x:\n    y()\n\nafter', None)

    """
    try:
        import bs4
    except ImportError as exc:
        raise missing_dependency("beautifulsoup4", "documents", "Loading HTML files") from exc
    with warnings.catch_warnings():
        # bs4 warns about XHTML parsed as HTML and about markup that looks like a file name: the text is still right.
        warnings.simplefilter("ignore", bs4.XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        soup = bs4.BeautifulSoup(data, "html.parser")
    title_tag = soup.title or soup.find("h1")
    title = _WHITESPACE.sub(" ", title_tag.get_text()).strip() if title_tag is not None else None
    for tag in soup.find_all(list(dropped_tags)):
        tag.decompose()
    return _layout(_pieces(soup)), title or None


def load_html(path: str | Path, *, source: str | None = None) -> Iterator[Document]:
    """Load an HTML file as one document of its visible text, with ``title`` metadata when it has one.

    Args:
        path: The file.
        source: Its ``source`` metadata and id; the path as given by default.

    Yields:
        One :class:`Document`.

    Raises:
        DocumentLoadError: The file cannot be read (raised when iterated).
        MissingDependencyError: beautifulsoup4 is not installed (the ``documents`` extra).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "page.html"
        >>> _ = path.write_text("<html><head><title>Page</title></head><body><p>Body text</p></body></html>")
        >>> doc = next(load_html(path, source="page.html"))
        >>> doc.text, doc.metadata["title"]
        ('Body text', 'Page')

    """
    path = Path(path)
    source = source if source is not None else path.as_posix()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"Cannot read {path.as_posix()}: {exc.strerror or exc}", path, source) from exc
    text, title = html_to_text(data)
    metadata: dict[str, str] = {"source": source}
    if title:
        metadata["title"] = title
    yield Document(document_id(source), text, metadata)
