"""The terminal chatbot: the question-answer loop (its options and setup are in :mod:`.cli`).

Each line on stdin is a question; the answer is printed as it streams, then
its sources (file, page or section, score). ``/reset`` forgets the
conversation, ``/quit`` or end of input (Ctrl-D) leaves with status 0, Ctrl-C
interrupts an answer (a second one at the prompt leaves with status 130).

Example:
    >>> import io
    >>> from examples.chatbot.engine import Reply
    >>> class Echo:
    ...     def ask(self, question): return Reply(question, question, [], "none", iter([question.upper()]))
    >>> out = io.StringIO()
    >>> chat(Echo(), io.StringIO("hello\\n/quit\\n"), out, prompt=False)
    0
    >>> print(out.getvalue())
    you> hello
    bot> HELLO
    <BLANKLINE>
    Bye.
    <BLANKLINE>

"""

from __future__ import annotations

from typing import TextIO

from examples.chatbot.engine import ChatEngine, Reply


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
            out.write(f"  [{number}] {passage.label} (score {passage.score:.2f})\n")
    out.write("\n")
    out.flush()


def chat(engine: ChatEngine, lines: TextIO, out: TextIO, prompt: bool) -> int:
    """Answer every line of ``lines`` until ``/quit`` or its end; returns the exit status."""
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
        if question in ("/quit", "/exit"):
            out.write("Bye.\n")
            return 0
        if question == "/reset":
            engine.memory.clear()
            out.write("(conversation forgotten)\n\n")
            continue
        if not prompt:
            out.write(f"you> {question}\n")
        try:
            print_reply(engine.ask(question), out)
        except KeyboardInterrupt:
            out.write("\n(interrupted)\n\n")
