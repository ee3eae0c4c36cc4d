"""Smoke test: examples/langchain_rag.py answers offline, with sources, on a small folder of real docs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "langchain_rag.py"
HTTPX_DOCS = Path(__file__).resolve().parents[4] / "shared" / "data" / "docs" / "markdown" / "httpx"


def test_example_answers_with_sources(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("http2.md", "exceptions.md"):
        shutil.copy(HTTPX_DOCS / name, folder / name)
    env = {k: v for k, v in os.environ.items() if k not in ("LLM_URL", "LLM_MODEL")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), str(folder), "--path", str(tmp_path / "store"), "-q", "How do I enable HTTP/2?", "-k", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Q: How do I enable HTTP/2?" in out and "Sources:" in out
    sources = out.split("Sources:")[1].split()
    assert "http2.md" in sources
    answer = out.split("A: ")[1].split("\nSources:")[0]
    assert "[http2.md]" in answer and "HTTP/2" in answer
