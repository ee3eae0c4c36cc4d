"""What a chromadb-shaped store answers: the one observation ``tests/test_import_chroma.py`` makes of both stores.

chromadb's store is observed in a child process (the test's ``CHROMA_SCRIPT`` imports this module
there), the ragstore store imported from it in the test's own; the same questions, asked by the same
code, are what makes the two answers comparable. Only numpy is imported here: the child has no
need of ragstore, and ragstore's side needs no chromadb.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

SCOPES = [("default_tenant", "default_database"), ("tenant2", "db2")]
"""The tenant/database pairs the chromadb store is made with."""


def answers(open_client: Callable[[str, str], AbstractContextManager[Any]], ef_name: Callable[[Any], str | None]) -> dict[str, Any]:
    """Every collection's records, configuration and the ids six fixed queries find, by ``"tenant/database/name"``.

    Args:
        open_client: A client of one scope (chromadb's or ragstore's) as a context manager that closes it,
            one giving ``None`` for a scope the store lacks.
        ef_name: The name of the function a collection's ``configuration["embedding_function"]`` holds
            (chromadb gives an object, ragstore a dict), ``None`` for none.
    """
    queries = np.random.default_rng(11).standard_normal((6, 16)).astype("float32")
    out = {}
    for tenant, database in SCOPES:
        with open_client(tenant, database) as client:
            for listed in client.list_collections() if client is not None else []:
                col = client.get_collection(listed.name, embedding_function=None)
                got = col.get(include=["embeddings", "documents", "metadatas", "uris"])
                dim = len(got["embeddings"][0])
                k = min(5, len(got["ids"]))
                out[f"{tenant}/{database}/{col.name}"] = {
                    "ids": got["ids"],
                    "documents": got["documents"],
                    "metadatas": got["metadatas"],
                    "uris": got["uris"],
                    "embeddings": [np.asarray(e, dtype="float32").tobytes().hex() for e in got["embeddings"]],
                    "metadata": col.metadata,
                    "hnsw": col.configuration["hnsw"],
                    "ef": ef_name(col.configuration.get("embedding_function")),
                    "queries": col.query(query_embeddings=queries[:, :dim], n_results=k, include=[])["ids"],
                }
    return out
