"""Node scores from ragstore distances, and maximal marginal relevance (MMR).

ragstore returns distances in the collection's space: ``cosine`` (1 - cos), ``ip``
(1 - dot) and ``l2`` (squared Euclidean). LlamaIndex expects higher-is-better scores.
A dense hit's score is ragstore's one relevance (:func:`ragstore.relevance.relevances`), the
number the CLI, the chatbot and the LangChain integration show for the same hit: the cosine
similarity of query and node, clipped to [0, 1], for every space (1 - d for cosine and ip,
1 - d/2 for l2 on unit vectors). So a ``SimilarityPostprocessor(similarity_cutoff=0.3)``
means the same on every collection: on the shared docs with all-MiniLM-L6-v2, a question the
docs answer scores ~0.6-0.7 for its best hit and a junk query ~0.1-0.2. The chroma
integration's ``exp(-distance)`` underflowed to 0 for large distances (llama_index #12677,
#19910); ``1 / (1 + d)`` (this package's earlier ``l2`` score, and LangChain's) put a junk
query at 0.37 against 0.43 for a good hit on an ``l2`` collection. MMR picks its nodes by MMR's trade-off, and each pick is scored by the
same relevance. Hybrid and BM25 scores are not distances in a space and keep their own scale
(:mod:`.text_modes`).

Example:
    >>> similarities([0.25, 3.0], "cosine"), similarities([0.5, 3.0], "l2")
    ([0.75, 0.0], [0.75, 0.0])

"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings

from llama_index.vector_stores.ragstore.errors import UnsupportedQueryError
from ragstore.relevance import relevances

DEFAULT_MMR_PREFETCH_FACTOR = 4.0


def similarities(distances: Sequence[float], space: str) -> list[float]:
    """The node scores of dense hits at ``distances`` in ``space``: ragstore's relevance (see the module docstring)."""
    return [float(score) for score in relevances(list(distances), space)] if distances else []


def prefetch_k(top_k: int, mmr_prefetch_k: int | None, mmr_prefetch_factor: float | None) -> int:
    """How many candidates MMR re-ranks: ``mmr_prefetch_k``, or ``top_k * mmr_prefetch_factor`` (default 4).

    Raises:
        UnsupportedQueryError: both arguments given (the chroma integration's rule), or a value < 1.

    Example:
        >>> prefetch_k(3, None, None), prefetch_k(3, 5, None), prefetch_k(3, None, 2.5)
        (12, 5, 7)

    """
    if mmr_prefetch_k is not None and mmr_prefetch_factor is not None:
        raise UnsupportedQueryError("'mmr_prefetch_factor' and 'mmr_prefetch_k' cannot coexist in a call to query()")
    if mmr_prefetch_k is not None:
        count = int(mmr_prefetch_k)
    else:
        factor = DEFAULT_MMR_PREFETCH_FACTOR if mmr_prefetch_factor is None else float(mmr_prefetch_factor)
        count = int(top_k * factor)
    if count < 1:
        raise UnsupportedQueryError(f"MMR needs at least one candidate to prefetch, got {count}")
    return max(count, top_k)


def mmr_select(
    query_embedding: Sequence[float], embeddings: Sequence[Sequence[float]], ids: Sequence[str], top_k: int, mmr_threshold: float | None
) -> tuple[list[float], list[str]]:
    """Pick ``top_k`` of the candidates by MMR (LlamaIndex's ``get_top_k_mmr_embeddings``, cosine).

    ``mmr_threshold`` weighs relevance against diversity: 1 ranks by relevance only, 0
    strongly avoids results similar to those already picked (default 0.5).

    Example:
        >>> mmr_select([1.0, 0.0], [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]], ["a", "b", "c"], 2, 1.0)[1]
        ['a', 'b']

    """
    if not ids:
        return [], []
    scores, picked = get_top_k_mmr_embeddings(
        list(query_embedding),
        [list(e) for e in embeddings],
        similarity_top_k=top_k,
        embedding_ids=list(ids),
        mmr_threshold=mmr_threshold,
    )
    return [float(s) for s in scores], [str(i) for i in picked]
