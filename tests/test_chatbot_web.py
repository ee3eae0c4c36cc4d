"""The web chatbot (examples/chatbot/web.py) as a real process: its HTTP API, and its page in headless Chromium.

Every test talks to ``python -m examples.chatbot --web --web-port 0`` over a real socket. The first
start ingests three real httpx documentation files with the default model (offline), as a user's
first run does; the LLM tests add a local OpenAI-compatible server (tests/openai_server.py). The
browser tests drive Debian's Chromium (``/usr/bin/chromium``, installed by ``make test``) with
Playwright, and fail on any console error of the page (a Content-Security-Policy violation included).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai_server import OpenAIServer
from servers import RunningServer
from shared_data import MARKDOWN, copy_markdown, needs_data

from examples.chatbot.engine import NOTHING_FOUND, SYSTEM_PROMPT
from examples.chatbot.web import STOPPING

ROOT = Path(__file__).resolve().parents[1]
FILES = ("advanced/timeouts.md", "advanced/proxies.md", "http2.md")
TIMEOUT_QUESTION = "How do I set a timeout on requests?"
FOLLOW_UP = "What is its default value?"
OFF_TOPIC = "What is the recipe for banana bread?"
START_LINE = re.compile(r"Web chatbot at http://(?P<host>[^:\s]+):(?P<port>\d+)/")

pytestmark = [needs_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A docs folder of three real files, and the (still empty) store path the chatbot fills on first run."""
    return copy_markdown(FILES, tmp_path_factory.mktemp("docs")), tmp_path_factory.mktemp("store") / "data"


def start_chatbot(store: tuple[Path, Path], *extra: str) -> RunningServer:
    docs, path = store
    env = {"HF_HUB_OFFLINE": "1", "RAGSTORE_LLM_URL": "", "RAGSTORE_LLM_MODEL": "", "RAGSTORE_LLM_API_KEY": ""}  # only --llm-* count
    command = [sys.executable, "-m", "examples.chatbot", "--path", str(path), "--docs", str(docs), "--web", "--web-port", "0", *extra]
    return RunningServer.launch(command, START_LINE, path, env=env, timeout=240, cwd=ROOT)


def stop(server: RunningServer) -> None:
    assert server.stop() == 0, "".join(server.output)  # SIGTERM is a clean stop


@pytest.fixture(scope="module")
def chatbot(store: tuple[Path, Path]) -> Iterator[RunningServer]:
    """The web chatbot with offline (extractive) answers; it ingests the docs as it starts."""
    server = start_chatbot(store)
    assert any(line.startswith("Ingested 3 files") for line in server.output), server.output
    yield server
    stop(server)


def test_the_model_is_loaded_before_the_page_is_served(store: tuple[Path, Path], chatbot: RunningServer) -> None:
    server = start_chatbot(store)  # a second start: the store is filled, so no ingestion loads the model first
    try:
        output = "".join(server.output)
        loaded = re.search(r"Loading the embedding model all-MiniLM-L6-v2 \.\.\. ready in \d+\.\d s\n", output)
        assert loaded and "Ingested" not in output and output.index("Web chatbot at") >= loaded.end(), output
        assert ask(server.url, TIMEOUT_QUESTION)[-1][0] == "done"
    finally:
        stop(server)


@pytest.fixture
def llm_chatbot(store: tuple[Path, Path], chatbot: RunningServer) -> Iterator[tuple[RunningServer, OpenAIServer]]:
    """A second chatbot process on the same store, answering through a local LLM that holds its stream after one token."""
    with OpenAIServer(hold=threading.Event()) as llm:
        server = start_chatbot(store, "--llm-url", llm.url, "--llm-model", "tiny-model")
        yield server, llm
        stop(server)


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """The server-sent events of a streamed response, as (name, decoded data), as they arrive."""
    name = "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, json.loads(line[5:])
            name = "message"


def ask(base: str, question: str, session: str | None = None) -> list[tuple[str, Any]]:
    with httpx.stream("POST", f"{base}/api/chat", json={"question": question, "session": session}, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        return list(events(response))


def test_the_page_and_its_files_are_served_with_a_strict_security_policy(chatbot: RunningServer) -> None:
    page = httpx.get(chatbot.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>ragstore chat</title>" in page.text and 'src="/static/chat.js"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers scripts: no inline code
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{chatbot.url}/static/chat.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"] and ".innerHTML" not in script.text
    assert httpx.get(f"{chatbot.url}/static/../web.py").status_code == 404
    info = httpx.get(f"{chatbot.url}/api/info").json()
    assert info["collection"] == "docs" and info["passages"] > 3 and info["answers"].startswith("offline extractive")
    assert info["max_question_chars"] == 2000


def test_an_answer_streams_as_events_session_sources_tokens_done(chatbot: RunningServer) -> None:
    got = ask(chatbot.url, TIMEOUT_QUESTION)
    names = [name for name, _ in got]
    assert names[:2] == ["session", "sources"] and names[-1] == "done" and set(names[2:-1]) == {"token"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", got[0][1]["id"])
    sources = got[1][1]
    assert sources["mode"] == "extractive" and sources["query"] == TIMEOUT_QUESTION
    first = sources["sources"][0]
    assert first["n"] == 1 and first["source"] == "advanced/timeouts.md" and first["label"].startswith("advanced/timeouts.md · ")
    assert 0 < first["score"] <= 1 and [s["n"] for s in sources["sources"]] == list(range(1, len(sources["sources"]) + 1))
    document = (MARKDOWN / "advanced/timeouts.md").read_text()
    assert first["excerpt"].rstrip(" …").split("\n")[0] in document  # the passage's own text
    text = "".join(data for name, data in got if name == "token")
    assert "timeout" in text.lower() and "[1]" in text
    assert got[-1][1] == {"mode": "extractive", "fallback": None}


def test_a_session_remembers_its_conversation_and_only_its_own(chatbot: RunningServer) -> None:
    session = ask(chatbot.url, TIMEOUT_QUESTION)[0][1]["id"]
    follow_up = ask(chatbot.url, FOLLOW_UP, session)
    assert follow_up[0][1]["id"] == session
    assert follow_up[1][1]["query"] == f"{TIMEOUT_QUESTION} {FOLLOW_UP}"  # searched with the previous question
    assert follow_up[1][1]["sources"][0]["source"] == "advanced/timeouts.md"

    other = ask(chatbot.url, FOLLOW_UP)  # a new tab: no history
    assert other[0][1]["id"] != session and other[1][1]["query"] == FOLLOW_UP

    assert httpx.post(f"{chatbot.url}/api/reset", json={"session": session}).status_code == 204
    after_reset = ask(chatbot.url, FOLLOW_UP, session)
    assert after_reset[0][1]["id"] != session  # the forgotten id starts a new conversation
    assert after_reset[1][1]["query"] == FOLLOW_UP


def test_nothing_relevant_is_said_plainly_with_no_sources(chatbot: RunningServer) -> None:
    got = ask(chatbot.url, OFF_TOPIC)
    assert got[1][1]["mode"] == "none" and got[1][1]["sources"] == []
    assert [data for name, data in got if name == "token"] == [NOTHING_FOUND] and got[-1][0] == "done"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": "   "}, 422, "question: Value error, the question is empty"),
        ({"question": "x" * 2001}, 422, "question: String should have at most 2000 characters"),
        ({"question": "hi?", "session": "../../etc/passwd"}, 422, "session: String should match pattern"),
        ({"question": "hi?", "n_results": 100}, 422, "n_results: Extra inputs are not permitted"),
        ({"question": ["a", "list"]}, 422, "question: Input should be a valid string"),
        ({"question": "x" * 20_000}, 413, "exceeds the server's limit of 16384 bytes; ask a shorter question"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(chatbot: RunningServer, body: dict[str, Any], status: int, message: str) -> None:
    answer = httpx.post(f"{chatbot.url}/api/chat", json=body)
    assert answer.status_code == status and message in answer.json()["message"]


def test_malformed_bodies_and_methods_are_refused_and_the_server_keeps_answering(chatbot: RunningServer) -> None:
    not_json = httpx.post(f"{chatbot.url}/api/chat", content=b"{question", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and "JSON decode error" in not_json.json()["message"]
    assert httpx.get(f"{chatbot.url}/api/chat").status_code == 405
    assert httpx.post(f"{chatbot.url}/api/reset", json={"session": "short"}).status_code == 422
    assert ask(chatbot.url, TIMEOUT_QUESTION)[-1][0] == "done"


def test_other_pages_can_neither_post_nor_read_through_a_rebound_name(chatbot: RunningServer) -> None:
    """A page elsewhere posts without a preflight only as text/plain, and reads only through DNS rebinding."""
    plain = httpx.post(f"{chatbot.url}/api/chat", content=b'{"question": "hi?"}', headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["message"]
    rebound = httpx.get(f"{chatbot.url}/api/info", headers={"host": "evil.example"})
    assert rebound.status_code == 421 and "--web-host" in rebound.json()["message"]
    assert httpx.get(f"{chatbot.url}/api/info", headers={"host": "localhost"}).status_code == 200


def test_llm_tokens_reach_the_client_as_the_llm_sends_them(llm_chatbot: tuple[RunningServer, OpenAIServer]) -> None:
    chatbot, llm = llm_chatbot
    assert httpx.get(f"{chatbot.url}/api/info").json()["answers"] == f"LLM tiny-model at {llm.url}/chat/completions"
    tokens: list[str] = []
    done = None
    with httpx.stream("POST", f"{chatbot.url}/api/chat", json={"question": TIMEOUT_QUESTION}, timeout=120) as response:
        for name, data in events(response):
            if name == "sources":
                assert data["mode"] == "llm" and data["sources"][0]["source"] == "advanced/timeouts.md"
            if name == "token":
                tokens.append(data)
                llm.hold.set()  # type: ignore[union-attr]  # the LLM sends the rest only now: the first token was streamed through
            if name == "done":
                done = data
    assert llm.streamed and tokens == list(llm.tokens) and done == {"mode": "llm", "fallback": None}
    [request] = llm.requests
    messages = request.body["messages"]
    assert request.body["model"] == "tiny-model" and request.body["stream"] is True
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT} and TIMEOUT_QUESTION in messages[-1]["content"]


def test_a_failing_llm_falls_back_to_the_offline_answer_in_the_stream(llm_chatbot: tuple[RunningServer, OpenAIServer]) -> None:
    chatbot, llm = llm_chatbot
    llm.status = 500
    got = ask(chatbot.url, TIMEOUT_QUESTION)
    text = "".join(data for name, data in got if name == "token")
    assert "LLM unavailable" in text and "500" in text and "[1]" in text
    assert got[1][1]["mode"] == "llm"  # the sources were sent while the LLM was still the plan...
    name, done = got[-1]  # ...and the end says what happened
    assert name == "done" and done["mode"] == "extractive" and "answered 500" in done["fallback"] and "model overloaded" in done["fallback"]


def test_sigterm_during_a_stream_stops_the_server_in_seconds_without_a_traceback(store: tuple[Path, Path], chatbot: RunningServer) -> None:
    with OpenAIServer(hold=threading.Event(), hold_seconds=60) as llm:  # the LLM never finishes on its own
        server = start_chatbot(store, "--llm-url", llm.url, "--llm-model", "tiny-model")
        got: list[tuple[str, Any]] = []
        first_token = threading.Event()

        def read() -> None:
            with httpx.stream("POST", f"{server.url}/api/chat", json={"question": TIMEOUT_QUESTION}, timeout=120) as response:
                for event in events(response):
                    got.append(event)
                    first_token.set() if event[0] == "token" else None

        reader = threading.Thread(target=read)
        reader.start()
        try:
            assert first_token.wait(60), server.output
            started = time.monotonic()
            status = server.stop()  # SIGTERM
            seconds = time.monotonic() - started
        finally:
            llm.hold.set()  # type: ignore[union-attr]
            reader.join(30)
    output = "".join(server.output)
    assert status == 0 and seconds < 3.0, (seconds, output)  # measured: 0.9 s (uvicorn waited 30 s for the LLM before)
    assert "Traceback" not in output and "Error" not in output, output
    assert got[-1] == ("error", {"message": STOPPING})  # the page is told why the answer ends


# --- the page in a real browser ------------------------------------------------------------------


def chromium_executable() -> str | None:
    """Debian's Chromium (or $RAGSTORE_CHROMIUM)."""
    candidates = [os.environ.get("RAGSTORE_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_executable()
    if executable is None:
        message = "Chromium is not installed: `make test` installs Debian's chromium (make chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI always has it; never let a missing browser pass quietly
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Offline machines: no background connections, no component updates, no QUIC probes.
    flags = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=[*flags, "--disable-sync"])
        yield chromium
        chromium.close()


@contextlib.contextmanager
def browser_tab(browser: Any, expected_error: str | None = None, **options: Any) -> Iterator[Any]:
    """A fresh tab (``options`` for its context, e.g. a viewport); any console error or uncaught exception fails the test.

    ``expected_error`` names the one console error the test provokes (a request to a stopped server).
    """
    context = browser.new_context(**options)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert [problem for problem in problems if not (expected_error and expected_error in problem)] == []


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (see :func:`browser_tab`)."""
    with browser_tab(browser) as tab:
        yield tab


def ask_in_page(page: Any, question: str, turn: int, press_enter: bool = False) -> Any:
    page.get_by_label("Question").fill(question)
    if press_enter:
        page.get_by_label("Question").press("Enter")
    else:
        page.get_by_role("button", name="Ask").click()
    answer = page.locator(".turn").nth(turn - 1).locator(".answer")
    answer.and_(page.locator("[data-state=done]")).wait_for()
    return answer


def test_browser_asks_and_sees_an_answer_with_its_sources(page: Any, chatbot: RunningServer) -> None:
    page.goto(chatbot.url)
    page.locator("#about").filter(has_text="Collection “docs”").wait_for()
    answer = ask_in_page(page, TIMEOUT_QUESTION, 1)
    assert page.locator(".turn .question").first.inner_text() == TIMEOUT_QUESTION
    assert "timeout" in answer.locator(".text").inner_text().lower()
    sources = answer.locator(".sources li")
    assert sources.count() >= 1 and sources.first.locator("summary").inner_text().startswith("advanced/timeouts.md · ")
    sources.first.locator("summary").click()  # the passage itself unfolds under its label
    assert sources.first.locator("blockquote").is_visible()

    follow_up = ask_in_page(page, FOLLOW_UP, 2, press_enter=True)  # Enter sends; the tab's session remembers the topic
    assert "advanced/timeouts.md" in follow_up.locator(".sources").inner_text()
    assert page.get_by_label("Question").is_enabled() and page.get_by_label("Question").input_value() == ""

    page.get_by_role("button", name="New conversation").click()
    assert page.locator(".turn").count() == 0
    assert page.evaluate("sessionStorage.getItem('ragstore-chat-session')") is None


def test_browser_shows_llm_tokens_while_they_stream_and_can_stop(page: Any, llm_chatbot: tuple[RunningServer, OpenAIServer]) -> None:
    chatbot, llm = llm_chatbot
    assert llm.hold is not None
    page.goto(chatbot.url)
    page.get_by_label("Question").fill(TIMEOUT_QUESTION)
    page.get_by_role("button", name="Ask").click()
    answer = page.locator(".answer").first
    page.locator(".answer[data-state=streaming] .text").filter(has_text=llm.tokens[0].strip()).wait_for()  # only the first token so far
    assert answer.locator(".sources li").first.inner_text().startswith("advanced/timeouts.md")  # sources come before the text
    llm.hold.set()
    answer.and_(page.locator("[data-state=done]")).wait_for()
    assert answer.locator(".text").inner_text() == llm.answer
    assert llm.streamed

    # Stop: an answer the LLM never finishes is abandoned; the next question is answered.
    llm.hold.clear()
    page.get_by_label("Question").fill("How can I send requests through a proxy server?")
    page.get_by_role("button", name="Ask").click()
    page.locator(".answer[data-state=streaming] .text").filter(has_text=llm.tokens[0].strip()).wait_for()
    page.get_by_role("button", name="Stop").click()
    page.locator(".answer").nth(1).and_(page.locator("[data-state=stopped]")).wait_for()
    llm.hold.set()
    third = ask_in_page(page, "How do I use HTTP/2?", 3)
    assert third.locator(".text").inner_text() == llm.answer


PHONE = {"width": 390, "height": 844}
# Elements whose box reaches outside the viewport, skipping what a sideways-scrolling box (a code block) clips.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (node) => getComputedStyle(node).overflowX !== "visible";
  const clipped = (node) => { for (let up = node.parentElement; up; up = up.parentElement) if (scrolls(up)) return true; return false; };
  return [...document.querySelectorAll("body *")].flatMap((node) => {
    if (clipped(node)) return [];
    const box = node.getBoundingClientRect();
    const name = `${node.tagName.toLowerCase()}.${node.className}`;
    if (box.width > 0 && (box.left < -0.5 || box.right > width + 0.5)) return [`${name}: ${box.left}..${box.right}`];
    const spills = !scrolls(node) && node.clientWidth > 0 && node.scrollWidth > node.clientWidth + 1;  // text wider than its box
    return spills ? [`${name}: content ${node.scrollWidth} px in ${node.clientWidth} px`] : [];
  });
}"""


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_browser_on_a_phone_fits_the_screen_shows_code_as_code_and_says_when_a_question_was_cut(
    browser: Any, chatbot: RunningServer, tmp_path: Path
) -> None:
    with browser_tab(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True) as page:
        page.goto(chatbot.url)
        page.locator("#about").filter(has_text="Collection “docs”").wait_for()
        assert page.evaluate(OVERFLOWING) == []

        # A pasted question longer than the server takes is cut, and the page says so.
        page.get_by_label("Question").fill("timeout " * 300)  # 2,400 characters
        assert len(page.get_by_label("Question").input_value()) == 2000
        assert page.locator("#notice").inner_text() == "Your question was cut to its first 2000 characters (it had 2400)."

        answer = ask_in_page(page, TIMEOUT_QUESTION, 1)
        assert page.locator("#notice").is_hidden()  # sent: the notice is about the box, now empty
        code = answer.locator("pre.code").first  # the documentation's code example, as code
        assert "httpx.Client(timeout=10.0)" in code.inner_text() and "\n" in code.inner_text()
        assert "```" not in answer.locator(".text").inner_text()
        assert page.evaluate(OVERFLOWING) == []
        answer.locator(".sources summary").first.click()  # an unfolded source, with its long lines, must fit too
        ask_in_page(page, "averyveryverylongwordwithoutanyspacesthatmustwrapinsteadofwideningthepage" * 3, 2)  # wraps too

        assert page.evaluate(OVERFLOWING) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot = Path(os.environ.get("RAGSTORE_SCREENSHOTS") or tmp_path) / "chatbot-phone-390x844.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        width, height = png_size(shot)
        assert width == 2 * PHONE["width"] and height >= 2 * PHONE["height"]  # the whole page, no wider than the phone


def test_browser_shows_searching_until_the_answer_starts(page: Any, chatbot: RunningServer) -> None:
    held: list[Any] = []
    page.route("**/api/chat", lambda route: held.append(route))  # the request waits here until the test lets it go
    page.goto(chatbot.url)
    page.get_by_label("Question").fill(TIMEOUT_QUESTION)
    page.get_by_role("button", name="Ask").click()
    status = page.locator(".answer[data-state=streaming] .status")
    status.wait_for()
    assert status.inner_text() == "Searching the documents…" and held
    held[0].continue_()
    answer = page.locator(".answer").first
    answer.and_(page.locator("[data-state=done]")).wait_for()
    assert answer.locator(".status").count() == 0 and "timeout" in answer.locator(".text").inner_text().lower()


def test_browser_says_a_stopped_server_is_unreachable_and_retries(browser: Any, store: tuple[Path, Path], chatbot: RunningServer) -> None:
    with browser_tab(browser, expected_error="net::ERR_CONNECTION_REFUSED") as page:
        _unreachable_then_retry(page, store)


def _unreachable_then_retry(page: Any, store: tuple[Path, Path]) -> None:
    server = start_chatbot(store)
    page.goto(server.url)
    page.locator("#about").filter(has_text="Collection “docs”").wait_for()
    stop(server)
    page.get_by_label("Question").fill(TIMEOUT_QUESTION)
    page.get_by_role("button", name="Ask").click()
    failed = page.locator(".answer[data-state=error]")
    failed.wait_for()
    assert "The chatbot server is unreachable" in failed.locator(".error").inner_text()
    assert page.get_by_label("Question").is_enabled()

    again = start_chatbot(store, "--web-port", str(server.port))  # back on the same address
    try:
        page.get_by_role("button", name="Retry").click()
        answer = page.locator(".answer").first
        answer.and_(page.locator("[data-state=done]")).wait_for()
        assert page.locator(".turn").count() == 1 and "timeout" in answer.locator(".text").inner_text().lower()
    finally:
        stop(again)


def test_a_stopped_store_server_is_said_to_be_unreachable_and_the_next_question_is_answered_once_it_is_back(tmp_path: Path) -> None:
    docs = copy_markdown(["advanced/timeouts.md"], tmp_path / "docs")
    store_server = RunningServer.start(tmp_path / "data")  # `ragstore run`; the chatbot reaches it with --host
    env = {"HF_HUB_OFFLINE": "1", "RAGSTORE_LLM_URL": "", "RAGSTORE_LLM_MODEL": ""}
    command = [sys.executable, "-m", "examples.chatbot", "--host", "127.0.0.1", "--port", str(store_server.port), "--docs", str(docs)]
    chatbot = RunningServer.launch([*command, "--web", "--web-port", "0"], START_LINE, tmp_path / "data", env=env, timeout=240, cwd=ROOT)
    try:
        assert ask(chatbot.url, TIMEOUT_QUESTION)[-1][0] == "done"
        assert store_server.stop() == 0
        name, data = ask(chatbot.url, TIMEOUT_QUESTION)[-1]
        assert name == "error" and data["message"].startswith("The ragstore server is unreachable. Could not connect"), data
        back = RunningServer.start(tmp_path / "data", ["--port", str(store_server.port)])
        try:
            assert ask(chatbot.url, TIMEOUT_QUESTION)[-1][0] == "done"  # what the page's Retry does
        finally:
            assert back.stop() == 0
    finally:
        stop(chatbot)
    assert "Traceback" not in "".join(chatbot.output), chatbot.output
