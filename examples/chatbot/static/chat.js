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
let controller = null;  // aborts the answer being streamed

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
  } catch (error) {
    about.textContent = `Cannot reach the server: ${error.message}`;
  }
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
  const text = element("p", "text");
  answer.append(text);
  turn.append(answer);
  log.append(turn);
  return { answer, text };
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
  answer.dataset.state = state;
  if (message) answer.append(element("p", "error", message));
}

function setBusy(busy) {
  askButton.disabled = busy;
  questionBox.disabled = busy;
  stopButton.hidden = !busy;
  if (!busy) questionBox.focus();
}

async function ask(question) {
  const { answer, text } = addTurn(question);
  setBusy(true);
  controller = new AbortController();
  try {
    const response = await fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question, session: sessionStorage.getItem(SESSION_KEY) }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.message || `the server answered ${response.status}`);
    }
    let done = false;
    for await (const { event, data } of serverSentEvents(response)) {
      if (event === "session") sessionStorage.setItem(SESSION_KEY, data.id);
      else if (event === "sources") {
        answer.dataset.mode = data.mode;
        showSources(answer, data.sources);
      } else if (event === "token") {
        text.textContent += data;
        window.scrollTo(0, document.body.scrollHeight);
      } else if (event === "error") throw new Error(data.message);
      else if (event === "done") done = true;
    }
    if (!done) throw new Error("the answer stopped before its end");
    finish(answer, "done");
  } catch (error) {
    if (error.name === "AbortError") finish(answer, "stopped", "(stopped)");
    else finish(answer, "error", `Error: ${error.message}`);
  } finally {
    controller = null;
    setBusy(false);
    window.scrollTo(0, document.body.scrollHeight);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = questionBox.value.trim();
  if (!question || controller) return;
  questionBox.value = "";
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
