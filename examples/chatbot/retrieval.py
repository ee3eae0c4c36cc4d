"""Retrieval: a question in, ranked passages with their sources out.

A :class:`Retriever` queries a ragstore (or chromadb) collection with its own
embedding function and keeps only the passages that are relevant enough.

Relevance threshold: every distance is converted to a cosine distance
(``1 - cosine similarity``) from the collection's space (``l2`` on unit vectors,
as the default embedder makes: ``d / 2``; ``cosine`` and ``ip``: as is), and passages
farther than ``max_distance`` (default :data:`DEFAULT_MAX_DISTANCE`, i.e. a
cosine similarity below 0.35) are dropped. When none is left, the question is
about something the collection does not cover. A passage's ``score`` is its
cosine similarity, ``1 - distance``.

Example:
    >>> import ragstore
    >>> col = ragstore.EphemeralClient().create_collection("ex-retrieval", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> col.add(ids=["a"], documents=["apples are red"], metadatas=[{"source": "fruit.md", "headers": "Fruit > Apples"}])
    >>> [p.label for p in Retriever(col, max_distance=2.0).retrieve("apples are red")]
    ['fruit.md · Fruit > Apples']

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_DISTANCE = 0.65
"""Passages with a cosine distance above this are not relevant (cosine similarity under 0.35)."""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: its text, metadata and cosine distance to the query.

    Example:
        >>> p = Passage("x1", "text", {"source": "guide.pdf", "page": 3}, 0.25)
        >>> p.label, round(p.score, 2)
        ('guide.pdf · page 3', 0.75)

    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    distance: float = 0.0

    @property
    def score(self) -> float:
        """Cosine similarity to the query (``1 - distance``); higher is better."""
        return 1.0 - self.distance

    @property
    def source(self) -> str:
        """The file the passage comes from (its ``source`` metadata, else its id)."""
        return str(self.metadata.get("source") or self.id)

    @property
    def label(self) -> str:
        """``file · page N`` or ``file · Section > Heading`` (whichever the metadata has)."""
        parts = [self.source]
        if self.metadata.get("page") is not None:
            parts.append(f"page {self.metadata['page']}")
        section = self.metadata.get("headers") or self.metadata.get("title")
        if section:
            parts.append(str(section))
        return " · ".join(parts)


def cosine_distance(distance: float, space: str) -> float:
    """Convert a distance in ``space`` to ``1 - cosine similarity`` (exact for unit vectors under ``l2``).

    Example:
        >>> cosine_distance(0.5, "l2"), cosine_distance(0.5, "cosine")
        (0.25, 0.5)

    """
    return distance / 2.0 if space == "l2" else distance


class Retriever:
    """Top-``k`` passages of a collection for a query, above a relevance threshold.

    Args:
        collection: A collection with an embedding function (ragstore's default: all-MiniLM-L6-v2).
        k: Passages to fetch per query.
        max_distance: Largest cosine distance kept (see the module docstring).

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("ex-retriever", embedding_function=ragstore.HashingEmbeddingFunction())
        >>> Retriever(col).retrieve("anything")
        []

    """

    def __init__(self, collection: Any, k: int = 4, max_distance: float = DEFAULT_MAX_DISTANCE) -> None:
        self.collection = collection
        self.k = k
        self.max_distance = max_distance
        configuration = getattr(collection, "configuration", None) or {}
        self.space = str((configuration.get("hnsw") or {}).get("space") or "l2")

    def retrieve(self, query: str) -> list[Passage]:
        """The relevant passages for ``query``, best first (empty when nothing is relevant)."""
        count = self.collection.count()
        if count == 0:
            return []
        hits = self.collection.query(query_texts=[query], n_results=min(self.k, count), include=["documents", "metadatas", "distances"])
        passages = []
        for id_, text, meta, distance in zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0], hits["distances"][0], strict=True):
            passage = Passage(id_, text or "", dict(meta or {}), cosine_distance(float(distance), self.space))
            if passage.distance <= self.max_distance:
                passages.append(passage)
        return passages
