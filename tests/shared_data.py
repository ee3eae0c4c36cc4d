"""Where the shared evaluation data lives (``../shared/data`` beside the repository; see its README)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DOCS, GUTENBERG = DATA / "docs", DATA / "text" / "gutenberg"
MARKDOWN = DOCS / "markdown" / "httpx"

# Outside CI a developer may lack the data; in CI (which always has it) a missing folder must fail, not skip.
needs_data = pytest.mark.skipif(not DATA.is_dir() and not os.environ.get("CI"), reason=f"the shared data is not at {DATA}")


def copy_markdown(names: Iterable[str], folder: Path) -> Path:
    """Copy the httpx documentation pages ``names`` (paths under :data:`MARKDOWN`) into ``folder``; returns it."""
    for name in names:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MARKDOWN / name, target)
    return folder
