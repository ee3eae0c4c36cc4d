"""The character and Markdown splitters: properties under hypothesis, then real books and docs.

Every splitter must return exact slices (``text[start:start+len] == chunk``), in order, none
over the limit, none blank, and lose nothing: between consecutive chunks there is overlap or
whitespace only, so the chunks minus their overlaps give back the text's content.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import DOCS, GUTENBERG, needs_data

from ragstore.documents import (
    Chunk,
    Document,
    MarkdownHeaderSplitter,
    RecursiveCharacterSplitter,
    Splitter,
    load_directory,
    load_markdown,
    load_pdf,
    load_text,
    split_documents,
)
from ragstore.errors import InvalidArgumentError


def check_chunks(text: str, chunks: list[Chunk], limit: int | None = None, overlap: int | None = None) -> None:
    """The invariants every splitter keeps; ``limit`` and ``overlap`` in characters."""
    previous_end = 0
    rebuilt = []
    for i, chunk in enumerate(chunks):
        start, end = chunk.start_index, chunk.start_index + len(chunk.text)
        assert text[start:end] == chunk.text, f"chunk {i} is not the slice at its start_index"
        assert chunk.text.strip() == chunk.text != "", f"chunk {i} is blank or has surrounding whitespace"
        assert limit is None or len(chunk.text) <= limit, f"chunk {i} is {len(chunk.text)} long"
        if i:
            previous_start = chunks[i - 1].start_index
            assert start > previous_start and end > previous_end, f"chunk {i} is out of order or inside chunk {i - 1}"
            if start < previous_end:
                assert overlap is None or previous_end - start <= overlap, f"chunk {i} overlaps by {previous_end - start}"
            else:
                assert not text[previous_end:start].strip(), f"text lost between chunks {i - 1} and {i}"
        # The chunks minus their overlaps, with the whitespace between them: the text back.
        rebuilt.append(text[previous_end:start] if start >= previous_end else "")
        rebuilt.append(chunk.text[max(0, previous_end - start) :])
        previous_end = max(previous_end, end)
    assert not text[previous_end:].strip(), "text lost after the last chunk"
    assert "".join(rebuilt).strip() == text.strip()


# Text made of the separators' raw material, so every separator (and runs of them) occurs.
texts = st.lists(st.sampled_from([*"ab .\n\té日", "\n\n", ". "]), max_size=300).map("".join)
words_text = st.lists(st.sampled_from(["alpha", "be", "gamma.", "\n", "\n\n", " ", "  ", "x" * 30]), max_size=80).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(text=texts | words_text, size=st.integers(1, 60), data=st.data())
def test_recursive_splitter_properties(text: str, size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    splitter = RecursiveCharacterSplitter(chunk_size=size, chunk_overlap=overlap)
    chunks = splitter.split(text)
    check_chunks(text, chunks, limit=size, overlap=overlap)
    assert splitter.split(text) == chunks  # deterministic
    assert (chunks == []) == (not text.strip())


@settings(max_examples=80, deadline=None)
@given(text=words_text, size=st.integers(8, 40))
def test_without_the_empty_separator_only_unsplittable_pieces_exceed_the_limit(text: str, size: int) -> None:
    chunks = RecursiveCharacterSplitter(chunk_size=size, chunk_overlap=0, separators=["\n\n", "\n", " "]).split(text)
    check_chunks(text, chunks)
    for chunk in chunks:
        assert len(chunk.text) <= size or not re.search(r"\s", chunk.text), chunk  # one "word" longer than the limit


def test_separators_are_tried_in_order_and_overlap_repeats_whole_pieces() -> None:
    text = "First paragraph here.\n\nSecond one. It has two sentences.\nAnd a line."
    chunks = RecursiveCharacterSplitter(chunk_size=40, chunk_overlap=0).split(text)
    assert [c.text for c in chunks] == ["First paragraph here.", "Second one. It has two sentences.", "And a line."]
    overlapping = RecursiveCharacterSplitter(chunk_size=20, chunk_overlap=10).split("aa bb cc dd ee ff gg hh ii jj")
    assert [c.text for c in overlapping] == ["aa bb cc dd ee ff gg", "ee ff gg hh ii jj"]  # as LangChain
    counted = RecursiveCharacterSplitter(chunk_size=3, chunk_overlap=0, length_function=lambda t: len(t.split()))
    assert [c.text for c in counted.split("one two three four five")] == ["one two three", "four five"]


def test_invalid_settings() -> None:
    for kwargs in (
        {"chunk_size": 0},
        {"chunk_size": 10, "chunk_overlap": 10},
        {"chunk_overlap": -1},
        {"separators": []},
        {"separators": "\n"},
    ):
        with pytest.raises(InvalidArgumentError):
            RecursiveCharacterSplitter(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        MarkdownHeaderSplitter(max_level=7)


@needs_data
@pytest.mark.parametrize(("size", "overlap"), [(1000, 200), (300, 0)])
def test_a_gutenberg_book(size: int, overlap: int) -> None:
    (book,) = load_text(GUTENBERG / "Pride_and_Prejudice_JaneAusten.txt", source="pride.txt")
    chunks = RecursiveCharacterSplitter(chunk_size=size, chunk_overlap=overlap).split(book.text)
    check_chunks(book.text, chunks, limit=size, overlap=overlap)
    assert len(book.text) / size < len(chunks) < 3 * len(book.text) / size
    assert any("It is a truth universally acknowledged" in c.text for c in chunks)


@needs_data
def test_split_documents_keeps_page_metadata_and_gives_stable_ids() -> None:
    pages = list(load_pdf(DOCS / "pdf/R-FAQ.pdf", source="R-FAQ.pdf"))[:5]
    chunks = list(split_documents(pages, RecursiveCharacterSplitter(chunk_size=500, chunk_overlap=50)))
    by_page = {p.id: p for p in pages}
    for chunk in chunks:
        page_id, _, index = chunk.id.rpartition("#chunk=")
        page = by_page[page_id]
        start = chunk.metadata["start_index"]
        assert isinstance(start, int) and page.text[start : start + len(chunk.text)] == chunk.text
        assert chunk.metadata == {**page.metadata, "chunk_index": int(index), "start_index": start}
    assert [c.id for c in split_documents(pages, RecursiveCharacterSplitter(chunk_size=500, chunk_overlap=50))] == [c.id for c in chunks]
    assert {c.metadata["page"] for c in chunks} == {1, 2, 3, 4, 5}


def test_any_object_with_split_is_a_splitter() -> None:
    class Lines:
        def split(self, text: str) -> list[Chunk]:
            return [Chunk(m.group(), m.start(), {"kind": "line"}) for m in re.finditer(r"\S.*", text)]

    assert isinstance(Lines(), Splitter)
    (_, b) = split_documents([Document("d", "one\n two", {"source": "d"})], Lines())
    assert (b.id, b.text, b.metadata) == ("d#chunk=1", "two", {"source": "d", "kind": "line", "chunk_index": 1, "start_index": 5})


# Markdown ------------------------------------------------------------------------------------


def test_markdown_header_paths() -> None:
    text = (
        "Preamble.\n\n# Intro\n\nWelcome.\n\n## Setup\n\n```sh\n# not a heading\npip install x\n```\n\n"
        "### Linux\n\napt.\n\n## Usage\n\nUse it.\n\n# Reference\n## API\n\nCalls.\n"
    )
    chunks = MarkdownHeaderSplitter(chunk_size=200, chunk_overlap=0).split(text)
    check_chunks(text, chunks)
    assert [(c.text.split("\n")[0], c.metadata.get("headers")) for c in chunks] == [
        ("Preamble.", None),
        ("# Intro", "Intro"),
        ("## Setup", "Intro > Setup"),
        ("### Linux", "Intro > Setup > Linux"),
        ("## Usage", "Intro > Usage"),
        ("# Reference", "Reference > API"),  # a heading with no text of its own joins the next section
    ]
    small = MarkdownHeaderSplitter(chunk_size=12, chunk_overlap=0).split(text)
    check_chunks(text, small, limit=12)
    assert {c.metadata.get("headers") for c in small} == {
        None,
        "Intro",
        "Intro > Setup",
        "Intro > Setup > Linux",
        "Intro > Usage",
        "Reference > API",
    }


@needs_data
def test_markdown_splitter_on_real_docs() -> None:
    auth = next(load_markdown(DOCS / "markdown/httpx/advanced/authentication.md"))
    headers = [c.metadata.get("headers") for c in MarkdownHeaderSplitter(chunk_size=800, chunk_overlap=100).split(auth.text)]
    assert headers[0] is None  # the page starts with text, before any heading
    assert list(dict.fromkeys(headers[1:])) == [
        "Basic authentication",
        "Digest authentication",
        "NetRC authentication",
        "Custom authentication schemes",
    ]
    quickstart = next(load_markdown(DOCS / "markdown/httpx/quickstart.md"))
    paths = {c.metadata.get("headers") for c in MarkdownHeaderSplitter().split(quickstart.text)}
    assert {"QuickStart", "QuickStart > Passing Parameters in URLs", "QuickStart > JSON Response Content"} <= paths


@needs_data
def test_markdown_splitter_on_every_markdown_doc() -> None:
    splitter = MarkdownHeaderSplitter(chunk_size=500, chunk_overlap=50)
    chunks = 0
    for doc in load_directory(DOCS / "markdown"):
        pieces = splitter.split(doc.text)
        check_chunks(doc.text, pieces, limit=500)
        chunks += len(pieces)
        sections = {start: headers for start, _, headers in splitter.sections(doc.text)}
        for piece in pieces:
            headers = piece.metadata.get("headers")
            if piece.start_index in sections:
                assert headers == sections[piece.start_index]
            if isinstance(headers, str) and piece.start_index in sections:
                # A chunk that opens a section opens with a heading on its path.
                heading = piece.text.split("\n")[0].strip("#").strip()
                assert heading in headers.split(" > "), (doc.id, headers, heading)
    assert chunks > 400
