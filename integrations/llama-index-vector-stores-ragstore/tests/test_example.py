"""Smoke test: examples/llamaindex_rag.py answers a question with sources, offline, on a small folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "llamaindex_rag.py"
# ../shared/data beside the repository (as in CI; see the root tests/shared_data.py)
DOCS = Path(__file__).resolve().parents[4] / "shared" / "data" / "docs" / "markdown" / "httpx"
FILES = ("http2.md", "environment_variables.md", "exceptions.md")


def test_example_answers_with_sources(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in FILES:
        shutil.copy(DOCS / name, folder / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LLM_URL": "", "LLM_MODEL": ""}
    command = [sys.executable, str(EXAMPLE), str(folder), "--path", str(tmp_path / "store"), "--question", "How do I enable HTTP/2?"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Indexed 3 files" in out
    answer = out.split("A: ", 1)[1].split("\n\nSources:", 1)[0]
    assert "[http2.md]" in answer
    sources = out.split("Sources:", 1)[1]
    assert "http2.md" in sources.splitlines()[1]
