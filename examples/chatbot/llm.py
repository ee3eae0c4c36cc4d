"""Streaming answers from any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp, ...).

:class:`ChatLLM` posts ``{"model", "messages", "stream": true}`` to
``<base url>/chat/completions`` with httpx and yields the text of every
server-sent event's ``choices[0].delta.content`` as it arrives, until
``data: [DONE]``. The key, if any, is sent as ``Authorization: Bearer``.
Configuration comes from arguments or the environment: ``RAGSTORE_LLM_URL``
(e.g. ``http://localhost:11434/v1``), ``RAGSTORE_LLM_MODEL`` and ``RAGSTORE_LLM_API_KEY``.

Example:
    >>> ChatLLM("http://localhost:11434/v1/", "llama3.2").endpoint
    'http://localhost:11434/v1/chat/completions'

"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence

import httpx

Message = Mapping[str, str]


class LLMError(RuntimeError):
    """The chat endpoint could not be reached or answered with an error.

    Example:
        >>> str(LLMError("no answer"))
        'no answer'

    """


def parse_sse_line(line: str) -> str | None:
    """The content delta of one SSE line (``""`` for none, ``None`` at ``[DONE]``).

    Example:
        >>> parse_sse_line('data: {"choices": [{"delta": {"content": "Hi"}}]}'), parse_sse_line("data: [DONE]")
        ('Hi', None)

    """
    if not line.startswith("data:"):
        return ""  # blank separators, comments (": keep-alive"), "event:" lines
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        return ""
    if isinstance(event, dict) and event.get("error"):
        raise LLMError(f"the chat endpoint reported an error: {event['error']}")
    choices = event.get("choices") if isinstance(event, dict) else None
    if not choices:
        return ""
    delta = choices[0].get("delta") or choices[0].get("message") or {}
    return str(delta.get("content") or "")


class ChatLLM:
    """A streaming client of one model on an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: The API's base URL (``.../v1``); a URL already ending in ``/chat/completions`` is used as is.
        model: The model name sent with every request.
        api_key: Bearer token (``None``: none sent).
        timeout: Seconds to wait for the connection and between streamed chunks.
        temperature: Sampling temperature.

    Example:
        >>> ChatLLM("http://127.0.0.1:9/v1", "m").model
        'm'

    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0, temperature: float = 0.2) -> None:
        url = base_url.rstrip("/")
        self.endpoint = url if url.endswith("/chat/completions") else f"{url}/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.temperature = temperature

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None) -> ChatLLM | None:
        """A client from the arguments, else ``RAGSTORE_LLM_URL``/``_MODEL``/``_API_KEY``; ``None`` if neither is set.

        Raises:
            ValueError: Only one of the URL and the model is set (a half configuration is a mistake, not "no LLM").

        Example:
            >>> ChatLLM.from_env(base_url="", model="") is None
            True

        """
        url = base_url or os.environ.get("RAGSTORE_LLM_URL")
        name = model or os.environ.get("RAGSTORE_LLM_MODEL")
        if bool(url) != bool(name):
            raise ValueError("--llm-url and --llm-model (or RAGSTORE_LLM_URL and RAGSTORE_LLM_MODEL) go together")
        if not url or not name:
            return None
        return cls(url, name, api_key=os.environ.get("RAGSTORE_LLM_API_KEY") or None)

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """Yield the answer's text pieces as the server sends them.

        Raises:
            LLMError: Connection failure, an HTTP error status or an error event.

        """
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"model": self.model, "messages": list(map(dict, messages)), "stream": True, "temperature": self.temperature}
        try:
            with httpx.stream("POST", self.endpoint, json=body, headers=headers, timeout=self.timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise LLMError(f"{self.endpoint} answered {response.status_code}: {response.text[:300]}")
                for line in response.iter_lines():
                    piece = parse_sse_line(line)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except httpx.HTTPError as exc:
            raise LLMError(f"cannot reach the chat endpoint {self.endpoint}: {exc}") from exc
