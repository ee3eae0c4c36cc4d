"""The embedding actors: one model per actor, batches of rows in, the same rows with their vectors out.

:class:`Embedder` is the callable class Ray Data's ``map_batches`` runs in an actor
pool: it builds the collection's embedding function once, in its actor, loads the model
before the first batch, and embeds each batch's ``upsert`` rows with
:func:`ragstore.embeddings.base.embed` (the checks a collection's ``upsert`` makes).

The function travels as an :class:`EmbedderRecipe`: a registered function (ragstore's
ONNX default, sentence-transformers, hashing, OpenAI-compatible) as the description
the collection persists, so an actor rebuilds it as any client opening the collection
would, and never receives a loaded model (an ONNX session does not pickle); any other
function is pickled as it is.

Example:
    >>> import numpy as np, ragstore
    >>> from ragstore.distributed.rows import delete_row, upsert_row
    >>> recipe = EmbedderRecipe.of(ragstore.HashingEmbeddingFunction(dim=8))
    >>> recipe.description
    {'type': 'known', 'name': 'ragstore_hashing', 'config': {'dim': 8}}
    >>> rows = [upsert_row("a", "apples", {}), delete_row("b")]
    >>> batch = {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}
    >>> out = Embedder(recipe)(batch)
    >>> [len(vector) for vector in out["embedding"]]  # 8 float32 bytes for the upsert, none for the delete
    [32, 0]

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstore.distributed.rows import EMBEDDING, UPSERT
from ragstore.embeddings.base import build_embedding_function, describe_embedding_function, embed
from ragstore.ingest_parts import model_loader

Batch = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class EmbedderRecipe:
    """How an actor gets its embedding function: a persisted description, or the function itself.

    Attributes:
        description: The registry description (``{"type": "known", "name", "config"}``) of a registered function.
        function: Any other function, pickled as it is.

    """

    description: dict[str, Any] | None = None
    function: Any = None

    @classmethod
    def of(cls, function: Any) -> EmbedderRecipe:
        """The recipe for ``function``: its description if the registry rebuilds it as the same class, else itself.

        Example:
            >>> EmbedderRecipe.of(lambda input: [[1.0] for _ in input]).description is None
            True

        """
        description = describe_embedding_function(function)
        if description is not None and description.get("type") == "known":
            rebuilt = build_embedding_function(description)
            if rebuilt is not None and type(rebuilt) is type(function):
                return cls(description=description)
        return cls(function=function)

    def build(self) -> Any:
        """The embedding function, built (its model not loaded yet)."""
        return build_embedding_function(self.description) if self.description is not None else self.function


class Embedder:
    """One actor's model: embeds the ``upsert`` rows of each batch and adds the ``embedding`` column.

    Args:
        recipe: The collection's embedding function, as :meth:`EmbedderRecipe.of` made it.

    """

    def __init__(self, recipe: EmbedderRecipe) -> None:
        self.function = recipe.build()
        load = model_loader(self.function)
        if load is not None:  # now, when the actor starts, not inside its first batch
            load()

    def __call__(self, batch: Batch) -> Batch:
        """``batch`` with an ``embedding`` column: each upsert row's float32 vector as bytes, ``b""`` on the others."""
        wanted = np.flatnonzero(batch["kind"] == UPSERT)
        vectors: list[bytes] = [b""] * len(batch["kind"])
        if len(wanted):
            documents = [str(text) for text in batch["document"][wanted]]
            array = embed(self.function, documents, query=False, op="upsert")
            for index, vector in zip(wanted, array, strict=True):
                vectors[index] = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        batch[EMBEDDING] = np.array(vectors, dtype=object)
        return batch
