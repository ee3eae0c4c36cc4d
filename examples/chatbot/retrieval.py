"""Retrieval: a question in, ranked passages with their sources out.

A :class:`Retriever` queries a ragstore (or chromadb) collection with its own
embedding function and keeps only the passages that are relevant enough.

Ranking: a collection with a BM25 index (the chatbot's store creates one, see
:mod:`.store`) is searched with ``query(mode="hybrid")``, BM25 and dense
similarity fused; one without (an older store, or a chromadb collection) is
searched dense, as chromadb's ``query`` does.

Relevance gate, the same in both modes for dense similarity: every passage's
relevance (``score``) is :func:`ragstore.relevance.relevance`, ragstore's one
relevance score (the cosine similarity of question and passage, clipped to [0, 1]):
in dense mode from the distance in the collection's space, in hybrid mode from the
passages' embeddings and the question's (hybrid ranks by fused scores, which are no
distances). A passage is relevant when

1. its relevance is at least ``min_relevance`` (default :data:`DEFAULT_MIN_RELEVANCE`,
   0.35), or
2. (hybrid mode only) the question has at least :data:`MIN_QUERY_TERMS` distinct
   BM25 terms (words after stop words and stemming, as the index sees them) and
   the passage contains every one of them.

When none is left, the question is about something the collection does not cover.
Rule 2 is lexical evidence that dense similarity misses: "How do I test my
application?" reaches at best 0.34 with all-MiniLM-L6-v2 over the httpx and
Starlette docs, yet Starlette's ``testclient.md`` holds both "test" and
"application". One matched term is not enough: a question whose only term is
"use" would match most passages.

Measured on 52 on-topic questions (32 over the httpx/Starlette docs, 20 over the
Python 3.11 docs in ``../shared/data/docs``), each with the file that answers it,
and 30 off-topic ones (recipes, travel, passwords, ...) asked of both collections,
k = 4: dense with rule 1 alone answers 51/52 on-topic questions, keeps the
answering file for 46, and answers 4/60 off-topic ones; hybrid with rules 1 and 2
answers 52/52, keeps the file for 49 and answers 3/60 off-topic ones (no off-topic
passage below the similarity threshold holds every query term: the three come from
rule 1, e.g. "How do I reset my password?" against the Python docs). Hybrid ranking
alone (rule 1) keeps the file for 48: rule 2 adds one question of this set, the
testing one, so it rests on few cases; what the set shows is that it costs nothing
off topic. Requiring in addition a top-10 BM25 rank or a similarity floor of 0.2 or
0.25 changed none of these counts, so the rule stays without them; accepting two
thirds of the terms let two more off-topic questions through.
A hybrid retrieval costs about what a dense one does: 16.9 against 15.2 ms (median,
question embedding included) over the 728 passages of the httpx/Starlette docs.

Example:
    >>> import ragstore
    >>> col = ragstore.EphemeralClient().create_collection("ex-retrieval", embedding_function=ragstore.HashingEmbeddingFunction())
    >>> col.add(ids=["a"], documents=["apples are red"], metadatas=[{"source": "fruit.md", "headers": "Fruit > Apples"}])
    >>> [p.label for p in Retriever(col, min_relevance=0.0).retrieve("apples are red")]
    ['fruit.md · Fruit > Apples']

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ragstore.bm25_text import Bm25Tokenizer
from ragstore.collection_schema import has_bm25_index, sparse_indexes
from ragstore.relevance import relevance, relevance_fn

DEFAULT_MIN_RELEVANCE = 0.35
"""Passages with a lower relevance (cosine similarity) are not relevant, unless rule 2 keeps them (the measurements above)."""
MIN_QUERY_TERMS = 2
"""Fewest distinct BM25 terms a question needs before containing all of them makes a passage relevant."""

Mode = Literal["hybrid", "dense"]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: its text, metadata, ``1 - relevance`` to the query and, in hybrid mode, the query terms it holds.

    ``distance`` is ``1 -`` :attr:`score` (the cosine distance for unit vectors), whatever the collection's space:
    :meth:`Retriever.retrieve` fills it from :func:`ragstore.relevance.relevance`.

    Example:
        >>> p = Passage("x1", "text", {"source": "guide.pdf", "page": 3}, 0.25, (2, 3))
        >>> p.label, round(p.score, 2), p.all_terms
        ('guide.pdf · page 3', 0.75, False)

    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    distance: float = 0.0
    terms: tuple[int, int] | None = None
    """``(query terms in the passage, distinct query terms)`` in hybrid mode; ``None`` in dense mode."""
    kept_for: Literal["similarity", "terms"] = "similarity"
    """Which rule of the gate kept it: its similarity (rule 1), or its query terms alone (rule 2)."""

    @property
    def score(self) -> float:
        """The relevance to the query in [0, 1] (:mod:`ragstore.relevance`: the cosine similarity), in either mode; higher is better."""
        return 1.0 - self.distance

    @property
    def all_terms(self) -> bool:
        """Whether the passage holds every one of at least :data:`MIN_QUERY_TERMS` query terms (rule 2)."""
        return self.terms is not None and self.terms[1] >= MIN_QUERY_TERMS and self.terms[0] == self.terms[1]

    @property
    def evidence(self) -> str:
        """Why the passage is a source, for listings: its score, and its query terms when they alone kept it.

        Example:
            >>> Passage("a", "t", {}, 0.2, (2, 2)).evidence, Passage("b", "t", {}, 0.67, (2, 2), "terms").evidence
            ('score 0.80', 'score 0.33, all 2 query terms')

        """
        terms = f", all {self.terms[1]} query terms" if self.kept_for == "terms" and self.terms is not None else ""
        return f"score {self.score:.2f}{terms}"

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


def bm25_tokenizer(schema: Any) -> Bm25Tokenizer | None:
    """The tokenizer of the schema's BM25 index (its stop words), or ``None`` when the schema declares none.

    Example:
        >>> import ragstore
        >>> bm25_tokenizer(ragstore.bm25_schema()).tokenize("How do I test my application?")
        ['test', 'applic']
        >>> bm25_tokenizer(None) is None
        True

    """
    if not has_bm25_index(schema):
        return None
    key = next(spec.key for spec in sparse_indexes(schema) if spec.bm25)
    try:  # the declared function carries the configured stop words; chromadb's Schema shape
        function = schema.keys[key].sparse_vector.sparse_vector_index.config.embedding_function
        return function.tokenizer if isinstance(function.tokenizer, Bm25Tokenizer) else Bm25Tokenizer()
    except AttributeError:  # a schema given as JSON: the default function's tokenizer
        return Bm25Tokenizer()


class Retriever:
    """Top-``k`` passages of a collection for a query, hybrid when it has a BM25 index, behind a relevance gate.

    Args:
        collection: A collection with an embedding function (ragstore's default: all-MiniLM-L6-v2).
        k: Passages to fetch per query.
        min_relevance: Smallest relevance kept by similarity (rule 1 of the module docstring).
        lexical: Whether a passage holding every query term is kept too (rule 2; hybrid mode only).

    Attributes:
        mode: ``"hybrid"`` or ``"dense"`` (see the module docstring).

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("ex-retriever", embedding_function=ragstore.HashingEmbeddingFunction())
        >>> retriever = Retriever(col)
        >>> retriever.mode, retriever.retrieve("anything")
        ('dense', [])

    """

    def __init__(self, collection: Any, k: int = 4, min_relevance: float = DEFAULT_MIN_RELEVANCE, lexical: bool = True) -> None:
        self.collection = collection
        self.k = k
        self.min_relevance = min_relevance
        self.lexical = lexical
        configuration = getattr(collection, "configuration", None) or {}
        self.space = str((configuration.get("hnsw") or {}).get("space") or "l2")
        self.relevance = relevance_fn(self.space)
        # Only ragstore's query takes mode=; a chromadb collection stays dense whatever its schema says.
        ragstore_collection = type(collection).__module__.startswith("ragstore.")
        self.tokenizer = bm25_tokenizer(getattr(collection, "schema", None)) if ragstore_collection else None
        self.mode: Mode = "hybrid" if self.tokenizer is not None else "dense"

    def retrieve(self, query: str) -> list[Passage]:
        """The relevant passages for ``query``, best first (empty when nothing is relevant)."""
        count = self.collection.count()
        if count == 0:
            return []
        passages = self._hybrid(query, min(self.k, count)) if self.mode == "hybrid" else self._dense(query, min(self.k, count))
        kept = []
        for passage in passages:
            if passage.score >= self.min_relevance:
                kept.append(passage)
            elif self.lexical and passage.all_terms:
                kept.append(replace(passage, kept_for="terms"))
        return kept

    def _dense(self, query: str, n: int) -> list[Passage]:
        hits = self.collection.query(query_texts=[query], n_results=n, include=["documents", "metadatas", "distances"])
        rows = zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0], hits["distances"][0], strict=True)
        return [Passage(id_, text or "", dict(meta or {}), 1.0 - self.relevance(d)) for id_, text, meta, d in rows]

    def _hybrid(self, query: str, n: int) -> list[Passage]:
        assert self.tokenizer is not None
        function = self.collection.embedding_function
        vector = unit(getattr(function, "embed_query", function)([query])[0])
        # The question's own vector goes with its text, so the similarities below are to the vector the engine searched with.
        hits = self.collection.query(
            query_texts=[query],
            query_embeddings=[vector.tolist()],
            n_results=n,
            mode="hybrid",
            include=["documents", "metadatas", "embeddings"],
        )
        wanted = set(self.tokenizer.tokenize(query))
        passages = []
        rows = zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0], hits["embeddings"][0], strict=True)
        for id_, text, meta, embedding in rows:
            score = relevance_of_vectors(unit(embedding), vector)
            held = len(wanted.intersection(self.tokenizer.tokenize(text or "")))
            passages.append(Passage(id_, text or "", dict(meta or {}), 1.0 - score, (held, len(wanted))))
        return passages


def unit(vector: Sequence[float] | Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``vector`` scaled to length 1 (a zero vector stays zero).

    Example:
        >>> unit([3.0, 4.0]).tolist()
        [0.6, 0.8]

    """
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array))
    return array / norm if norm else array


def relevance_of_vectors(a: np.ndarray[Any, np.dtype[np.float64]], b: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    """The relevance of two unit vectors: :func:`ragstore.relevance.relevance` of their cosine distance.

    Example:
        >>> round(relevance_of_vectors(unit([1.0, 0.0]), unit([1.0, 1.0])), 4), relevance_of_vectors(unit([1.0, 0.0]), unit([-1.0, 0.0]))
        (0.7071, 0.0)

    """
    return relevance(1.0 - float(a @ b), "cosine")


def retrieval_description(retriever: Retriever) -> str:
    """How the retriever ranks, for start lines; with a hint when a collection without a BM25 index limits it to dense.

    Example:
        >>> import ragstore
        >>> col = ragstore.EphemeralClient().create_collection("ex-describe", schema=ragstore.bm25_schema())
        >>> retrieval_description(Retriever(col))
        'hybrid search (BM25 + dense)'

    """
    if retriever.mode == "hybrid":
        return "hybrid search (BM25 + dense)"
    return (
        f"dense search: collection {retriever.collection.name!r} has no BM25 index "
        "(it predates hybrid search; delete it, or the store folder, and ingest again for hybrid)"
    )
