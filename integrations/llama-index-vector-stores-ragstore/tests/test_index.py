"""End to end through LlamaIndex: ingest with VectorStoreIndex, retrieve, answer with a mock LLM."""

from __future__ import annotations

from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from llama_index.vector_stores.ragstore import RagstoreVectorStore

DOCS = [
    Document(text="Apples are red fruit that grow on trees.", id_="fruit", metadata={"topic": "food", "year": 2021}),
    Document(text="The sky is blue on a clear day.", id_="sky", metadata={"topic": "weather", "year": 2023}),
    Document(text="Bananas are yellow fruit rich in potassium.", id_="banana", metadata={"topic": "food", "year": 2024}),
]


def build(store: RagstoreVectorStore) -> VectorStoreIndex:
    context = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex.from_documents(
        DOCS,
        storage_context=context,
        embed_model=MockEmbedding(embed_dim=8),
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0)],
    )


def test_ingest_retrieve_and_answer(store: RagstoreVectorStore) -> None:
    index = build(store)
    assert store.client.count() == 3
    assert index.docstore.docs == {}  # stores_text: text lives in ragstore only
    reopened = VectorStoreIndex.from_vector_store(store, embed_model=MockEmbedding(embed_dim=8))
    hits = reopened.as_retriever(similarity_top_k=3).retrieve("fruit")
    assert sorted(h.node.ref_doc_id or "" for h in hits) == ["banana", "fruit", "sky"]
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="year", value=2022, operator=FilterOperator.GT),
            MetadataFilter(key="topic", value="FOOD", operator=FilterOperator.TEXT_MATCH_INSENSITIVE),
        ]
    )
    filtered = reopened.as_retriever(similarity_top_k=3, filters=filters).retrieve("fruit")
    assert [h.node.ref_doc_id for h in filtered] == ["banana"]
    assert "Bananas are yellow" in filtered[0].node.get_content()
    engine = reopened.as_query_engine(llm=MockLLM(max_tokens=8), similarity_top_k=2)
    response = engine.query("What colour are apples?")
    assert len(response.source_nodes) == 2 and str(response)
    reopened.delete_ref_doc("fruit")
    assert sorted(n.ref_doc_id or "" for n in store.get_nodes()) == ["banana", "sky"]


async def test_async_ingest_and_retrieve(store: RagstoreVectorStore) -> None:
    context = StorageContext.from_defaults(vector_store=store)
    index = VectorStoreIndex(nodes=[], storage_context=context, embed_model=MockEmbedding(embed_dim=8))
    for doc in DOCS:
        await index.ainsert(doc)
    hits = await index.as_retriever(
        similarity_top_k=2, filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="food")])
    ).aretrieve("x")
    assert sorted(h.node.ref_doc_id or "" for h in hits) == ["banana", "fruit"]
    await index.adelete_ref_doc("banana")
    assert sorted(n.ref_doc_id or "" for n in await store.aget_nodes()) == ["fruit", "sky"]


def test_settings_untouched() -> None:
    """The tests pass models explicitly; nothing relies on global Settings (which would reach for OpenAI)."""
    assert Settings._embed_model is None
