"""``ragstore peek``, ``delete-collection`` and ``query``'s options, on real stores through click's ``CliRunner``.

The scores ``query`` shows for dense hits are :func:`ragstore.relevance.relevance` of the distances the
library returns; a query longer than the model reads, or than a text query may be, is said to be cut.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import ragstore
from ragstore.cli import main
from ragstore.relevance import relevance
from ragstore.search.limits import MAX_QUERY_TEXT_LENGTH

DOCS = {
    "proxies.md": "# Proxies\n\nRoute requests through an HTTP proxy server: pass proxy='http://localhost:8030' to the client.\n",
    "timeouts.md": "# Timeouts\n\nEvery request times out after five seconds unless a timeout is given to the client.\n",
    "auth.md": "# Authentication\n\nSend a username and password with basic authentication, or a bearer token.\n",
}


def invoke(*args: str, input: str | None = None) -> Result:  # noqa: A002 - CliRunner's name
    return CliRunner(env={"RAGSTORE_AUTH_TOKEN": None, "RAGSTORE_DEBUG": None}).invoke(main, list(args), input=input)


def hits(done: Result) -> list[dict[str, Any]]:
    assert done.exit_code == 0, done.output
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


def make_store(root: Path, embedding: str) -> str:
    folder = root / "docs"
    folder.mkdir(exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    path = str(root / f"store-{embedding}")
    done = invoke("ingest", str(folder), "-c", "docs", "--path", path, "--embedding", embedding)
    assert done.exit_code == 0, done.output
    return path


@pytest.fixture
def store(tmp_path: Path) -> str:
    return make_store(tmp_path, "hashing")


@pytest.fixture(scope="module")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The three docs embedded by the default model (all-MiniLM-L6-v2, the ``l2`` space)."""
    return make_store(tmp_path_factory.mktemp("model"), "default")


def test_help_lists_the_new_commands_and_options() -> None:
    top = invoke("--help")
    assert all(name in top.stdout for name in ("peek", "delete-collection", "--debug"))
    assert "--where-document" in invoke("query", "--help").stdout
    assert "--yes" in invoke("delete-collection", "--help").stdout


def test_peek_shows_the_first_records(store: str) -> None:
    table = invoke("peek", "docs", "--path", store, "-n", "2")
    assert table.exit_code == 0, table.output
    assert "First 2 of 3 records in 'docs'" in " ".join(table.stdout.split())
    records = hits(invoke("peek", "docs", "--path", store, "--json"))
    assert len(records) == 3 and {r["metadata"]["source"] for r in records} == set(DOCS)
    assert all(r["document"] and r["document"] in "".join(DOCS.values()) for r in records)


def test_peek_needs_no_embedding_function(store: str) -> None:
    with ragstore.PersistentClient(store) as client:
        client.create_collection("bare", embedding_function=None).add(ids=["v"], embeddings=[[1.0, 0.0]], documents=["a vector"])
    assert [r["id"] for r in hits(invoke("peek", "bare", "--path", store, "--json"))] == ["v"]


def test_delete_collection_asks_first(store: str) -> None:
    refused = invoke("delete-collection", "docs", "--path", store, input="n\n")
    assert refused.exit_code == 1 and f"Delete collection 'docs' (3 records) from {store}?" in refused.stderr
    no_terminal = invoke("delete-collection", "docs", "--path", store)  # no answer at all (EOF) keeps it too
    assert no_terminal.exit_code == 1
    with ragstore.PersistentClient(store) as client:
        assert client.get_collection("docs").count() == 3
    agreed = invoke("delete-collection", "docs", "--path", store, input="y\n")
    assert agreed.exit_code == 0 and "Deleted collection 'docs' (3 records)." in agreed.stderr
    with ragstore.PersistentClient(store) as client:
        assert client.list_collections() == []


def test_delete_collection_yes_does_not_ask(store: str) -> None:
    done = invoke("delete-collection", "docs", "--path", store, "--yes")
    assert done.exit_code == 0 and "?" not in done.stderr, done.output
    with ragstore.PersistentClient(store) as client:
        assert client.count_collections() == 0


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_query_where_document_filters_on_the_text(store: str, mode: str) -> None:
    args = ["query", "client token", "-c", "docs", "--path", store, "--json", "--mode", mode]
    assert {h["source"] for h in hits(invoke(*args))} == set(DOCS)
    contains = hits(invoke(*args, "--where-document", '{"$contains": "timeout"}'))
    assert [h["source"] for h in contains] == ["timeouts.md"]
    either = hits(invoke(*args, "--where-document", '{"$or": [{"$contains": "proxy"}, {"$contains": "timeout"}]}'))
    assert {h["source"] for h in either} == {"proxies.md", "timeouts.md"}
    bad = invoke(*args, "--where-document", "{contains")
    assert bad.exit_code == 2 and "--where-document" in bad.stderr and "not valid JSON" in bad.stderr


def test_dense_scores_are_the_one_relevance(model_store: str) -> None:
    found = hits(invoke("query", "How do I use a proxy server?", "-c", "docs", "--path", model_store, "--json", "--mode", "dense"))
    assert found[0]["source"] == "proxies.md"
    for hit in found:  # the default model's collections are l2: relevance = 1 - d/2, the cosine similarity
        assert hit["score"] == round(relevance(hit["distance"], "l2"), 4) == round(max(0.0, 1 - hit["distance"] / 2), 4)
    junk = hits(invoke("query", "purple elephant banana recipe", "-c", "docs", "--path", model_store, "--json", "--mode", "dense"))
    assert found[0]["score"] > 0.4 > junk[0]["score"] + 0.15, (found[0]["score"], junk[0]["score"])


def test_a_query_longer_than_the_model_reads_says_it_was_cut(model_store: str) -> None:
    long_query = "How do I route my requests through a proxy server? " * 40  # about 480 word pieces; the model reads 254
    done = invoke("query", long_query, "-c", "docs", "--path", model_store, "--json")
    assert hits(done)[0]["source"] == "proxies.md"
    notes = done.stderr.splitlines()
    assert len(notes) == 1 and "the embedding model reads only its first 254" in notes[0], done.stderr
    short = invoke("query", "proxy server", "-c", "docs", "--path", model_store, "--json")
    assert short.stderr == ""
    words_only = invoke("query", long_query, "-c", "docs", "--path", model_store, "--json", "--mode", "bm25")
    assert words_only.stderr == ""  # BM25 reads every word: nothing was cut


def test_a_query_over_the_text_limit_is_cut_to_it(store: str) -> None:
    long_query = "proxy " + "x" * MAX_QUERY_TEXT_LENGTH
    done = invoke("query", long_query, "-c", "docs", "--path", store, "--json")
    assert done.exit_code == 0, done.output
    assert f"only its first {MAX_QUERY_TEXT_LENGTH:,} are searched" in done.stderr
