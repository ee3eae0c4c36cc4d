"""examples/langchain_rag.py and examples/llamaindex_rag.py as users run them: offline, and with a chat endpoint.

Both run as real processes (``python -m examples.<name>`` from the repository root) over three real
httpx documentation files with the default model. The LLM runs are answered by a local
OpenAI-compatible server (tests/openai_server.py). Each needs its integration installed, as
``make test`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from shared_data import MARKDOWN, copy_markdown, needs_data

from examples.chatbot.engine import SYSTEM_PROMPT

ROOT = Path(__file__).resolve().parents[1]
FILES = ("http2.md", "environment_variables.md", "exceptions.md")
QUESTION = "How do I enable HTTP/2?"
EXAMPLES = ["langchain_rag", "llamaindex_rag"]

pytestmark = [needs_data, pytest.mark.slow]


def run_example(name: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    folder = copy_markdown(FILES, tmp_path / "docs")
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTORE_LLM_")}
    command = [sys.executable, "-m", f"examples.{name}", str(folder), "--path", str(tmp_path / "store"), "--question", QUESTION, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, env={**base, "HF_HUB_OFFLINE": "1", **env})


def answer_and_sources(stdout: str) -> tuple[str, list[str]]:
    answer = stdout.split("A: ", 1)[1].split("Sources:", 1)[0].strip()
    sources = [line.split()[1] for line in stdout.split("Sources:", 1)[1].splitlines() if line.startswith("  [")]
    return answer, sources


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_answers_offline_with_numbered_sources(name: str, tmp_path: Path) -> None:
    done = run_example(name, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Q: {QUESTION}" in done.stdout
    answer, sources = answer_and_sources(done.stdout)
    assert sources[0] == "http2.md" and set(sources) <= set(FILES)
    assert "HTTP/2" in answer and "[1]" in answer  # sentences quoted from the http2 page, cited by number


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_streams_the_answer_of_a_chat_endpoint(name: str, tmp_path: Path) -> None:
    with OpenAIServer(tokens=("Pass ", "http2=True ", "to httpx.Client [1].")) as llm:
        done = run_example(name, tmp_path, "--llm-url", llm.url, "--llm-model", "tiny-model", RAGSTORE_LLM_API_KEY="sk-test")
    assert done.returncode == 0, done.stderr
    answer, sources = answer_and_sources(done.stdout)
    assert answer == llm.answer and sources[0] == "http2.md"
    [request] = llm.requests
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "tiny-model" and request.body["stream"] is True
    system, user = request.body["messages"]
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert QUESTION in user["content"] and "[1] http2.md" in user["content"]
    page = [line for line in (MARKDOWN / "http2.md").read_text().splitlines() if len(line) >= 30]
    assert any(line in user["content"] for line in page), "no text of http2.md in the prompt"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_reports_a_failing_endpoint_in_one_line_and_exits_1(name: str, tmp_path: Path) -> None:
    with OpenAIServer(status=500) as llm:  # configured through the environment this time
        done = run_example(name, tmp_path, RAGSTORE_LLM_URL=llm.url, RAGSTORE_LLM_MODEL="tiny-model")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert f"{llm.url}/chat/completions answered 500" in errors[0] and "model overloaded" in errors[0]
    assert "authorization" not in llm.requests[0].headers  # no key configured, none sent
