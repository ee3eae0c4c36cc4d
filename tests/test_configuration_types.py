"""The typed HNSW settings: what creation stores reads back unchanged, and a missing key means its creation default.

The catalog and the wire keep the dict form; the engine reads it through
``hnsw_settings``. Before it, the engine's fallbacks disagreed with creation's
(``num_threads`` fell back to 1 in two places, to the CPU count at creation).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ragstore
from ragstore.configuration import HNSW_KEYS, HnswSettings, apply_modification, build_configuration, default_hnsw, hnsw_settings
from ragstore.local.database import DATABASE_FILENAME

CPUS = os.cpu_count() or 1


@pytest.mark.parametrize(
    ("configuration", "metadata"),
    [
        (None, None),
        ({"hnsw": {"space": "cosine", "ef_search": 42, "max_neighbors": 8, "num_threads": 3, "resize_factor": 2}}, None),
        (None, {"hnsw:space": "ip", "hnsw:M": 12, "hnsw:sync_threshold": 50}),
        ({"spann": {"space": "cosine"}}, None),
    ],
)
def test_settings_read_back_exactly_what_creation_stored(configuration: dict[str, Any] | None, metadata: dict[str, Any] | None) -> None:
    stored = build_configuration(configuration, metadata)
    settings = hnsw_settings(stored)
    assert settings.as_dict() == stored["hnsw"]
    # Same keys in the same order, so the JSON the catalog and the wire carry is byte for byte the same.
    assert json.dumps(settings.as_dict()) == json.dumps(stored["hnsw"])


def test_one_set_of_defaults() -> None:
    assert HNSW_KEYS == (
        "space",
        "ef_construction",
        "ef_search",
        "max_neighbors",
        "num_threads",
        "resize_factor",
        "sync_threshold",
        "batch_size",
    )
    assert default_hnsw() == build_configuration(None, None)["hnsw"] == HnswSettings().as_dict()
    assert HnswSettings().num_threads == CPUS
    assert (HnswSettings().max_neighbors, HnswSettings().ef_search, HnswSettings().sync_threshold) == (32, 100, 1000)


def test_a_missing_key_takes_its_creation_default_not_one_thread() -> None:
    assert hnsw_settings({"hnsw": {"space": "ip", "ef_search": 7}}) == HnswSettings(space="ip", ef_search=7)
    assert hnsw_settings({"hnsw": {"space": "ip"}}).num_threads == CPUS
    assert hnsw_settings({}) == hnsw_settings({"hnsw": None}) == HnswSettings()


def test_settings_are_frozen() -> None:
    settings = HnswSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ef_search = 5  # type: ignore[misc]


def test_a_modified_configuration_is_read_afresh() -> None:
    before = build_configuration(None, None)
    assert hnsw_settings(before).ef_search == 100
    after = apply_modification(before, {"hnsw": {"ef_search": 50, "num_threads": 2}})
    assert (hnsw_settings(after).ef_search, hnsw_settings(after).num_threads) == (50, 2)
    assert hnsw_settings(before).ef_search == 100  # modify copies, so the old settings stay right


def _strip_stored_hnsw(path: Path, keys: tuple[str, ...]) -> None:
    with sqlite3.connect(path / DATABASE_FILENAME) as conn:
        for pk, text in conn.execute("SELECT pk, configuration_json FROM collections").fetchall():
            configuration = json.loads(text)
            configuration["hnsw"] = {k: v for k, v in configuration["hnsw"].items() if k not in keys}
            conn.execute("UPDATE collections SET configuration_json = ? WHERE pk = ?", (json.dumps(configuration), pk))
    conn.close()


def test_a_store_whose_stored_settings_lack_keys_answers_with_the_defaults(tmp_path: Path) -> None:
    rng = np.random.default_rng(15)
    data = rng.standard_normal((300, 8)).astype(np.float32)
    ids = [f"r{i}" for i in range(len(data))]
    with ragstore.PersistentClient(tmp_path) as client:
        client.create_collection("typed", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None).add(
            ids=ids, embeddings=data
        )
    missing = ("ef_search", "num_threads", "sync_threshold", "ef_construction")
    _strip_stored_hnsw(tmp_path, missing)

    with ragstore.PersistentClient(tmp_path) as client:
        col = client.get_collection("typed", embedding_function=None)
        assert not set(missing) & set(col.configuration["hnsw"])  # what is stored is shown as stored
        query = rng.standard_normal((1, 8)).astype(np.float32)
        got = col.query(query_embeddings=query, n_results=5, include=["distances"])
        unit = data / np.linalg.norm(data, axis=1, keepdims=True)
        cosine = 1 - unit @ (query[0] / np.linalg.norm(query[0]))
        assert got["ids"][0] == [ids[i] for i in np.argsort(cosine)[:5]]
        assert got["distances"][0] == pytest.approx(np.sort(cosine)[:5], abs=1e-5)
        with pytest.raises(ragstore.InvalidArgumentError, match="distance function"):
            col.modify(metadata={"hnsw:space": "l2"})  # the stored space, cosine, is still the one compared
