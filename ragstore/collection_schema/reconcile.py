"""A collection's schema and its configuration, kept in agreement: at creation, on every read, after ``modify``.

The configuration (``{"hnsw": {...}, "embedding_function": ...}``) is the truth for the dense
vector index, as it was before schemas; the stored schema is the truth for everything else
(sparse index, FTS and inverted-index flags). :func:`render_schema` gives the whole schema with
its vector parts drawn from the configuration, so a ``modify(configuration=...)`` shows in the
schema at once (chromadb's ``update_schema_from_collection_configuration``) and a collection
created before schemas existed reads as chromadb's default schema.

At creation (:func:`reconcile`), chroma's rule: a schema that configures the vector index
(space, HNSW/SPANN parameters or a non-default embedding function) and a configuration that
does too (non-default HNSW values, SPANN, ``hnsw:*`` metadata or a named non-default function)
are refused together ("Cannot set both collection config and schema simultaneously"). Unlike
chroma, a configuration *with* a schema that leaves the vector index alone (only a sparse index,
say) is accepted: each says something the other does not.

Example:
    >>> wanted = {"keys": {"#embedding": {"float_list": {"vector_index": {"config": {"space": "ip"}}}}}}
    >>> configuration, stored = reconcile(None, None, wanted)
    >>> configuration["hnsw"]["space"], stored["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["space"]
    ('ip', 'ip')

"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from ragstore.collection_schema.index_configs import DOCUMENT_KEY, EMBEDDING_KEY
from ragstore.collection_schema.validation import check_schema_json
from ragstore.configuration import LEGACY_METADATA_KEYS, HnswSettings, build_configuration, hnsw_settings
from ragstore.errors import InvalidArgumentError

SCHEMA_KEY = "schema"
"""Where a collection's schema lives inside its stored configuration (no new column, no data migration)."""

_SCHEMA_HNSW_KEYS = ("ef_construction", "max_neighbors", "ef_search", "num_threads", "batch_size", "sync_threshold", "resize_factor")
_DEFAULT_FUNCTION = {"name": "default", "type": "known", "config": {}}


@functools.cache
def _default_schema_json() -> dict[str, Any]:
    """``Schema().serialize_to_json()`` (computed once; callers get copies)."""
    from ragstore.collection_schema.schema import Schema

    return Schema().serialize_to_json()


def default_schema_json() -> dict[str, Any]:
    """The default schema (chromadb's) as JSON, a fresh copy.

    Example:
        >>> default_schema_json()["keys"]["#document"]["string"]["fts_index"]
        {'enabled': True, 'config': {}}

    """
    return copy.deepcopy(_default_schema_json())


def _merged(given: Mapping[str, Any]) -> dict[str, Any]:
    """The default schema with every index ``given`` names replaced (chroma fills in what a schema leaves out)."""
    merged = default_schema_json()
    sections = [(merged["defaults"], given.get("defaults") or {})]
    sections += [(merged["keys"].setdefault(key, {}), value_types) for key, value_types in (given.get("keys") or {}).items()]
    for target, value_types in sections:
        for value_type, indexes in value_types.items():
            for index_name, index in indexes.items():
                config = copy.deepcopy(index.get("config") or {})
                target.setdefault(value_type, {})[index_name] = {"enabled": index.get("enabled", True), "config": config}
    return merged


def _vector_config(schema: Mapping[str, Any]) -> dict[str, Any]:
    return dict(schema["keys"][EMBEDDING_KEY]["float_list"]["vector_index"]["config"])


def _configures_vector_index(vector: Mapping[str, Any]) -> bool:
    """Whether a schema's vector config says more than chromadb's default one (l2, the default function)."""
    function = vector.get("embedding_function")
    named = function is not None and not (
        isinstance(function, Mapping) and function.get("type") == "known" and function.get("name") == "default"
    )
    return bool(vector.get("hnsw")) or vector.get("spann") is not None or vector.get("space") not in (None, "l2") or named


def _configures_vector_index_too(configuration: Mapping[str, Any], metadata: Mapping[str, Any] | None) -> bool:
    """Whether the configuration (or legacy metadata) sets the vector index to anything but the defaults."""
    defaults = HnswSettings().as_dict()
    hnsw = configuration.get("hnsw")
    if isinstance(hnsw, Mapping) and any(value is not None and value != defaults.get(key) for key, value in hnsw.items()):
        return True
    if configuration.get("spann") is not None:
        return True
    if metadata and any(key in metadata for key in LEGACY_METADATA_KEYS):
        return True
    function = configuration.get("embedding_function")
    return isinstance(function, Mapping) and function.get("type") == "known" and function.get("name") != "default"


def reconcile(
    configuration: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None, schema: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The configuration a new collection is stored with, and its schema (``None`` without one).

    Args:
        configuration: The requested configuration, embedding function description included.
        metadata: The collection metadata (legacy ``hnsw:*`` keys count as configuration).
        schema: The requested schema as chromadb's JSON (untrusted), or ``None``.

    Raises:
        InvalidArgumentError: a bad configuration or schema, both configuring the vector index, or
            what ragstore cannot honour (see :mod:`ragstore.collection_schema.validation`).

    Example:
        >>> sparse = {"keys": {"splade": {"sparse_vector": {"sparse_vector_index": {"config": {}}}}}}
        >>> configuration, stored = reconcile({"hnsw": {"space": "cosine"}}, None, sparse)
        >>> configuration["hnsw"]["space"], stored["keys"]["splade"]["sparse_vector"]["sparse_vector_index"]["enabled"]
        ('cosine', True)

    """
    given = dict(configuration or {})
    function = given.pop("embedding_function", None)
    if schema is None:
        return build_configuration(given, metadata, function), None
    check_schema_json(schema)
    merged = _merged(schema)
    vector = _vector_config(merged)
    if not _configures_vector_index(vector):
        built = build_configuration(given, metadata, function)
    elif _configures_vector_index_too({**given, "embedding_function": function}, metadata):
        raise InvalidArgumentError("Failed to reconcile schema: Cannot set both collection config and schema simultaneously")
    else:
        # As chroma does, the schema's vector index becomes the configuration; SPANN keeps only its space (as for configuration=).
        hnsw = {key: value for key, value in (vector.get("hnsw") or {}).items() if key in _SCHEMA_HNSW_KEYS}
        hnsw["space"] = vector.get("space") or "l2"
        schema_function = vector.get("embedding_function", _DEFAULT_FUNCTION)
        if isinstance(schema_function, Mapping) and schema_function.get("type") == "known":
            schema_function = {"type": "known", "name": schema_function["name"], "config": dict(schema_function.get("config") or {})}
        built = build_configuration({"hnsw": hnsw}, None, dict(schema_function) if schema_function else None)
    stored = render_schema(merged, built)
    return built, stored


def _vector_index_json(configuration: Mapping[str, Any], function_on_wire: bool) -> dict[str, Any]:
    settings = hnsw_settings(configuration).as_dict()
    function = configuration.get("embedding_function")
    if function_on_wire and isinstance(function, Mapping) and function.get("type") == "known":
        described: dict[str, Any] = {"name": function.get("name"), "type": "known", "config": function.get("config") or {}}
    else:
        described = {"type": "legacy"}
    return {"space": settings["space"], "embedding_function": described, "hnsw": {key: settings[key] for key in _SCHEMA_HNSW_KEYS}}


def render_schema(stored: Mapping[str, Any] | None, configuration: Mapping[str, Any], *, functions: bool = True) -> dict[str, Any]:
    """The collection's whole schema: ``stored`` (or chromadb's default) with the vector index drawn from ``configuration``.

    Args:
        stored: The schema the collection was created with (already checked), or ``None``.
        configuration: The collection's configuration (the truth for the vector index).
        functions: Whether the vector index names the configuration's embedding function;
            ``False`` writes ``{"type": "legacy"}``, as the server does for chromadb's client
            (which would otherwise rebuild its own downloading default, or warn on a ragstore-only name).

    Example:
        >>> schema = render_schema(None, {"hnsw": {"space": "cosine", "ef_search": 7}})
        >>> config = schema["keys"]["#embedding"]["float_list"]["vector_index"]["config"]
        >>> config["space"], config["hnsw"]["ef_search"], config["source_key"]
        ('cosine', 7, '#document')

    """
    schema = copy.deepcopy(dict(stored)) if stored else default_schema_json()
    index = _vector_index_json(configuration, functions)
    defaults = schema.setdefault("defaults", {}).setdefault("float_list", {})
    defaults["vector_index"] = {"enabled": False, "config": index}
    embedding = schema.setdefault("keys", {}).setdefault(EMBEDDING_KEY, {}).setdefault("float_list", {})
    embedding["vector_index"] = {"enabled": True, "config": {**index, "source_key": DOCUMENT_KEY}}
    return schema


def split_stored(configuration: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A stored configuration as (the configuration callers see, the rendered schema).

    Example:
        >>> config, schema = split_stored({"hnsw": {"space": "ip"}, "schema": None})
        >>> sorted(config), schema["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["space"]
        (['hnsw'], 'ip')

    """
    public = {key: value for key, value in configuration.items() if key != SCHEMA_KEY}
    return public, render_schema(configuration.get(SCHEMA_KEY), public)


def with_schema(configuration: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration to store: ``configuration`` carrying ``schema`` (only when the collection has one).

    Example:
        >>> with_schema({"hnsw": {}}, None), sorted(with_schema({"hnsw": {}}, {"keys": {}}))
        ({'hnsw': {}}, ['hnsw', 'schema'])

    """
    return {**configuration, SCHEMA_KEY: schema} if schema is not None else configuration
