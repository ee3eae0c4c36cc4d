"""The rules a schema's JSON must meet before a collection is created with it (untrusted input welcome).

chromadb's client checks some rules as the schema is built (:class:`~ragstore.collection_schema.Schema`);
its server checks the JSON again, since any client may send any JSON. These are the server's
rules, with the messages ``chroma`` answers (``Validation error: schema: ...``), and the ones
ragstore adds for what it cannot honour:

- a customer-managed encryption key (``cmek``): ragstore does not encrypt its files;
- the dense vector index on ``#embedding`` disabled: every ragstore collection has one.

Functions are never built here: embedding functions stay descriptions (``{"type": "known",
"name", "config"}``), so a server never runs a client's function.

Example:
    >>> check_schema_json({"keys": {"#foo": {}}})
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: Validation error: schema: key cannot begin with '#'. Keys starting with '#' are reserved ...: #foo

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragstore.collection_schema.index_configs import (
    DOCUMENT_KEY,
    EMBEDDING_KEY,
    SPACES,
    HnswIndexConfig,
    SpannIndexConfig,
    _build,
    _refuse_unknown,
    _source_key,
)
from ragstore.collection_schema.value_types import LAYOUT
from ragstore.errors import InvalidArgumentError

MAX_KEYS = 10_000
"""The most keys a schema may configure (a bound on work per request; chroma names none)."""

_CONFIG_FIELDS = {
    "vector_index": ("space", "embedding_function", "source_key", "hnsw", "spann"),
    "sparse_vector_index": ("embedding_function", "source_key", "bm25", "algorithm"),
}


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"Validation error: schema: {message}")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"Expected {where} to be an object, got {type(value).__name__}")
    return value


def _check_function(value: Any, where: str) -> None:
    """An embedding function description: legacy, unknown, or known with a name and a config."""
    description = _object(value, where)
    kind = description.get("type")
    if kind in ("legacy", "unknown"):
        return
    if kind != "known" or not isinstance(description.get("name"), str):
        raise InvalidArgumentError(f"Expected {where} to be {{'type': 'known', 'name': ..., 'config': {{...}}}}, 'legacy' or 'unknown'")
    if not isinstance(description.get("config", {}), Mapping):
        raise InvalidArgumentError(f"Expected {where}.config to be an object")


def _check_config(index_name: str, config: Any, where: str) -> None:
    config = _object({} if config is None else config, where)
    fields = _CONFIG_FIELDS.get(index_name, ())
    _refuse_unknown(where, config, fields)
    if "embedding_function" in config:
        _check_function(config["embedding_function"], f"{where}.embedding_function")
    if "source_key" in config:
        _source_key(config["source_key"])
    if config.get("space") is not None and config["space"] not in SPACES:
        raise InvalidArgumentError(f"{where}.space: Input should be 'cosine', 'l2' or 'ip', got {config['space']!r}")
    if config.get("hnsw") is not None:
        _build(HnswIndexConfig, config["hnsw"])
    if config.get("spann") is not None:
        _build(SpannIndexConfig, config["spann"])
    if config.get("bm25") is not None and not isinstance(config["bm25"], bool):
        raise InvalidArgumentError(f"{where}.bm25: Input should be a valid boolean, got {config['bm25']!r}")


def _indexes(value_types: Any, where: str) -> dict[str, dict[str, Any]]:
    """``{index name: {"enabled", "config"}}`` of one value-types object, its shape checked."""
    value_types = _object(value_types, where)
    layout = {json_name: [name for name, _, _ in indexes] for json_name, _, _, indexes in LAYOUT}
    found: dict[str, dict[str, Any]] = {}
    for json_name, section in value_types.items():
        if json_name not in layout:
            raise InvalidArgumentError(f"Unknown value type {json_name!r} in {where}, expected one of {', '.join(layout)}")
        section = _object(section, f"{where}.{json_name}")
        for index_name, index in section.items():
            if index_name not in layout[json_name]:
                raise InvalidArgumentError(
                    f"Unknown index {index_name!r} in {where}.{json_name}, expected {' or '.join(layout[json_name])}"
                )
            index = _object(index, f"{where}.{json_name}.{index_name}")
            _refuse_unknown(f"{where}.{json_name}.{index_name}", index, ("enabled", "config"))
            enabled = index.get("enabled", True)
            if not isinstance(enabled, bool):
                raise InvalidArgumentError(f"Expected {where}.{json_name}.{index_name}.enabled to be a boolean, got {enabled!r}")
            _check_config(index_name, index.get("config"), f"{where}.{json_name}.{index_name}.config")
            found[index_name] = {"enabled": enabled, "config": index.get("config") or {}, "value_type": json_name}
    return found


def check_schema_json(data: Any) -> None:
    """Raise :class:`~ragstore.errors.InvalidArgumentError` unless ``data`` is a schema ragstore can create a collection with.

    Example:
        >>> check_schema_json({"defaults": {"sparse_vector": {"sparse_vector_index": {"enabled": True, "config": {}}}}})
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Validation error: schema: Sparse vector index cannot be enabled by default. ...

    """
    data = _object(data, "schema")
    _refuse_unknown("Schema", data, ("defaults", "keys", "cmek"))
    if data.get("cmek") is not None:
        raise InvalidArgumentError(
            "ragstore does not support customer-managed encryption keys (cmek): its files are not encrypted; remove cmek from the schema"
        )
    defaults = _indexes({} if data.get("defaults") is None else data["defaults"], "schema.defaults")
    if defaults.get("vector_index", {}).get("enabled"):
        raise _invalid("Vector index cannot be enabled by default. It can only be enabled on #embedding field.")
    if defaults.get("fts_index", {}).get("enabled"):
        raise _invalid(
            "Full text search / regular expression index cannot be enabled by default. It can only be enabled on #document field."
        )
    if defaults.get("sparse_vector_index", {}).get("enabled"):
        raise _invalid(
            "Sparse vector index cannot be enabled by default. Please enable sparse vector index on specific keys. "
            "At most one sparse vector index is allowed for the collection."
        )
    keys = _object({} if data.get("keys") is None else data["keys"], "schema.keys")
    if len(keys) > MAX_KEYS:
        raise InvalidArgumentError(f"A schema may configure at most {MAX_KEYS} keys, got {len(keys)}")
    sparse_keys: list[str] = []
    for key, value_types in keys.items():
        indexes = _indexes(value_types, f"schema.keys[{key!r}]")
        _check_key(key, indexes)
        sparse = indexes.get("sparse_vector_index")
        if sparse is not None and sparse["enabled"]:
            sparse_keys.append(key)
            config = sparse["config"]
            described = config.get("embedding_function") or {"type": "unknown"}
            if config.get("source_key") is not None and described.get("type") != "known":
                raise _invalid(f"Sparse vector index on key '{key}' has source_key but no embedding function to derive the vector with")
    if len(sparse_keys) > 1:
        raise _invalid(f"At most one sparse vector index is allowed for the collection, got {len(sparse_keys)}: {', '.join(sparse_keys)}")


def _check_key(key: str, indexes: dict[str, dict[str, Any]]) -> None:
    if key.startswith("#") and key not in (DOCUMENT_KEY, EMBEDDING_KEY):
        raise _invalid(f"key cannot begin with '#'. Keys starting with '#' are reserved for system use: {key}")
    vector = indexes.get("vector_index")
    if vector is not None and vector["enabled"] and key != EMBEDDING_KEY:
        raise _invalid(f"Vector index can only be enabled on #embedding field: {key}")
    fts = indexes.get("fts_index")
    if fts is not None and fts["enabled"] and key != DOCUMENT_KEY:
        raise _invalid(f"Full text search / regular expression index can only be enabled on #document field: {key}")
    if key == DOCUMENT_KEY:
        if any(index["value_type"] != "string" for index in indexes.values()):
            raise _invalid(f"Document field cannot have any value types other than string: {key}")
        inverted = indexes.get("string_inverted_index")
        if inverted is not None and inverted["enabled"]:
            raise _invalid(f"String inverted index can not be enabled on #document key: {key}")
    if key == EMBEDDING_KEY:
        if any(name != "vector_index" for name in indexes):
            raise _invalid(f"Embedding field cannot have any index other than the vector index: {key}")
        if vector is not None and not vector["enabled"]:
            raise InvalidArgumentError("ragstore cannot disable the vector index on #embedding: every collection has one")
        if vector is not None and vector["config"].get("source_key") not in (None, DOCUMENT_KEY):
            raise _invalid("Vector index can only source from #document")
    if key not in (DOCUMENT_KEY, EMBEDDING_KEY) and indexes.get("sparse_vector_index", {}).get("config", {}).get("source_key") == key:
        raise _invalid(f"Sparse vector index on key '{key}' cannot source from its own key")
