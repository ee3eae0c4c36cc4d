"""The example chatbot (examples/chatbot): engine, memory, budget, streaming LLM client and the terminal program."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_server import OpenAIServer
from servers import RunningServer
from shared_data import MARKDOWN, copy_markdown, needs_data

import ragstore
from examples.chatbot.budget import approximate_tokens, fit_passages, token_counter
from examples.chatbot.engine import NOTHING_FOUND, SYSTEM_PROMPT, ChatEngine
from examples.chatbot.extractive import extractive_answer, units
from examples.chatbot.llm import ChatLLM, LLMError, parse_sse_line
from examples.chatbot.memory import Conversation, is_follow_up
from examples.chatbot.retrieval import Passage, Retriever
from examples.chatbot.sections import merge_sections
from examples.chatbot.store import ingest_folder, open_client, open_collection
from examples.chatbot.terminal import COMMANDS, chat, print_reply

ROOT = Path(__file__).resolve().parents[1]
pytestmark = needs_data
FILES = ("advanced/timeouts.md", "advanced/proxies.md", "http2.md")
TIMEOUT_QUESTION = "How do I set a timeout on requests?"
OFF_TOPIC = "What is the recipe for banana bread?"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with three real httpx documentation files."""
    return copy_markdown(FILES, tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="module")
def collection(docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A persistent store filled from ``docs`` with the default embedder, through the chatbot's ingestion."""
    client = open_client(tmp_path_factory.mktemp("store"))
    col = open_collection(client, "docs")
    stats = ingest_folder(col, docs)
    assert stats.files == len(FILES) and not stats.failed and stats.written == col.count() > 0
    yield col
    client.close()


def test_extractive_answer_quotes_the_right_document_and_lists_it(collection: Any) -> None:
    engine = ChatEngine(Retriever(collection))
    assert engine.retriever.mode == "hybrid"  # the chatbot's store gives its collections a BM25 index
    reply = engine.ask(TIMEOUT_QUESTION)
    text = reply.text()
    assert reply.mode == "extractive"
    assert reply.passages[0].source == "advanced/timeouts.md"
    assert "timeout" in text.lower() and "[1]" in text
    timeouts = (MARKDOWN / "advanced/timeouts.md").read_text()
    sentence = text.split(" [")[0]
    assert sentence.split()[0] in timeouts  # quoted from the documentation
    labels = [p.label for p in reply.passages]
    assert any(label.startswith("advanced/timeouts.md · ") for label in labels)  # with its section heading
    assert all(0 < p.score <= 1 for p in reply.passages)
    assert [t.question for t in engine.memory.turns] == [TIMEOUT_QUESTION]


def test_nothing_relevant_gives_a_clear_message_and_no_sources(collection: Any) -> None:
    engine = ChatEngine(Retriever(collection))
    reply = engine.ask(OFF_TOPIC)
    assert (reply.mode, reply.passages, reply.text()) == ("none", [], NOTHING_FOUND)
    assert not engine.memory.turns
    # The threshold decides: the same question passes when everything counts as relevant...
    assert Retriever(collection, min_relevance=0.0).retrieve(OFF_TOPIC)
    # ...and an on-topic question fails when nothing does: by similarity, and (hybrid) by holding every query term.
    assert Retriever(collection, min_relevance=1.0, lexical=False).retrieve(TIMEOUT_QUESTION) == []
    by_terms = Retriever(collection, min_relevance=1.0).retrieve(TIMEOUT_QUESTION)
    assert by_terms and all(p.kept_for == "terms" and p.terms == (3, 3) for p in by_terms)  # timeout, set, request


def test_follow_up_questions_are_searched_with_the_previous_one(collection: Any) -> None:
    engine = ChatEngine(Retriever(collection))
    engine.ask(TIMEOUT_QUESTION).text()
    reply = engine.ask("What is its default value?")
    assert reply.query == f"{TIMEOUT_QUESTION} What is its default value?"
    assert reply.passages[0].source == "advanced/timeouts.md"
    # A new topic is searched as it is.
    topic = "How can I send requests through a proxy server?"
    reply = engine.ask(topic)
    assert reply.query == topic and reply.passages[0].source == "advanced/proxies.md"


def test_follow_up_rule() -> None:
    assert is_follow_up("And for HTTP/2?")  # short
    assert is_follow_up("Can you show me an example of configuring it?")  # pronoun
    assert is_follow_up("what about the connection pool limits then?")  # continuation
    assert not is_follow_up("How can I send requests through a proxy server?")
    memory = Conversation(max_turns=2, context_questions=2)
    assert memory.retrieval_query("And then?") == "And then?"  # no history, nothing to combine
    for q in ("q1?", "q2?", "q3?"):
        memory.add(q, "a")
    assert memory.retrieval_query("And then?") == "q2? q3? And then?"
    memory.clear()
    assert memory.retrieval_query("And then?") == "And then?"


def test_token_budget_drops_the_lowest_ranked_passages_first(collection: Any) -> None:
    passages = [Passage(str(i), "word " * 100, {"source": f"{i}.md"}, 0.1 * i) for i in range(4)]  # 125 tokens each (approx.)
    assert [p.id for p in fit_passages(passages, 400, approximate_tokens)] == ["0", "1", "2"]
    assert [p.id for p in fit_passages(passages, 10_000, approximate_tokens)] == ["0", "1", "2", "3"]
    cut = fit_passages(passages, 50, approximate_tokens)  # the best one always stays, shortened to fit
    assert [p.id for p in cut] == ["0"] and approximate_tokens(cut[0].text) <= 50
    count = token_counter()
    assert count("Hello world") == 2 and count(passages[0].text) == 100  # the real tokenizer, not the approximation

    llm = ChatLLM("http://127.0.0.1:9/v1", "m")
    roomy = ChatEngine(Retriever(collection), llm, context_tokens=100_000)
    passages = roomy.retriever.retrieve(TIMEOUT_QUESTION)
    assert len(roomy.messages(TIMEOUT_QUESTION, passages)[1]) == len(passages) == 4
    fixed = count(SYSTEM_PROMPT) + count(TIMEOUT_QUESTION) + 16
    tight_budget = fixed + sum(count(p.text) for p in passages[:2])
    tight = ChatEngine(Retriever(collection), llm, context_tokens=tight_budget)
    messages, kept = tight.messages(TIMEOUT_QUESTION, passages)
    assert kept == passages[:2]
    assert passages[2].text.strip() not in messages[-1]["content"]


def test_sse_lines() -> None:
    assert parse_sse_line('data: {"choices": [{"delta": {"content": "x"}}]}') == "x"
    assert parse_sse_line('data: {"choices": [{"delta": {"role": "assistant"}}]}') == ""
    assert parse_sse_line(": keep-alive") == ""
    assert parse_sse_line("data: [DONE]") is None
    with pytest.raises(LLMError, match="overloaded"):
        parse_sse_line('data: {"error": {"message": "overloaded"}}')


class _Output:
    """A text stream recording every write; it releases the server's held stream once the first token is out."""

    def __init__(self, server: OpenAIServer) -> None:
        self.writes: list[str] = []
        self.server = server

    def write(self, text: str) -> int:
        self.writes.append(text)
        if text == self.server.tokens[0] and self.server.hold is not None:
            self.server.hold.set()
        return len(text)

    def flush(self) -> None:
        pass


def test_streaming_llm_answer_through_an_openai_compatible_server(collection: Any) -> None:
    with OpenAIServer(hold=threading.Event()) as server:
        llm = ChatLLM(server.url, "tiny-model", api_key="secret")
        engine = ChatEngine(Retriever(collection), llm)
        reply = engine.ask(TIMEOUT_QUESTION)
        out = _Output(server)
        print_reply(reply, out)  # type: ignore[arg-type]

        assert server.streamed  # the rest of the answer was sent only after the first token was printed
        tokens = [w for w in out.writes if w in server.tokens]
        assert tokens == list(server.tokens)  # printed one by one, in order
        printed = "".join(out.writes)
        assert server.answer in printed
        assert "Sources:" in printed and "advanced/timeouts.md" in printed and "score 0." in printed

        [request] = server.requests
        assert request.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer secret"
        assert request.body["model"] == "tiny-model" and request.body["stream"] is True
        user = request.body["messages"][-1]
        assert user["role"] == "user" and TIMEOUT_QUESTION in user["content"]
        assert reply.passages[0].text.strip() in user["content"]  # the retrieved context
        assert request.body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}

        # The next question carries the conversation so far.
        engine.ask("What is its default value?").text()
        history = server.requests[-1].body["messages"]
        assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
        assert history[2]["content"] == server.answer


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_llm_falls_back_to_the_extractive_answer_and_the_reply_says_so(collection: Any) -> None:
    engine = ChatEngine(Retriever(collection), ChatLLM(f"http://127.0.0.1:{_unused_port()}/v1", "m", timeout=5))
    reply = engine.ask(TIMEOUT_QUESTION)
    assert (reply.mode, reply.fallback) == ("llm", None)  # nothing has been tried yet
    text = reply.text()
    assert "LLM unavailable" in text and "[1]" in text
    assert reply.mode == "extractive" and reply.fallback is not None and reply.fallback.startswith("LLM unavailable: cannot reach")


QUESTIONS = (
    TIMEOUT_QUESTION,
    "What are the four types of timeouts?",
    "How do I configure a pool timeout?",
    "How do I use a proxy?",
    "How do I enable HTTP/2?",
    "How do I disable timeouts?",
)
# A quote: a sentence, its citation, and the code block or list it introduces.
CITED = re.compile(r"(?P<quote>[^\[\]]+?) \[(?P<n>\d+)\]:?(?:\n\n(?:```[^\n]*\n(?P<code>.*?)\n```|(?P<list>(?:- [^\n]*\n?)+)))?", re.DOTALL)


def test_extractive_answers_quote_code_as_code_cite_each_quote_and_never_end_on_a_colon(collection: Any) -> None:
    blocks = 0
    for question in QUESTIONS:
        reply = ChatEngine(Retriever(collection)).ask(question)
        text = reply.text()
        assert not text.rstrip().endswith(":"), text
        quotes = list(CITED.finditer(text))
        assert quotes and "".join(m.group(0) for m in quotes).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
        for quote in quotes:  # every quote is cited, and the source cited holds it
            source = reply.passages[int(quote["n"]) - 1]
            quoted = " ".join(u.text for u in units(source.text))
            for part in [quote["quote"], *(quote["list"] or "").splitlines()]:
                assert " ".join(part.split()[:4]) in quoted, (part, source.label)
            if quote["code"] is not None:
                blocks += 1
                assert quote["code"] in source.text  # verbatim, line breaks and indentation kept
    assert blocks >= 2  # the timeout pages answer with their code examples

    answer = ChatEngine(Retriever(collection)).ask(TIMEOUT_QUESTION).text()
    assert "[1]:\n\n```python\nclient = httpx.Client()              # Use a default 5s timeout everywhere.\n" in answer


def test_a_sentence_introducing_what_the_chunk_cut_off_is_never_quoted() -> None:
    embed = ragstore.HashingEmbeddingFunction()
    cut = Passage("a", "Timeouts are set per client in httpx. Set a timeout on the client like this:")
    assert extractive_answer("set a timeout on the client", [cut], embed) == "Timeouts are set per client in httpx. [1]"
    table = Passage("b", "The timeout values are listed here:\n\n| connect | 5 |\n|---|---|")
    assert extractive_answer("timeout values", [table], embed) == "The retrieved passages contain no sentence that answers this."
    unclosed = Passage("c", "Create the client with a timeout:\n\n```python\nclient = httpx.Client(\n    timeout=")
    assert [u.kind for u in units(unclosed.text)] == ["sentence", "other"]
    assert not extractive_answer("client timeout", [unclosed], embed).endswith(":")


def test_sources_of_the_same_section_merge_into_one(collection: Any) -> None:
    question = "How do I configure a pool timeout?"
    retrieved = Retriever(collection).retrieve(question)
    labels = [p.label for p in retrieved]
    assert len(set(labels)) < len(labels)  # the retriever returns several chunks of one section for this question
    reply = ChatEngine(Retriever(collection)).ask(question)
    assert [p.label for p in reply.passages] == list(dict.fromkeys(labels))  # one source per section, in rank order
    for merged in reply.passages:
        chunks = [p for p in retrieved if p.label == merged.label]
        assert merged.score == max(p.score for p in chunks)
        for chunk in chunks:  # every chunk's text is in the merged one (overlaps written once)
            assert chunk.text.strip()[-200:] in merged.text
        assert len(merged.text) <= sum(len(p.text) for p in chunks) + 8 * len(chunks)
    assert merge_sections(reply.passages) == reply.passages


def test_terminal_commands_help_sources_reset_and_quit(collection: Any) -> None:
    engine = ChatEngine(Retriever(collection))
    lines = io.StringIO(f"/sources\n/help\n{TIMEOUT_QUESTION}\n/sources\n/bogus\n/reset\n/sources\nexit\nnever asked?\n")
    out = io.StringIO()
    assert chat(engine, lines, out, prompt=False) == 0
    printed = out.getvalue()
    assert printed.startswith("(no answer yet: ask a question first)")
    assert all(name in printed for name in COMMANDS) and "Commands:" in printed
    listed = printed.split("bot> ")[1].split("Sources:\n", 1)[1]
    shown = listed.split("\n\n", 1)[1]  # /sources: each source's label, score and the start of its text
    assert not engine.memory.turns  # /reset forgot the turn
    assert shown.startswith("[1] advanced/timeouts.md · ") and "    " in shown and "timeout" in shown
    assert "Unknown command /bogus: /help lists the commands." in printed
    assert printed.count("(no answer yet: ask a question first)") == 2  # after /reset too
    assert printed.rstrip().endswith("Bye.") and "never asked?" not in printed
    for word in ("quit", "QUIT", "/exit", "/quit"):
        assert chat(engine, io.StringIO(f"{word}\n{TIMEOUT_QUESTION}\n"), io.StringIO(), prompt=False) == 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["persistent", "ephemeral", "http"])
def test_terminal_chatbot_answers_a_question_and_a_follow_up(tmp_path: Path, mode: str) -> None:
    docs = copy_markdown(["advanced/timeouts.md"], tmp_path / "docs")  # one file keeps the first-run ingestion short
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTORE_LLM_")}
    env["HF_HUB_OFFLINE"] = "1"
    questions = f"{TIMEOUT_QUESTION}\nWhat is its default value?\n/sources\nexit\nnot asked?\n"
    store = ["--path", str(tmp_path / "data")]
    server = RunningServer.start(tmp_path / "data") if mode == "http" else None  # `ragstore run` on the store path
    if server is not None:
        store = ["--host", "127.0.0.1", "--port", str(server.port)]
    elif mode == "ephemeral":
        store = ["--ephemeral"]
    command = [sys.executable, "-m", "examples.chatbot", *store, "--collection", "docs", "--docs", str(docs)]
    try:
        done = subprocess.run(command, input=questions, capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    finally:
        if server is not None:
            assert server.stop() == 0
    assert done.returncode == 0, done.stderr
    assert "Ingested 1 files" in done.stderr  # first run: the empty collection was filled
    assert re.search(r"Loading the embedding model all-MiniLM-L6-v2 \.\.\. ready in \d+\.\d s", done.stderr), done.stderr
    assert "/help lists the commands" in done.stdout and "Traceback" not in done.stderr
    answers = done.stdout.split("bot> ")[1:]
    assert len(answers) == 2
    for answer in answers:
        assert "Sources:" in answer and "advanced/timeouts.md" in answer and "[1]" in answer
    assert "\n[1] advanced/timeouts.md · " in answers[1]  # /sources lists the last answer's passages with their text
    assert done.stdout.rstrip().endswith("Bye.") and "not asked?" not in done.stdout
    if mode != "ephemeral":  # the in-memory store is gone with the process; the others keep the ingested docs
        with ragstore.PersistentClient(tmp_path / "data") as client:
            assert client.get_collection("docs").count() > 0


@pytest.mark.slow
def test_a_stopped_store_server_is_one_error_line_in_the_terminal_and_at_start(tmp_path: Path) -> None:
    docs = copy_markdown(["advanced/timeouts.md"], tmp_path / "docs")
    server = RunningServer.start(tmp_path / "data")
    with server.client() as client:
        collection = open_collection(client, "docs")
        ingest_folder(collection, docs)
        engine = ChatEngine(Retriever(collection))
        assert server.stop() == 0
        out = io.StringIO()
        assert chat(engine, io.StringIO(f"{TIMEOUT_QUESTION}\nquit\n"), out, prompt=False) == 0
    assert f"error: Could not connect to a ragstore server at {server.url}" in out.getvalue() and "(ask again to retry)" in out.getvalue()

    command = [sys.executable, "-m", "examples.chatbot", "--host", "127.0.0.1", "--port", str(server.port), "--docs", str(docs)]
    done = subprocess.run(
        command, input="", capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: Could not connect to a ragstore server") and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.slow
def test_sigterm_during_a_terminal_answer_exits_at_once_without_a_traceback(tmp_path: Path) -> None:
    docs = copy_markdown(["advanced/timeouts.md"], tmp_path / "docs")
    with OpenAIServer(hold=threading.Event(), hold_seconds=60) as llm:  # the answer never ends on its own
        command = [sys.executable, "-m", "examples.chatbot", "--path", str(tmp_path / "data"), "--docs", str(docs)]
        command += ["--llm-url", llm.url, "--llm-model", "tiny-model"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{TIMEOUT_QUESTION}\n")
        process.stdin.flush()
        seen = ""
        while llm.tokens[0] not in seen:  # the first token is printed; the LLM holds the rest
            seen += process.stdout.read(1) or pytest.fail(f"the chatbot ended: {seen}")
        started = time.monotonic()
        process.terminate()
        _, stderr = process.communicate(timeout=30)
        seconds = time.monotonic() - started
    assert process.returncode == -signal.SIGTERM and seconds < 2.0, seconds
    assert "Traceback" not in stderr, stderr
