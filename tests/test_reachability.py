"""Every stored record can be found by similarity search, even where hnswlib's graph has no way to it.

hnswlib leaves a few points of its graph with no incoming link, most often in low
dimensions and with few neighbours per point. ``ragstore.local.reachability`` finds
them; the index re-links them or searches them exactly (``ragstore.local.orphans``).
Tests build such graphs for real: by cutting one point's incoming links in hnswlib's
own state, and by the low-dimension workloads that produce them by themselves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np
import numpy.typing as npt
import pytest

import ragstore
from ragstore.local import LocalAPI, index_files
from ragstore.local.index import VectorIndex
from ragstore.local.reachability import survey, unfound, unreachable

HNSW = {"space": "l2", "max_neighbors": 8, "ef_construction": 100, "ef_search": 100}
# 16 dimensions and 4 neighbours a point: a plain build of 2,000 Gaussian vectors leaves
# points with no way in (14 of 2,000 when measured), so every run meets some. Such a sparse
# graph also has reachable points a beam of 100 misses (6 of these 2,000): that is recall,
# not reachability. A beam wider than the collection never fills, so the search walks every
# point a path leads to: with it, a record its own vector misses is one no query can find.
SPARSE = {"hnsw": {"space": "l2", "max_neighbors": 4, "num_threads": 1, "ef_search": 5000}}
SPARSE_DIM = 16


def gaussian(count: int, dim: int, seed: int = 0) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


def built(vectors: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], hnsw: dict[str, Any] = HNSW) -> Any:
    graph = hnswlib.Index(space=hnsw["space"], dim=vectors.shape[1])
    graph.init_index(
        max_elements=len(vectors), ef_construction=hnsw["ef_construction"], M=hnsw["max_neighbors"], allow_replace_deleted=True
    )
    graph.add_items(vectors, labels, num_threads=1)
    graph.set_ef(hnsw["ef_search"])
    return graph


def cut_off(graph: Any, label: int) -> Any:
    """A copy of ``graph`` in which no bottom-layer link leads to ``label`` any more.

    Edits hnswlib's own serialised state (the link lists in ``data_level0``) and loads it
    back, as pickle would. ``label`` must sit on the bottom layer only and not be the entry point.
    """
    (state,) = graph.__getstate__()
    count, width = state["cur_element_count"], state["max_M0"]
    rows = state["data_level0"].view(np.uint8).reshape(count, state["size_data_per_element"])
    target = int(state["label_lookup_internal"][state["label_lookup_external"] == label][0])
    assert state["element_levels"][target] == 0 and state["enterpoint_node"] != target
    for row in rows:
        length = row[:2].view(np.uint16)
        links = row[4 : 4 + 4 * width].view(np.uint32)
        kept = [t for t in links[: length[0]] if t != target]
        links[: len(kept)] = kept
        length[0] = len(kept)
    clone = hnswlib.Index.__new__(hnswlib.Index)
    clone.__setstate__((state,))
    return clone


def bottom_layer_label(graph: Any, labels: npt.NDArray[np.int64]) -> int:
    """A label on the bottom layer only and not the entry point (most points are)."""
    (state,) = graph.__getstate__()
    lookup = dict(zip(state["label_lookup_external"].tolist(), state["label_lookup_internal"].tolist(), strict=True))
    for label in labels.tolist():
        internal = lookup[label]
        if state["element_levels"][internal] == 0 and internal != state["enterpoint_node"]:
            return int(label)
    raise AssertionError("every point is on an upper layer")


@pytest.fixture
def severed() -> Iterator[tuple[Any, npt.NDArray[np.float32], npt.NDArray[np.int64], int]]:
    """A 300-point graph, one of whose points no link leads to: (graph, vectors, labels, that label)."""
    vectors = gaussian(300, 4)
    labels = np.arange(1000, 1300, dtype=np.int64)
    graph = built(vectors, labels)
    assert len(unreachable(graph)) == 0
    lost = bottom_layer_label(graph, labels)
    yield cut_off(graph, lost), vectors, labels, lost


def test_a_point_without_incoming_links_is_unreachable_and_no_query_finds_it(severed: Any) -> None:
    graph, vectors, labels, lost = severed
    assert unreachable(graph).tolist() == [lost]
    assert survey(graph).suspects.tolist().count(lost) == 1
    own = vectors[labels == lost]
    graph.set_ef(300)  # the widest beam: the whole graph, and still not it
    found, _ = graph.knn_query(own, k=299)
    assert lost not in found[0].tolist()
    assert unfound(graph, labels, vectors, "l2", num_threads=1).tolist() == (labels == lost).tolist()


def test_without_a_temporary_folder_a_survey_reads_the_copied_state_and_finds_the_same(
    severed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A survey reads the links from a saved file; with no folder to save into, from hnswlib's state."""
    graph, _, labels, lost = severed
    for label in labels[::7].tolist():
        graph.mark_deleted(label)
    from_file = survey(graph)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    from_state = survey(graph)
    assert from_state.unreachable.tolist() == from_file.unreachable.tolist() == ([] if lost in labels[::7] else [lost])
    assert from_state.suspects.tolist() == from_file.suspects.tolist()
    assert not set(from_file.suspects.tolist()) & set(labels[::7].tolist())  # deleted points are no suspects


def test_deleted_points_still_lead_searches_on() -> None:
    """hnswlib walks through deleted points, so deleting points never makes others unreachable."""
    vectors = gaussian(300, 4)
    labels = np.arange(300, dtype=np.int64)
    graph = built(vectors, labels)
    for label in range(0, 300, 2):
        graph.mark_deleted(label)
    assert len(unreachable(graph)) == 0


def test_a_loaded_index_finds_its_unreachable_point(severed: Any) -> None:
    """The index files are hnswlib's; loading them checks the graph and re-links what no search reaches."""
    graph, vectors, labels, lost = severed
    with tempfile.TemporaryDirectory() as tmp:
        index_files.write(Path(tmp), "c", graph, set(labels.tolist()), 4, HNSW, seq=1)
        index = VectorIndex.load(Path(tmp), "c", 4, HNSW, max_seq=1, min_seq=0)
    assert index is not None
    found = index.search(vectors[labels == lost], k=1, ef=100, num_threads=1)
    assert found is not None
    assert found[0][0].tolist() == [lost]
    assert unreachable(index._index).size == 0 or lost in index.orphans.labels


def test_orphans_are_searched_exactly_and_merged_once() -> None:
    """An orphan comes from the exact side only, respects allow-lists, and counts toward k once."""
    vectors = gaussian(200, 4, seed=3)
    labels = np.arange(1, 201, dtype=np.int64)
    index = VectorIndex.empty(4, HNSW)
    index.apply(labels, vectors, [])
    index.orphans.add(labels[:3], vectors[:3])  # the graph reaches them as well: no duplicates allowed
    for row in range(3):
        found = index.search(vectors[row : row + 1], k=5, ef=100, num_threads=1)
        assert found is not None
        assert found[0][0][0] == labels[row]
        assert len(set(found[0][0].tolist())) == 5
    allowed = {int(labels[1]), 150, 151}
    found = index.search(vectors[:1], k=10, ef=100, num_threads=1, allowed=allowed)
    assert found is not None
    assert sorted(found[0][0].tolist()) == sorted(allowed)
    index.apply(np.empty(0, dtype=np.int64), np.empty((0, 4), dtype=np.float32), [int(labels[0])])
    assert labels[0] not in index.orphans.labels


@pytest.mark.parametrize("space", ["l2", "ip", "cosine"])
def test_merging_orphans_equals_exact_search_whether_or_not_an_orphan_comes_near(space: str) -> None:
    """The merge returns the graph's answer at once when no orphan beats its k-th, and merges otherwise: exact either way."""
    from ragstore.local.exact import exact_search
    from ragstore.local.orphans import Orphans

    vectors = gaussian(600, 8, seed=5)
    labels = np.arange(600, dtype=np.int64)
    orphan_rows = np.arange(0, 600, 40)  # 15 orphans spread through the data
    graph_rows = np.setdiff1d(labels, orphan_rows)
    orphans = Orphans(dim=8)
    orphans.add(labels[orphan_rows], vectors[orphan_rows])
    near = vectors[orphan_rows] + np.float32(0.01)  # an orphan is the nearest answer
    far = gaussian(50, 8, seed=6)  # most of these have no orphan in their top 5
    queries = np.concatenate([near, far]).astype(np.float32)
    k = 5
    graph = exact_search(queries, graph_rows.tolist(), vectors[graph_rows], k, space)  # a perfect graph without the orphans
    merged_labels, merged_distances = orphans.merge(queries, (graph[0].astype(np.uint64), graph[1]), k, space, None)
    truth_labels, truth_distances = exact_search(queries, labels.tolist(), vectors, k, space)
    assert merged_labels.tolist() == truth_labels.tolist()
    np.testing.assert_allclose(merged_distances, truth_distances, rtol=1e-5, atol=1e-6)
    orphan_set = set(labels[orphan_rows].tolist())
    with_orphans = sum(bool(orphan_set & set(row)) for row in truth_labels.tolist())
    assert 0 < with_orphans < len(queries)  # both ways through merge are taken
    for one in range(len(queries)):  # a single query takes its own way: the early answer or the merge
        single = orphans.merge(queries[one : one + 1], (graph[0][one : one + 1].astype(np.uint64), graph[1][one : one + 1]), k, space, None)
        assert single[0].tolist() == truth_labels[one : one + 1].tolist()


def test_a_rebuilt_graph_is_checked(tmp_path: Path) -> None:
    """Builds from SQLite (a first load, or compaction) check the graph they made."""
    vectors = gaussian(2000, SPARSE_DIM)
    with ragstore.PersistentClient(path=tmp_path) as client:
        collection = client.create_collection("sparse", configuration=SPARSE, embedding_function=None)
        collection.add(ids=[f"r{i}" for i in range(len(vectors))], embeddings=vectors)
    (tmp_path / "indexes").rename(tmp_path / "gone")  # the next open builds the graph from SQLite
    with ragstore.PersistentClient(path=tmp_path) as client:
        assert_every_record_found(client.get_collection("sparse"), vectors)


def test_every_record_of_a_sparse_graph_is_found_by_its_own_vector(client: ragstore.ClientAPI) -> None:
    """16 dimensions, 4 neighbours a point: hnswlib alone leaves some of 2,000 points with no way in."""
    vectors = gaussian(2000, SPARSE_DIM, seed=1)
    collection = client.create_collection("sparse", configuration=SPARSE, embedding_function=None)
    collection.add(ids=[f"r{i}" for i in range(len(vectors))], embeddings=vectors)
    assert_every_record_found(collection, vectors)


def assert_every_record_found(collection: Any, vectors: npt.NDArray[np.float32], ids: list[str] | None = None) -> None:
    ids = ids if ids is not None else [f"r{i}" for i in range(len(vectors))]
    found = collection.query(query_embeddings=vectors, n_results=1, include=["distances"])
    lost = [own for own, hit, distance in zip(ids, found["ids"], found["distances"], strict=True) if hit != [own] and distance[0] > 0]
    assert lost == []


def churn(collection: Any, ops: int, seed: int = 5) -> dict[str, npt.NDArray[np.float32]]:
    """Batches of 50 adds, deletes of 50 and upserts of 1-26 new vectors, after growing to 3,000 records."""
    rng = np.random.default_rng(seed)
    live: dict[str, npt.NDArray[np.float32]] = {}
    serial = 0
    for op in range(ops):
        if len(live) < 3000 or op % 3 == 0:
            new = [f"c{serial + i}" for i in range(50)]
            serial += 50
            vectors = rng.standard_normal((50, SPARSE_DIM)).astype(np.float32)
            collection.add(ids=new, embeddings=vectors)
            live.update(zip(new, vectors, strict=True))
        elif op % 3 == 1:
            gone = rng.choice(sorted(live), 50, replace=False).tolist()
            collection.delete(ids=gone)
            for record in gone:
                del live[record]
        else:
            chosen = rng.choice(sorted(live), int(rng.integers(1, 27)), replace=False).tolist()
            vectors = rng.standard_normal((len(chosen), SPARSE_DIM)).astype(np.float32)
            collection.upsert(ids=chosen, embeddings=vectors)
            live.update(zip(chosen, vectors, strict=True))
    return live


def lost_in_graph(client: ragstore.ClientAPI, name: str) -> int:
    """Live points of the collection's graph that no bottom-layer path reaches, their own vector misses, and no exact search covers.

    (A point reached only through upper-layer links can still be found: a search's descent
    through the upper layers may end on it.)
    """
    engine = client._api
    assert isinstance(engine, LocalAPI)
    with engine._db.read() as conn:
        pk = conn.execute("SELECT pk FROM collections WHERE name = ?", (name,)).fetchone()[0]
    index = engine._indexes._cached[pk].index  # the test looks inside: the graph has no public view
    cut_off = np.setdiff1d(unreachable(index._index), list(index.orphans.labels))
    vectors = np.asarray(index._index.get_items(cut_off), dtype=np.float32).reshape(len(cut_off), SPARSE_DIM)
    return int(unfound(index._index, cut_off, vectors, index.space, num_threads=1).sum())


@pytest.mark.slow
def test_a_churning_low_dimension_store_keeps_every_record_findable(tmp_path: Path) -> None:
    """The churn workload leaves hnswlib's graph with unreachable records; with the check, none stay lost.

    Measured after reopening (the index loads from its files and is checked): in the process
    that wrote, points added since the last check (at most a quarter of the index) wait for it.
    """
    lost = {}
    for check in (False, True):
        VectorIndex.checks_reachability = check
        try:
            path = tmp_path / f"store-{check}"
            with ragstore.PersistentClient(path=path) as client:
                live = churn(client.create_collection("churn", configuration=SPARSE, embedding_function=None), ops=420)
            with ragstore.PersistentClient(path=path) as client:
                collection = client.get_collection("churn")
                collection.query(query_embeddings=np.zeros((1, SPARSE_DIM), dtype=np.float32), n_results=1)  # loads the index
                lost[check] = lost_in_graph(client, "churn")
                if check:
                    assert_every_record_found(collection, np.stack(list(live.values())), list(live))
        finally:
            VectorIndex.checks_reachability = True
    assert lost[False] > 0, "the workload no longer produces unreachable points: it tests nothing"
    assert lost[True] == 0


def test_saved_files_note_the_orphans_and_loading_restores_them(tmp_path: Path) -> None:
    """A save checks the graph first and notes its orphans beside the files; a load restores them unchecked."""
    vectors = gaussian(300, 4, seed=4)
    labels = np.arange(1, 301, dtype=np.int64)
    index = VectorIndex.empty(4, HNSW)
    index.apply(labels, vectors, [])
    index.applied_seq = 1
    assert index.save(tmp_path, "c")  # checks the new points first
    assert not index._unchecked
    index.orphans.add(labels[:2], vectors[:2])  # as if the graph could not find them
    assert index.save(tmp_path, "c")
    loaded = VectorIndex.load(tmp_path, "c", 4, HNSW, max_seq=1, min_seq=0)
    assert loaded is not None
    assert loaded.orphans.labels == {1, 2}  # a check would have found them in the graph and dropped them
    found = loaded.search(vectors[:1], k=3, ef=100, num_threads=1)
    assert found is not None and found[0][0][0] == 1 and len(set(found[0][0].tolist())) == 3
    index.apply(np.empty(0, dtype=np.int64), np.empty((0, 4), dtype=np.float32), [1])
    index.save(tmp_path, "c")
    again = VectorIndex.load(tmp_path, "c", 4, HNSW, max_seq=1, min_seq=0)
    assert again is not None and again.orphans.labels == {2}
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["index", "labels", "meta.json", "reachability"]
