"""Incremental ingestion (``ragstore.ingest``) and the ``ingest`` / ``query`` / ``collections`` commands.

Most tests use the hashing embedder (they are about ingestion, not embeddings); one
runs the whole flow with the real default model. The CLI runs as a real process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from servers import RunningServer
from shared_data import GUTENBERG, MARKDOWN

import ragstore
from ragstore.documents import RecursiveCharacterSplitter, load_directory, split_documents
from ragstore.ingest import IngestStats, ingest

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
