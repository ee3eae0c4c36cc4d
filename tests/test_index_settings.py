"""``VectorIndex`` reads its HNSW settings as the catalog does: one set of defaults (``HnswSettings``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragstore.configuration import HnswSettings
from ragstore.local.index import VectorIndex


def test_the_dict_form_means_what_the_typed_settings_mean() -> None:
    typed = VectorIndex.empty(2, HnswSettings(space="ip", max_neighbors=8))
    stored = VectorIndex.empty(2, {"space": "ip", "max_neighbors": 8})
    for index in (typed, stored):
        # A key the dict lacks takes the creation default, not a fallback of the index's own.
        assert (index.space, index.max_neighbors, index.ef_construction, index.ef_search) == ("ip", 8, 100, HnswSettings().ef_search)
        assert index.matches(2, HnswSettings(space="ip", max_neighbors=8, ef_search=7, num_threads=1))
        assert not index.matches(2, HnswSettings(space="ip", max_neighbors=16))
        assert not index.matches(3, HnswSettings(space="ip", max_neighbors=8))


def test_saved_files_load_with_either_form_and_keep_the_beam_width(tmp_path: Path) -> None:
    settings = HnswSettings(max_neighbors=8, ef_search=33, num_threads=1)
    index = VectorIndex.empty(2, settings)
    index.apply(np.array([1, 2]), np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32), [])
    index.applied_seq = 1
    assert index.save(tmp_path, "c")
    for hnsw in (settings, settings.as_dict()):
        loaded = VectorIndex.load(tmp_path, "c", 2, hnsw, max_seq=1, min_seq=0)
        assert loaded is not None and loaded.labels == {1, 2} and loaded.ef_search == 33
    # Other build parameters than the files': not this graph.
    assert VectorIndex.load(tmp_path, "c", 2, HnswSettings(max_neighbors=16, num_threads=1), max_seq=1, min_seq=0) is None
