// The web chatbot's page: send a question, show the answer as it streams and the sources under it.
// The server's protocol is described in examples/chatbot/web.py. All text goes in with textContent,
// never innerHTML, so nothing in a document or an answer can become markup or script.
"use strict";

const SESSION_KEY = "ragstore-chat-session";  // one conversation per tab (sessionStorage is per tab)
const log = document.getElementById("log");
const form = document.getElementById("ask-form");
const questionBox = document.getElementById("question");
const askButton = document.getElementById("ask");
const stopButton = document.getElementById("stop");
const resetButton = document.getElementById("reset");
const notice = document.getElementById("notice");
let controller = null;  // aborts the answer being streamed
let maxQuestionChars = 2000;  // the server's limit, from /api/info
const UNREACHABLE = "The chatbot server is unreachable: is it still running?";

class Retryable extends Error {}  // failures worth asking again: the server down, stopping or failing

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadInfo() {
  const about = document.getElementById("about");
  try {
    const response = await fetch("/api/info");
    const info = await response.json();
    const search = info.search ? ` · ${info.search}` : "";
    about.textContent = `Collection “${info.collection}” · ${info.passages} passages${search} · ${info.answers}`;
    about.dataset.loaded = "yes";
    if (info.max_question_chars) maxQuestionChars = info.max_question_chars;
  } catch (error) {
    about.textContent = UNREACHABLE;
  }
}

// The answer's text, fenced code blocks (```) shown as code; an unclosed fence (still streaming) is code so far.
function renderText(container, raw) {
  const parts = raw.split("```");
  container.replaceChildren();
  parts.forEach((part, index) => {
    if (index % 2 === 0) {
      if (part.trim()) container.append(element("p", "prose", part.replace(/^\n+|\n+$/g, "")));
    } else {
      const newline = part.indexOf("\n");
      const code = newline >= 0 ? part.slice(newline + 1) : "";  // the first line names the language
      container.append(element("pre", "code", code.replace(/\n+$/, "")));
    }
  });
}

// Yields {event, data} for each server-sent event of a fetch() response, as the bytes arrive.
async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      let data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

function addTurn(question) {
  log.querySelector(".hint")?.remove();
  const turn = element("section", "turn");
  turn.append(element("p", "question", question));
  const answer = element("div", "answer streaming");
  answer.dataset.state = "streaming";
  const status = element("p", "status", "Searching the documents…");  // until the first words arrive
  const text = element("div", "text");
  answer.append(status, text);
  turn.append(answer);
  log.append(turn);
  return { turn, answer, status, text };
}

function showSources(answer, sources) {
  if (!sources.length) return;
  const box = element("div", "sources");
  box.append(element("h2", "", "Sources"));
  const list = element("ol");
  for (const source of sources) {
    const item = element("li");
    const details = element("details");
    const summary = element("summary", "", source.label);
    const terms = source.kept_for === "terms" ? " · all query terms" : "";  // kept for its words, not its similarity
    summary.append(element("span", "score", `score ${source.score.toFixed(2)}${terms}`));
    details.append(summary, element("blockquote", "", source.excerpt));
    item.append(details);
    list.append(item);
  }
  box.append(list);
  answer.append(box);
}

function finish(answer, state, message) {
  answer.classList.remove("streaming");
  answer.querySelector(".status")?.remove();
  answer.dataset.state = state;
  if (message) answer.append(element("p", "error", message));
}

function offerRetry(turn, answer, question) {
  const retry = element("button", "retry", "Retry");
  retry.type = "button";
  retry.addEventListener("click", () => {
    if (controller) return;
    turn.remove();
    ask(question);
  });
  answer.append(retry);
}

function setBusy(busy) {
  askButton.disabled = busy;
  questionBox.disabled = busy;
  stopButton.hidden = !busy;
  if (!busy) questionBox.focus();
}

async function ask(question) {
  const { turn, answer, status, text } = addTurn(question);
  setBusy(true);
  controller = new AbortController();
  let raw = "";
  try {
    let response;
    try {
      response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question, session: sessionStorage.getItem(SESSION_KEY) }),
        signal: controller.signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new Retryable(UNREACHABLE);  // fetch rejects only when no answer came at all
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const message = body.message || `the server answered ${response.status}`;
      throw response.status >= 500 ? new Retryable(message) : new Error(message);
    }
    let done = false;
    try {
      for await (const { event, data } of serverSentEvents(response)) {
        if (event === "session") sessionStorage.setItem(SESSION_KEY, data.id);
        else if (event === "sources") {
          answer.dataset.mode = data.mode;
          status.textContent = "Writing the answer…";
          showSources(answer, data.sources);
        } else if (event === "token") {
          status.remove();
          raw += data;
          renderText(text, raw);
          window.scrollTo(0, document.body.scrollHeight);
        } else if (event === "error") throw new Retryable(data.message);
        else if (event === "done") {
          done = true;
          answer.dataset.mode = data.mode;  // "extractive" when the LLM failed and the offline answer replaced it
          if (data.fallback) answer.dataset.fallback = data.fallback;
        }
      }
    } catch (error) {
      if (error.name === "AbortError" || error instanceof Retryable) throw error;
      throw new Retryable(UNREACHABLE);  // the connection broke mid-answer
    }
    if (!done) throw new Retryable(UNREACHABLE);
    finish(answer, "done");
    if (!document.getElementById("about").dataset.loaded) loadInfo();
  } catch (error) {
    if (error.name === "AbortError") finish(answer, "stopped", "(stopped)");
    else {
      finish(answer, "error", `Error: ${error.message}`);
      if (error instanceof Retryable) offerRetry(turn, answer, question);
    }
  } finally {
    controller = null;
    setBusy(false);
    window.scrollTo(0, document.body.scrollHeight);
  }
}

// A pasted question longer than the server takes is cut to its limit, and the page says so.
questionBox.addEventListener("input", () => {
  const length = questionBox.value.length;
  if (length > maxQuestionChars) {
    questionBox.value = questionBox.value.slice(0, maxQuestionChars);
    notice.textContent = `Your question was cut to its first ${maxQuestionChars} characters (it had ${length}).`;
    notice.hidden = false;
  } else if (length < maxQuestionChars) notice.hidden = true;
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = questionBox.value.trim();
  if (!question || controller) return;
  questionBox.value = "";
  notice.hidden = true;
  ask(question);
});

questionBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

stopButton.addEventListener("click", () => controller?.abort());

resetButton.addEventListener("click", async () => {
  controller?.abort();
  const session = sessionStorage.getItem(SESSION_KEY);
  sessionStorage.removeItem(SESSION_KEY);
  log.replaceChildren(element("p", "hint", "New conversation. Ask about the documents in the collection."));
  if (session) {
    await fetch("/api/reset", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session }),
    }).catch(() => {});  // the conversation expires on the server anyway
  }
  questionBox.focus();
});

loadInfo();
questionBox.focus();
