"""chromadb's collection ``Schema`` in ragstore: the classes against chromadb's, and ``schema=`` in every mode.

chromadb 1.5.9 is the reference: the same schema built with its classes and with ragstore's
must serialise to the same JSON (key order too), each side must read the other's JSON, and the
builder must refuse the same calls with the same messages. Then a schema goes through every
client mode (in memory, on disk, over HTTP), survives a reopen, stays consistent after
``modify``, and chromadb's own ``HttpClient`` creates and reads one against ``ragstore run``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import chromadb
import chromadb.api.types as chroma_types
import chromadb.errors
import pytest
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction as ChromaBm25
from chromadb_sessions import chromadb_sessions_closed
from conftest import ClientFactory
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import RunningServer

import ragstore
import ragstore.collection_schema as rs
from ragstore.collection_schema import Schema, SparseIndexSpec, SparseVectorIndexConfig, VectorIndexConfig, sparse_indexes
from ragstore.collection_schema.reconcile import default_schema_json, reconcile
from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction
from ragstore.embeddings.hashing import HashingEmbeddingFunction
from ragstore.testing import run_server

GCP_KEY = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

# Each builds one schema from a module of classes (chromadb's or ragstore's) and that module's BM25 function.
BUILDERS: dict[str, Callable[[Any, Any], Any]] = {
    "default": lambda m, bm25: m.Schema(),
    "vector-space-hnsw": lambda m, bm25: m.Schema().create_index(
        m.VectorIndexConfig(
            space="cosine", embedding_function=None, hnsw=m.HnswIndexConfig(ef_search=50, max_neighbors=8, resize_factor=1.5)
        )
    ),
    "vector-spann": lambda m, bm25: m.Schema().create_index(
        m.VectorIndexConfig(space="ip", embedding_function=None, spann=m.SpannIndexConfig(search_nprobe=5, ef_search=9))
    ),
    "vector-default-function": lambda m, bm25: m.Schema().create_index(m.VectorIndexConfig(hnsw=m.HnswIndexConfig(ef_construction=64))),
    "bm25-on-document": lambda m, bm25: m.Schema().create_index(
        m.SparseVectorIndexConfig(source_key="#document", embedding_function=bm25()), key="bm25"
    ),
    "bm25-tuned-on-metadata": lambda m, bm25: m.Schema().create_index(
        m.SparseVectorIndexConfig(source_key="title", embedding_function=bm25(k=1.5, b=0.5, stopwords=["a"]), bm25=True), key="title_bm25"
    ),
    "sparse-user-vectors": lambda m, bm25: m.Schema().create_index(m.SparseVectorIndexConfig(bm25=False), key="splade"),
    "inverted-flags": lambda m, bm25: (
        m.Schema()
        .delete_index(m.StringInvertedIndexConfig(), key="body")
        .delete_index(m.IntInvertedIndexConfig())
        .create_index(m.FloatInvertedIndexConfig(), key="price")
        .delete_index(m.BoolInvertedIndexConfig(), key="flag")
    ),
    "no-fts": lambda m, bm25: m.Schema().delete_index(m.FtsIndexConfig(), key="#document"),
    "cmek": lambda m, bm25: m.Schema().set_cmek(m.Cmek.gcp(GCP_KEY)),
}


@pytest.fixture(params=sorted(BUILDERS))
def built(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """One schema of the table, built with chromadb's classes and with ragstore's."""
    build = BUILDERS[request.param]
    return build(chroma_types, ChromaBm25), build(rs, ChromaBm25EmbeddingFunction)


# ---------------------------------------------------------------------- the classes against chromadb's


def test_serialize_to_json_is_chromadbs(built: tuple[Any, Any]) -> None:
    theirs, ours = built
    assert json.dumps(ours.serialize_to_json()) == json.dumps(theirs.serialize_to_json())  # same keys, values and order


def test_each_side_reads_the_others_json(built: tuple[Any, Any]) -> None:
    theirs, ours = built
    assert Schema.deserialize_from_json(theirs.serialize_to_json()).serialize_to_json() == theirs.serialize_to_json()
    assert chroma_types.Schema.deserialize_from_json(ours.serialize_to_json()).serialize_to_json() == ours.serialize_to_json()


def test_a_json_round_trip_rebuilds_the_bm25_function() -> None:
    schema = BUILDERS["bm25-tuned-on-metadata"](rs, ChromaBm25EmbeddingFunction)
    config = Schema.deserialize_from_json(schema.serialize_to_json()).keys["title_bm25"].sparse_vector.sparse_vector_index.config
    assert isinstance(config.embedding_function, ChromaBm25EmbeddingFunction)
    assert (config.embedding_function.k, config.embedding_function.b, config.source_key, config.bm25) == (1.5, 0.5, "title", True)


def test_schemas_compare_functions_by_name_and_config() -> None:
    assert Schema() == Schema()  # as chromadb's: each holds its own default function
    assert BUILDERS["bm25-on-document"](rs, ChromaBm25EmbeddingFunction) == BUILDERS["bm25-on-document"](rs, ChromaBm25EmbeddingFunction)
    tuned = BUILDERS["bm25-tuned-on-metadata"](rs, ChromaBm25EmbeddingFunction)
    assert tuned != BUILDERS["bm25-on-document"](rs, ChromaBm25EmbeddingFunction)
    assert VectorIndexConfig(embedding_function=HashingEmbeddingFunction(dim=3)) != VectorIndexConfig(
        embedding_function=HashingEmbeddingFunction(dim=4)
    )


def test_json_that_names_only_some_parts_reads_only_those_as_chromadb_does() -> None:
    partial = {"keys": {"n": {"int": {"int_inverted_index": {"enabled": False}}}}}
    ours, theirs = Schema.deserialize_from_json(partial), chroma_types.Schema.deserialize_from_json(partial)
    assert (
        ours.serialize_to_json()
        == theirs.serialize_to_json()
        == {"defaults": {}, "keys": {"n": {"int": {"int_inverted_index": {"enabled": False, "config": {}}}}}}
    )


# Calls chromadb's Schema refuses; ragstore's must refuse them too, with the same message.
REFUSED: dict[str, Callable[[Any], Any]] = {
    "nothing": lambda m: m.Schema().create_index(),
    "embedding key": lambda m: m.Schema().create_index(m.StringInvertedIndexConfig(), key="#embedding"),
    "document key, not fts": lambda m: m.Schema().create_index(m.StringInvertedIndexConfig(), key="#document"),
    "reserved key": lambda m: m.Schema().create_index(m.IntInvertedIndexConfig(), key="#mine"),
    "vector on a key": lambda m: m.Schema().create_index(m.VectorIndexConfig(embedding_function=None), key="v"),
    "fts on a key": lambda m: m.Schema().create_index(m.FtsIndexConfig(), key="body"),
    "sparse without key": lambda m: m.Schema().create_index(m.SparseVectorIndexConfig()),
    "every index of a key": lambda m: m.Schema().create_index(key="title"),
    "second sparse index": lambda m: (
        m.Schema().create_index(m.SparseVectorIndexConfig(), key="a").create_index(m.SparseVectorIndexConfig(), key="b")
    ),
    "delete nothing": lambda m: m.Schema().delete_index(),
    "delete embedding": lambda m: m.Schema().delete_index(m.StringInvertedIndexConfig(), key="#embedding"),
    "delete on document key, not fts": lambda m: m.Schema().delete_index(m.IntInvertedIndexConfig(), key="#document"),
    "delete on a reserved key": lambda m: m.Schema().delete_index(m.BoolInvertedIndexConfig(), key="#mine"),
    "delete vector": lambda m: m.Schema().delete_index(m.VectorIndexConfig(embedding_function=None)),
    "delete sparse": lambda m: m.Schema().delete_index(m.SparseVectorIndexConfig(), key="a"),
    "delete fts on a key": lambda m: m.Schema().delete_index(m.FtsIndexConfig(), key="body"),
    "delete every index of a key": lambda m: m.Schema().delete_index(key="body"),
    "source key reserved": lambda m: m.SparseVectorIndexConfig(source_key="#embedding"),
    "unknown hnsw field": lambda m: m.HnswIndexConfig(ef_serch=5),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_builder_refuses_what_chromadbs_refuses(name: str) -> None:
    with pytest.raises(ValueError) as theirs:
        REFUSED[name](chroma_types)
    with pytest.raises(ragstore.InvalidArgumentError) as ours:
        REFUSED[name](rs)
    if name in ("unknown hnsw field", "source key reserved"):  # pydantic frames the message in its own report
        assert str(ours.value) in str(theirs.value)
    else:
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [("HnswIndexConfig", "ef_search", 1.5), ("HnswIndexConfig", "resize_factor", "fast"), ("SpannIndexConfig", "search_nprobe", 2.5)],
)
def test_algorithm_parameters_of_the_wrong_type_are_refused_as_chromadb_refuses_them(cls: str, field: str, value: Any) -> None:
    with pytest.raises(ValueError):
        getattr(chroma_types, cls)(**{field: value})
    with pytest.raises(
        ragstore.InvalidArgumentError, match=rf"^{cls}\.{field}: Input should be a valid (integer|number), got {re.escape(repr(value))}$"
    ):
        getattr(rs, cls)(**{field: value})


def test_a_float_parameter_takes_an_int_and_an_int_parameter_refuses_a_bool() -> None:
    resize_factor = rs.HnswIndexConfig(resize_factor=2).resize_factor
    assert (resize_factor, type(resize_factor)) == (2.0, float)
    with pytest.raises(ragstore.InvalidArgumentError, match=r"^SpannIndexConfig\.write_nprobe: Input should be a valid integer"):
        rs.SpannIndexConfig(write_nprobe=True)


def test_index_types_of_different_kinds_differ_as_chromadbs_do() -> None:
    # Each kind is its own class over the same two fields: equality and repr tell them apart, as chromadb's dataclasses do.
    for m in (chroma_types, rs):
        assert m.IntInvertedIndexType(True, m.IntInvertedIndexConfig()) == m.IntInvertedIndexType(True, m.IntInvertedIndexConfig())
        assert m.IntInvertedIndexType(True, m.IntInvertedIndexConfig()) != m.IntInvertedIndexType(False, m.IntInvertedIndexConfig())
        assert m.FloatInvertedIndexType(True, m.FloatInvertedIndexConfig()) != m.BoolInvertedIndexType(True, m.FloatInvertedIndexConfig())
    assert repr(rs.FtsIndexType(enabled=False, config=rs.FtsIndexConfig())) == "FtsIndexType(enabled=False, config=FtsIndexConfig())"


def test_a_source_key_without_a_function_is_refused_for_a_key() -> None:
    with pytest.raises(ragstore.InvalidArgumentError, match="If source_key is provided then embedding_function must also be provided"):
        Schema().create_index(SparseVectorIndexConfig(source_key="#document"), key="bm25")


def test_keys_may_be_given_as_search_keys() -> None:
    class Key:  # what ragstore.search.K.DOCUMENT (and chromadb's Key) carry
        name = "#document"

    config = SparseVectorIndexConfig(source_key=Key(), embedding_function=ChromaBm25EmbeddingFunction())
    assert config.source_key == "#document"


# ---------------------------------------------------------------------- sparse indexes as data


def test_sparse_indexes_give_the_engine_what_it_maintains() -> None:
    bm25 = BUILDERS["bm25-tuned-on-metadata"](rs, ChromaBm25EmbeddingFunction)
    (spec,) = sparse_indexes(bm25)
    assert (spec.key, spec.source_key, spec.bm25, spec.k, spec.b) == ("title_bm25", "title", True, 1.5, 0.5)
    assert spec.embedding_function is not None and spec.embedding_function["name"] == "chroma_bm25"
    assert sparse_indexes(bm25.serialize_to_json()) == [spec]  # the JSON the engine stores says the same

    default_bm25 = BUILDERS["bm25-on-document"](rs, ChromaBm25EmbeddingFunction)
    assert [(s.k, s.b) for s in sparse_indexes(default_bm25)] == [(1.2, 0.75)]
    user = sparse_indexes(BUILDERS["sparse-user-vectors"](rs, None))
    assert user == [SparseIndexSpec("splade", None, None, False)]  # vectors from metadata, scored by dot product
    assert sparse_indexes(Schema()) == [] and sparse_indexes(None) == []


# ---------------------------------------------------------------------- schema and configuration


def bm25_schema() -> Schema:
    return Schema().create_index(
        SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25EmbeddingFunction()), key="bm25"
    )


def vector_of(schema: Any) -> Any:
    return schema.keys["#embedding"].float_list.vector_index.config


def test_a_schema_that_configures_the_vector_index_becomes_the_configuration(client: ragstore.ClientAPI) -> None:
    ef = HashingEmbeddingFunction(dim=4)
    wanted = Schema().create_index(VectorIndexConfig(space="cosine", embedding_function=ef, hnsw=rs.HnswIndexConfig(ef_search=9)))
    col = client.create_collection("vector-schema", schema=wanted)
    assert (col.configuration["hnsw"]["space"], col.configuration["hnsw"]["ef_search"]) == ("cosine", 9)
    assert col.configuration["embedding_function"] == {"type": "known", "name": "ragstore_hashing", "config": {"dim": 4}}
    assert col.embedding_function is ef  # the schema's function, not a rebuilt copy
    col.add(ids=["a"], documents=["apples"])
    assert col.query(query_texts=["apples"], n_results=1)["ids"] == [["a"]]
    schema = client.get_collection("vector-schema").schema
    assert schema is not None and (vector_of(schema).space, vector_of(schema).hnsw.ef_search) == ("cosine", 9)


def test_a_schema_and_a_configuration_may_not_both_configure_the_vector_index(client: ragstore.ClientAPI) -> None:
    vector = Schema().create_index(VectorIndexConfig(space="cosine", embedding_function=None))
    refusals = [
        {"configuration": {"hnsw": {"space": "ip"}}},
        {"configuration": {"hnsw": {"ef_search": 7}}},
        {"metadata": {"hnsw:space": "ip"}},
        {"embedding_function": HashingEmbeddingFunction(dim=4)},
    ]
    for extra in refusals:
        with pytest.raises(ragstore.InvalidArgumentError, match="Cannot set both collection config and schema simultaneously"):
            client.create_collection("both", schema=vector, **extra)
    assert client.count_collections() == 0


def test_a_configuration_with_a_schema_that_leaves_the_vector_index_alone_is_kept(client: ragstore.ClientAPI) -> None:
    # chromadb refuses this pair too; ragstore accepts it, since the two say different things.
    col = client.create_collection("hybrid", configuration={"hnsw": {"space": "cosine"}}, schema=bm25_schema(), embedding_function=None)
    assert col.configuration["hnsw"]["space"] == "cosine"
    assert col.schema is not None and vector_of(col.schema).space == "cosine"
    assert [spec.key for spec in sparse_indexes(col.schema)] == ["bm25"]


def sparse_json(*keys: str) -> dict[str, Any]:
    index = {"enabled": True, "config": {"embedding_function": {"type": "unknown"}}}
    return {"keys": {key: {"sparse_vector": {"sparse_vector_index": copy.deepcopy(index)}} for key in keys}}


# Schemas (as JSON: any client may send any) that a collection cannot be created with, and why.
REFUSED_JSON: dict[str, tuple[dict[str, Any], str]] = {
    "cmek": ({"cmek": {"gcp": GCP_KEY}}, r"does not support customer-managed encryption keys \(cmek\)"),
    "vector index off": (
        {"keys": {"#embedding": {"float_list": {"vector_index": {"enabled": False, "config": {}}}}}},
        "cannot disable the vector index",
    ),
    "sparse by default": (
        {"defaults": {"sparse_vector": {"sparse_vector_index": {"enabled": True, "config": {}}}}},
        "Sparse vector index cannot be enabled by default",
    ),
    "two sparse indexes": (sparse_json("a", "b"), "At most one sparse vector index is allowed"),
    "vector on a key": (
        {"keys": {"v": {"float_list": {"vector_index": {"enabled": True, "config": {}}}}}},
        "only be enabled on #embedding",
    ),
    "vector by default": ({"defaults": {"float_list": {"vector_index": {"enabled": True, "config": {}}}}}, "cannot be enabled by default"),
    "fts on a key": ({"keys": {"t": {"string": {"fts_index": {"enabled": True, "config": {}}}}}}, "can only be enabled on #document"),
    "reserved key": ({"keys": {"#x": {}}}, "Keys starting with '#' are reserved"),
    "vector source": (
        {"keys": {"#embedding": {"float_list": {"vector_index": {"config": {"source_key": "title"}}}}}},
        "Vector index can only source from #document",
    ),
    "int on document": ({"keys": {"#document": {"int": {"int_inverted_index": {"enabled": True}}}}}, "other than string"),
    "source without function": (
        {"keys": {"s": {"sparse_vector": {"sparse_vector_index": {"config": {"source_key": "#document"}}}}}},
        "no embedding function",
    ),
    "unknown value type": ({"keys": {"a": {"strings": {}}}}, "Unknown value type 'strings'"),
    "unknown field": ({"defaults": {"int": {"int_inverted_index": {"enabled": True, "config": {"x": 1}}}}}, "'x' is not a valid field"),
    "bad space": ({"keys": {"#embedding": {"float_list": {"vector_index": {"config": {"space": "dot"}}}}}}, "space"),
    "bad enabled": ({"keys": {"a": {"int": {"int_inverted_index": {"enabled": "yes"}}}}}, "enabled to be a boolean"),
    "not an object": ({"keys": []}, "Expected schema.keys to be an object"),
}


@pytest.mark.parametrize("name", sorted(REFUSED_JSON))
def test_the_engine_refuses_schemas_it_cannot_honour(name: str) -> None:
    data, message = REFUSED_JSON[name]
    with pytest.raises(ragstore.InvalidArgumentError, match=message):
        reconcile(None, None, data)


def test_refusals_reach_every_client(client: ragstore.ClientAPI) -> None:
    with pytest.raises(ragstore.InvalidArgumentError, match="cmek"):
        client.create_collection("with-cmek", schema=Schema().set_cmek(rs.Cmek.gcp(GCP_KEY)))
    with pytest.raises(ragstore.InvalidArgumentError, match="Expected schema to be a Schema, got dict"):
        client.create_collection("with-dict", schema={})  # type: ignore[arg-type]
    assert client.count_collections() == 0


# ---------------------------------------------------------------------- every mode


def test_a_collection_keeps_its_schema_in_every_mode(client_factory: ClientFactory) -> None:
    client = client_factory()
    flags = bm25_schema().delete_index(rs.StringInvertedIndexConfig(), key="body")
    col = client.create_collection("kept", schema=flags, embedding_function=HashingEmbeddingFunction(dim=4))
    expected = col.schema
    assert expected is not None
    for reader in (client, client_factory(reopen=True)):
        schema = reader.get_collection("kept").schema
        assert schema == expected and schema.serialize_to_json() == expected.serialize_to_json()
        sparse = schema.keys["bm25"].sparse_vector.sparse_vector_index
        assert sparse.enabled and sparse.config.source_key == "#document"
        assert isinstance(sparse.config.embedding_function, ChromaBm25EmbeddingFunction)
        assert schema.keys["body"].string.string_inverted_index.enabled is False
        assert isinstance(vector_of(schema).embedding_function, HashingEmbeddingFunction)
    listed = client.list_collections()[0].schema
    assert listed is not None and listed.serialize_to_json() == expected.serialize_to_json()


def test_the_stored_schema_is_chromadbs_default_filled_in(client: ragstore.ClientAPI) -> None:
    col = client.create_collection("filled", schema=bm25_schema(), embedding_function=None)
    plain = client.create_collection("plain", embedding_function=None)
    assert col.schema is not None and plain.schema is not None
    stored, default = col.schema.serialize_to_json(), plain.schema.serialize_to_json()
    assert {k: v for k, v in stored["keys"].items() if k != "bm25"} == default["keys"]
    assert stored["defaults"] == default["defaults"]
    without_vector = default_schema_json()
    for section in (without_vector["defaults"], without_vector["keys"]["#embedding"]):
        del section["float_list"]
    for section in (default["defaults"], default["keys"]["#embedding"]):
        del section["float_list"]
    assert default == without_vector  # a collection without a schema reads as chromadb's default one


def test_get_or_create_returns_the_existing_collection_and_its_schema(client: ragstore.ClientAPI) -> None:
    client.create_collection("existing", schema=bm25_schema(), embedding_function=None)
    other = Schema().create_index(SparseVectorIndexConfig(embedding_function=ChromaBm25EmbeddingFunction()), key="other")
    again = client.get_or_create_collection("existing", schema=other, embedding_function=None)
    assert again.schema is not None and [s.key for s in sparse_indexes(again.schema)] == ["bm25"]


def test_modify_configuration_shows_in_the_schema(client_factory: ClientFactory) -> None:
    client = client_factory()
    col = client.create_collection("modified", schema=bm25_schema(), embedding_function=None)
    col.modify(configuration={"hnsw": {"ef_search": 77}})
    for schema in (col.schema, client_factory(reopen=True).get_collection("modified").schema):
        assert schema is not None
        assert (vector_of(schema).hnsw.ef_search, schema.defaults.float_list.vector_index.config.hnsw.ef_search) == (77, 77)
        assert [s.key for s in sparse_indexes(schema)] == ["bm25"]


# ---------------------------------------------------------------------- chromadb's HttpClient against ragstore run


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A ``ragstore run`` process; chromadb's httpx sessions are closed after (its ``close()`` leaves them open)."""
    with chromadb_sessions_closed(), run_server(tmp_path_factory.mktemp("schema") / "store") as running:
        yield running
    assert running.returncode == 0, "".join(running.output)


def chroma_client(server: RunningServer) -> Any:
    return chromadb.HttpClient(host=server.host, port=server.port, settings=ChromaSettings(anonymized_telemetry=False))


def test_chromadbs_http_client_creates_and_reads_a_sparse_schema(server: RunningServer) -> None:
    theirs = chroma_types.Schema().create_index(
        chroma_types.SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25(k=1.4)), key="bm25"
    )
    client = chroma_client(server)
    col = client.create_collection("chroma-hybrid", schema=theirs, embedding_function=None)
    for seen in (col, chroma_client(server).get_collection("chroma-hybrid", embedding_function=None)):
        sparse = seen.schema.keys["bm25"].sparse_vector.sparse_vector_index
        assert sparse.enabled and sparse.config.source_key == "#document"
        assert isinstance(sparse.config.embedding_function, ChromaBm25) and sparse.config.embedding_function.k == 1.4
        assert seen.schema.keys["#embedding"].float_list.vector_index.enabled
    with ragstore.HttpClient(host=server.host, port=server.port) as ours:
        specs = sparse_indexes(ours.get_collection("chroma-hybrid").schema)
    assert [(s.key, s.bm25, s.k) for s in specs] == [("bm25", True, 1.4)]


def test_chromadbs_http_client_gets_the_reconcile_refusal(server: RunningServer) -> None:
    vector = chroma_types.Schema().create_index(chroma_types.VectorIndexConfig(space="cosine", embedding_function=None))
    with pytest.raises(chromadb.errors.InvalidArgumentError, match="Cannot set both collection config and schema simultaneously"):
        chroma_client(server).create_collection(
            "chroma-both", configuration={"hnsw": {"space": "ip"}}, schema=vector, embedding_function=None
        )
    col = chroma_client(server).create_collection("chroma-vector", schema=vector, embedding_function=None)
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    assert col.schema.keys["#embedding"].float_list.vector_index.config.space == "cosine"


def test_the_async_http_client_takes_a_schema(server: RunningServer) -> None:
    import asyncio

    async def main() -> list[tuple[str, bool]]:
        client = await ragstore.AsyncHttpClient(host=server.host, port=server.port)
        col = await client.create_collection("async-schema", schema=bm25_schema(), embedding_function=None)
        again = await client.get_collection("async-schema")
        await client.close()
        return [(spec.key, spec.bm25) for spec in sparse_indexes(col.schema) + sparse_indexes(again.schema)]

    assert asyncio.run(main()) == [("bm25", True), ("bm25", True)]


# Untrusted JSON: schema-shaped objects whose leaves are anything JSON can hold.
_json_leaf = (
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.sampled_from(["", "#document", "l2", "dot", "known"])
)
_json = st.recursive(
    _json_leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8
)
_names = st.sampled_from(
    ["enabled", "config", "space", "hnsw", "spann", "source_key", "embedding_function", "type", "name", "bm25", "ef_search"]
)
_index = st.dictionaries(_names, _json | st.dictionaries(_names, _json, max_size=3), max_size=3)
_value_types = st.dictionaries(
    st.sampled_from(["string", "float_list", "sparse_vector", "int", "float", "bool", "other"]),
    st.dictionaries(
        st.sampled_from(["fts_index", "vector_index", "sparse_vector_index", "int_inverted_index", "string_inverted_index"]), _index
    ),
    max_size=2,
)
_schemas = st.fixed_dictionaries(
    {},
    optional={
        "defaults": _value_types | _json,
        "keys": st.dictionaries(st.sampled_from(["#document", "#embedding", "#x", "a", "b"]), _value_types | _json, max_size=3) | _json,
        "cmek": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(_schemas)
def test_any_json_schema_is_created_or_refused_with_an_invalid_argument(data: dict[str, Any]) -> None:
    try:
        configuration, stored = reconcile(None, None, data)
    except ragstore.InvalidArgumentError:
        return
    assert stored is not None and Schema.deserialize_from_json(stored).serialize_to_json() == stored
    assert configuration["hnsw"]["space"] in ("l2", "cosine", "ip")
    assert len(sparse_indexes(stored)) <= 1


def test_chromadbs_client_stores_and_reads_its_bm25_vectors_through_the_schema(server: RunningServer) -> None:
    # chromadb's client embeds the source text with the schema's function into metadata["bm25"] itself.
    theirs = chroma_types.Schema().create_index(
        chroma_types.SparseVectorIndexConfig(source_key="#document", embedding_function=ChromaBm25()), key="bm25"
    )
    col = chroma_client(server).create_collection("chroma-bm25-add", schema=theirs, embedding_function=None)
    col.add(ids=["a", "b"], documents=["the cat sat", "dogs run fast"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
    got = col.get(include=["metadatas"])["metadatas"]
    assert got is not None and [type(m["bm25"]).__name__ for m in got] == ["SparseVector", "SparseVector"]
    assert got[0]["bm25"] == ChromaBm25()(["the cat sat"])[0]
