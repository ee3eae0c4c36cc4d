"""Client settings: the subset of chromadb's ``Settings`` that ragstore honours.

Unknown chromadb fields that only matter to chromadb's own machinery
(``chroma_api_impl``, telemetry) are accepted and ignored, so existing
``Settings(anonymized_telemetry=False)`` code runs unchanged.

Example:
    >>> Settings(allow_reset=True).allow_reset
    True

"""

from __future__ import annotations

import dataclasses
import os
from typing import Any


def _env_flag(*names: str) -> bool:
    return any(os.environ.get(n, "").strip().lower() in ("1", "true", "yes", "on") for n in names)


def _env_number(name: str, kind: type[int] | type[float]) -> Any:
    """The environment variable ``name`` as a number, ``None`` when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__}, got {text!r}") from None


@dataclasses.dataclass
class Settings:
    """How a client behaves.

    Attributes:
        allow_reset: Whether ``client.reset()`` may delete everything
            (default from ``RAGSTORE_ALLOW_RESET`` or ``ALLOW_RESET``).
        is_persistent: ``Client(settings)`` stores on disk when true.
        persist_directory: Where a persistent client stores.
        anonymized_telemetry: Accepted for compatibility; ragstore sends no telemetry.
        chroma_api_impl: Accepted for compatibility; ignored.
        chroma_server_host: Host for HTTP clients.
        chroma_server_http_port: Port for HTTP clients.
        chroma_server_ssl_enabled: Whether HTTP clients use TLS.
        chroma_server_headers: Extra headers HTTP clients send.
        chroma_client_auth_provider: chromadb's provider path; a ``basic`` one sends
            ``Authorization: Basic``, anything else a token.
        chroma_client_auth_credentials: The token (or ``user:password`` for basic auth).
        chroma_auth_token_transport_header: ``"Authorization"`` (bearer, the default) or ``"X-Chroma-Token"``.
        max_unindexed_records: Local stores: how many of a collection's records may wait for the
            background indexer before a write waits too (default from ``RAGSTORE_MAX_UNINDEXED_RECORDS``;
            ``None``: 64 MiB of vectors, 43,690 records at 384 dimensions, about 3 ms of exact search).
            Queries search those records exactly, so this bounds what they add to a query.
        index_close_wait: Local stores: seconds ``close()`` lets the indexer finish before it saves
            the indexes (default from ``RAGSTORE_INDEX_CLOSE_WAIT``; ``None``: until it is done).
            What is left is indexed at the next open; nothing acknowledged is lost either way.

    """

    allow_reset: bool = dataclasses.field(default_factory=lambda: _env_flag("RAGSTORE_ALLOW_RESET", "ALLOW_RESET"))
    is_persistent: bool = False
    persist_directory: str = "./ragstore"
    anonymized_telemetry: bool = False
    chroma_api_impl: str | None = None
    chroma_server_host: str | None = None
    chroma_server_http_port: int | None = None
    chroma_server_ssl_enabled: bool = False
    chroma_server_headers: dict[str, str] | None = None
    chroma_client_auth_provider: str | None = None
    chroma_client_auth_credentials: str | None = None
    chroma_auth_token_transport_header: str | None = None
    max_unindexed_records: int | None = dataclasses.field(default_factory=lambda: _env_number("RAGSTORE_MAX_UNINDEXED_RECORDS", int))
    index_close_wait: float | None = dataclasses.field(default_factory=lambda: _env_number("RAGSTORE_INDEX_CLOSE_WAIT", float))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)
