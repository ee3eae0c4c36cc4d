"""HTTP mode against a real ``ragstore run`` child: the a* methods use ragstore.AsyncHttpClient natively."""

from __future__ import annotations

from typing import Any

import pytest
import ragstore
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from llama_index.vector_stores.ragstore import MissingCollectionError, RagstoreVectorStore


def nodes() -> list[TextNode]:
    return [TextNode(id_=f"h{i}", text=f"http {i}", embedding=[1.0, float(i)], metadata={"i": i, "name": f"Item{i}"}) for i in range(6)]


async def test_remote_store_uses_async_http_client(server: Any) -> None:
    store = RagstoreVectorStore.from_params("http-async", host=server.host, port=server.port)
    try:
        await store.async_add(nodes())
        assert store._remote is not None
        collection, limit = await store._remote.get()
        assert isinstance(collection, ragstore.AsyncCollection) and limit == store._owned_client.get_max_batch_size()
        flt = MetadataFilters(filters=[MetadataFilter(key="name", value="item", operator=FilterOperator("text_match_insensitive"))])
        result = await store.aquery(VectorStoreQuery(query_embedding=[1.0, 5.0], similarity_top_k=2, filters=flt))
        assert result.ids == ["h5", "h4"]
        assert store.query(VectorStoreQuery(query_embedding=[1.0, 5.0], similarity_top_k=2, filters=flt)).ids == ["h5", "h4"]
        await store.adelete_nodes(filters=MetadataFilters(filters=[MetadataFilter(key="i", value=3, operator=FilterOperator(">="))]))
        assert [n.node_id for n in await store.aget_nodes()] == ["h0", "h1", "h2"]
        await store.aclear()
        assert store.client.count() == 0
    finally:
        await store.aclose()


async def test_async_only_store(server: Any) -> None:
    client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
    try:
        col = await client.get_or_create_collection("http-async-only", embedding_function=None)
        store = RagstoreVectorStore(async_collection=col)
        assert await store.async_add(nodes()) == [f"h{i}" for i in range(6)]
        assert [n.node_id for n in await store.aget_nodes(["h2"])] == ["h2"]
        with pytest.raises(MissingCollectionError, match="async"):
            store.query(VectorStoreQuery(query_embedding=[1.0, 0.0]))
        with pytest.raises(MissingCollectionError):
            RagstoreVectorStore(collection=col)  # type: ignore[arg-type]
    finally:
        await client.close()


def test_sync_store_written_by_http_read_by_http_client(server: Any) -> None:
    store = RagstoreVectorStore.from_params("http-sync", host=server.host, port=server.port)
    try:
        store.add(nodes())
        other = ragstore.HttpClient(host=server.host, port=server.port)
        try:
            assert other.get_collection("http-sync").count() == 6
        finally:
            other.close()
    finally:
        store.close()
