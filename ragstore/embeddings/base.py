"""The embedding-function protocol and the registries that persist known ones.

Dense and sparse functions are kept apart, as chromadb keeps them
(``known_embedding_functions`` and ``sparse_known_embedding_functions``): a sparse
function (a :class:`~ragstore.sparse_vectors.SparseEmbeddingFunction` subclass) is
registered and rebuilt only as a sparse one, and :func:`build_embedding_function` and
:func:`embed` never give a collection one as its dense function. Both kinds are
described the same way (:func:`describe_embedding_function`).

Example:
    >>> from ragstore.embeddings.hashing import HashingEmbeddingFunction
    >>> describe_embedding_function(HashingEmbeddingFunction(dim=4))
    {'type': 'known', 'name': 'ragstore_hashing', 'config': {'dim': 4}}

"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragstore.errors import InvalidArgumentError
from ragstore.sparse_vectors import is_sparse_embedding_function
from ragstore.validation import normalize_embeddings

D = TypeVar("D", contravariant=True)


@runtime_checkable
class EmbeddingFunction(Protocol[D]):
    """What ragstore calls to turn documents and query texts into vectors.

    Generic in its input as chromadb's is, so chromadb's way of writing one works unchanged:

    Example:
        >>> from ragstore import Documents, EmbeddingFunction, Embeddings
        >>> class Lengths(EmbeddingFunction[Documents]):
        ...     def __call__(self, input: Documents) -> Embeddings:
        ...         return [np.array([float(len(text)), 1.0], dtype=np.float32) for text in input]
        >>> import ragstore
        >>> col = ragstore.Client().create_collection("lengths", embedding_function=Lengths())
        >>> col.add(ids=["a", "b"], documents=["hi", "hello there"])
        >>> col.query(query_texts=["hey"], n_results=1)["ids"]
        [['a']]

    """

    def __call__(self, input: D) -> Any:  # noqa: A002 - chromadb's parameter name
        """Embed ``input`` (a list of strings) into one vector each."""
        ...


_REGISTRY: dict[str, type[Any]] = {}
_SPARSE_REGISTRY: dict[str, type[Any]] = {}
_REGISTRY_LOCK = threading.Lock()
T = TypeVar("T", bound=type[Any])


def register_embedding_function(cls: T) -> T:
    """Class decorator: make ``cls`` rebuildable from its persisted name and config.

    The class needs ``name()`` (static), ``get_config()`` and ``build_from_config(config)`` (static).

    Example:
        >>> @register_embedding_function
        ... class Tiny:
        ...     def __call__(self, input): return [[1.0] for _ in input]
        ...     @staticmethod
        ...     def name(): return "tiny_doc_example"
        ...     def get_config(self): return {}
        ...     @staticmethod
        ...     def build_from_config(config): return Tiny()
        >>> build_embedding_function({"type": "known", "name": "tiny_doc_example", "config": {}}).__class__.__name__
        'Tiny'

    A sparse function's class goes to the sparse registry (see
    :func:`register_sparse_embedding_function`), whichever decorator registers it.

    """
    with _REGISTRY_LOCK:
        (_SPARSE_REGISTRY if is_sparse_embedding_function(cls) else _REGISTRY)[cls.name()] = cls
    return cls


def register_sparse_embedding_function(cls: T) -> T:
    """Class decorator: make a sparse embedding function rebuildable from its persisted name and config.

    The class must subclass :class:`~ragstore.sparse_vectors.SparseEmbeddingFunction` (whose
    docstring shows one written from scratch); ragstore's BM25 function is registered this way.

    Example:
        >>> from ragstore.embeddings.bm25 import ChromaBm25EmbeddingFunction
        >>> from ragstore.embeddings.hashing import HashingEmbeddingFunction
        >>> register_sparse_embedding_function(ChromaBm25EmbeddingFunction) is ChromaBm25EmbeddingFunction
        True
        >>> description = describe_embedding_function(ChromaBm25EmbeddingFunction(k=1.5))
        >>> build_sparse_embedding_function(description).k, build_embedding_function(description)
        (1.5, None)
        >>> register_sparse_embedding_function(HashingEmbeddingFunction)
        Traceback (most recent call last):
        ...
        ragstore.errors.InvalidArgumentError: HashingEmbeddingFunction is not a SparseEmbeddingFunction subclass, ...

    """
    if not is_sparse_embedding_function(cls):
        raise InvalidArgumentError(f"{cls.__name__} is not a SparseEmbeddingFunction subclass, so it cannot be registered as one")
    with _REGISTRY_LOCK:
        _SPARSE_REGISTRY[cls.name()] = cls
    return cls


P = TypeVar("P", bound="PersistedConfig")


class PersistedConfig:
    """Mixin: ``get_config`` and ``build_from_config`` from the constructor arguments a class names in ``persisted``.

    Each named argument is kept as an attribute of the same name; the config maps the
    names to those attributes, and rebuilding passes back the ones present, so a
    missing key takes the constructor's default (the defaults stay written once, in
    ``__init__``). A class whose config is not just its arguments writes the two methods
    itself.

    Example:
        >>> class Scaled(PersistedConfig):
        ...     persisted = ("factor", "dim")
        ...     def __init__(self, factor=1.0, dim=2): self.factor, self.dim = factor, dim
        >>> Scaled(factor=3.0).get_config()
        {'factor': 3.0, 'dim': 2}
        >>> Scaled.build_from_config({"factor": 0.5}).get_config()
        {'factor': 0.5, 'dim': 2}

    """

    persisted: ClassVar[tuple[str, ...]] = ()

    def get_config(self) -> dict[str, Any]:
        """Persisted configuration: each argument in ``persisted`` with its current value."""
        return {key: getattr(self, key) for key in self.persisted}

    @classmethod
    def build_from_config(cls: type[P], config: dict[str, Any]) -> P:
        """Rebuild from :meth:`get_config`'s output (a missing key takes its default)."""
        return cls(**{key: config[key] for key in cls.persisted if key in config})


def _known_name(ef: Any) -> str | None:
    name_fn = getattr(ef, "name", None)
    if not callable(name_fn) or not callable(getattr(ef, "get_config", None)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # chromadb's base class warns from its default name()
            name = name_fn()
    except Exception:  # a legacy function whose name() needs arguments or raises
        return None
    return name if isinstance(name, str) else None


def describe_embedding_function(ef: Any) -> dict[str, Any] | None:
    """What a collection stores about its embedding function.

    ``{"type": "known", "name", "config"}`` when the function can describe
    itself, ``{"type": "legacy"}`` otherwise, ``None`` for no function.
    """
    if ef is None:
        return None
    name = _known_name(ef)
    if name is None:
        return {"type": "legacy"}
    try:
        config = ef.get_config()
    except Exception:
        return {"type": "legacy"}
    return {"type": "known", "name": name, "config": config if isinstance(config, dict) else {}}


def build_embedding_function(description: dict[str, Any] | None) -> Any | None:
    """Rebuild a persisted, registered dense embedding function (``None`` if not possible, or if the name is a sparse one's)."""
    return _build(_REGISTRY, description)


def build_sparse_embedding_function(description: dict[str, Any] | None) -> Any | None:
    """Rebuild a persisted, registered sparse embedding function (``None`` if not possible, or if the name is a dense one's).

    Example:
        >>> build_sparse_embedding_function({"type": "known", "name": "chroma_bm25", "config": {"k": 1.5}}).k
        1.5

    """
    return _build(_SPARSE_REGISTRY, description)


def _build(registry: dict[str, type[Any]], description: dict[str, Any] | None) -> Any | None:
    if not description or description.get("type") != "known":
        return None
    cls = registry.get(description.get("name", ""))
    if cls is None:
        return None
    return cls.build_from_config(description.get("config") or {})


def embedding_functions_conflict(persisted: dict[str, Any] | None, given: Any) -> str | None:
    """Chromadb's conflict message when ``given`` differs from the persisted function, else ``None``."""
    if not persisted or persisted.get("type") != "known" or given is None:
        return None
    new_name = _known_name(given)
    if new_name is None or new_name == persisted.get("name"):
        return None
    return (
        "An embedding function already exists in the collection configuration, and a new one is provided. "
        "If this is intentional, please embed documents separately. "
        f"Embedding function conflict: new: {new_name} vs persisted: {persisted.get('name')}"
    )


def as_texts(input: Any) -> list[str]:  # noqa: A002 - chromadb's parameter name
    """``input`` as a list of strings, or an error saying what it was instead.

    Example:
        >>> as_texts(("a", "b"))
        ['a', 'b']

    """
    if isinstance(input, str) or not isinstance(input, Sequence):
        raise InvalidArgumentError(f"Expected a list of strings to embed, got {type(input).__name__}")
    texts = list(input)
    for text in texts:
        if not isinstance(text, str):
            raise InvalidArgumentError(f"Expected a list of strings to embed, got an item of type {type(text).__name__}")
    return texts


def embed(ef: Callable[..., Any] | None, texts: list[str], *, query: bool, op: str) -> npt.NDArray[np.float32]:
    """Run ``ef`` on ``texts`` (``embed_query`` for queries when present) and check the output."""
    if ef is None:
        raise InvalidArgumentError(f"You must provide an embedding function to compute embeddings in {op}.")
    if is_sparse_embedding_function(ef):
        raise InvalidArgumentError(
            f"{type(ef).__name__} is a sparse embedding function: it cannot compute a collection's dense embeddings in {op} "
            "(give it to a sparse vector index instead)"
        )
    fn = getattr(ef, "embed_query", None) if query else None
    vectors = fn(input=texts) if callable(fn) else ef(input=texts)
    array = normalize_embeddings(vectors, op)
    if array.shape[0] != len(texts):
        raise InvalidArgumentError(f"The embedding function returned {array.shape[0]} embeddings for {len(texts)} inputs in {op}.")
    return array
