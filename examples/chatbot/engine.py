"""The chat engine: retrieve, budget, answer (streamed), remember.

:meth:`ChatEngine.ask` returns a :class:`Reply` at once: its ``passages`` are
the sources, and iterating it yields the answer's text as it is produced (from
the LLM, or the extractive answer in one piece). When the text is exhausted,
the turn is added to the conversation memory. A terminal prints the pieces as
they come; a web server can send them as server-sent
events followed by the sources.

Chunks of the same section are one source (:mod:`.sections`). When no passage
passes the relevance threshold, the reply says so (:data:`NOTHING_FOUND`), has no
sources, and no LLM is called. When the LLM fails, the answer is the extractive
one after a one-line notice, and the reply says so: its ``mode`` becomes
``"extractive"`` and ``fallback`` holds the reason.

Example:
    >>> import ragstore
    >>> col = ragstore.EphemeralClient().create_collection("ex-engine", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> col.add(ids=["a"], documents=["Apples are red and sweet fruit."], metadatas=[{"source": "fruit.md"}])
    >>> engine = ChatEngine(Retriever(col, min_relevance=0.0))
    >>> reply = engine.ask("Apples are red and sweet fruit?")
    >>> reply.text(), [p.source for p in reply.passages]
    ('Apples are red and sweet fruit. [1]', ['fruit.md'])

"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from examples.chatbot.budget import TokenCounter, fit_passages, token_counter
from examples.chatbot.extractive import extractive_answer
from examples.chatbot.llm import ChatLLM, LLMError, Message
from examples.chatbot.memory import Conversation
from examples.chatbot.retrieval import Passage, Retriever
from examples.chatbot.sections import merge_sections

NOTHING_FOUND = "I found nothing relevant to that in the collection. Try rephrasing, or ask about what the documents cover."
SYSTEM_PROMPT = (
    "You answer questions using only the numbered context passages. Cite the passages you use as [1], [2], ... "
    "If the context does not contain the answer, say that you do not know."
)
DEFAULT_CONTEXT_TOKENS = 3000
"""Tokens for everything sent to the LLM: instructions, recent turns, question and passages."""

Mode = Literal["llm", "extractive", "none"]


@dataclass
class Reply:
    """One answer in the making: its sources now, its text as it is iterated.

    Iterating a reply yields the answer's text pieces in order (once); when they
    are exhausted, ``on_done`` is called (the engine records the turn there).

    Attributes:
        question: The question as asked.
        query: The text retrieval searched for (the question, or the follow-up rewrite).
        passages: The sources, best first (those the answer was made from).
        mode: ``"llm"``, ``"extractive"`` or ``"none"`` (nothing relevant found); ``"llm"`` turns ``"extractive"``
            when the LLM fails while the reply is read.
        source: Where the pieces come from.
        on_done: Called with the reply once every piece has been read.
        pieces: The pieces read so far.
        fallback: Why the answer fell back from the LLM to the extractive one (``None`` if it did not).

    Example:
        >>> reply = Reply("q", "q", [], "none", iter(["a", "b"]))
        >>> list(reply), reply.text()
        (['a', 'b'], 'ab')

    """

    question: str
    query: str
    passages: list[Passage]
    mode: Mode
    source: Iterator[str]
    on_done: Callable[[Reply], None] | None = None
    pieces: list[str] = field(default_factory=list)
    fallback: str | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self.source:
            self.pieces.append(piece)
            yield piece
        done, self.on_done = self.on_done, None
        if done is not None:
            done(self)

    def text(self) -> str:
        """The whole answer (reads what is left of it)."""
        for _ in self:
            pass
        return "".join(self.pieces)


def context_block(passages: list[Passage]) -> str:
    """The passages as numbered context for the prompt.

    Example:
        >>> print(context_block([Passage("a", "Text.", {"source": "a.md"})]))
        [1] a.md
        Text.

    """
    return "\n\n".join(f"[{n}] {p.label}\n{p.text.strip()}" for n, p in enumerate(passages, 1))


def prompt(question: str, passages: list[Passage], history: Sequence[Message] = ()) -> list[Message]:
    """The chat messages asking an LLM to answer ``question`` from ``passages`` only (after ``history``).

    Example:
        >>> [m["role"] for m in prompt("Why?", [Passage("a", "Because.", {"source": "a.md"})])]
        ['system', 'user']

    """
    user = f"Context:\n{context_block(passages)}\n\nQuestion: {question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, *history, {"role": "user", "content": user}]


class ChatEngine:
    """Retrieval-augmented chat over one collection, with memory and an optional LLM.

    Args:
        retriever: Finds the passages.
        llm: Writes answers; ``None`` for the offline extractive answer.
        memory: The conversation (a new one by default).
        context_tokens: Token budget of the LLM prompt (see :data:`DEFAULT_CONTEXT_TOKENS`).
        count_tokens: Token counter (default: the embedding model's tokenizer, see :mod:`.budget`).
        embed: Embedding function for the extractive answer (default: the collection's).

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("ex-engine2", embedding_function=ragstore.HashingEmbeddingFunction())
        >>> ChatEngine(Retriever(col)).ask("anything?").text() == NOTHING_FOUND
        True

    """

    def __init__(
        self,
        retriever: Retriever,
        llm: ChatLLM | None = None,
        memory: Conversation | None = None,
        context_tokens: int = DEFAULT_CONTEXT_TOKENS,
        count_tokens: TokenCounter | None = None,
        embed: Any = None,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.memory = memory if memory is not None else Conversation()
        self.context_tokens = context_tokens
        self.count_tokens = count_tokens
        self.embed = embed if embed is not None else retriever.collection.embedding_function

    def messages(self, question: str, passages: list[Passage]) -> tuple[list[Message], list[Passage]]:
        """The chat messages for the LLM and the passages that fit the budget in them.

        Instructions, the remembered turns and the question are counted first;
        the passages get what is left, lowest-ranked dropped first.
        """
        count = self.count_tokens or token_counter()
        history: list[Message] = []
        for turn in self.memory.turns:
            history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}]
        fixed = count(SYSTEM_PROMPT) + count(question) + sum(count(m["content"]) for m in history) + 16
        kept = fit_passages(passages, self.context_tokens - fixed, count)
        return prompt(question, kept, history), kept

    def ask(self, question: str) -> Reply:
        """Answer ``question`` (see the module docstring); nothing is computed past retrieval until the reply is read."""
        question = question.strip()
        query = self.memory.retrieval_query(question)
        passages = merge_sections(self.retriever.retrieve(query))
        if not passages:
            return Reply(question, query, [], "none", iter([NOTHING_FOUND]))
        if self.llm is None:
            return Reply(question, query, passages, "extractive", self._extractive(query, passages), self._remember)
        messages, kept = self.messages(question, passages)
        reply = Reply(question, query, kept, "llm", iter(()), self._remember)
        reply.source = self._generate(reply, messages)
        return reply

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: the embedding model, and the tokenizer an LLM's budget uses."""
        getattr(self.embed, "embed_query", self.embed)(["warm up"])
        if self.llm is not None:
            (self.count_tokens or token_counter())("warm up")

    def _remember(self, reply: Reply) -> None:
        self.memory.add(reply.question, reply.text())

    def _extractive(self, query: str, passages: list[Passage]) -> Iterator[str]:
        yield extractive_answer(query, passages, self.embed)

    def _generate(self, reply: Reply, messages: list[Message]) -> Iterator[str]:
        assert self.llm is not None
        try:
            yield from self.llm.stream(messages)
        except LLMError as exc:
            reply.mode, reply.fallback = "extractive", f"LLM unavailable: {exc}"
            yield f"\n({reply.fallback}; answering offline)\n"
            yield from self._extractive(reply.query, reply.passages)
