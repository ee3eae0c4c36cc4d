"""The terminal chatbot: the question-answer loop (its options and setup are in :mod:`.cli`).

Each line on stdin is a question; the answer is printed as it streams, then
its sources (file, page or section, score, and the query terms when they are why a passage was kept).
A line starting with ``/`` is a command (:data:`COMMANDS`): ``/help`` lists them, ``/sources``
shows the passages of the last answer, ``/reset`` forgets the conversation, ``/quit`` or
``/exit`` (also ``quit`` or ``exit`` alone) or end of input (Ctrl-D) leaves with status 0.
A failing store (its server stopped) is one ``error:`` line; the next question tries again.
Ctrl-C interrupts an answer (a second one at the prompt leaves with status 130).

Example:
    >>> import io
    >>> from examples.chatbot.engine import Reply
    >>> class Echo:
    ...     def ask(self, question): return Reply(question, question, [], "none", iter([question.upper()]))
    >>> out = io.StringIO()
    >>> chat(Echo(), io.StringIO("hello\\nquit\\n"), out, prompt=False)
    0
    >>> print(out.getvalue())
    you> hello
    bot> HELLO
    <BLANKLINE>
    Bye.
    <BLANKLINE>

"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from examples.chatbot.engine import ChatEngine, Reply, prompt
from examples.chatbot.extractive import extractive_answer
from examples.chatbot.llm import ChatLLM, LLMError
from examples.chatbot.retrieval import Passage
from examples.chatbot.sections import merge_sections
from ragstore.errors import RagstoreError

COMMANDS = {
    "/help": "list these commands",
    "/sources": "show the passages the last answer comes from",
    "/reset": "forget the conversation (the next question starts a new topic)",
    "/quit": "leave (also /exit, quit, exit or Ctrl-D)",
}
"""The terminal's commands and what they do."""
QUIT = ("/quit", "/exit", "quit", "exit")
SOURCE_CHARS = 600
"""How much of each passage ``/sources`` shows."""


def print_reply(reply: Reply, out: TextIO) -> None:
    """Print the answer as its tokens arrive, then its sources.

    Example:
        >>> import io
        >>> from examples.chatbot.retrieval import Passage
        >>> buffer = io.StringIO()
        >>> print_reply(Reply("q", "q", [Passage("a", "t", {"source": "a.md"}, 0.2)], "extractive", iter(["Hi", "!"])), buffer)
        >>> print(buffer.getvalue().strip())
        bot> Hi!
        Sources:
          [1] a.md (score 0.80)

    """
    out.write("bot> ")
    out.flush()
    for piece in reply:
        out.write(piece)
        out.flush()
    out.write("\n")
    if reply.passages:
        out.write("Sources:\n")
        for number, passage in enumerate(reply.passages, 1):
            out.write(f"  [{number}] {passage.label} ({passage.evidence})\n")
    out.write("\n")
    out.flush()


def help_text() -> str:
    """What ``/help`` prints.

    Example:
        >>> print(help_text().splitlines()[1])
          /help     list these commands

    """
    return "Commands:\n" + "".join(f"  {name:<9} {what}\n" for name, what in COMMANDS.items())


def print_sources(reply: Reply | None, out: TextIO) -> None:
    """The passages of ``reply`` with the start of their text (what ``/sources`` shows).

    Example:
        >>> import io
        >>> out = io.StringIO(); print_sources(None, out); out.getvalue()
        '(no answer yet: ask a question first)\\n\\n'

    """
    if reply is None or not reply.passages:
        out.write("(no answer yet: ask a question first)\n\n" if reply is None else "(the last answer has no sources)\n\n")
        return
    for number, passage in enumerate(reply.passages, 1):
        text = passage.text.strip()
        shown = text if len(text) <= SOURCE_CHARS else text[:SOURCE_CHARS].rsplit(None, 1)[0] + " …"
        out.write(f"[{number}] {passage.label} ({passage.evidence})\n")
        out.write("".join(f"    {line}\n" for line in shown.splitlines()) + "\n")


def chat(engine: ChatEngine, lines: TextIO, out: TextIO, prompt: bool) -> int:
    """Answer every line of ``lines`` until a quit command or its end; returns the exit status."""
    last: Reply | None = None
    while True:
        if prompt:
            out.write("you> ")
            out.flush()
        try:
            line = lines.readline()
        except KeyboardInterrupt:
            out.write("\n")
            return 130
        if not line:
            out.write("Bye.\n" if not prompt else "\nBye.\n")
            return 0
        question = line.strip()
        if not question:
            continue
        if question.lower() in QUIT:
            out.write("Bye.\n")
            return 0
        if question.startswith("/"):
            command = question.split()[0].lower()
            if command == "/help":
                out.write(help_text() + "\n")
            elif command == "/sources":
                print_sources(last, out)
            elif command == "/reset":
                engine.memory.clear()
                last = None
                out.write("(conversation forgotten)\n\n")
            else:
                out.write(f"Unknown command {command}: /help lists the commands.\n\n")
            continue
        if not prompt:
            out.write(f"you> {question}\n")
        try:
            last = engine.ask(question)
            print_reply(last, out)
        except KeyboardInterrupt:
            out.write("\n(interrupted)\n\n")
        except RagstoreError as exc:  # e.g. the store's server stopped: the user can ask again once it is back
            out.write(f"error: {exc}\n(ask again to retry)\n\n")


def print_answer(question: str, passages: list[Passage], llm: ChatLLM | None, embed: Any, scores: bool = True) -> bool:
    """Answer one question from given passages (no memory): ``Q:``, ``A:`` as it streams, numbered sources.

    For scripts that retrieve by other means (the LangChain and LlamaIndex examples). The answer
    is the LLM's when ``llm`` is given, else the extractive one (``embed`` picks its sentences).

    Returns:
        ``False`` when the LLM failed (the reason printed on stderr as one ``error:`` line).

    Example:
        >>> import ragstore
        >>> print_answer("Colour?", [Passage("a", "Apples are red and sweet.", {"source": "a.md"}, 0.2)], None,
        ...              ragstore.HashingEmbeddingFunction())
        <BLANKLINE>
        Q: Colour?
        A: Apples are red and sweet. [1]
        Sources:
          [1] a.md (score 0.80)
        True

    """
    passages = merge_sections(passages)
    print(f"\nQ: {question}\nA: ", end="", flush=True)
    if llm is None:
        print(extractive_answer(question, passages, embed))
    else:
        try:
            for piece in llm.stream(prompt(question, passages)):
                print(piece, end="", flush=True)
            print()
        except LLMError as exc:
            print(f"\nerror: {exc}", file=sys.stderr)
            return False
    print("Sources:")
    for number, passage in enumerate(passages, 1):
        print(f"  [{number}] {passage.label}" + (f" ({passage.evidence})" if scores else ""))
    return True
