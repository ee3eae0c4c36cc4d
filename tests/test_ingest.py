"""Incremental ingestion (``ragstore.ingest``) and the ``ingest`` / ``query`` / ``collections`` commands.

Most tests use the hashing embedder (they are about ingestion, not embeddings); one
runs the whole flow with the real default model. The CLI runs as a real process.
"""

from __future__ import annotations

import _thread
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import RunningServer
from shared_data import GUTENBERG, MARKDOWN, copy_markdown

import ragstore
from ragstore.documents import RecursiveCharacterSplitter, load_directory, split_documents
from ragstore.ingest import IngestStats, find_files, ingest

MARKDOWN_FILES = len(list(MARKDOWN.rglob("*.md")))
CLI_ENV = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTORE_")}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A private copy of real Markdown docs (tests change files in it)."""
    root = tmp_path / "docs"
    shutil.copytree(MARKDOWN, root)
    return root


@pytest.fixture
def collection(client: ragstore.ClientAPI) -> Any:
    return client.create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())


def stored(col: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    everything = col.get(include=["documents", "metadatas"])
    return {i: (d, m) for i, d, m in zip(everything["ids"], everything["documents"], everything["metadatas"], strict=True)}


def expected_chunks(root: Path, chunk_size: int = 1000, chunk_overlap: int = 150) -> dict[str, str]:
    """``{source#chunk=i: text}`` computed directly from the loaders and splitter."""
    splitter = RecursiveCharacterSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    return {c.id: c.text for c in split_documents(load_directory(root), splitter)}


def by_chunk(col: Any) -> dict[str, str]:
    """Stored chunks keyed like :func:`expected_chunks` (the root prefix removed)."""
    return {i.split("/", 1)[1]: doc for i, (doc, _) in stored(col).items()}


# ------------------------------------------------------------------ the library function


def test_ingest_stores_every_chunk_with_its_metadata(collection: Any, docs: Path) -> None:
    stats = ingest(collection, [docs])
    expected = expected_chunks(docs)
    assert by_chunk(collection) == expected
    assert (stats.files, stats.files_done, stats.failed, stats.chunks, stats.written) == (
        MARKDOWN_FILES,
        MARKDOWN_FILES,
        [],
        len(expected),
        len(expected),
    )
    for doc, meta in stored(collection).values():
        assert meta["root"] == docs.resolve().as_posix()
        assert (docs / meta["source"]).is_file()
        text = (docs / meta["source"]).read_text(encoding="utf-8")
        assert text[meta["start_index"] : meta["start_index"] + len(doc)] == doc


def test_reingesting_unchanged_files_writes_nothing(collection: Any, docs: Path) -> None:
    first = ingest(collection, [docs])
    calls: list[int] = []
    original = collection._embedding_function

    def counting(input: list[str]) -> Any:  # noqa: A002 - the protocol's parameter name
        calls.append(len(input))
        return original(input)

    collection._embedding_function = counting
    again = ingest(collection, [docs])
    assert (again.written, again.deleted, again.unchanged, calls) == (0, 0, first.chunks, [])


def test_changed_shrunk_and_deleted_files_are_mirrored(collection: Any, docs: Path) -> None:
    ingest(collection, [docs])
    (docs / "api.md").write_text("# API\n\nNow a short page.\n", encoding="utf-8")  # shrinks: stale chunks go
    (docs / "quickstart.md").write_text((docs / "quickstart.md").read_text() + "\n\nA new closing paragraph.\n")
    (docs / "http2.md").unlink()
    (docs / "new-page.md").write_text("# New\n\nBrand new content about proxies.\n")
    stats = ingest(collection, [docs])
    assert by_chunk(collection) == expected_chunks(docs)
    assert stats.deleted > 0 and stats.written > 0
    sources = {meta["source"] for _, meta in stored(collection).values()}
    assert "http2.md" not in sources and "new-page.md" in sources


def test_a_broken_file_is_reported_and_keeps_its_earlier_chunks(collection: Any, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    stats = ingest(collection, [docs])
    assert [f.source for f in stats.failed] == ["broken.pdf"]
    assert stats.files_done == stats.files
    healthy = by_chunk(collection)
    assert healthy == expected_chunks(docs)  # every other file made it

    # A file that loaded before and fails now keeps its chunks (no data loss on a bad read).
    before = {i for i, (_, m) in stored(collection).items() if m["source"] == "index.md"}
    (docs / "index.md").chmod(0)
    try:
        if os.access(docs / "index.md", os.R_OK):  # root can read anything: nothing to test here
            return
        stats = ingest(collection, [docs])
        assert "index.md" in [f.source for f in stats.failed]
        assert {i for i, (_, m) in stored(collection).items() if m["source"] == "index.md"} == before
    finally:
        (docs / "index.md").chmod(0o644)


def test_two_roots_with_the_same_file_names_stay_apart(collection: Any, tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "README.md").write_text(f"# {name}\n\nThis is folder {name}.\n")
    ingest(collection, [tmp_path / "one", tmp_path / "two"])
    assert collection.count() == 2
    (tmp_path / "two" / "README.md").unlink()
    ingest(collection, [tmp_path / "two"])
    assert [d for d, _ in stored(collection).values()] == ["# one\n\nThis is folder one."]


def test_progress_reports_every_file(collection: Any, docs: Path) -> None:
    seen: list[IngestStats] = []
    ingest(collection, [docs], progress=lambda s: seen.append(IngestStats(**vars(s))))
    done = [s.files_done for s in seen]
    assert done == sorted(done) and done[-1] == MARKDOWN_FILES and seen[0].files == MARKDOWN_FILES


# ------------------------------------------------------------------ the pipeline (plan, embed and write in threads)

BATCH = 4


def one_long_file(tmp_path: Path) -> Path:
    """A folder with one file of 40 chunks of 100 characters (10 batches of ``BATCH``)."""
    root = tmp_path / "long"
    root.mkdir()
    (root / "apples.txt").write_text(
        "\n\n".join(f"Apple number {i:03d} is red and sweet; it grows in orchard {i % 7}, by the mill." for i in range(40))
    )
    return root


def ingest_long(col: Any, root: Path, **kwargs: Any) -> IngestStats:
    return ingest(col, [root], chunk_size=100, chunk_overlap=0, batch_size=BATCH, **kwargs)


def ingest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ragstore-ingest")]


def assert_whole_batches_of(col: Any, root: Path, most: int) -> int:
    """Every stored chunk is exact and they make whole batches (a batch is one atomic upsert); returns how many."""
    partial = by_chunk(col)
    expected = expected_chunks(root, chunk_size=100, chunk_overlap=0)
    assert all(expected[i] == text for i, text in partial.items())
    assert len(partial) % BATCH == 0 and len(partial) <= most, len(partial)
    return len(partial)


class Embedder:
    """The collection's own embedding function, wrapped to act on a given call (1-based) and to time itself."""

    def __init__(self, col: Any, on_call: Callable[[int, list[str]], None] = lambda n, texts: None, delay: float = 0.0) -> None:
        self.inner, self.on_call, self.delay = col.embedding_function, on_call, delay
        self.calls, self.busy = 0, 0.0
        col._embedding_function = self

    def __call__(self, input: list[str]) -> Any:  # noqa: A002 - the protocol's parameter name
        started = time.perf_counter()
        self.calls += 1
        self.on_call(self.calls, input)
        time.sleep(self.delay)
        vectors = self.inner(input)
        self.busy += time.perf_counter() - started
        return vectors


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    """After the test, no ingest stage is alive and no thread started during the test still runs."""
    before = set(threading.enumerate())
    yield
    assert ingest_threads() == []
    # The store's background indexer belongs to the open client (its close stops it), not to the ingest.
    started = [t for t in threading.enumerate() if t not in before and t.name.startswith("ragstore")]
    assert [t for t in started if t.name != "ragstore-indexer"] == []


def test_batch_two_is_embedded_while_batch_one_is_written(collection: Any, tmp_path: Path) -> None:
    root = one_long_file(tmp_path)
    second_embedding = threading.Event()
    embedder = Embedder(collection, lambda n, _: second_embedding.set() if n == 2 else None, delay=0.05)
    upsert, overlapped, write_busy = collection.upsert, [], [0.0]

    def observed_upsert(**kwargs: Any) -> None:
        if not overlapped:  # the first write waits to see the next batch embedded meanwhile (sequential code never would)
            overlapped.append(second_embedding.wait(timeout=10))
        started = time.perf_counter()
        time.sleep(0.05)  # a write as slow as an embedding (a remote server, a slow disk)
        upsert(**kwargs)
        write_busy[0] += time.perf_counter() - started

    collection.upsert = observed_upsert
    started = time.perf_counter()
    stats = ingest_long(collection, root)
    wall = time.perf_counter() - started
    assert overlapped == [True]
    assert (stats.written, stats.embedded, embedder.calls) == (40, 40, 10)
    assert by_chunk(collection) == expected_chunks(root, chunk_size=100, chunk_overlap=0)
    # 10 embeddings and 10 writes of >= 50 ms each: one after the other >= 1 s, overlapped about half of it.
    assert wall < 0.8 * (embedder.busy + write_busy[0]), (wall, embedder.busy, write_busy[0])


class ModelCrashedError(Exception):
    pass


def test_an_embedding_error_stops_every_stage_and_propagates_as_itself(collection: Any, tmp_path: Path, no_thread_left: None) -> None:
    root = one_long_file(tmp_path)

    def crash(call: int, _: list[str]) -> None:
        if call == 3:
            raise ModelCrashedError("out of memory")

    Embedder(collection, crash)
    with pytest.raises(ModelCrashedError, match="out of memory"):
        ingest_long(collection, root)
    assert ingest_threads() == []
    assert_whole_batches_of(collection, root, most=2 * BATCH)  # batches 1 and 2 may have landed, never batch 3


def test_a_write_error_stops_every_stage_and_propagates_as_itself(collection: Any, tmp_path: Path, no_thread_left: None) -> None:
    """Batch 3 gets vectors of another dimension: the store refuses the upsert (a real error, over HTTP too)."""
    root = one_long_file(tmp_path)
    embedder = Embedder(collection)
    inner = embedder.inner
    embedder.inner = lambda texts: [v[:10] for v in inner(texts)] if embedder.calls == 3 else inner(texts)
    with pytest.raises(ragstore.errors.InvalidDimensionException):
        ingest_long(collection, root)
    assert ingest_threads() == []
    assert assert_whole_batches_of(collection, root, most=2 * BATCH) == 2 * BATCH  # the writer is in order: 1 and 2 landed


def test_a_collection_without_an_embedding_function_fails_as_before(
    client: ragstore.ClientAPI, tmp_path: Path, no_thread_left: None
) -> None:
    col = client.create_collection("bare", embedding_function=None)
    with pytest.raises(ragstore.errors.InvalidArgumentError, match="embedding function"):
        ingest_long(col, one_long_file(tmp_path))
    assert col.count() == 0


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in the main thread (a test worker may have SIGINT ignored)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_embedding_stops_promptly_and_the_next_run_finishes(
    collection: Any, tmp_path: Path, sigint_raises: None, no_thread_left: None
) -> None:
    root = one_long_file(tmp_path)
    interrupted = [0.0]

    def ctrl_c(call: int, _: list[str]) -> None:
        if call == 3:
            interrupted[0] = time.perf_counter()
            _thread.interrupt_main()  # as a SIGINT: the main thread raises KeyboardInterrupt where it waits
            time.sleep(1.0)  # still embedding when the main thread stops the run: batch 3 must not be written

    embedder = Embedder(collection, ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        ingest_long(collection, root)
    assert time.perf_counter() - interrupted[0] < 3.0  # the batch in hand, then out
    assert ingest_threads() == []
    landed = assert_whole_batches_of(collection, root, most=2 * BATCH)
    embedder.on_call = lambda n, texts: None
    finished = ingest_long(collection, root)
    assert (finished.written, finished.unchanged) == (40 - landed, landed)
    assert by_chunk(collection) == expected_chunks(root, chunk_size=100, chunk_overlap=0)


def test_an_exception_from_progress_stops_the_run(collection: Any, tmp_path: Path, no_thread_left: None) -> None:
    def stop_after_first_write(stats: IngestStats) -> None:
        if stats.written:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_long(collection, one_long_file(tmp_path), progress=stop_after_first_write)
    assert ingest_threads() == []


def test_pipelined_records_equal_sequential_upserts(client: ragstore.ClientAPI, docs: Path) -> None:
    """Ids, documents, metadata and vectors equal a plain loop that upserts documents and lets the collection embed."""
    piped = client.create_collection("piped", embedding_function=ragstore.HashingEmbeddingFunction())
    ingest(piped, [docs])
    sequential = client.create_collection("sequential", embedding_function=ragstore.HashingEmbeddingFunction())
    root_key = docs.resolve().as_posix()
    prefix = hashlib.sha1(root_key.encode()).hexdigest()[:8]
    splitter = RecursiveCharacterSplitter(chunk_size=1000, chunk_overlap=150)
    chunks = list(split_documents(load_directory(docs), splitter))
    for start in range(0, len(chunks), 128):
        batch = chunks[start : start + 128]
        sequential.upsert(
            ids=[f"{prefix}/{c.id}" for c in batch],
            documents=[c.text for c in batch],
            metadatas=[{**c.metadata, "root": root_key} for c in batch],
        )
    include = ["documents", "metadatas", "embeddings"]
    ours, theirs = piped.get(include=include), sequential.get(include=include)
    order, reference = (sorted(range(len(r["ids"])), key=r["ids"].__getitem__) for r in (ours, theirs))
    assert [ours["ids"][i] for i in order] == [theirs["ids"][i] for i in reference]
    for key in ("documents", "metadatas"):
        assert [ours[key][i] for i in order] == [theirs[key][i] for i in reference]
    assert (ours["embeddings"][order] == theirs["embeddings"][reference]).all()


def test_the_same_root_twice_writes_it_once(collection: Any, docs: Path) -> None:
    """The second pass reads back what the first wrote (it waits for the writer), as a sequential run would."""
    stats = ingest(collection, [docs, docs])
    assert stats.chunks % 2 == 0 and (stats.written, stats.unchanged, stats.deleted) == (stats.chunks // 2, stats.chunks // 2, 0)


def test_progress_moves_inside_a_file(collection: Any, tmp_path: Path) -> None:
    seen: list[IngestStats] = []
    stats = ingest_long(collection, one_long_file(tmp_path), progress=lambda s: seen.append(IngestStats(**vars(s))))
    mid_file = [s for s in seen if s.files_done == 0 and s.written]
    assert mid_file and all(s.embedded >= s.written and s.rate > 0 for s in mid_file)
    assert (stats.embedded, stats.written, seen[-1].files_done) == (40, 40, 1)


def test_a_chromadb_collection_embeds_as_it_writes(tmp_path: Path, docs: Path, no_thread_left: None) -> None:
    import chromadb
    from chromadb.api.types import Documents, EmbeddingFunction

    class Hashing(ragstore.HashingEmbeddingFunction, EmbeddingFunction[Documents]):
        """ragstore's function as chromadb takes one: chromadb's base adds what its collections call (``is_legacy``, ...)."""

    col = chromadb.EphemeralClient().create_collection(f"ingest-{tmp_path.name}", embedding_function=Hashing())
    first = ingest(col, [docs])
    assert (first.written, first.embedded) == (first.chunks, first.chunks)
    assert by_chunk(col) == expected_chunks(docs)
    again = ingest(col, [docs])
    assert (again.written, again.unchanged) == (0, first.chunks)


# ------------------------------------------------------------------ the command line


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragstore", *args], capture_output=True, text=True, env=CLI_ENV, timeout=timeout)


def test_cli_ingest_query_and_collections(tmp_path: Path, docs: Path) -> None:
    store = str(tmp_path / "store")
    done = cli("ingest", str(docs), "--collection", "docs", "--path", store, "--embedding", "hashing", "--glob", "**/*.md")
    assert done.returncode == 0, done.stderr
    assert "Ingested into 'docs'" in done.stderr and f"{MARKDOWN_FILES} loaded, 0 failed" in done.stderr
    again = cli("ingest", str(docs), "--collection", "docs", "--path", store)  # the collection's own embedder is reused
    assert again.returncode == 0, again.stderr
    summary_row = [line for line in again.stderr.splitlines() if "written" in line and "chunks/s)" in line]
    assert len(summary_row) == 1 and " 0 (" in summary_row[0], again.stderr

    hits = cli("query", "HTTP/2 support", "--collection", "docs", "--path", store, "-k", "3", "--json")
    assert hits.returncode == 0, hits.stderr
    parsed = json.loads(hits.stdout)
    assert len(parsed) == 3 and all(0 <= h["score"] <= 1 and h["source"].endswith(".md") for h in parsed)
    filtered = json.loads(
        cli("query", "proxy", "-c", "docs", "--path", store, "--json", "--where", '{"source": "advanced/proxies.md"}').stdout
    )
    assert filtered and {h["source"] for h in filtered} == {"advanced/proxies.md"}
    table = cli("query", "proxy", "-c", "docs", "--path", store)
    assert table.returncode == 0 and "advanced/proxies.md" in table.stdout

    listing = cli("collections", "--path", store)
    count = ragstore.PersistentClient(store).get_collection("docs").count()
    assert "docs" in listing.stdout and str(count) in listing.stdout

    missing = cli("query", "x", "-c", "nope", "--path", store)
    assert missing.returncode != 0 and "No collection named 'nope'" in missing.stderr


def test_cli_query_is_hybrid_on_what_ingest_made_and_dense_elsewhere(tmp_path: Path, docs: Path) -> None:
    store = str(tmp_path / "store")
    assert cli("ingest", str(docs), "-c", "docs", "--path", store, "--embedding", "hashing", "--glob", "**/*.md").returncode == 0
    by_mode = {}
    for mode in (None, "hybrid", "dense", "bm25"):
        chosen = ["--mode", mode] if mode else []
        done = cli("query", "proxy server", "-c", "docs", "--path", store, "-k", "3", *chosen)
        assert done.returncode == 0, done.stderr
        assert f"({mode or 'hybrid'})" in " ".join(done.stdout.split()), done.stdout
        by_mode[mode] = json.loads(cli("query", "proxy server", "-c", "docs", "--path", store, "-k", "3", "--json", *chosen).stdout)
    assert by_mode[None] == by_mode["hybrid"] and all(0 <= hit["score"] <= 1 for hit in by_mode["hybrid"])
    assert "proxies" in by_mode["bm25"][0]["source"]
    plain = ragstore.PersistentClient(store).create_collection("plain", embedding_function=ragstore.HashingEmbeddingFunction())
    plain.add(ids=["a"], documents=["a proxy server"])
    default = cli("query", "proxy", "-c", "plain", "--path", store, "--json")
    assert default.returncode == 0 and json.loads(default.stdout)[0]["id"] == "a"
    refused = cli("query", "proxy", "-c", "plain", "--path", store, "--mode", "hybrid")
    assert refused.returncode == 1 and "has no BM25 index" in refused.stderr and "Traceback" not in refused.stderr


def test_cli_ingest_over_http(tmp_path: Path, docs: Path) -> None:
    server = RunningServer.start(tmp_path / "served", env={k: "" for k in os.environ if k.startswith("RAGSTORE_")})
    try:
        done = cli("ingest", str(docs), "-c", "remote", "--host", "127.0.0.1", "--port", str(server.port), "--embedding", "hashing")
        assert done.returncode == 0, done.stderr
        client = ragstore.HttpClient(host="127.0.0.1", port=server.port)
        assert by_chunk(client.get_collection("remote")) == expected_chunks(docs)
        client.close()
    finally:
        assert server.stop() == 0


def test_reingest_pages_down_to_a_servers_answer_budget(tmp_path: Path, docs: Path) -> None:
    """Re-ingesting reads the stored chunks back; a server with a small answer budget gets smaller pages."""
    server = RunningServer.start(
        tmp_path / "served", ["--max-response-size", "65536"], env={k: "" for k in os.environ if k.startswith("RAGSTORE_")}
    )
    try:
        client = ragstore.HttpClient(host="127.0.0.1", port=server.port)
        col = client.create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())
        first = ingest(col, [docs])
        with pytest.raises(ragstore.errors.ResponseTooLargeError):  # the whole set is over the budget
            col.get(include=["documents", "metadatas"])
        again = ingest(col, [docs])
        assert (again.written, again.deleted, again.unchanged) == (0, 0, first.chunks)
        client.close()
    finally:
        assert server.stop() == 0


@pytest.mark.slow
def test_an_interrupted_ingest_is_consistent_and_the_next_run_finishes(tmp_path: Path) -> None:
    books = tmp_path / "books"
    books.mkdir()
    for book in sorted(GUTENBERG.glob("*.txt")):  # ~16 MB: tens of seconds of ingest, so the signal lands mid-run
        shutil.copy(book, books / book.name)
    store = str(tmp_path / "store")
    args = [sys.executable, "-m", "ragstore", "ingest", str(books), "-c", "books", "--path", store, "--embedding", "hashing"]
    # A background job inherits SIGINT as ignored (as under `make ... &`); Ctrl-C in a terminal is not ignored.
    restore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLI_ENV, preexec_fn=restore_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:  # wait for the first chunks to land
        time.sleep(0.2)
        try:
            with ragstore.PersistentClient(store) as peek:
                if peek.get_collection("books").count() > 500:
                    break
        except ragstore.NotFoundError:
            continue
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    expected = expected_chunks(books)
    with ragstore.PersistentClient(store) as client:
        partial = by_chunk(client.get_collection("books"))
    assert process.returncode == 130, err  # interrupted mid-run
    assert "Interrupted" in err
    assert 0 < len(partial) < len(expected)
    assert all(expected[i] == text for i, text in partial.items())  # whatever landed is exact
    finished = subprocess.run(args, capture_output=True, text=True, env=CLI_ENV, timeout=600)
    assert finished.returncode == 0, finished.stderr
    with ragstore.PersistentClient(store) as client:
        assert by_chunk(client.get_collection("books")) == expected


def test_default_model_end_to_end(tmp_path: Path) -> None:
    """The real offline MiniLM default: ingest real docs, ask, get the right file first."""
    root = tmp_path / "docs"
    shutil.copytree(MARKDOWN / "advanced", root)
    with ragstore.PersistentClient(tmp_path / "store") as client:
        col = client.create_collection("docs")
        ingest(col, [root])
        hits = col.query(query_texts=["How do I configure an HTTP proxy?"], n_results=3)
        assert hits["metadatas"] is not None
        assert hits["metadatas"][0][0]["source"] == "proxies.md"


# ------------------------------------------------------------------ what ingest reports, and its exit status (issue 17)

OFFICE = MARKDOWN.parent.parent / "office"
SPHINX = MARKDOWN.parent.parent / "html" / "developers-reference"


def test_cli_office_folder_loads_six_formats_and_names_the_three_it_skips(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = cli("ingest", str(OFFICE), "-c", "office", "--path", str(store), "--embedding", "hashing")
    assert done.returncode == 0, done.stderr
    assert "skipped 3 files: unsupported .doc (1), .ppt (1), .xls (1); old binary Office files" in done.stderr
    assert "6 loaded, 0 failed" in done.stderr and "Traceback" not in done.stderr
    with ragstore.PersistentClient(store) as client:
        metas = client.get_collection("office").get(include=["metadatas"])["metadatas"] or []
    assert {m["source"] for m in metas} == {f"document.{ext}" for ext in ("docx", "html", "pdf", "pptx", "txt", "xlsx")}
    assert sorted(m["slide"] for m in metas if "slide" in m) == [1, 2] and [m["sheet"] for m in metas if "sheet" in m] == ["Sheet1"]


def test_cli_nothing_loadable_exits_1_without_making_a_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = cli("ingest", str(OFFICE / "document.doc"), "-c", "office", "--path", str(store), "--embedding", "hashing")
    assert done.returncode == 1 and not store.exists()
    assert done.stderr.splitlines() == [
        "skipped 1 file: unsupported .doc (1); old binary Office files: save them as .docx, .pptx or .xlsx",
        "Error: nothing to ingest: no file under PATHS has a loader (see ragstore ingest --help for the extensions)",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    done = cli("ingest", str(empty), "-c", "office", "--path", str(store), "--glob", "**/*.md")
    assert done.returncode == 1 and done.stderr.strip() == "Error: nothing to ingest: no file under PATHS matches --glob **/*.md"
    relaxed = cli("ingest", str(empty), "-c", "office", "--path", str(store), "--allow-empty")
    assert relaxed.returncode == 0 and "collection 'office' not created" in relaxed.stderr
    with ragstore.PersistentClient(store) as client:
        assert client.list_collections() == []


def test_cli_failed_files_are_named_once_and_set_the_exit_status(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(MARKDOWN / "quickstart.md", tree)
    (tree / "[draft] notes.docx").write_text("not a zip")  # brackets: printed as they are, never read as markup
    (tree / "broken.pdf").write_bytes(b"%PDF-1.4\n% cut short")
    (tree / "empty.txt").write_text("   \n")
    store = str(tmp_path / "store")
    done = cli("ingest", str(tree), "-c", "mixed", "--path", store, "--embedding", "hashing")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    failed = [line for line in lines if line.startswith("failed ")]
    assert len(failed) == 2 and failed[0].startswith(f"failed {tree.as_posix()}/[draft] notes.docx: Cannot read ")
    assert failed[1].startswith(f"failed {tree.as_posix()}/broken.pdf: Cannot read ")
    assert sum("broken.pdf" in line for line in lines) == 1  # once: not also through the documents logger
    assert f"no text in 1 file (nothing stored for it): {tree.as_posix()}/empty.txt" in lines
    assert lines[-1] == "Error: 2 of 4 files failed to load (listed above; --allow-failures exits 0 all the same)"
    assert "2 loaded, 2 failed" in done.stderr
    again = cli("ingest", str(tree), "-c", "mixed", "--path", store, "--allow-failures")
    assert again.returncode == 0 and len([line for line in again.stderr.splitlines() if line.startswith("failed ")]) == 2


def test_cli_a_run_that_stores_nothing_leaves_no_collection_behind(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # an old .xls renamed
    (tree / "b.md").write_text("")
    store = str(tmp_path / "store")
    done = cli("ingest", str(tree), "-c", "nothing", "--path", store, "--embedding", "hashing")
    assert done.returncode == 1
    assert "OLE2 file" in done.stderr and "collection 'nothing' not created: nothing to store" in done.stderr
    assert done.stderr.splitlines()[-1] == "Error: nothing ingested: 1 of 2 files failed to load (--allow-empty exits 0 all the same)"
    with ragstore.PersistentClient(store) as client:
        assert client.list_collections() == []
        client.create_collection("kept", embedding_function=ragstore.HashingEmbeddingFunction())
    kept = cli("ingest", str(tree / "b.md"), "-c", "kept", "--path", store, "--allow-empty")
    assert kept.returncode == 0, kept.stderr  # an existing collection is never removed
    with ragstore.PersistentClient(store) as client:
        assert [c.name for c in client.list_collections()] == ["kept"]


def test_cli_sphinx_build_is_ingested_once_not_twice(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    done = cli("ingest", str(SPHINX), "-c", "devref", "--path", store, "--embedding", "hashing")
    assert done.returncode == 0, done.stderr
    assert "skipped 10 files: a Sphinx build's _sources/ copies of the pages loaded, and its _static/ files" in done.stderr
    with ragstore.PersistentClient(store) as client:
        sources = {m["source"] for m in client.get_collection("devref").get(include=["metadatas"])["metadatas"] or []}
    assert len(sources) == 11 and all(str(s).endswith(".html") for s in sources)
    helped = cli("ingest", "--help")
    assert "_sources/ copies" in " ".join(helped.stdout.split()) and ".docx" in helped.stdout


def test_cli_progress_lines_off_a_terminal_and_the_model_load(tmp_path: Path) -> None:
    """Not a terminal (stderr is a pipe here): a line per --progress-every, and a line while the real model loads."""
    root = copy_markdown(["quickstart.md", "advanced/proxies.md"], tmp_path / "docs")
    name = "a-collection-name-long-enough-that-the-old-table-title-wrapped"
    env = {**CLI_ENV, "COLUMNS": "80"}
    args = [sys.executable, "-m", "ragstore", "ingest", str(root), "-c", name, "--path", str(tmp_path / "store"), "--progress-every", "0"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "ingest: loading model all-MiniLM-L6-v2 ..."
    progress = [line for line in lines[1:] if line.startswith("ingest: ")]
    assert progress and progress[-1].startswith("ingest: 2/2 files, ") and " chunks/s, " in progress[-1]
    heading = [line for line in lines if line.startswith("Ingested into")]
    assert heading == [
        f"Ingested into '{name}' ({ragstore.PersistentClient(tmp_path / 'store').get_collection(name).count()} chunks stored)"
    ]
    assert any(line.split("│")[1:2] == [" model load "] for line in lines)
    assert "Traceback" not in done.stderr and "\x1b[" not in done.stderr  # no bar redraws in a log


def test_stats_name_empty_files_and_the_model_load(collection: Any, tmp_path: Path) -> None:
    root = tmp_path / "files"  # tmp_path may hold the fixture's store
    root.mkdir()
    (root / "a.md").write_text("Some text.")
    (root / "blank.txt").write_text("\n\n")
    stats = ingest(collection, [root])
    assert stats.empty == [root / "blank.txt"] and stats.chunks == 1
    assert stats.model_seconds is None  # the hashing function has no model to load
    found = find_files([root, OFFICE], glob="**/*")
    assert found.files == 8 and [p.name for p in found.unsupported] == ["document.doc", "document.ppt", "document.xls"]
    assert ingest(collection, found).files == 8  # a FileSet is ingested as found


def test_the_terminal_bar_says_when_the_model_loads() -> None:
    import io

    from rich.console import Console

    from ragstore.cli.ingest_progress import progress_display

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with progress_display(console, every=10.0, model="all-MiniLM-L6-v2") as show:
        show(IngestStats(files=3, loading_model=True))
        time.sleep(0.3)  # the bar redraws ten times a second
        show(IngestStats(files=3, files_done=3, embedded=9, written=9, seconds=1.0))
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    assert "loading model all-MiniLM-L6-v2 ..." in drawn and "3/3" in drawn.rsplit("loading model", 1)[1]
