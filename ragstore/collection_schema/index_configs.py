"""The index configurations a :class:`~ragstore.collection_schema.Schema` holds, as chromadb 1.5.9 defines them.

chromadb builds them on pydantic; ragstore keeps its core free of pydantic, so these are
dataclasses that check their fields when built and raise :class:`~ragstore.errors.InvalidArgumentError`
(a ``ValueError``, as pydantic's ``ValidationError`` is) with chromadb's wording where it has one.
:func:`config_to_json` and :func:`config_from_json` give chromadb's JSON form (``Schema._serialize_config``
and the ``*Config(**data)`` calls of its deserializer), key order included.

Example:
    >>> config_to_json(VectorIndexConfig(space="cosine", embedding_function=None, hnsw=HnswIndexConfig(ef_search=50)))
    {'space': 'cosine', 'hnsw': {'ef_search': 50}, 'embedding_function': {'type': 'legacy'}}
    >>> HnswIndexConfig(ef_serch=5)
    Traceback (most recent call last):
    ...
    ragstore.errors.InvalidArgumentError: 'ef_serch' is not a valid field for HnswIndexConfig.

"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from typing import Any, Union

from ragstore.embeddings.base import build_embedding_function, build_sparse_embedding_function, describe_embedding_function
from ragstore.errors import InvalidArgumentError

DOCUMENT_KEY = "#document"
EMBEDDING_KEY = "#embedding"
SPACES = ("cosine", "l2", "ip")


def _refuse_unknown(cls_name: str, given: Mapping[str, Any], valid: tuple[str, ...]) -> None:
    """Refuse fields a config does not have, with the message of chromadb's ``_create_extra_fields_validator``."""
    invalid = [k for k in given if k not in valid]
    if len(invalid) == 1:
        raise InvalidArgumentError(f"'{invalid[0]}' is not a valid field for {cls_name}.")
    if invalid:
        raise InvalidArgumentError(f"Invalid fields for {cls_name}: {', '.join(repr(f) for f in invalid)}.")


def _strict(*ignored: str) -> Any:
    """Class decorator: a dataclass whose constructor refuses unknown fields with chromadb's message (pydantic's, there).

    Names in ``ignored`` are accepted and dropped, as chromadb's validator lets them through to a model that lacks them.
    """

    def decorate(cls: type[Any]) -> type[Any]:
        init = cls.__init__
        valid = tuple(f.name for f in dataclasses.fields(cls)) + ignored

        @functools.wraps(init)
        def strict_init(self: Any, *args: Any, **kwargs: Any) -> None:
            _refuse_unknown(cls.__name__, kwargs, valid)
            init(self, *args, **{k: v for k, v in kwargs.items() if k not in ignored})

        setattr(cls, "__init__", strict_init)  # noqa: B010 - mypy refuses assigning to a method
        return cls

    return decorate


def _optional_int(cls_name: str, name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{cls_name}.{name}: Input should be a valid integer, got {value!r}")
    return value


def _optional_float(cls_name: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{cls_name}.{name}: Input should be a valid number, got {value!r}")
    return float(value)


def key_name(key: Any, what: str = "key") -> str:
    """A key given as a string or as a search ``Key`` (``K.DOCUMENT``) as its string.

    Example:
        >>> key_name("title")
        'title'

    """
    if isinstance(key, str):
        return key
    name = getattr(key, "name", None)
    if isinstance(name, str):  # ragstore.search.Key (and chromadb's Key) carry the key string as .name
        return name
    raise InvalidArgumentError(f"{what} must be str or Key, got {type(key).__name__}")


def _source_key(value: Any) -> str | None:
    """A source key as chromadb's ``validate_source_key_field`` takes it: a metadata key, or ``#document``."""
    if value is None:
        return None
    name = key_name(value, "source_key")
    if name.startswith("#") and name != DOCUMENT_KEY:
        raise InvalidArgumentError("source_key cannot begin with '#'. The only valid key starting with '#' is Key.DOCUMENT or '#document'.")
    return name


@dataclasses.dataclass
class _Flat:
    """An index configuration without parameters (FTS and the inverted indexes)."""

    def __init__(self, **fields: Any) -> None:
        _refuse_unknown(type(self).__name__, fields, ())


class FtsIndexConfig(_Flat):
    """Full-text search on ``#document`` (ragstore's trigram index); no parameters.

    Example:
        >>> FtsIndexConfig() == FtsIndexConfig(), FtsIndexConfig() == StringInvertedIndexConfig()
        (True, False)

    """


class StringInvertedIndexConfig(_Flat):
    """The inverted index of a string metadata key; no parameters."""


class IntInvertedIndexConfig(_Flat):
    """The inverted index of an int metadata key; no parameters."""


class FloatInvertedIndexConfig(_Flat):
    """The inverted index of a float metadata key; no parameters."""


class BoolInvertedIndexConfig(_Flat):
    """The inverted index of a bool metadata key; no parameters."""


class _Parameters:
    """Numeric parameters of an index algorithm (HNSW, SPANN): each an int or ``None``, those in ``_floats`` a number.

    Checked as pydantic checks chromadb's ``Optional[int]`` and ``Optional[float]`` fields.
    """

    _floats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]  # each subclass is a dataclass
            check = _optional_float if f.name in self._floats else _optional_int
            setattr(self, f.name, check(type(self).__name__, f.name, getattr(self, f.name)))


@_strict()
@dataclasses.dataclass
class HnswIndexConfig(_Parameters):
    """HNSW parameters of the vector index; ``None`` leaves the collection's default.

    Example:
        >>> HnswIndexConfig(ef_search=50).ef_search
        50

    """

    ef_construction: int | None = None
    max_neighbors: int | None = None
    ef_search: int | None = None
    num_threads: int | None = None
    batch_size: int | None = None
    sync_threshold: int | None = None
    resize_factor: float | None = None

    _floats = ("resize_factor",)


# Names chromadb's validator lets through although its model has no such field (pydantic drops them).
_SPANN_IGNORED = (
    "search_rng_factor",
    "search_rng_epsilon",
    "nreplica_count",
    "write_rng_factor",
    "write_rng_epsilon",
    "num_samples_kmeans",
    "initial_lambda",
    "num_centers_to_merge_to",
    "center_drift_threshold",
    "quantize",
)


@_strict(*_SPANN_IGNORED)
@dataclasses.dataclass
class SpannIndexConfig(_Parameters):
    """SPANN parameters (chroma's distributed index); ragstore builds HNSW instead, keeping the space.

    Example:
        >>> SpannIndexConfig(search_nprobe=8, quantize=True)  # quantize: accepted and dropped, as chromadb does
        SpannIndexConfig(search_nprobe=8, write_nprobe=None, ef_construction=None, ef_search=None, max_neighbors=None, ...)

    """

    search_nprobe: int | None = None
    write_nprobe: int | None = None
    ef_construction: int | None = None
    ef_search: int | None = None
    max_neighbors: int | None = None
    reassign_neighbor_count: int | None = None
    split_threshold: int | None = None
    merge_threshold: int | None = None


class _DefaultFunction:
    """Marker for "the default embedding function" (built on first use, so a bare Schema() loads nothing)."""

    def __repr__(self) -> str:
        return "DefaultEmbeddingFunction()"


def default_embedding_function() -> Any:
    """The default embedding function (chromadb's ``default``: all-MiniLM-L6-v2), built without loading the model.

    Example:
        >>> default_embedding_function().name()
        'default'

    """
    from ragstore.embeddings.default import default_embedding_function as make

    return make()


def _same_function(a: Any, b: Any) -> bool:
    """Whether two embedding functions are the same: one object, or both named with equal configs."""
    if a is b:
        return True
    described = _describe(a) if a is not None else None
    return described is not None and b is not None and described == _describe(b)


class _WithFunction:
    """A config that holds an embedding function (vector and sparse indexes): its subclasses are dataclasses with ``eq=False``.

    They compare field by field, the functions by :func:`_same_function`, so ``Schema() == Schema()``
    (each holds a default function of its own) as in chromadb.
    """

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        return all(
            _same_function(getattr(self, f.name), getattr(other, f.name))
            if f.name == "embedding_function"
            else getattr(self, f.name) == getattr(other, f.name)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]  # each subclass is a dataclass
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq


@_strict()
@dataclasses.dataclass(eq=False)
class VectorIndexConfig(_WithFunction):
    """The dense vector index: its space, embedding function and HNSW (or SPANN) parameters.

    As in chromadb, ``embedding_function`` defaults to the default function; ``None`` means
    none. A ``source_key`` may only be ``#document``.

    Example:
        >>> VectorIndexConfig(space="ip", embedding_function=None).space
        'ip'

    """

    space: str | None = None
    embedding_function: Any = dataclasses.field(default_factory=default_embedding_function)
    source_key: str | None = None
    hnsw: HnswIndexConfig | None = None
    spann: SpannIndexConfig | None = None

    def __post_init__(self) -> None:
        if self.space is not None and self.space not in SPACES:
            raise InvalidArgumentError(f"VectorIndexConfig.space: Input should be 'cosine', 'l2' or 'ip', got {self.space!r}")
        if self.embedding_function is not None and not callable(self.embedding_function):
            raise InvalidArgumentError("embedding_function must be callable or None")
        self.source_key = _source_key(self.source_key)
        hnsw: Any = self.hnsw  # pydantic accepts a dict here too
        spann: Any = self.spann
        if isinstance(hnsw, Mapping):
            self.hnsw = _build(HnswIndexConfig, hnsw)
        if isinstance(spann, Mapping):
            self.spann = _build(SpannIndexConfig, spann)
        if self.hnsw is not None and not isinstance(self.hnsw, HnswIndexConfig):
            raise InvalidArgumentError(f"VectorIndexConfig.hnsw must be an HnswIndexConfig, got {type(self.hnsw).__name__}")
        if self.spann is not None and not isinstance(self.spann, SpannIndexConfig):
            raise InvalidArgumentError(f"VectorIndexConfig.spann must be a SpannIndexConfig, got {type(self.spann).__name__}")


@_strict("algorithm")
@dataclasses.dataclass(eq=False)
class SparseVectorIndexConfig(_WithFunction):
    """A sparse vector index on one metadata key (chromadb allows one per collection).

    With a ``source_key`` (``#document`` or a metadata key) the ``embedding_function`` turns
    that text into the key's sparse vector; without one the records carry the vectors in
    ``metadata[key]`` and the function (if any) embeds query texts only. ``bm25`` is chroma's
    flag for BM25 scoring.

    Example:
        >>> SparseVectorIndexConfig(source_key="#document").source_key
        '#document'

    """

    embedding_function: Any = None
    source_key: str | None = None
    bm25: bool | None = None

    def __post_init__(self) -> None:
        if self.embedding_function is not None and not callable(self.embedding_function):
            raise InvalidArgumentError("embedding_function must be a callable SparseEmbeddingFunction or None")
        self.source_key = _source_key(self.source_key)
        if self.bm25 is not None and not isinstance(self.bm25, bool):
            raise InvalidArgumentError(f"SparseVectorIndexConfig.bm25: Input should be a valid boolean, got {self.bm25!r}")


IndexConfig = Union[
    FtsIndexConfig,
    VectorIndexConfig,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    IntInvertedIndexConfig,
    FloatInvertedIndexConfig,
    BoolInvertedIndexConfig,
]


def _build(cls: type[Any], data: Any) -> Any:
    """``cls(**data)`` for JSON ``data`` (untrusted), refused with a clear error unless it is an object."""
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(f"Expected the {cls.__name__} to be an object, got {type(data).__name__}")
    return cls(**data)


def _describe(ef: Any) -> dict[str, Any] | None:
    """The function as ``{"name", "type": "known", "config"}`` (chromadb's key order), or ``None`` when it cannot describe itself."""
    described = describe_embedding_function(ef)
    if not described or described.get("type") != "known":
        return None
    return {"name": described["name"], "type": "known", "config": described["config"]}


def _dump(value: Any) -> dict[str, Any]:
    """Pydantic's ``model_dump(exclude_none=True)``: the fields that are set, in declaration order."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if item is None:
            continue
        out[f.name] = _dump(item) if dataclasses.is_dataclass(item) and not isinstance(item, type) else item
    return out


def config_to_json(config: IndexConfig) -> dict[str, Any]:
    """The config as JSON (chromadb's ``Schema._serialize_config``), embedding functions by name and config.

    A vector index's function that cannot describe itself (or has none) is ``{"type": "legacy"}``,
    a sparse index without one ``{"type": "unknown"}``; a vector index without a space takes its
    function's ``default_space()``.

    Example:
        >>> config_to_json(SparseVectorIndexConfig(source_key="#document", bm25=True))
        {'source_key': '#document', 'bm25': True, 'embedding_function': {'type': 'unknown'}}

    """
    if isinstance(config, _Flat):
        return {}
    out = _dump(config)
    ef = config.embedding_function
    if isinstance(config, VectorIndexConfig):
        described = _describe(ef) if ef is not None else None
        out["embedding_function"] = described or {"type": "legacy"}
        if described is not None and config.space is None:
            default_space = getattr(ef, "default_space", None)
            space = default_space() if callable(default_space) else None
            if space is not None:
                out["space"] = space
        return out
    if ef is None:
        out["embedding_function"] = {"type": "unknown"}
    else:
        described = _describe(ef)
        out["embedding_function"] = described or {"type": "unknown"}
    return out


def _function_from_json(description: Any, sparse: bool) -> Any:
    """The function a JSON description names, or ``None`` (with chromadb's warning when it cannot be rebuilt)."""
    if not isinstance(description, Mapping) or description.get("type") in ("legacy", "unknown"):
        return None
    # Sparse functions have their own registry, as chromadb's sparse_known_embedding_functions.
    build = build_sparse_embedding_function if sparse else build_embedding_function
    try:
        ef = build(dict(description))
        if ef is None:
            raise KeyError(description.get("name"))
        return ef
    except Exception as exc:
        kind = "sparse embedding function" if sparse else "embedding function"
        warnings.warn(
            f"Could not reconstruct {kind} {description.get('name', 'unknown')}: {exc!r}. Setting to None.", UserWarning, stacklevel=3
        )
        return None


def config_from_json(cls: type[Any], data: Any) -> Any:
    """The inverse of :func:`config_to_json` for an index config class (untrusted JSON refused with a clear error).

    Example:
        >>> config = config_from_json(VectorIndexConfig, {"space": "ip", "hnsw": {"ef_search": 5}, "embedding_function": None})
        >>> config.space, config.hnsw.ef_search, config.embedding_function
        ('ip', 5, None)

    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(f"Expected the {cls.__name__} to be an object, got {type(data).__name__}")
    if issubclass(cls, _Flat):
        return cls(**data)
    fields = dict(data)
    if cls is VectorIndexConfig:
        if "embedding_function" in fields:
            fields["embedding_function"] = _function_from_json(fields["embedding_function"], sparse=False)
            if fields.get("space") is None and fields["embedding_function"] is not None:
                default_space = getattr(fields["embedding_function"], "default_space", None)
                fields["space"] = default_space() if callable(default_space) else None
        fields["hnsw"] = _build(HnswIndexConfig, fields["hnsw"]) if fields.get("hnsw") is not None else None
        fields["spann"] = _build(SpannIndexConfig, fields["spann"]) if fields.get("spann") is not None else None
    elif "embedding_function" in fields:
        fields["embedding_function"] = _function_from_json(fields["embedding_function"], sparse=True)
    return _build(cls, fields)
