"""The embedding adapters (both ways) and the loader over real files from ../shared/data/docs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ragstore
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_ragstore import EmbeddingError, LangChainEmbeddingFunction, RagstoreEmbeddings, RagstoreLoader, RagstoreVectorStore

DOCS = Path(__file__).resolve().parents[4] / "shared" / "data" / "docs"  # the shared data beside the repository


def test_ragstore_function_as_langchain_embeddings() -> None:
    function = ragstore.HashingEmbeddingFunction(dim=32)
    embeddings = RagstoreEmbeddings(function)
    docs = embeddings.embed_documents(["alpha beta", "gamma"])
    assert [len(v) for v in docs] == [32, 32] and all(isinstance(x, float) for x in docs[0])
    assert docs[0] == pytest.approx([float(x) for x in function(["alpha beta"])[0]])
    assert embeddings.embed_query("alpha beta") == pytest.approx(docs[0])
    assert embeddings.embed_documents([]) == []
    with pytest.raises(TypeError, match="list of strings"):
        embeddings.embed_documents("not a list")  # type: ignore[arg-type]


async def test_ragstore_embeddings_async_defaults() -> None:
    embeddings = RagstoreEmbeddings(ragstore.HashingEmbeddingFunction(dim=8))
    assert await embeddings.aembed_query("x") == pytest.approx(embeddings.embed_query("x"))


def test_ragstore_embeddings_checks_the_output() -> None:
    def broken(input: list[str]) -> list[list[float]]:  # noqa: A002
        return [[1.0]]

    with pytest.raises(EmbeddingError, match="shape"):
        RagstoreEmbeddings(broken).embed_documents(["a", "b"])


def test_langchain_embeddings_as_ragstore_function() -> None:
    lc = DeterministicFakeEmbedding(size=6)
    function = LangChainEmbeddingFunction(lc)
    vectors = function(["a", "b"])
    assert len(vectors) == 2 and vectors[0].dtype == np.float32
    assert vectors[1] == pytest.approx(np.asarray(lc.embed_documents(["b"])[0], dtype=np.float32))
    assert function.embed_query(["a"])[0] == pytest.approx(np.asarray(lc.embed_query("a"), dtype=np.float32))
    collection = ragstore.EphemeralClient().create_collection("lc-function", embedding_function=function)
    collection.add(ids=["a", "b"], documents=["apples", "bananas"])
    assert collection.query(query_texts=["bananas"], n_results=1)["ids"] == [["b"]]
    assert collection.configuration["embedding_function"]["name"] == "langchain"
    with pytest.raises(TypeError, match="LangChain Embeddings"):
        LangChainEmbeddingFunction(ragstore.HashingEmbeddingFunction())  # type: ignore[arg-type]


def test_round_trip_through_both_adapters_is_identity() -> None:
    function = ragstore.HashingEmbeddingFunction(dim=12)
    back = LangChainEmbeddingFunction(RagstoreEmbeddings(function))
    assert back(["some text"])[0] == pytest.approx(function(["some text"])[0])


def test_loader_on_real_markdown() -> None:
    root = DOCS / "markdown" / "httpx"
    loader = RagstoreLoader(root, glob="*.md", recursive=False)
    lazy = loader.lazy_load()
    first = next(lazy)  # lazy: documents come one file at a time
    files = sorted(p.name for p in root.glob("*.md"))
    assert first.id == files[0] and first.metadata["source"] == files[0]
    assert first.page_content.split()[:3] == (root / files[0]).read_text(encoding="utf-8-sig").split()[:3]
    rest = list(lazy)
    assert [d.id for d in [first, *rest]] == files
    assert any("title" in d.metadata for d in rest)
    assert loader.errors == []


def test_loader_on_real_html_and_pdf(tmp_path: Path) -> None:
    html = RagstoreLoader(DOCS / "html" / "python311", glob="tutorial/*.html").load()
    assert html and all(d.metadata["source"].startswith("tutorial/") for d in html)
    assert all("<html" not in d.page_content.lower() for d in html) and any(d.metadata.get("title") for d in html)
    pdf = RagstoreLoader(DOCS / "office" / "document.pdf").load()
    assert pdf and pdf[0].metadata.get("page") == 1 and "#page=1" in (pdf[0].id or "")


def test_loader_skips_broken_files_and_reports_them(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    loader = RagstoreLoader(tmp_path)
    assert [d.id for d in loader.load()] == ["good.txt"]
    assert [e.source for e in loader.errors] == ["bad.pdf"]
    with pytest.raises(Exception, match=r"(?i)pdf"):
        RagstoreLoader(tmp_path, raise_on_error=True).load()
    with pytest.raises(FileNotFoundError):
        RagstoreLoader(tmp_path / "missing").load()


def test_loaded_documents_go_into_the_store() -> None:
    docs = RagstoreLoader(DOCS / "markdown" / "httpx", glob="*.md", recursive=False).load()
    store = RagstoreVectorStore("loaded", DeterministicFakeEmbedding(size=8))
    assert store.add_documents(docs) == [d.id for d in docs]
    assert store.get_by_ids([docs[0].id or ""]) == [docs[0]]
