"""``make demo`` (examples/demo.py) as a user runs it: a real process, the real model, offline, real documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import DOCS, needs_data

import ragstore

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {"HF_HUB_OFFLINE": "1", "RAGSTORE_LLM_URL": "", "RAGSTORE_LLM_MODEL": ""}  # no network, no LLM: the extractive answers

pytestmark = pytest.mark.slow


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m examples.demo`` in ``cwd`` (the repository importable, as from its root)."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "examples.demo", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    return done


def answers(stdout: str) -> dict[str, str]:
    """``{question: answer with its sources}`` from the demo's output."""
    turns = stdout.split("you> ")[1:]
    return {turn.split("\n", 1)[0]: turn.split("\n", 1)[1].split("Ask your own questions:")[0] for turn in turns}


@needs_data
def test_the_demo_ingests_the_shared_docs_and_answers_four_questions_with_sources_hybrid(tmp_path: Path) -> None:
    store = tmp_path / "ragstore_data"
    first = run_demo(tmp_path)  # as `make demo` runs it: the default ./ragstore_data
    files = len(list((DOCS / "markdown").rglob("*.md")))
    assert f"Ingested {files} files of {DOCS / 'markdown'}" in first.stderr  # with the progress bar on stderr
    got = answers(first.stdout)
    expected_sources = {
        "How do I set a timeout on requests?": "httpx/advanced/timeouts.md",
        "How do I serve static files?": "starlette/staticfiles.md",
        "How can I run code when the application starts up?": "starlette/lifespan.md",
        "How do I test my application?": "starlette/testclient.md",  # found by hybrid search only (issue 16)
    }
    assert list(got) == list(expected_sources)
    for question, source in expected_sources.items():
        answer, sources = got[question].split("Sources:\n")
        assert answer.startswith("bot> ") and re.search(r" \[[1-4]\]", answer), answer  # sentences quoted from numbered sources
        assert f"] {source} · " in sources, (question, sources)  # the page that answers it, with its section
        assert "score 0." in sources
    assert "passages · hybrid search (BM25 + dense) · offline extractive answers" in first.stdout
    assert "make chat " in first.stdout and "make chat-web" in first.stdout and "--web" in first.stdout

    with ragstore.PersistentClient(store) as client:  # the chatbots open this collection next
        stored = client.get_collection("docs")
        assert stored.count() > files and stored.configuration["embedding_function"]["name"] == "default"

    again = run_demo(tmp_path)  # nothing changed: nothing is embedded again, same answers
    assert ", 0 embedded now" in again.stderr
    assert answers(again.stdout) == got


def test_without_the_shared_docs_the_demo_answers_from_the_repository_s_own_markdown(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--path", str(tmp_path / "data"), "--own-docs")
    got = answers(done.stdout)
    assert len(got) == 3
    langchain = got["How do I use ragstore with LangChain?"]
    assert "integrations/langchain-ragstore/README.md" in langchain and "langchain_ragstore" in langchain  # identifiers kept whole
    assert "] README.md · ragstore > Storage" in got["What happens if the process is killed during a write?"]
    assert "python -m examples.chatbot --path" in done.stdout and "make chat " not in done.stdout  # not the path make chat opens
