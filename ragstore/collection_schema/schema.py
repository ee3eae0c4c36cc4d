"""``Schema``: which indexes a collection has, per value type and per key, as chromadb 1.5.9 defines it.

A new ``Schema()`` holds chromadb's defaults: inverted indexes on every string, int, float and
bool metadata value, full-text search on ``#document``, the dense vector index on
``#embedding`` (sourced from ``#document``), and no sparse index. ``create_index`` and
``delete_index`` change it with chromadb's rules and messages (raised as
:class:`~ragstore.errors.InvalidArgumentError`, a ``ValueError`` as chromadb's are);
``serialize_to_json`` gives the JSON chromadb's client sends, and ``deserialize_from_json``
reads it back.

Example:
    >>> from ragstore.collection_schema import SparseVectorIndexConfig
    >>> class Counts:  # a stand-in sparse function; ragstore ships chroma's BM25 as ChromaBm25EmbeddingFunction
    ...     def __call__(self, input): return []
    >>> schema = Schema().create_index(SparseVectorIndexConfig(source_key="#document", embedding_function=Counts()), key="bm25")
    >>> schema.keys["bm25"].sparse_vector.sparse_vector_index.config.source_key
    '#document'
    >>> Schema().create_index(VectorIndexConfig(), key="title")
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: Vector index cannot be enabled on specific keys. Use create_index(...) ...

"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ragstore.collection_schema.cmek import Cmek
from ragstore.collection_schema.index_configs import (
    DOCUMENT_KEY,
    EMBEDDING_KEY,
    BoolInvertedIndexConfig,
    FloatInvertedIndexConfig,
    FtsIndexConfig,
    IndexConfig,
    IntInvertedIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
    key_name,
)
from ragstore.collection_schema.value_types import (
    PLACE,
    FloatListValueType,
    StringValueType,
    ValueTypes,
    VectorIndexType,
    value_types_from_json,
    value_types_to_json,
)
from ragstore.errors import InvalidArgumentError

_ALL_CONFIGS: tuple[type[Any], ...] = (
    FtsIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
    SparseVectorIndexConfig,
    IntInvertedIndexConfig,
    FloatInvertedIndexConfig,
    BoolInvertedIndexConfig,
)


def _set_index(value_types: ValueTypes, config: IndexConfig, enabled: bool) -> None:
    """Put ``config`` (``enabled`` or not) in its place in ``value_types``, creating the value type if missing."""
    attr, value_cls, index_name, index_cls = PLACE[type(config)]
    if getattr(value_types, attr) is None:
        setattr(value_types, attr, value_cls())
    setattr(getattr(value_types, attr), index_name, index_cls(enabled, config))


@dataclasses.dataclass(init=False)
class Schema:
    """A collection's indexes: ``defaults`` per value type, ``keys`` overriding them per key, and an optional ``cmek``.

    Example:
        >>> schema = Schema().delete_index(config=StringInvertedIndexConfig(), key="body")
        >>> schema.serialize_to_json()["keys"]["body"]
        {'string': {'string_inverted_index': {'enabled': False, 'config': {}}}}
        >>> Schema.deserialize_from_json(schema.serialize_to_json()).keys["body"] == schema.keys["body"]
        True

    """

    defaults: ValueTypes
    keys: dict[str, ValueTypes]
    cmek: Cmek | None

    def __init__(self) -> None:
        self.defaults = ValueTypes()
        self.keys = {}
        self.cmek = None
        for cls in _ALL_CONFIGS:  # chromadb's defaults: every inverted index on; FTS, vector and sparse off
            _set_index(
                self.defaults,
                cls(),
                cls in (StringInvertedIndexConfig, IntInvertedIndexConfig, FloatInvertedIndexConfig, BoolInvertedIndexConfig),
            )
        self.keys[DOCUMENT_KEY] = ValueTypes(string=StringValueType())
        _set_index(self.keys[DOCUMENT_KEY], FtsIndexConfig(), True)
        _set_index(self.keys[DOCUMENT_KEY], StringInvertedIndexConfig(), False)
        self.keys[EMBEDDING_KEY] = ValueTypes(
            float_list=FloatListValueType(VectorIndexType(True, VectorIndexConfig(source_key=DOCUMENT_KEY)))
        )

    # ------------------------------------------------------------------ building

    def create_index(self, config: IndexConfig | None = None, key: Any = None) -> Schema:
        """Enable an index: ``config`` alone for every key of its value type, with ``key`` for that key only.

        The dense vector index is configured globally (``create_index(VectorIndexConfig(...))``);
        a sparse index needs a key, and a collection has at most one; FTS lives on ``#document`` only.

        Example:
            >>> schema = Schema().create_index(VectorIndexConfig(space="cosine", embedding_function=None))
            >>> schema.keys["#embedding"].float_list.vector_index.config.space
            'cosine'

        """
        key = _key_to_change(config, key, enabled=True)
        if isinstance(config, VectorIndexConfig):
            if key is not None:
                raise InvalidArgumentError(
                    "Vector index cannot be enabled on specific keys. "
                    "Use create_index(config=VectorIndexConfig(...)) without specifying a key to configure the vector index globally."
                )
            self._set_vector_index_config(config)
            return self
        if isinstance(config, FtsIndexConfig) and key != DOCUMENT_KEY:
            raise InvalidArgumentError(
                "FTS index can only be enabled on #document key. Use create_index(config=FtsIndexConfig(), key='#document')"
            )
        if isinstance(config, SparseVectorIndexConfig) and key is None:
            raise InvalidArgumentError(
                "Sparse vector index must be created on a specific key. "
                "Please specify a key using: create_index(config=SparseVectorIndexConfig(...), key='your_key')"
            )
        return self._change_index(config, key, enabled=True)

    def delete_index(self, config: IndexConfig | None = None, key: Any = None) -> Schema:
        """Disable an index, for every key (``config`` alone) or for one ``key``; vector and sparse indexes stay.

        Example:
            >>> Schema().delete_index(IntInvertedIndexConfig()).defaults.int_value.int_inverted_index.enabled
            False

        """
        key = _key_to_change(config, key, enabled=False)
        if isinstance(config, VectorIndexConfig):
            raise InvalidArgumentError("Deleting vector index is not currently supported.")
        if isinstance(config, SparseVectorIndexConfig):
            raise InvalidArgumentError("Deleting sparse vector index is not currently supported.")
        if isinstance(config, FtsIndexConfig) and key != DOCUMENT_KEY:
            raise InvalidArgumentError("Deleting FTS index is only supported on #document key.")
        return self._change_index(config, key, enabled=False)

    def set_cmek(self, cmek: Cmek | None) -> Schema:
        """Set (or with ``None`` remove) a customer-managed encryption key; ragstore refuses to create a collection with one.

        Example:
            >>> Schema().set_cmek(Cmek.gcp("projects/p/locations/l/keyRings/r/cryptoKeys/k")).serialize_to_json()["cmek"]
            {'gcp': 'projects/p/locations/l/keyRings/r/cryptoKeys/k'}

        """
        self.cmek = cmek
        return self

    def _change_index(self, config: IndexConfig | None, key: str | None, enabled: bool) -> Schema:
        """The last step of ``create_index`` and ``delete_index``: one index on or off, for every key or for ``key``."""
        if config is None:
            verb = "enable" if enabled else "disable"
            raise InvalidArgumentError(f"Cannot {verb} all index types for key '{key}'. Please specify a specific index configuration.")
        _check_config(config)
        if key is None:
            _set_index(self.defaults, config, enabled)
        else:
            self._set_index_for_key(key, config, enabled)
        return self

    def _set_vector_index_config(self, config: VectorIndexConfig) -> None:
        """The vector config goes to the defaults and to ``#embedding``, keeping their enabled flags and ``#embedding``'s source."""
        assert self.defaults.float_list is not None and self.defaults.float_list.vector_index is not None
        self.defaults.float_list.vector_index = VectorIndexType(self.defaults.float_list.vector_index.enabled, config)
        embedding = self.keys[EMBEDDING_KEY].float_list
        assert embedding is not None and embedding.vector_index is not None
        current = embedding.vector_index
        own = VectorIndexConfig(
            space=config.space,
            embedding_function=config.embedding_function,
            source_key=current.config.source_key,
            hnsw=config.hnsw,
            spann=config.spann,
        )
        embedding.vector_index = VectorIndexType(current.enabled, own)

    def _set_index_for_key(self, key: str, config: IndexConfig, enabled: bool) -> None:
        if isinstance(config, SparseVectorIndexConfig) and enabled:
            for other, value_types in self.keys.items():
                index = value_types.sparse_vector.sparse_vector_index if value_types.sparse_vector else None
                if other != key and index is not None and index.enabled:
                    raise InvalidArgumentError(
                        f"Cannot enable sparse vector index on key '{key}'. A sparse vector index is already enabled on key '{other}'. "
                        "Only one sparse vector index is allowed per collection."
                    )
            if config.source_key is not None and config.embedding_function is None:
                raise InvalidArgumentError(
                    "If source_key is provided then embedding_function must also be provided "
                    f"since there is no default embedding function. Config: {config}"
                )
        _set_index(self.keys.setdefault(key, ValueTypes()), config, enabled)

    # ------------------------------------------------------------------ JSON

    def serialize_to_json(self) -> dict[str, Any]:
        """The schema as chromadb's client sends it (``{"defaults": ..., "keys": ..., "cmek"?: ...}``)."""
        result: dict[str, Any] = {
            "defaults": value_types_to_json(self.defaults),
            "keys": {key: value_types_to_json(value_types) for key, value_types in self.keys.items()},
        }
        if self.cmek is not None:
            result["cmek"] = self.cmek.to_dict()
        return result

    @classmethod
    def deserialize_from_json(cls, json_data: Mapping[str, Any]) -> Schema:
        """A schema from its JSON (chromadb's form); only the parts the JSON names are set, as chromadb does.

        Malformed JSON (not objects, unknown value types or indexes, bad config fields) is an
        :class:`~ragstore.errors.InvalidArgumentError`. An embedding function that is not
        registered here becomes ``None`` with a warning (chromadb's behaviour).
        """
        if not isinstance(json_data, Mapping):
            raise InvalidArgumentError(f"Expected the schema to be an object, got {type(json_data).__name__}")
        unknown = [k for k in json_data if k not in ("defaults", "keys", "cmek")]
        if unknown:
            raise InvalidArgumentError(f"Unknown schema field {unknown[0]!r}, expected defaults, keys or cmek")
        instance = cls.__new__(cls)
        defaults, keys = json_data.get("defaults"), json_data.get("keys")
        instance.defaults = value_types_from_json({} if defaults is None else defaults, "schema.defaults")
        keys = {} if keys is None else keys
        if not isinstance(keys, Mapping):
            raise InvalidArgumentError(f"Expected schema.keys to be an object, got {type(keys).__name__}")
        instance.keys = {str(key): value_types_from_json(value, f"schema.keys[{key!r}]") for key, value in keys.items()}
        cmek = json_data.get("cmek")
        instance.cmek = Cmek.from_dict(cmek) if cmek is not None else None
        return instance


# The first refusals of create_index (enabled) and delete_index (disabled), worded as chromadb words each.
_NOTHING_NAMED = {
    True: "Cannot enable all index types globally. Must specify either config or key.",
    False: "Cannot disable all indexes. Must specify either config or key.",
}
_EMBEDDING_KEY_REFUSED = {
    True: f"Cannot create index on special key '{EMBEDDING_KEY}'. This key is managed automatically by the system. "
    "Invoke create_index(VectorIndexConfig(...)) without specifying a key to configure the vector index globally.",
    False: f"Cannot modify {EMBEDDING_KEY}. Currently not supported",
}


def _key_to_change(config: IndexConfig | None, key: Any, enabled: bool) -> str | None:
    """``key`` as a string (or ``None``: every key), after the checks ``create_index`` and ``delete_index`` share, in chromadb's order."""
    name = None if key is None else key_name(key)
    if config is None and name is None:
        raise InvalidArgumentError(_NOTHING_NAMED[enabled])
    if name == EMBEDDING_KEY:
        raise InvalidArgumentError(_EMBEDDING_KEY_REFUSED[enabled])
    if name == DOCUMENT_KEY and not isinstance(config, FtsIndexConfig):
        verb = "create" if enabled else "delete"
        raise InvalidArgumentError(
            f"Cannot {verb} index on special key '{name}' with this config. Only FtsIndexConfig is allowed for #document."
        )
    if name is not None and name.startswith("#") and name != DOCUMENT_KEY:
        raise InvalidArgumentError("key cannot begin with '#'. Keys starting with '#' are reserved for system use.")
    return name


def _check_config(config: Any) -> None:
    if type(config) not in PLACE:
        raise InvalidArgumentError(f"Expected an index config (FtsIndexConfig, VectorIndexConfig, ...), got {type(config).__name__}")


def schema_json(schema: Any) -> dict[str, Any] | None:
    """The JSON a client sends for ``create_collection(schema=...)``: a :class:`Schema` (or chromadb's) serialised, ``None`` kept.

    Example:
        >>> schema_json(None) is None, sorted(schema_json(Schema()))
        (True, ['defaults', 'keys'])
        >>> schema_json({})
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: Expected schema to be a Schema, got dict

    """
    if schema is None:
        return None
    serialize = getattr(schema, "serialize_to_json", None)
    if isinstance(schema, Mapping) or not callable(serialize):
        raise InvalidArgumentError(f"Expected schema to be a Schema, got {type(schema).__name__}")
    data = serialize()
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"Expected {type(schema).__name__}.serialize_to_json() to give an object, got {type(data).__name__}")
    return data
