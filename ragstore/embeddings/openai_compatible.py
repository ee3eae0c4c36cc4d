"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` server, over httpx.

OpenAI itself, Ollama, vLLM, Hugging Face TEI, LM Studio, llama.cpp's server and
others speak the same endpoint: ``POST {"model", "input": [texts]}`` answered by
``{"data": [{"index", "embedding"}, ...]}``.
:class:`OpenAICompatibleEmbeddingFunction` sends the texts in batches, retries
rate limits, server errors and dropped connections with exponential backoff,
puts the vectors back in input order by their ``index``, and turns every
failure into a ragstore error that carries the server's own message:

==============================================  ==============================================
what happened                                   raised
==============================================  ==============================================
HTTP 401 / 403 (missing or wrong key)           :class:`~ragstore.errors.AuthenticationError`
any other 4xx (unknown model, bad input, ...)   :class:`~ragstore.errors.InvalidArgumentError`
429 / 5xx still failing after ``max_retries``   :class:`~ragstore.errors.InternalError`
no connection after ``max_retries``             :class:`~ragstore.errors.ServerConnectionError`
malformed answer (counts, indices, non-numbers) :class:`~ragstore.errors.InvalidArgumentError`
==============================================  ==============================================

The API key is never persisted: the collection stores the *name* of the
environment variable that holds it (``api_key_env_var``), read when a request
is sent.

Example:
    >>> ef = OpenAICompatibleEmbeddingFunction("http://127.0.0.1:11434/v1", "nomic-embed-text")
    >>> ef.endpoint
    'http://127.0.0.1:11434/v1/embeddings'
    >>> sorted(ef.get_config())
    ['api_key_env_var', 'base_url', 'batch_size', 'dimensions', 'max_retries', 'model', 'retry_backoff', 'timeout']

"""

from __future__ import annotations

import base64
import math
import os
import random
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ragstore.embeddings.base import PersistedConfig, as_texts, register_embedding_function
from ragstore.embeddings.symmetric import SymmetricEmbeddingFunction
from ragstore.errors import AuthenticationError, InternalError, InvalidArgumentError, RagstoreError, ServerConnectionError

if TYPE_CHECKING:  # httpx is imported on first use: `import ragstore` stays fast
    import httpx

RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
MAX_DELAY = 60.0  # no single wait is longer, whatever Retry-After says


def endpoint_for(base_url: str) -> str:
    """The embeddings URL for a server's base URL.

    ``.../v1`` (the OpenAI SDK's convention) gets ``/embeddings``; a URL that
    already ends in ``/embeddings`` is kept; anything else gets ``/v1/embeddings``.

    Example:
        >>> endpoint_for("http://localhost:8080")
        'http://localhost:8080/v1/embeddings'
        >>> endpoint_for("https://api.openai.com/v1/")
        'https://api.openai.com/v1/embeddings'

    """
    url = base_url.rstrip("/")
    if url.endswith("/embeddings"):
        return url
    if url.endswith("/v1"):
        return f"{url}/embeddings"
    return f"{url}/v1/embeddings"


def _server_message(response: httpx.Response) -> str:
    """The error message a server put in its body (OpenAI, Ollama, TEI, vLLM and FastAPI shapes)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, dict) and "message" in value:
                value = value["message"]
            if value:
                return str(value)[:500]
    return str(body)[:500]


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # only servers that send an HTTP date need it; importing it costs 18 ms

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _vector(item: Any, position: int) -> list[float]:
    embedding = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(embedding, str):  # encoding_format="base64": little-endian float32
        try:
            embedding = np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4").tolist()
        except ValueError as exc:
            raise InvalidArgumentError(f"The embedding server returned an undecodable base64 embedding at position {position}") from exc
    if (
        not isinstance(embedding, list)
        or not embedding
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in embedding)
    ):
        raise InvalidArgumentError(
            f"The embedding server returned a non-numeric embedding at position {position}: expected a list of finite numbers"
        )
    return embedding


@register_embedding_function
class OpenAICompatibleEmbeddingFunction(PersistedConfig, SymmetricEmbeddingFunction):
    """Embeds through an OpenAI-compatible ``/v1/embeddings`` HTTP endpoint.

    Args:
        base_url: The server, such as ``https://api.openai.com/v1``, ``http://localhost:11434/v1``
            (Ollama) or ``http://localhost:8080`` (TEI); see :func:`endpoint_for`.
        model: The model name the server knows.
        api_key: The key, sent as ``Authorization: Bearer``; never persisted.
        api_key_env_var: Where to read the key when ``api_key`` is not given (local servers need none).
        dimensions: Ask for shorter vectors (models that support it); the answer is checked against it.
        batch_size: Texts per request.
        timeout: Seconds per request.
        max_retries: Further attempts after a 408, 409, 429 or 5xx answer, or a connection error or timeout.
        retry_backoff: First wait in seconds; doubled each attempt, with jitter, at most 60 s.
            A ``Retry-After`` header replaces it.

    Example:
        >>> ef = OpenAICompatibleEmbeddingFunction("https://api.openai.com/v1", "text-embedding-3-small", dimensions=256)
        >>> ef.get_config()["dimensions"], "api_key" in ef.get_config()
        (256, False)

    """

    persisted: ClassVar[tuple[str, ...]] = (
        "base_url",
        "model",
        "api_key_env_var",
        "dimensions",
        "batch_size",
        "timeout",
        "max_retries",
        "retry_backoff",
    )
    """The constructor's arguments a collection persists: all but ``api_key`` (a rebuilt function reads it from ``api_key_env_var``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env_var: str = "OPENAI_API_KEY",
        dimensions: int | None = None,
        batch_size: int = 128,
        timeout: float = 60,
        max_retries: int = 5,
        *,
        retry_backoff: float = 0.5,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError(f"model must be a non-empty string, got {model!r}")
        for label, value, low in (("batch_size", batch_size, 1), ("max_retries", max_retries, 0), ("dimensions", dimensions, 1)):
            if value is None and label == "dimensions":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidArgumentError(f"{label} must be an int >= {low}, got {value!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(retry_backoff, bool) or not isinstance(retry_backoff, (int, float)) or retry_backoff < 0:
            raise InvalidArgumentError(f"retry_backoff must be a number of seconds >= 0, got {retry_backoff!r}")
        self.base_url = base_url
        self.endpoint = endpoint_for(base_url)
        self.model = model
        self.api_key_env_var = api_key_env_var
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.retry_backoff = float(retry_backoff)
        self._api_key = api_key
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ embedding

    def __call__(self, input: Sequence[str]) -> list[npt.NDArray[np.float32]]:  # noqa: A002
        """Embed each text of ``input``, ``batch_size`` texts per request; one vector per text, in order."""
        texts = as_texts(input)
        vectors: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(texts[start : start + self.batch_size]))
        return vectors

    def _embed_batch(self, texts: list[str]) -> list[npt.NDArray[np.float32]]:
        payload: dict[str, Any] = {"model": self.model, "input": texts}
        if self.dimensions is not None:
            payload["dimensions"] = self.dimensions
        response = self._post(payload)
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidArgumentError(f"The embedding server at {self.endpoint} answered with invalid JSON") from exc
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise InvalidArgumentError(f"The embedding server at {self.endpoint} answered without a 'data' list")
        if len(data) != len(texts):
            raise InvalidArgumentError(f"The embedding server returned {len(data)} embeddings for {len(texts)} inputs")
        ordered: list[list[float] | None] = [None] * len(texts)
        for position, item in enumerate(data):
            index = item.get("index", position) if isinstance(item, dict) else position
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(texts) or ordered[index] is not None:
                raise InvalidArgumentError(f"The embedding server returned an invalid or repeated index {index!r} at position {position}")
            ordered[index] = _vector(item, position)
        dims = {len(v) for v in ordered if v is not None}
        if len(dims) != 1:
            raise InvalidArgumentError(f"The embedding server returned embeddings of different dimensions: {sorted(dims)}")
        if self.dimensions is not None and dims != {self.dimensions}:
            raise InvalidArgumentError(f"The embedding server returned {dims.pop()} dimensions; {self.dimensions} were requested")
        return list(np.asarray(ordered, dtype=np.float32))

    # ------------------------------------------------------------------ HTTP

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(timeout=self.timeout)
            return self._http

    def _headers(self) -> dict[str, str]:
        key = self._api_key or (os.environ.get(self.api_key_env_var) if self.api_key_env_var else None)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        hinted = _retry_after(response) if response is not None else None
        if hinted is not None:
            return min(hinted, MAX_DELAY)
        return min(self.retry_backoff * 2.0**attempt, MAX_DELAY) * random.uniform(0.5, 1.0)  # jitter, not cryptography

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        """POST with retries; the successful response, or the right ragstore error."""
        import httpx

        client = self._client()
        failure: RagstoreError
        for attempt in range(self.max_retries + 1):
            response: httpx.Response | None = None
            try:
                response = client.post(self.endpoint, json=payload, headers=self._headers())
            except httpx.TransportError as exc:  # refused, reset, timed out, ...
                failure = ServerConnectionError(f"Could not reach the embedding server at {self.endpoint}: {type(exc).__name__}: {exc}")
            else:
                if response.is_success:
                    return response
                message = _server_message(response)
                if response.status_code not in RETRY_STATUSES:
                    cls = AuthenticationError if response.status_code in (401, 403) else InvalidArgumentError
                    raise cls(f"The embedding server at {self.endpoint} rejected the request (HTTP {response.status_code}): {message}")
                failure = InternalError(f"The embedding server at {self.endpoint} failed (HTTP {response.status_code}): {message}")
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, response))
        raise type(failure)(f"{failure.message} (after {self.max_retries + 1} attempts)")

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def __enter__(self) -> OpenAICompatibleEmbeddingFunction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ persistence

    @staticmethod
    def name() -> str:
        """Registry name."""
        return "ragstore_openai_compatible"

    def default_space(self) -> str:
        """``cosine``: API models are usually compared by cosine (OpenAI's vectors are unit length)."""
        return "cosine"

    def __repr__(self) -> str:
        return f"OpenAICompatibleEmbeddingFunction(base_url={self.base_url!r}, model={self.model!r})"
