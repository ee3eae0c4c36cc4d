"""LangChain's standard vector store suite on every ragstore mode (none of its tests overridden)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ragstore
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_ragstore import RagstoreVectorStore
from tests.server import RagstoreServer


class TestEphemeralStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:
        store = RagstoreVectorStore(embedding_function=self.get_embeddings())
        try:
            yield store
        finally:
            store.delete_collection()
            store.close()


class TestBm25IndexStandard(VectorStoreIntegrationTests):
    """A collection with a BM25 index behaves as any other for LangChain's standard operations."""

    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:
        store = RagstoreVectorStore(embedding_function=self.get_embeddings(), bm25_index=True)
        try:
            yield store
        finally:
            store.delete_collection()
            store.close()


class TestPersistentStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = RagstoreVectorStore(embedding_function=self.get_embeddings(), persist_directory=tmp_path / "store")
        try:
            yield store
        finally:
            store.delete_collection()
            store.close()


class TestHttpStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(
        self, ragstore_server: RagstoreServer, server_client: ragstore.ClientAPI, collection_name: str
    ) -> Iterator[VectorStore]:
        store = RagstoreVectorStore(collection_name, self.get_embeddings(), host=ragstore_server.host, port=ragstore_server.port)
        try:
            yield store
        finally:
            store.close()
            server_client.delete_collection(collection_name)
