"""Conversation memory: the recent turns, and how a follow-up question becomes a retrieval query.

The follow-up rule (:meth:`Conversation.retrieval_query`): a question is a
follow-up when there is an earlier question and it either

- is short (fewer than :data:`SHORT_QUESTION_WORDS` words, e.g. "and for pools?"),
- contains a referring word (:data:`REFERRING_WORDS`: "it", "its", "that", "them", ...), or
- starts with a continuation ("and", "what about", "how about", "also", ...).

A follow-up is searched as the previous question(s) (up to ``context_questions``,
default 1) followed by the new one, so "What is its default value?" after "How do I
set a timeout?" retrieves with "How do I set a timeout? What is its default value?".
Any other question is searched as it is, so a change of topic starts afresh.

Example:
    >>> memory = Conversation()
    >>> memory.retrieval_query("How do I set a timeout?")
    'How do I set a timeout?'
    >>> memory.add("How do I set a timeout?", "Pass timeout=...")
    >>> memory.retrieval_query("What is its default value?")
    'How do I set a timeout? What is its default value?'
    >>> memory.retrieval_query("How can I send requests through a proxy server?")
    'How can I send requests through a proxy server?'

"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

SHORT_QUESTION_WORDS = 5
"""Questions with fewer words than this are taken as follow-ups."""

REFERRING_WORDS = frozenset(
    {"it", "its", "it's", "itself", "they", "them", "their", "theirs", "this", "that", "these", "those", "there"}
    | {"he", "him", "his", "she", "her", "one", "ones", "same", "above", "former", "latter"}
)
"""Words that point back to something said before."""

CONTINUATIONS = ("and ", "but ", "also ", "so ", "then ", "what about", "how about", "what else", "why not", "or ")
"""Openings of a question that continues the previous one."""

_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's question and the answer given.

    Example:
        >>> Turn("hi?", "hello").question
        'hi?'

    """

    question: str
    answer: str


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on the conversation (the rule of the module docstring, minus "has history").

    Example:
        >>> is_follow_up("And with HTTP/2?"), is_follow_up("How do I configure a proxy for all requests?")
        (True, False)

    """
    lowered = question.strip().lower()
    words = _WORD.findall(lowered)
    return len(words) < SHORT_QUESTION_WORDS or any(w in REFERRING_WORDS for w in words) or lowered.startswith(CONTINUATIONS)


class Conversation:
    """The last ``max_turns`` turns of a chat and the follow-up rewriting rule.

    Args:
        max_turns: Turns kept (older ones are forgotten); they are also the history sent to an LLM.
        context_questions: Earlier questions prepended to a follow-up for retrieval.

    Example:
        >>> c = Conversation(max_turns=1)
        >>> c.add("a?", "1"); c.add("b?", "2")
        >>> [t.question for t in c.turns]
        ['b?']

    """

    def __init__(self, max_turns: int = 4, context_questions: int = 1) -> None:
        self.turns: deque[Turn] = deque(maxlen=max_turns)
        self.context_questions = context_questions

    def add(self, question: str, answer: str) -> None:
        """Remember one exchange."""
        self.turns.append(Turn(question, answer))

    def clear(self) -> None:
        """Forget everything (a new topic)."""
        self.turns.clear()

    def retrieval_query(self, question: str) -> str:
        """The text to search for: ``question``, with the previous question(s) before it if it is a follow-up."""
        question = question.strip()
        if not self.turns or not is_follow_up(question) or self.context_questions <= 0:
            return question
        earlier = [turn.question for turn in list(self.turns)[-self.context_questions :]]
        return " ".join([*earlier, question])
