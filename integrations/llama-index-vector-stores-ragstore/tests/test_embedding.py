"""RagstoreEmbedding: LlamaIndex embeddings from ragstore's functions, the real default model included."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import ragstore
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode
from ragstore.embeddings import DefaultEmbeddingFunction, HashingEmbeddingFunction

from llama_index.vector_stores.ragstore import RagstoreEmbedding, RagstoreVectorStore
from llama_index.vector_stores.ragstore.connections import InvalidConfigurationError

StoreFactory = Callable[..., RagstoreVectorStore]  # conftest's store_factory

TEXTS = [
    "Starlette is a lightweight ASGI framework.",
    "Use StaticFiles to serve a directory of files.",
    "WebSocket endpoints accept a connection before sending.",
    "Background tasks run after the response is sent.",
    "CORSMiddleware adds the CORS headers.",
]


class Asymmetric:
    """A function that embeds questions differently from passages (as e5-style models do): [1, 0] for passages, [0, 1] for queries."""

    def __call__(self, input: Sequence[str]) -> list[list[float]]:  # noqa: A002 - chromadb's parameter name
        return [[1.0, 0.0] for _ in input]

    def embed_query(self, input: Sequence[str]) -> list[list[float]]:  # noqa: A002
        return [[0.0, 1.0] for _ in input]


class PassagesOnly:
    """A function without ``embed_query``: queries are embedded as passages, as ragstore does."""

    def __call__(self, input: Sequence[str]) -> list[list[float]]:  # noqa: A002
        return [[float(len(text)), 1.0] for text in input]


def assert_same_vectors(actual: object, expected: object) -> None:
    """Row by row cosine >= 0.99: the int8 model quantises activations per batch, so a batch's other texts move a vector slightly.

    Measured: 0.9964-0.9980 between batches of 2 and one batch of 5 (ragstore's int8 bound against the float model is 0.99).
    """
    a, b = np.atleast_2d(np.asarray(actual, dtype=np.float64)), np.atleast_2d(np.asarray(expected, dtype=np.float64))
    assert a.shape == b.shape
    cosines = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosines.min() >= 0.99, cosines


@pytest.fixture(scope="module")
def minilm() -> RagstoreEmbedding:
    return RagstoreEmbedding()


def test_default_is_ragstores_default_model(minilm: RagstoreEmbedding) -> None:
    reference = DefaultEmbeddingFunction()
    assert minilm.model_name == "all-MiniLM-L6-v2"
    assert minilm.function_description == {"type": "known", "name": "default", "config": {}}
    query = minilm.get_query_embedding(TEXTS[1])
    assert len(query) == 384 and np.linalg.norm(query) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(query, reference.embed_query([TEXTS[1]])[0], atol=1e-6)
    np.testing.assert_allclose(minilm.get_text_embedding(TEXTS[0]), reference([TEXTS[0]])[0], atol=1e-6)


def test_batches_agree_with_one_call(minilm: RagstoreEmbedding) -> None:
    reference = np.asarray(DefaultEmbeddingFunction()(TEXTS))
    small_batches = RagstoreEmbedding(embed_batch_size=2)
    assert small_batches.embed_batch_size == 2 and minilm.embed_batch_size == 64
    assert_same_vectors(small_batches.get_text_embedding_batch(TEXTS), reference)
    np.testing.assert_allclose(minilm.get_text_embedding_batch(TEXTS), reference, atol=1e-6)  # one call, the same batch


async def test_async_methods_agree_with_sync(minilm: RagstoreEmbedding) -> None:
    np.testing.assert_allclose(await minilm.aget_query_embedding(TEXTS[2]), minilm.get_query_embedding(TEXTS[2]), atol=1e-6)
    np.testing.assert_allclose(await minilm.aget_text_embedding(TEXTS[3]), minilm.get_text_embedding(TEXTS[3]), atol=1e-6)
    batched = await RagstoreEmbedding(embed_batch_size=2).aget_text_embedding_batch(TEXTS)
    assert_same_vectors(batched, minilm.get_text_embedding_batch(TEXTS))


async def test_queries_and_passages_follow_the_function() -> None:
    asymmetric = RagstoreEmbedding(Asymmetric())
    assert asymmetric.get_query_embedding("q") == [0.0, 1.0] and await asymmetric.aget_query_embedding("q") == [0.0, 1.0]
    assert asymmetric.get_text_embedding("p") == [1.0, 0.0] and await asymmetric.aget_text_embedding("p") == [1.0, 0.0]
    assert asymmetric.get_text_embedding_batch(["a", "b", "c"]) == [[1.0, 0.0]] * 3
    assert asymmetric.model_name == "Asymmetric" and asymmetric.function_description == {"type": "legacy"}
    symmetric = RagstoreEmbedding(PassagesOnly())
    assert symmetric.get_query_embedding("abc") == symmetric.get_text_embedding("abc") == [3.0, 1.0]


def test_a_function_is_required() -> None:
    with pytest.raises(TypeError, match="ragstore embedding function"):
        RagstoreEmbedding(42)
    bad = RagstoreEmbedding(lambda input: [[1.0]])  # noqa: A006 - ragstore calls input=; one vector for two texts
    with pytest.raises(ragstore.InvalidArgumentError, match="1 embeddings for 2 inputs"):
        bad.get_text_embedding_batch(["a", "b"])


def test_store_records_the_function_and_its_space(store_factory: StoreFactory) -> None:
    """In every client mode, a collection made with the adapter looks like create_collection(embedding_function=...)'s."""
    function = HashingEmbeddingFunction(dim=16)
    embed_model = RagstoreEmbedding(function)
    store = store_factory(embed_model=embed_model)
    reference = ragstore.EphemeralClient().create_collection("reference", embedding_function=function, schema=ragstore.bm25_schema())
    config = store.client.configuration
    assert config["embedding_function"] == {"type": "known", "name": "ragstore_hashing", "config": {"dim": 16}}
    assert config["hnsw"]["space"] == reference.configuration["hnsw"]["space"] == "l2"
    assert store.embed_model is embed_model
    # The collection embeds query texts itself, as the adapter does.
    store.add([TextNode(id_=f"n{i}", text=text, embedding=embed_model.get_text_embedding(text)) for i, text in enumerate(TEXTS)])
    assert store.client.query(query_texts=[TEXTS[3]], n_results=1)["ids"] == [["n3"]]


def test_store_without_adapter_keeps_cosine_and_no_function(store: RagstoreVectorStore) -> None:
    assert store.client.configuration["hnsw"]["space"] == "cosine"
    assert store.client.configuration.get("embedding_function") in (None, {"type": "legacy"})
    assert store.embed_model is None


def test_embed_model_rules() -> None:
    with pytest.raises(InvalidConfigurationError, match="RagstoreEmbedding"):
        RagstoreVectorStore.from_params("wrong-model", embed_model=MockEmbedding(embed_dim=4))
    hashing = RagstoreEmbedding(HashingEmbeddingFunction(dim=4))
    with pytest.raises(InvalidConfigurationError, match="not both"):
        RagstoreVectorStore.from_params("two-functions", embed_model=hashing, collection_kwargs={"embedding_function": PassagesOnly()})
    col = ragstore.EphemeralClient().create_collection("made-with-default", embedding_function=DefaultEmbeddingFunction())
    with pytest.raises(InvalidConfigurationError, match="new: ragstore_hashing vs persisted: default"):
        RagstoreVectorStore(collection=col, embed_model=hashing)
    reopened = RagstoreVectorStore(collection=col)  # a collection made by ragstore (e.g. `ragstore ingest`) gives its function back
    assert reopened.embed_model is not None and reopened.embed_model.function_description == {
        "type": "known",
        "name": "default",
        "config": {},
    }


def test_serialised_and_rebuilt() -> None:
    original = RagstoreEmbedding(HashingEmbeddingFunction(dim=6), embed_batch_size=7)
    rebuilt = RagstoreEmbedding.from_json(original.to_json())
    assert (rebuilt.model_name, rebuilt.embed_batch_size, rebuilt.function_description) == (
        "ragstore_hashing",
        7,
        original.function_description,
    )
    assert rebuilt.get_query_embedding("same text") == original.get_query_embedding("same text")
    assert RagstoreEmbedding.from_dict(RagstoreEmbedding().to_dict()).embedding_function.name() == "default"
    with pytest.raises(ValueError, match="Cannot rebuild"):
        RagstoreEmbedding.from_dict(RagstoreEmbedding(PassagesOnly()).to_dict())  # not a registered function
