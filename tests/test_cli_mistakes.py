"""A user's mistakes on the command line: each is one line on stderr, exit status 1, never a traceback.

The scripted tour of issue 17 (wrong path, short name, dead server, wrong token, unsupported file, empty
query) runs real ``python -m ragstore`` processes; the rest runs the same ``main`` in process with click's
``CliRunner`` (stdout and stderr kept apart). ``--debug`` (or ``RAGSTORE_DEBUG``) adds the traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner, Result
from servers import RunningServer

import ragstore
from ragstore.cli import main
from ragstore.cli.errors import RagstoreGroup
from ragstore.errors import error_classes
from ragstore.local.database import DATABASE_FILENAME

TOKEN = "tour-s3cret"
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTORE_")}  # no token or debug flag leaks in


def ragstore_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ragstore *args`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "ragstore", *args], capture_output=True, text=True, env=CLEAN_ENV, timeout=120)


def invoke(*args: str, input: str | None = None, **env: str) -> Result:  # noqa: A002 - CliRunner's name
    return CliRunner(env={"RAGSTORE_AUTH_TOKEN": None, "RAGSTORE_DEBUG": None, **env}).invoke(main, list(args), input=input)


def assert_one_line(stderr: str, code: int, *expected: str) -> str:
    """``stderr`` is exactly one ``Error: ...`` line holding each of ``expected``, and the exit status is 1."""
    assert code == 1, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "proxies.md").write_text("# Proxies\n\nRoute requests through an HTTP proxy server with the proxy option.\n")
    (folder / "timeouts.md").write_text("# Timeouts\n\nEvery request has a five second timeout by default.\n")
    return folder


@pytest.fixture
def store(tmp_path: Path, docs: Path) -> str:
    """A store with collection ``docs`` (hashing embedder, BM25 index) made by ``ragstore ingest``."""
    path = str(tmp_path / "store")
    done = invoke("ingest", str(docs), "-c", "docs", "--path", path, "--embedding", "hashing")
    assert done.exit_code == 0, done.output
    return path


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A ``ragstore run`` that wants ``TOKEN``."""
    with RunningServer.start(tmp_path_factory.mktemp("served"), env={"RAGSTORE_ALLOW_RESET": ""}, auth_token=TOKEN) as server:
        yield server


# ---------------------------------------------------------------------------------- the scripted tour, as real processes


def test_tour_wrong_path_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "nope"
    for args in (["collections"], ["query", "proxy", "-c", "docs"], ["peek", "docs"], ["delete-collection", "docs", "--yes"]):
        done = ragstore_process(*args, "--path", str(typo))
        assert_one_line(done.stderr, done.returncode, f"No ragstore store at {typo}", "--path")
        assert done.stdout == ""
    assert not typo.exists()


def test_tour_a_short_collection_name(tmp_path: Path, docs: Path) -> None:
    done = ragstore_process("ingest", str(docs), "-c", "ab", "--path", str(tmp_path / "store"), "--embedding", "hashing")
    assert_one_line(done.stderr, done.returncode, "3-512 characters", "Got: ab", f"(store: {tmp_path / 'store'})")


def test_tour_a_dead_server() -> None:
    for args in (["collections"], ["query", "proxy", "-c", "docs"], ["ingest", ".", "-c", "docs"]):
        done = ragstore_process(*args, "--host", "127.0.0.1", "--port", "1")
        assert_one_line(done.stderr, done.returncode, "http://127.0.0.1:1", "Connection refused", "ragstore run", "--host and --port")


def test_tour_a_server_that_wants_a_token(token_server: RunningServer) -> None:
    server = ["--host", "127.0.0.1", "--port", str(token_server.port)]
    missing = ragstore_process("collections", *server)
    assert_one_line(missing.stderr, missing.returncode, f"The server at {token_server.url} wants a token", "--auth-token")
    wrong = ragstore_process("query", "proxy", "-c", "docs", *server, "--auth-token", "not-the-token")
    assert_one_line(wrong.stderr, wrong.returncode, f"The server at {token_server.url} refused the token", "RAGSTORE_AUTH_TOKEN")
    right = ragstore_process("collections", *server, "--auth-token", TOKEN)
    assert right.returncode == 0, right.stderr


def test_tour_an_unsupported_file(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    done = ragstore_process("ingest", str(folder), "-c", "pictures", "--path", str(tmp_path / "store"), "--embedding", "hashing")
    assert done.returncode != 0, done.stderr
    # ingest says what it skipped and then why it stops: one line each, no table or progress bar, no traceback.
    lines = done.stderr.splitlines()
    assert 1 <= len(lines) <= 2 and lines[-1].startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    assert ".png" in done.stderr and not any(box in done.stderr for box in "┌│━")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_tour_an_empty_query(store: str, text: str) -> None:
    done = ragstore_process("query", text, "-c", "docs", "--path", store)
    assert_one_line(done.stderr, done.returncode, "The query is empty")
    assert done.stdout == ""


# ---------------------------------------------------------------------------------- every other mistake, in process


def test_an_unknown_where_operator(store: str) -> None:
    done = invoke("query", "proxy", "-c", "docs", "--path", store, "--where", '{"source": {"$like": "x"}}')
    assert_one_line(done.stderr, done.exit_code, "Expected where operator to be one of", "$like", f"(store: {store})")
    document = invoke("query", "proxy", "-c", "docs", "--path", store, "--where-document", '{"$has": "proxy"}')
    assert_one_line(document.stderr, document.exit_code, "$has")


def test_a_missing_collection(store: str) -> None:
    for args in (["query", "proxy", "-c", "nope"], ["peek", "nope"], ["delete-collection", "nope", "--yes"]):
        done = invoke(*args, "--path", store)
        assert_one_line(done.stderr, done.exit_code, "nope", f"in {store}", "ragstore collections")


def test_an_embedding_function_conflict_says_an_existing_collection_keeps_its_own(store: str, docs: Path) -> None:
    done = invoke("ingest", str(docs), "-c", "docs", "--path", store, "--embedding", "default")
    assert_one_line(done.stderr, done.exit_code, "'docs' embeds with 'ragstore_hashing', not 'default'", "leave out --embedding")
    query = invoke("query", "proxy", "-c", "docs", "--path", store, "--embedding", "default")
    assert_one_line(query.stderr, query.exit_code, "keeps its own")
    same = invoke("ingest", str(docs), "-c", "docs", "--path", store, "--embedding", "hashing")  # naming its own function is fine
    assert same.exit_code == 0, same.output


def test_query_on_a_collection_without_a_persisted_embedding_function(store: str) -> None:
    with ragstore.PersistentClient(store) as client:  # as LlamaIndex made them before issue 17: vectors, no function recorded
        bare = client.create_collection("bare", embedding_function=None, schema=ragstore.bm25_schema())
        bare.add(ids=["a"], embeddings=[[0.5] * 384], documents=["an HTTP proxy server"])
    done = invoke("query", "proxy", "-c", "bare", "--path", store)
    assert_one_line(done.stderr, done.exit_code, "'bare' records no embedding function", "--embedding", "--mode bm25")
    words = invoke("query", "proxy", "-c", "bare", "--path", store, "--mode", "bm25", "--json")
    assert words.exit_code == 0 and '"id": "a"' in words.stdout, words.output
    named = invoke("query", "proxy", "-c", "bare", "--path", store, "--mode", "dense", "--embedding", "hashing", "--json")
    assert named.exit_code == 0 and '"id": "a"' in named.stdout, named.output


def test_an_unwritable_path_is_one_line(tmp_path: Path, docs: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = invoke("ingest", str(docs), "-c", "docs", "--path", str(tmp_path / "a-file" / "store"), "--embedding", "hashing")
    line = assert_one_line(done.stderr, done.exit_code, "Cannot create the store at", "Not a directory")
    assert line.count(str(tmp_path / "a-file" / "store")) == 1  # where, said once


USER_ERROR_CLASSES = [*error_classes(), httpx.ConnectError, httpx.ReadTimeout, ConnectionRefusedError, PermissionError]


def failing_cli(error_class: type[Exception], message: str) -> click.Group:
    """A group like ragstore's (a ``RagstoreGroup`` with ``--debug``) whose one command, ``fail``, raises a new ``error_class(message)``."""

    @click.group(cls=RagstoreGroup)
    @click.option("--debug", is_flag=True)
    def cli(debug: bool) -> None:
        """A group like ragstore's."""

    @cli.command()
    def fail() -> None:
        raise error_class(message)

    return cli


@pytest.mark.parametrize("error_class", USER_ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_user_error_is_one_line_and_debug_adds_the_traceback(error_class: type[Exception]) -> None:
    cli = failing_cli(error_class, "what went wrong,\nover two lines")
    quiet = CliRunner().invoke(cli, ["fail"])
    assert_one_line(quiet.stderr, quiet.exit_code, "what went wrong, over two lines")
    loud = CliRunner().invoke(cli, ["--debug", "fail"])
    assert loud.exit_code == 1 and "Traceback (most recent call last)" in loud.stderr and error_class.__name__ in loud.stderr
    assert loud.stderr.splitlines()[-1] == quiet.stderr.strip()


def test_debug_shows_the_traceback_of_a_real_mistake(store: str) -> None:
    args = ["query", "proxy", "-c", "docs", "--path", store, "--where", '{"source": {"$like": "x"}}']
    for done in (invoke("--debug", *args), invoke(*args, RAGSTORE_DEBUG="1")):
        assert done.exit_code == 1
        assert "Traceback (most recent call last)" in done.stderr and "InvalidArgumentError" in done.stderr
        assert done.stderr.splitlines()[-1].startswith("Error: Expected where operator")


def test_a_bug_keeps_its_traceback() -> None:
    done = CliRunner().invoke(failing_cli(KeyError, "a bug, not a user's mistake"), ["fail"])
    assert isinstance(done.exception, KeyError)  # not turned into a tidy line that would hide it


def test_read_only_commands_never_create_a_store_and_ingest_does(tmp_path: Path, docs: Path) -> None:
    target = tmp_path / "fresh"
    for args in (["collections"], ["peek", "docs"], ["query", "proxy", "-c", "docs"]):
        assert invoke(*args, "--path", str(target)).exit_code == 1
    assert not target.exists()
    assert invoke("ingest", str(docs), "-c", "docs", "--path", str(target), "--embedding", "hashing").exit_code == 0
    assert (target / DATABASE_FILENAME).is_file()
    listing = invoke("collections", "--path", str(target))
    assert listing.exit_code == 0 and "docs" in listing.stdout
