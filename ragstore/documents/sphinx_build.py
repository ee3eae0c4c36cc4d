"""Which files of a Sphinx HTML build are copies and assets rather than pages.

A Sphinx HTML build keeps each page's source beside it, as text: ``tutorial/index.html``
and ``_sources/tutorial/index.rst.txt`` (``.md.txt`` for MyST, ``.txt`` for old
builds). Walked together, both load, so every search hit comes back twice, once
as the page and once as its reST. :func:`sphinx_copies` finds the
``_sources/`` files whose page is among the files found (a ``_sources`` folder
walked on its own, or whose pages are not walked, is kept: then it is the only
copy), and the files under ``_static/`` (theme CSS, JavaScript, images, and
the search's word lists) of a folder that holds such sources, a
``searchindex.js`` or an ``objects.inv``.

Example:
    >>> sorted(sphinx_copies(["index.html", "_sources/index.rst.txt", "_sources/draft.rst.txt", "_static/basic.css"], "."))
    ['_sources/index.rst.txt', '_static/basic.css']

"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

SOURCE_SUFFIXES = (".rst", ".md", ".ipynb", ".txt")
"""Source suffixes Sphinx keeps in a ``_sources`` copy's name (``index.rst.txt``) before its own ``.txt``."""

PAGE_SUFFIXES = (".html", ".htm", ".xhtml")
"""The suffixes a Sphinx page may have (``html_file_suffix``)."""

_BUILD_MARKERS = ("searchindex.js", "objects.inv")


def _page_of(parts: list[str], at: int) -> tuple[str, list[str]] | None:
    """The folder of a ``_sources`` copy (its parts before ``_sources``) and its page's path without suffix."""
    name = "/".join(parts[at + 1 :])
    if not name.endswith(".txt"):
        return None
    stem = name.removesuffix(".txt")
    for suffix in SOURCE_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem.removesuffix(suffix)
            break
    return "/".join([*parts[:at], stem]), parts[:at]


def sphinx_copies(relatives: Collection[str], root: str | Path) -> set[str]:
    """The files among ``relatives`` (``/``-separated paths under ``root``) that are Sphinx copies or assets.

    Args:
        relatives: The files a walk found, relative to ``root``.
        root: The walked folder (looked at only for ``searchindex.js`` / ``objects.inv`` beside a ``_static``).

    Example:
        >>> sphinx_copies(["_sources/index.rst.txt"], ".")  # its page is not walked: the copy is the only text
        set()

    """
    found = set(relatives)
    copies: set[str] = set()
    builds: set[str] = set()  # folders whose _sources copies we dropped: Sphinx builds
    for relative in found:
        parts = relative.split("/")
        if "_sources" not in parts[:-1]:
            continue
        at = parts.index("_sources")
        page = _page_of(parts, at)
        if page is not None and any(page[0] + suffix in found for suffix in PAGE_SUFFIXES):
            copies.add(relative)
            builds.add("/".join(page[1]))
    for relative in found:
        parts = relative.split("/")
        if "_static" not in parts[:-1]:
            continue
        folder = "/".join(parts[: parts.index("_static")])
        if folder in builds or any((Path(root) / folder / marker).is_file() for marker in _BUILD_MARKERS):
            copies.add(relative)
    return copies
