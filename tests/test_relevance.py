"""One relevance score (ragstore.relevance): the cosine similarity of query and hit, clipped to [0, 1], in every space and mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_data import DOCS, needs_data

import ragstore
from ragstore.errors import InvalidArgumentError
from ragstore.ingest import ingest
from ragstore.relevance import relevance, relevance_fn, relevances
from ragstore.testing import STARLETTE_PROBES

SPACES = ("l2", "cosine", "ip")


@pytest.mark.parametrize("space", SPACES)
def test_relevance_is_the_clipped_cosine_of_query_and_hit(client: ragstore.ClientAPI, space: str) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit vectors, as every embedder of ragstore returns
    collection = client.create_collection(f"unit-{space}", configuration={"hnsw": {"space": space}})
    collection.add(ids=[str(i) for i in range(40)], embeddings=vectors)
    query = vectors[0] * 0.6 + vectors[1] * 0.8
    query /= np.linalg.norm(query)
    found = collection.query(query_embeddings=[query], n_results=40, include=["distances", "embeddings"])
    cosines = np.asarray(found["embeddings"][0], dtype=np.float64) @ query.astype(np.float64)
    scores = relevances(found["distances"][0], space)
    np.testing.assert_allclose(scores, np.clip(cosines, 0.0, 1.0), atol=1e-5)
    assert scores[0] > 0.7 and scores.min() == 0.0  # the nearest is close, the far half unrelated (opposite: clipped)
    assert [relevance(d, space) for d in found["distances"][0]] == pytest.approx(scores.tolist())
    assert [relevance_fn(space)(d) for d in found["distances"][0]] == pytest.approx(scores.tolist())


def test_an_unknown_space_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="Unknown distance space 'manhattan'"):
        relevance(0.5, "manhattan")
    with pytest.raises(InvalidArgumentError):
        relevance_fn("L2")


@needs_data
def test_on_the_shared_docs_a_good_hit_and_a_junk_query_are_far_apart(tmp_path: Path) -> None:
    """With the real default model, every space gives the same relevances, and a threshold separates good from junk."""
    probes = STARLETTE_PROBES
    root = probes.copy_pages(DOCS / "markdown" / "starlette", tmp_path / "docs")
    client = ragstore.PersistentClient(path=tmp_path / "store")
    best: dict[str, tuple[list[float], list[float]]] = {}
    for space in SPACES:
        collection = client.create_collection(f"docs-{space}", configuration={"hnsw": {"space": space}})
        ingest(collection, [root])
        good, junk = (collection.query(query_texts=list(queries), n_results=1)["distances"] for queries in (probes.questions, probes.junk))
        best[space] = ([relevance(d[0], space) for d in good], [relevance(d[0], space) for d in junk])
    client.close()
    good_l2, junk_l2 = best["l2"]
    for space in ("cosine", "ip"):  # one score, whatever the space
        assert best[space][0] == pytest.approx(good_l2, abs=2e-3) and best[space][1] == pytest.approx(junk_l2, abs=2e-3)
    # Measured: good 0.51-0.73, junk 0.11-0.21 (all-MiniLM-L6-v2, ONNX).
    assert min(good_l2) >= 0.45 and max(junk_l2) <= 0.25 and min(good_l2) - max(junk_l2) >= 0.25, (good_l2, junk_l2)
