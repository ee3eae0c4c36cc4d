"""The base-class contract and construction rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import ragstore
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from llama_index.vector_stores.ragstore import MissingCollectionError, RagstoreVectorStore


def test_class() -> None:
    names_of_base_classes = [b.__name__ for b in RagstoreVectorStore.__mro__]
    assert BasePydanticVectorStore.__name__ in names_of_base_classes


def test_contract_fields() -> None:
    store = RagstoreVectorStore.from_params("contract-check")
    assert store.stores_text is True
    assert store.is_embedding_query is True
    assert store.flat_metadata is True
    assert RagstoreVectorStore.class_name() == "RagstoreVectorStore"
    assert isinstance(store.client, ragstore.Collection)
    assert store.client.configuration["hnsw"]["space"] == "cosine"


def test_from_collection_uses_that_collection() -> None:
    col = ragstore.EphemeralClient().create_collection("given", embedding_function=None)
    store = RagstoreVectorStore.from_collection(col)
    assert store.client is col


def test_persist_dir_and_host_conflict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        RagstoreVectorStore.from_params("conflict", persist_dir=str(tmp_path), host="localhost")


def test_collection_and_params_conflict(tmp_path: Path) -> None:
    col = ragstore.EphemeralClient().create_collection("given", embedding_function=None)
    with pytest.raises(ValueError, match="not both"):
        RagstoreVectorStore(collection=col, persist_dir=str(tmp_path))


def test_port_without_host() -> None:
    with pytest.raises(ValueError, match="need a host"):
        RagstoreVectorStore.from_params("noport", port=8000)


def test_needs_collection_or_name() -> None:
    with pytest.raises(ValueError, match="collection_name"):
        RagstoreVectorStore()


def test_bad_max_batch_size() -> None:
    with pytest.raises(ValueError):
        RagstoreVectorStore.from_params("badbatch", max_batch_size=0)


def test_unreachable_server_raises_connection_error() -> None:
    with pytest.raises(ragstore.ServerConnectionError):
        RagstoreVectorStore.from_params("nobody", host="127.0.0.1", port=9)


def test_wrong_collection_type() -> None:
    with pytest.raises(MissingCollectionError):
        RagstoreVectorStore(async_collection="not a collection")  # type: ignore[arg-type]
