"""The chatbot searches hybrid (BM25 + dense) with the real default model over real Starlette docs, behind its relevance gate.

"How do I test my application?" is the question of issue 16: no passage of the Starlette docs
reaches the dense similarity threshold for it (all-MiniLM-L6-v2 gives at best 0.34), so dense
retrieval answers "nothing relevant"; hybrid retrieval finds ``testclient.md`` through the
passages that hold both of its terms. Off-topic questions still get "nothing relevant".
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from shared_data import DOCS, needs_data

import ragstore
from examples.chatbot.engine import NOTHING_FOUND, ChatEngine
from examples.chatbot.retrieval import DEFAULT_MIN_RELEVANCE, MIN_QUERY_TERMS, Passage, Retriever, retrieval_description
from examples.chatbot.store import ingest_folder, open_client, open_collection
from examples.chatbot.terminal import print_reply
from ragstore.collection_schema import has_bm25_index
from ragstore.relevance import relevance

pytestmark = needs_data
STARLETTE = DOCS / "markdown" / "starlette"
# testclient.md, and the pages whose passages dense search ranks next to it for the question (and a few more).
FILES = ("testclient.md", "database.md", "config.md", "lifespan.md", "contributing.md", "applications.md", "routing.md", "responses.md")
TEST_QUESTION = "How do I test my application?"
OFF_TOPIC = ("What is the recipe for banana bread?", "How do I test my blood pressure?", "How do I apply for a mortgage?")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ragstore.ClientAPI]:
    """A persistent store holding the chatbot's collection of Starlette pages, ingested by the chatbot's own code."""
    docs = tmp_path_factory.mktemp("docs")
    for name in FILES:
        shutil.copy(STARLETTE / name, docs / name)
    client = open_client(tmp_path_factory.mktemp("store"))
    stats = ingest_folder(open_collection(client, "docs"), docs)
    assert stats.files == len(FILES) and not stats.failed
    yield client
    client.close()


@pytest.fixture(scope="module")
def collection(client: ragstore.ClientAPI) -> Any:
    return client.get_collection("docs")


@pytest.fixture(scope="module")
def dense_only(client: ragstore.ClientAPI, collection: Any) -> Any:
    """The same records (same embeddings) in a collection without a BM25 index, as a store made before hybrid search."""
    records = collection.get(include=["documents", "metadatas", "embeddings"])
    plain = client.create_collection("plain")  # the default embedder, no schema: no BM25 index
    plain.add(ids=records["ids"], documents=records["documents"], metadatas=records["metadatas"], embeddings=records["embeddings"])
    return plain


def test_the_chatbot_s_collections_have_a_bm25_index_and_are_searched_hybrid(
    client: ragstore.ClientAPI, collection: Any, dense_only: Any
) -> None:
    assert has_bm25_index(collection.schema) and not has_bm25_index(dense_only.schema)
    assert Retriever(collection).mode == "hybrid"
    assert retrieval_description(Retriever(collection)) == "hybrid search (BM25 + dense)"
    plain = Retriever(dense_only)
    assert plain.mode == "dense" and "no BM25 index" in retrieval_description(plain) and "ingest again" in retrieval_description(plain)
    # Reopening keeps what the collection was created with: open_collection does not turn a plain one hybrid.
    assert Retriever(open_collection(client, "plain")).mode == "dense"


def test_dense_search_turns_the_testing_question_away_and_hybrid_finds_testclient(collection: Any, dense_only: Any) -> None:
    # Dense: the records are the same, and none is similar enough.
    assert Retriever(dense_only).retrieve(TEST_QUESTION) == []
    best = dense_only.query(query_texts=[TEST_QUESTION], n_results=1)["distances"][0][0]
    assert relevance(best, "l2") < DEFAULT_MIN_RELEVANCE

    passages = Retriever(collection).retrieve(TEST_QUESTION)
    assert "testclient.md" in [p.source for p in passages]
    for passage in passages:  # every one was kept by its terms, since none is similar enough
        assert passage.kept_for == "terms" and passage.terms == (2, 2)
        assert "test" in passage.text.lower() and "application" in passage.text.lower()
        assert 0 < passage.score < DEFAULT_MIN_RELEVANCE  # the relevance (cosine similarity), not the fused rank score
        assert passage.evidence == f"score {passage.score:.2f}, all 2 query terms"
    # Without the terms rule, hybrid keeps nothing either: that rule is what finds it.
    assert Retriever(collection, lexical=False).retrieve(TEST_QUESTION) == []


def test_the_chat_engine_answers_the_testing_question_from_testclient(collection: Any) -> None:
    reply = ChatEngine(Retriever(collection)).ask(TEST_QUESTION)
    out = io.StringIO()
    print_reply(reply, out)
    printed = out.getvalue()
    assert reply.mode == "extractive"
    assert "Sources:" in printed and "testclient.md" in printed and "all 2 query terms" in printed
    answer = printed.split("Sources:")[0]
    assert "test" in answer.lower() and re.search(r" \[[1-4]\]", answer), answer  # sentences quoted from numbered sources


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_still_get_nothing_relevant(collection: Any, question: str) -> None:
    engine = ChatEngine(Retriever(collection))
    reply = engine.ask(question)
    assert (reply.mode, reply.passages, reply.text()) == ("none", [], NOTHING_FOUND)
    # Hybrid ranking still returns passages; the gate is what drops them: each shares at most some of the terms.
    ranked = Retriever(collection, min_relevance=0.0).retrieve(question)
    assert ranked and all(p.terms is not None and p.terms[0] < p.terms[1] for p in ranked)


def test_on_topic_questions_are_kept_by_similarity_and_ranked_by_both(collection: Any) -> None:
    passages = Retriever(collection).retrieve("How do I mount routes on an application?")
    assert passages and passages[0].source == "routing.md"
    assert any(p.kept_for == "similarity" for p in passages)
    assert all(p.kept_for == "similarity" or p.terms == (3, 3) for p in passages)  # mount, rout, applic


def test_one_query_term_is_not_enough_for_the_terms_rule() -> None:
    assert MIN_QUERY_TERMS == 2
    assert not Passage("a", "Mount", terms=(1, 1)).all_terms
    assert Passage("a", "test application", terms=(2, 2)).all_terms and not Passage("a", "test", terms=(1, 2)).all_terms
    assert not Passage("a", "dense mode").all_terms  # no terms counted in dense mode


def test_scores_and_the_gate_use_ragstore_relevance_in_both_modes(collection: Any, dense_only: Any) -> None:
    question = "How do I mount routes on an application?"
    dense = Retriever(dense_only, min_relevance=0.0).retrieve(question)
    distances = dense_only.query(query_texts=[question], n_results=len(dense), include=["distances"])["distances"][0]
    assert dense_only.configuration["hnsw"]["space"] == "l2"
    assert [p.score for p in dense] == pytest.approx([relevance(d, "l2") for d in distances])  # 1 - d/2, not 1 - d/4 or 1/(1+d)
    # The gate keeps what ragstore.relevance puts at or above the threshold (a cosine similarity of 0.35, as before).
    assert DEFAULT_MIN_RELEVANCE == 0.35
    assert [p.id for p in Retriever(dense_only).retrieve(question)] == [p.id for p in dense if p.score >= DEFAULT_MIN_RELEVANCE]
    # Hybrid mode ranks by fused scores but shows the same relevance for the same record (same vectors).
    by_id = {p.id: p.score for p in dense}
    shared = [p for p in Retriever(collection, min_relevance=0.0).retrieve(question) if p.id in by_id]
    assert shared and all(p.score == pytest.approx(by_id[p.id], abs=1e-5) for p in shared)
