"""chromadb's ``OpenAIEmbeddingFunction``, on ragstore's OpenAI-compatible client (no ``openai`` package).

The constructor takes chromadb's arguments and the function persists under
chromadb's name (``"openai"``) with chromadb's config keys, so a collection
either library made with it rebuilds in the other. Requests go through
:class:`~ragstore.embeddings.OpenAICompatibleEmbeddingFunction` (batches,
retries, errors that carry the server's message). As in chromadb, the key comes
from ``OPENAI_API_KEY`` when that is set, else from ``api_key_env_var``; it is
never persisted. Azure OpenAI's deployment API (``api_type="azure"``) is not
spoken: point ``api_base`` at an OpenAI-compatible ``/v1`` endpoint instead.

Example:
    >>> ef = OpenAIEmbeddingFunction(api_key="sk-example", model_name="text-embedding-3-small", dimensions=256)
    >>> ef.endpoint, ef.get_config()["model_name"], ef.get_config()["dimensions"]
    ('https://api.openai.com/v1/embeddings', 'text-embedding-3-small', 256)

"""

from __future__ import annotations

import os
from typing import Any

from ragstore.embeddings.base import register_embedding_function
from ragstore.embeddings.openai_compatible import OpenAICompatibleEmbeddingFunction
from ragstore.errors import AuthenticationError, InvalidArgumentError

OPENAI_BASE_URL = "https://api.openai.com/v1"


@register_embedding_function
class OpenAIEmbeddingFunction(OpenAICompatibleEmbeddingFunction):
    """OpenAI's embeddings API (or any OpenAI-compatible ``api_base``) with chromadb's arguments.

    Args:
        api_key: The key (never persisted); by default read from the environment.
        model_name: The embedding model.
        organization_id: Sent as ``OpenAI-Organization``.
        api_base: Another OpenAI-compatible server (``http://localhost:11434/v1`` for Ollama).
        api_type: Only ``None`` or ``"openai"``: Azure's deployment API is not supported.
        api_version: Azure only (refused).
        deployment_id: Azure only (refused).
        default_headers: Extra headers on every request.
        dimensions: Shorter vectors; sent for ``text-embedding-3`` models only, as chromadb does.
        api_key_env_var: Where to read the key when ``OPENAI_API_KEY`` is not set.

    Raises:
        InvalidArgumentError: Azure arguments. (No key for api.openai.com is an
            :class:`~ragstore.errors.AuthenticationError` at the first embedding.)

    Example:
        >>> try:
        ...     OpenAIEmbeddingFunction(api_key="sk-example", api_type="azure")
        ... except InvalidArgumentError as exc:
        ...     print(str(exc)[:52])
        ragstore does not speak Azure OpenAI's deployment AP

    """

    persisted = (
        "api_key_env_var",
        "model_name",
        "organization_id",
        "api_base",
        "api_type",
        "api_version",
        "deployment_id",
        "default_headers",
        "dimensions",
    )
    """chromadb's config keys (the key itself is never among them)."""

    def __init__(
        self,
        api_key: str | None = None,
        model_name: str = "text-embedding-ada-002",
        organization_id: str | None = None,
        api_base: str | None = None,
        api_type: str | None = None,
        api_version: str | None = None,
        deployment_id: str | None = None,
        default_headers: dict[str, str] | None = None,
        dimensions: int | None = None,
        api_key_env_var: str = "CHROMA_OPENAI_API_KEY",
    ) -> None:
        if api_type not in (None, "openai") or api_version is not None or deployment_id is not None:
            raise InvalidArgumentError(
                "ragstore does not speak Azure OpenAI's deployment API (api_type, api_version, deployment_id); "
                "pass api_base=<an OpenAI-compatible /v1 URL> instead"
            )
        env_var = "OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") is not None else api_key_env_var  # chromadb's rule
        sent_dimensions = dimensions if dimensions is not None and "text-embedding-3" in model_name else None
        super().__init__(api_base or OPENAI_BASE_URL, model_name, api_key=api_key, api_key_env_var=env_var, dimensions=sent_dimensions)
        self.model_name = model_name
        self.organization_id = organization_id
        self.api_base = api_base
        self.api_type = api_type
        self.api_version = api_version
        self.deployment_id = deployment_id
        self.default_headers = dict(default_headers) if default_headers else None
        self.requested_dimensions = dimensions

    def _headers(self) -> dict[str, str]:
        """The key's header plus chromadb's ``organization_id`` and ``default_headers``.

        api.openai.com without a key is refused here, before a request: at the first
        embedding, not when a collection that persisted this function is opened (a
        process that only reads records needs no key).
        """
        key_header = super()._headers()
        if not key_header and self.api_base is None:
            raise AuthenticationError(f"No OpenAI API key: pass api_key or set {self.api_key_env_var}")
        headers = dict(self.default_headers or {})
        if self.organization_id is not None:
            headers["OpenAI-Organization"] = self.organization_id
        return {**headers, **key_header}

    @staticmethod
    def name() -> str:
        """Registry name: chromadb's."""
        return "openai"

    def get_config(self) -> dict[str, Any]:
        """The config under chromadb's keys, with the dimensions asked for (``dimensions`` holds those sent)."""
        return {**super().get_config(), "dimensions": self.requested_dimensions}

    @classmethod
    def build_from_config(cls, config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        """Rebuild from :meth:`get_config`'s output (or chromadb's); the key comes from the environment.

        A ``None`` value takes the argument's default, as chromadb's rebuild does.
        """
        return super().build_from_config({key: value for key, value in config.items() if value is not None})

    def __repr__(self) -> str:
        return f"OpenAIEmbeddingFunction(model_name={self.model_name!r}, api_base={self.api_base!r})"
