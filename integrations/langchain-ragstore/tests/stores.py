"""The store modes a test runs in, and the type of the ``open_store_in_mode`` fixture's factory (``conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable

from langchain_ragstore import RagstoreVectorStore

MODES = ["ephemeral", "persistent", "http"]
"""Where a store lives: in memory, in a directory, on the session's ``ragstore run`` server."""

StoreFactory = Callable[..., RagstoreVectorStore]
"""``factory(embeddings, **constructor_kwargs)``: a store on the test's collection in the parametrised mode."""
