"""Distributed ingest on Ray Data (``ragstore.distributed.ray_ingest``, ``ragstore ingest --ray``).

Every job runs on one local Ray instance (``ray.init(num_cpus=2)``, started once for the module and shut
down at its end) and is compared with the single-process :func:`ragstore.ingest.ingest` of the same files:
same ids, documents and metadata, vectors within float tolerance, the same counts. The real default model
(all-MiniLM-L6-v2 on ONNX) runs on a small mixed corpus from ``../shared/data``; the hashing embedder on a
bigger one, a re-ingest of changed files, a job whose embedding actor is SIGKILLed mid-job, and a
``ragstore run`` server with a token as the target (through the library and through the CLI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Ray's single-node mode (its default on macOS): every process of the local instance on 127.0.0.1, not on this machine's
# network address; read when Ray is imported, and inherited by the CLI processes that join the instance.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray
from servers import RunningServer
from shared_data import DOCS, GUTENBERG, MARKDOWN, needs_data

import ragstore
from ragstore.distributed import RayJobError, RayNotInstalledError, ray_ingest
from ragstore.documents import Chunk, RecursiveCharacterSplitter
from ragstore.ingest import IngestStats, find_files, ingest

# Ray 2.60's DataContext.copy() sets its own deprecated fields, which warn each time (every dataset copies it).
pytestmark = [pytest.mark.slow, needs_data, pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")]


def cli_env() -> dict[str, str]:
    """This process's environment as it is now (a Ray driver's: ``RAY_AUTH_MODE=token``), without ragstore's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RAGSTORE_")} | {"HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """One local Ray instance for the module; jobs (and a CLI process) join it at this address."""
    # The test's own embedding functions are classes of this module: pickled by value, as workers cannot import it.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=400 * 2**20, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def contents(collection: Any) -> dict[str, tuple[str, dict[str, Any], np.ndarray]]:
    """Everything stored: ``{id: (document, metadata, vector)}``."""
    got = collection.get(include=["documents", "metadatas", "embeddings"])
    return {i: (d, m, np.asarray(e)) for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)}


def assert_same_collection(distributed: Any, single: Any, min_cosine: float = 1 - 1e-6) -> None:
    left, right = contents(distributed), contents(single)
    assert sorted(left) == sorted(right)  # no duplicate, no gap, nothing else
    assert {i: v[:2] for i, v in left.items()} == {i: v[:2] for i, v in right.items()}
    cosines = [float(np.dot(left[i][2], right[i][2]) / np.linalg.norm(left[i][2]) / np.linalg.norm(right[i][2])) for i in left]
    assert min(cosines, default=1.0) >= min_cosine


def counts(stats: IngestStats) -> tuple[Any, ...]:
    failed = sorted((f.source, str(f.error)) for f in stats.failed)
    return stats.files, stats.files_done, stats.chunks, stats.written, stats.unchanged, stats.deleted, failed, sorted(stats.empty)


def both(tmp_path: Path, single_function: Any, distributed_function: Any | None = None) -> tuple[Any, Any]:
    """A collection in each of two fresh stores: for the single-process ingest, and for the Ray job."""
    single = ragstore.PersistentClient(tmp_path / "single").get_or_create_collection("docs", embedding_function=single_function)
    distributed = ragstore.PersistentClient(tmp_path / "ray").get_or_create_collection(
        "docs", embedding_function=distributed_function or single_function
    )
    return single, distributed


def mixed_corpus(root: Path) -> Path:
    """Every office format (three unsupported), a few real Markdown pages, an empty file and a broken PDF."""
    shutil.copytree(DOCS / "office", root / "office")
    for name in ("index.md", "async.md", "http2.md"):
        shutil.copy(MARKDOWN / name, root / name)
    (root / "empty.txt").write_text("   \n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    return root


def test_the_default_model_gives_the_single_process_collection(ray_address: str, tmp_path: Path) -> None:
    root = mixed_corpus(tmp_path / "corpus")
    found = find_files([root])
    function = ragstore.DefaultEmbeddingFunction()
    single, distributed = both(tmp_path, function)
    expected = ingest(single, found)
    seen: list[IngestStats] = []
    stats = ray_ingest(distributed, found, actors=1, batch_size=32, progress=seen.append)
    # The int8 model quantises each batch's activations with the batch's own range, so a chunk's vector depends on the
    # chunks it is embedded with: batched otherwise (by file there, 32 mixed here) the vectors agree to a cosine of 0.996
    # (0.998 for the same texts rebatched in one process); 0.99 is the bound the model is held to against float32.
    assert_same_collection(distributed, single, min_cosine=0.99)
    assert counts(stats) == counts(expected)
    assert [f.source for f in stats.failed] == ["broken.pdf"] and [p.name for p in stats.empty] == ["empty.txt"]
    assert sorted(p.suffix for p in found.unsupported) == [".doc", ".ppt", ".xls"]
    assert len(seen) >= 3 and seen[-1].written == stats.written  # progress as batches land, not only at the end


def test_a_bigger_corpus_and_its_reingest_match_the_single_process_ingest(ray_address: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(MARKDOWN.parent, root)  # httpx and starlette: 50 pages
    for name in ("pg1080.txt", "41-0.txt", "pg5200.txt"):
        shutil.copy(GUTENBERG / name, root / name)
    shutil.copy(DOCS / "office" / "document.pdf", root / "manual.pdf")
    single, distributed = both(tmp_path, ragstore.HashingEmbeddingFunction())
    options: dict[str, Any] = {"chunk_size": 400, "chunk_overlap": 50}
    first = ingest(single, [root], **options)
    stats = ray_ingest(distributed, [root], actors=2, batch_size=64, **options)
    assert stats.written > 1500
    assert_same_collection(distributed, single)
    assert counts(stats) == counts(first)

    # Re-ingest replaces: a grown file, a shrunk one, a deleted one, a new one, and one that now fails (its chunks are kept).
    (root / "pg1080.txt").write_text((root / "pg1080.txt").read_text(encoding="utf-8") + "\nA closing line.\n", encoding="utf-8")
    (root / "41-0.txt").write_text("Only a line is left.\n", encoding="utf-8")
    (root / "pg5200.txt").unlink()
    (root / "httpx" / "new-page.md").write_text("# New\n\nBrand new content about proxies.\n")
    (root / "manual.pdf").write_bytes(b"%PDF-1.4 not really a pdf any more")
    again_single = ingest(single, [root], **options)
    again = ray_ingest(distributed, [root], actors=2, batch_size=64, **options)
    assert_same_collection(distributed, single)
    assert counts(again) == counts(again_single)
    assert again.unchanged > 1000 and again.written > 0 and again.deleted > 0
    assert [f.source for f in again.failed] == ["manual.pdf"]
    assert distributed.get(where={"source": "manual.pdf"})["ids"]  # kept from the first run


def test_an_unchanged_reingest_embeds_and_writes_nothing(ray_address: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(MARKDOWN, root)
    log = tmp_path / "calls.log"
    _, distributed = both(tmp_path, PidLoggingHashing(str(log)))
    first = ray_ingest(distributed, [root])
    calls = log.read_text().count("\n")
    again = ray_ingest(distributed, [root])
    assert (again.written, again.deleted, again.unchanged, again.chunks) == (0, 0, first.chunks, first.chunks)
    assert log.read_text().count("\n") == calls  # no chunk went to an embedder


class PidLoggingHashing(ragstore.HashingEmbeddingFunction):
    """The hashing embedder, slowed down, writing its process id once per call (so a test can find and kill it)."""

    def __init__(self, log: str, delay: float = 0.0) -> None:
        super().__init__()
        self.log, self.delay = log, delay

    def __call__(self, input: Sequence[str]) -> Any:  # noqa: A002 - the protocol's parameter name
        time.sleep(self.delay)
        with open(self.log, "a") as out:
            out.write(f"{os.getpid()}\n")
        return super().__call__(input)


def test_an_embedding_actor_killed_mid_job_leaves_no_duplicate_and_no_gap(ray_address: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(MARKDOWN, root)
    log = tmp_path / "pids.log"
    single, distributed = both(tmp_path, ragstore.HashingEmbeddingFunction(), PidLoggingHashing(str(log), delay=0.1))
    options: dict[str, Any] = {"chunk_size": 300, "chunk_overlap": 0}
    expected = ingest(single, [root], **options)
    killed: list[int] = []

    def kill_the_actor_mid_job() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = log.read_text().split() if log.exists() else []
            if len(pids) >= 5:  # five batches embedded, dozens to go
                killed.append(int(pids[0]))
                os.kill(killed[0], signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_actor_mid_job)
    killer.start()
    try:
        stats = ray_ingest(distributed, [root], actors=1, batch_size=32, **options)
    finally:
        killer.join()
    pids = [int(pid) for pid in log.read_text().split()]
    assert killed and len(set(pids)) == 2 and pids[-1] != killed[0]  # Ray restarted the actor, and it embedded the rest
    assert_same_collection(distributed, single)
    assert counts(stats) == counts(expected)  # every chunk written once


def test_a_server_with_a_token_is_a_target_from_python_and_from_the_cli(ray_address: str, tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    shutil.copytree(MARKDOWN, root)
    single = ragstore.PersistentClient(tmp_path / "single").get_or_create_collection(
        "docs", embedding_function=ragstore.HashingEmbeddingFunction()
    )
    expected = ingest(single, [root])
    with RunningServer.start(tmp_path / "served", auth_token="s3cret") as server, server.client() as client:
        remote = client.get_or_create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())
        stats = ray_ingest(remote, [root], actors=1)
        assert_same_collection(remote, single)
        assert counts(stats) == counts(expected)

        command = [sys.executable, "-m", "ragstore", "ingest", str(root), "-c", "from-cli", "--embedding", "hashing"]
        command += ["--host", "127.0.0.1", "--port", str(server.port), "--ray", "--ray-address", ray_address, "--ray-actors", "1"]
        done = subprocess.run(command, env=cli_env() | {"RAGSTORE_AUTH_TOKEN": "s3cret"}, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"Ingested into 'from-cli' ({stats.chunks} chunks stored)" in done.stderr
        assert "INFO" not in done.stderr  # Ray's log lines stay out of ragstore's display
        assert_same_collection(client.get_collection("from-cli", embedding_function=ragstore.HashingEmbeddingFunction()), single)


class ProxyShySplitter(RecursiveCharacterSplitter):
    """A splitter with a bug: it fails on every text that mentions proxies."""

    def split(self, text: str) -> list[Chunk]:
        if "proxies" in text.lower():
            raise ValueError("this splitter cannot split proxies")
        return super().split(text)


def test_a_workers_error_ends_the_job_in_one_line_with_rays_error_as_its_cause(ray_address: str, tmp_path: Path) -> None:
    collection = ragstore.EphemeralClient().create_collection("docs", embedding_function=ragstore.HashingEmbeddingFunction())
    with pytest.raises(RayJobError, match=r"^The Ray job failed: ValueError: this splitter cannot split proxies$") as failed:
        ray_ingest(collection, [MARKDOWN], splitter=ProxyShySplitter())
    assert isinstance(failed.value.__cause__, ray.exceptions.RayError)


# ------------------------------------------------------------------ without Ray


def python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], env=cli_env(), capture_output=True, text=True, timeout=120, cwd=cwd)


def test_importing_ragstore_does_not_import_ray() -> None:
    done = python(
        "import sys, ragstore, ragstore.distributed, ragstore.cli, ragstore.cli.ingest\n"
        "print(sorted(name for name in sys.modules if name == 'ray' or name.startswith('ray.')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_ray_the_library_and_the_cli_say_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Apples are red.")
    hidden = "import sys; sys.modules['ray'] = None\n"  # as if it were not installed: `import ray` raises ImportError
    library = python(
        hidden + "import ragstore\n"
        "from ragstore.distributed import ray_ingest\n"
        "col = ragstore.EphemeralClient().create_collection('docs', embedding_function=ragstore.HashingEmbeddingFunction())\n"
        "try:\n    ray_ingest(col, [sys.argv[1]])\nexcept ImportError as exc:\n    print(type(exc).__name__, exc, col.count())\n",
        str(tmp_path),
    )
    assert library.returncode == 0, library.stderr
    assert library.stdout.startswith(f"{RayNotInstalledError.__name__} Distributed ingest runs on Ray, which is not installed: ")
    assert 'pip install "ragstore[ray]"' in library.stdout and library.stdout.strip().endswith(" 0")

    cli = python(
        hidden + "from ragstore.cli import main\nmain()", "ingest", str(tmp_path), "-c", "docs", "--path", "store", "--ray", cwd=tmp_path
    )
    assert cli.returncode == 1
    assert 'Error: Distributed ingest runs on Ray, which is not installed: pip install "ragstore[ray]"' in cli.stderr
    assert not (tmp_path / "store").exists()  # refused before a store was made
    misuse = python("from ragstore.cli import main\nmain()", "ingest", str(tmp_path), "-c", "docs", "--ray-actors", "2", cwd=tmp_path)
    assert misuse.returncode == 2 and "--ray-actors needs --ray" in misuse.stderr
