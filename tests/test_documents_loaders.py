"""Each loader on real files (../shared/data: Gutenberg books, Sphinx HTML, MkDocs Markdown, Debian PDFs) and on small files written here.

The shared data sits beside the project (``../shared/data``); CI has it there. Without it
(a bare clone elsewhere) the real-file tests skip, saying so; with ``CI`` set they fail instead.
"""

from __future__ import annotations

import inspect
import itertools
from pathlib import Path

import bs4
import pypdf
import pytest
from shared_data import DATA, DOCS, GUTENBERG, needs_data

from ragstore import documents
from ragstore.documents import (
    Document,
    DocumentLoadError,
    EncryptedDocumentError,
    load_csv,
    load_html,
    load_json,
    load_jsonl,
    load_markdown,
    load_pdf,
    load_text,
)
from ragstore.errors import InvalidArgumentError

PDF_PAGES = {
    "R-FAQ.pdf": 52,
    "R-data.pdf": 41,
    "R-intro.pdf": 113,
    "R-lang.pdf": 69,
    "debian-reference.en.pdf": 261,
    "developers-reference.pdf": 114,
}


# The package surface ---------------------------------------------------------------------------


def test_public_names_are_sorted_and_documented_with_examples() -> None:
    names = [n for n in documents.__all__ if not n.isupper()]
    assert names == sorted(names, key=lambda n: (not n[0].isupper(), n))
    for name in documents.__all__:
        obj = getattr(documents, name)
        if (inspect.isclass(obj) and not issubclass(obj, Exception)) or inspect.isfunction(obj):
            doc = inspect.getdoc(obj) or ""
            assert "Example:" in doc or name in ("Loader", "Splitter", "LoadedFile", "FileError"), f"{name} has no example"


# Document ------------------------------------------------------------------------------------


def test_document_checks_its_metadata_like_a_collection_would() -> None:
    doc = Document("a", "text", {"source": "a", "page": 2, "score": 0.5, "ok": True})
    assert doc.source == "a" and doc.metadata["page"] == 2
    for bad in ({"tags": ["x"]}, {"": 1}, {"$k": 1}, {"k": None}, {"k": float("nan")}, {"k": {"nested": 1}}):
        with pytest.raises(InvalidArgumentError):
            Document("a", "text", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Document("", "text")


# Plain text ----------------------------------------------------------------------------------


@needs_data
def test_every_gutenberg_book_decodes_without_bom_or_carriage_returns() -> None:
    books = sorted(GUTENBERG.glob("*.txt"))
    assert len(books) == 31
    with_bom = 0
    for book in books:
        raw = book.read_bytes()
        with_bom += raw.startswith(b"\xef\xbb\xbf")
        (doc,) = load_text(book, source=book.name)
        assert doc.id == book.name and doc.metadata == {"source": book.name}
        assert doc.text == raw.decode("utf-8-sig").replace("\r\n", "\n")
        assert "\ufeff" not in doc.text[:1] and "\r" not in doc.text
    assert with_bom > 20  # the README: "most with a BOM"


@needs_data
def test_candide_in_latin1_cp1252_and_utf16_decodes_to_the_same_text(tmp_path: Path) -> None:
    (original,) = load_text(GUTENBERG / "fr-Candide.txt")
    passage = original.text[20_000:30_000]
    assert "é" in passage and "è" in passage
    for encoding in ("latin-1", "cp1252", "utf-16", "utf-8-sig", "utf-32"):
        path = tmp_path / f"candide-{encoding}.txt"
        path.write_bytes(passage.encode(encoding))
        assert next(load_text(path)).text == passage, encoding


def test_short_latin1_and_crlf_text(tmp_path: Path) -> None:
    path = tmp_path / "menu.txt"
    path.write_bytes("Crème brûlée\r\nCafé au lait\r\n".encode("latin-1"))
    assert next(load_text(path)).text == "Crème brûlée\nCafé au lait\n"


def test_text_loader_errors_are_typed_and_lazy(tmp_path: Path) -> None:
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    documents = load_text(binary, source="blob.txt")  # nothing is read before iteration
    with pytest.raises(DocumentLoadError, match="binary") as failure:
        next(documents)
    assert failure.value.source == "blob.txt" and failure.value.path == binary
    with pytest.raises(DocumentLoadError, match="No such file"):
        next(load_text(tmp_path / "missing.txt"))


# Markdown ------------------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("httpx/quickstart.md", "QuickStart"),
        ("httpx/api.md", "Developer Interface"),
        ("starlette/routing.md", "HTTP Routing"),  # begins with a level-2 heading
        ("starlette/release-notes.md", "0.47.3 (August 24, 2025)"),  # front matter first, not a heading
        ("httpx/advanced/event-hooks.md", None),  # no heading at all
        ("starlette/LICENSE.md", None),
    ],
)
def test_markdown_titles_on_real_docs(name: str, title: str | None) -> None:
    path = DOCS / "markdown" / name
    (doc,) = load_markdown(path, source=name)
    assert doc.metadata.get("title") == title
    assert doc.text == path.read_text(encoding="utf-8")  # kept as Markdown, unchanged


def test_markdown_title_rules(tmp_path: Path) -> None:
    cases = {
        "front.md": ("---\ntitle: 'From Front Matter'\n---\n# Heading\n", "From Front Matter"),
        "setext.md": ("```\n# a comment, not a heading\n```\n\nSetext Title\n============\n", "Setext Title"),
        "closing.md": ("intro\n\n### Closed heading ###\n", "Closed heading"),
    }
    for name, (text, title) in cases.items():
        (tmp_path / name).write_text(text)
        assert next(load_markdown(tmp_path / name)).metadata["title"] == title


# HTML ----------------------------------------------------------------------------------------


@needs_data
def test_sphinx_page_keeps_content_and_drops_scripts_styles_and_navigation() -> None:
    (doc,) = load_html(DOCS / "html/python311/tutorial/classes.html", source="classes.html")
    assert doc.metadata == {"source": "classes.html", "title": "9. Classes — Python 3.11.2 documentation"}
    text = doc.text
    assert text.startswith("9. Classes\n\nClasses provide a means of bundling data and functionality together.")
    assert "9.3.2. Class Objects" in text
    assert "    def f(self):\n        return 'hello world'" in text  # pre keeps indentation
    for gone in ("@media only screen", "_static/", "Previous topic", "Table of Contents", "Show Source", "¶", "Navigation"):
        assert gone not in text, gone


@needs_data
def test_inline_script_text_is_not_in_the_document() -> None:
    path = DOCS / "html/developers-reference/pkgs.html"
    assert "document.getElementById" in path.read_text(encoding="utf-8")
    (doc,) = load_html(path)
    assert doc.metadata["title"] == "5. Managing Packages — developers-reference 12.18 documentation"
    assert "document.getElementById" not in doc.text and "searchbox" not in doc.text
    assert "If you want to create a new package for the Debian distribution" in doc.text


@needs_data
def test_real_html_pages_load_with_a_title_and_without_script_or_style_text() -> None:
    pages = sorted((DOCS / "html").rglob("*.html"))
    assert len(pages) == 68
    for page in pages[::4]:  # a spread of both manuals
        soup = bs4.BeautifulSoup(page.read_bytes(), "html.parser")
        hidden = [" ".join(tag.get_text().split())[:40] for tag in soup.find_all(["script", "style"])]
        (doc,) = load_html(page)
        assert doc.metadata.get("title") and len(doc.text) > 200, page
        flat = " ".join(doc.text.split())
        assert not [code for code in hidden if len(code) > 10 and code in flat], page
        assert "\n\n\n" not in doc.text and not doc.text.startswith((" ", "\n")), page


def test_html_visibility_rules(tmp_path: Path) -> None:
    html = """<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title><style>p {color: red}</style></head>
    <body><header>Site banner</header><nav>Home | About</nav>
    <div role="navigation">Sidebar links</div><div hidden>Hidden text</div><span aria-hidden="true">icon</span>
    <!-- a comment --><h1>Men\xfc</h1><p>Cr\xe8me   br\xfbl\xe9e
    is <em>sweet</em>.</p><ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>
    <noscript>Enable JS</noscript><aside>Related posts</aside><footer>Copyright</footer></body></html>"""
    path = tmp_path / "page.html"
    path.write_bytes(html.encode("latin-1"))
    (doc,) = load_html(path)
    assert doc.metadata["title"] == "Café"
    assert doc.text == "Menü\n\nCrème brûlée is sweet.\n\none\ntwo\n\na b"


# PDF -----------------------------------------------------------------------------------------


@needs_data
def test_pdf_page_counts_match_pypdf_and_the_first_pages_load_lazily() -> None:
    for name, pages in PDF_PAGES.items():
        path = DOCS / "pdf" / name
        assert len(pypdf.PdfReader(path).pages) == pages
        first = list(itertools.islice(load_pdf(path, source=name), 2))
        assert [d.metadata["page"] for d in first] == [1, 2]
        assert [d.id for d in first] == [f"{name}#page=1", f"{name}#page=2"]


@needs_data
def test_a_whole_pdf_gives_one_document_per_page_in_order() -> None:
    docs = list(load_pdf(DOCS / "pdf/R-data.pdf", source="pdf/R-data.pdf"))
    assert len(docs) == PDF_PAGES["R-data.pdf"]
    assert [d.metadata["page"] for d in docs] == list(range(1, 42))
    assert all(d.metadata["source"] == "pdf/R-data.pdf" for d in docs)
    assert "R Data Import/Export" in docs[0].text
    assert sum(len(d.text) for d in docs) > 50_000 and all("\r" not in d.text for d in docs)


@needs_data
def test_pdf_title_comes_from_the_document_information() -> None:
    first = next(load_pdf(DOCS / "pdf/debian-reference.en.pdf"))
    assert first.metadata["title"] == "Debian Reference"
    assert "title" not in next(load_pdf(DOCS / "pdf/R-FAQ.pdf")).metadata  # it has none


def _blank_pdf(path: Path, **encrypt: str) -> Path:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=72, height=72)
    if encrypt:
        writer.encrypt(algorithm="RC4-128", **encrypt)
    writer.write(path)
    return path


def test_encrypted_pdfs(tmp_path: Path) -> None:
    locked = _blank_pdf(tmp_path / "locked.pdf", user_password="secret")
    with pytest.raises(EncryptedDocumentError, match="needs a password"):
        list(load_pdf(locked))
    with pytest.raises(EncryptedDocumentError, match="password is wrong"):
        list(load_pdf(locked, password="guess"))
    assert [d.metadata["page"] for d in load_pdf(locked, password="secret")] == [1]
    # Encrypted only to set permissions (empty user password): opens without one.
    permissions_only = _blank_pdf(tmp_path / "perm.pdf", user_password="", owner_password="owner")
    assert len(list(load_pdf(permissions_only))) == 1


@needs_data
def test_broken_pdfs_raise_a_load_error_naming_the_file(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes((DOCS / "pdf/R-data.pdf").read_bytes()[:20_000])
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    for path in (truncated, garbage, tmp_path / "missing.pdf"):
        with pytest.raises(DocumentLoadError) as failure:
            list(load_pdf(path))
        assert not isinstance(failure.value, EncryptedDocumentError)
        assert path.name in str(failure.value) and failure.value.path == path


# CSV -----------------------------------------------------------------------------------------


def test_csv_text_column_and_typed_metadata(tmp_path: Path) -> None:
    path = tmp_path / "films.csv"
    path.write_text(
        "title,year,rating,code,plot,source\n"
        'Alien,1979,8.5,007,"In space,\nno one can hear you scream.",ignored\n'
        "Heat,,,x1,Cops and robbers.,\n",
        encoding="utf-8",
    )
    docs = list(load_csv(path, text_column="plot", source="films.csv"))
    assert [d.id for d in docs] == ["films.csv#row=1", "films.csv#row=2"]
    assert docs[0].text == "In space,\nno one can hear you scream."
    assert docs[0].metadata == {"title": "Alien", "year": 1979, "rating": 8.5, "code": "007", "source": "films.csv", "row": 1}
    assert docs[1].metadata == {"title": "Heat", "code": "x1", "source": "films.csv", "row": 2}  # empty cells left out
    chosen = next(load_csv(path, text_column="title", metadata_columns=["year"]))
    assert set(chosen.metadata) == {"year", "source", "row"}


def test_csv_without_text_column_tsv_and_latin1(tmp_path: Path) -> None:
    path = tmp_path / "people.tsv"
    path.write_bytes("\tname\tcity\n0\tZoë\tMünchen\n".encode("latin-1"))
    (doc,) = load_csv(path, delimiter="\t")
    assert doc.text == "name: Zoë\ncity: München"
    assert doc.metadata["city"] == "München" and "" not in doc.metadata  # pandas' unnamed index column is no key


def test_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DocumentLoadError, match="no column 'text'"):
        next(load_csv(path, text_column="text"))
    with pytest.raises(DocumentLoadError, match="no column 'c'"):
        next(load_csv(path, text_column="a", metadata_columns=["c"]))
    bad_key = tmp_path / "b.csv"
    bad_key.write_text("text,$x\nhello,1\n")
    with pytest.raises(DocumentLoadError, match="Row 1"):
        next(load_csv(bad_key, text_column="text", metadata_columns=["$x"]))


# JSON and JSON Lines -------------------------------------------------------------------------


def test_json_array_of_records_with_dotted_paths(tmp_path: Path) -> None:
    path = tmp_path / "posts.json"
    path.write_text(
        '[{"body": {"text": "First post"}, "meta": {"author": "ada", "votes": 3}, "tags": ["a"]},'
        ' {"body": {"text": "Second"}, "meta": {"author": null, "votes": 1.5}}]'
    )
    docs = list(load_json(path, text_field="body.text", metadata_fields=["meta.author", "meta.votes"], source="posts.json"))
    assert [(d.id, d.text) for d in docs] == [("posts.json#row=1", "First post"), ("posts.json#row=2", "Second")]
    assert docs[0].metadata == {"meta.author": "ada", "meta.votes": 3, "source": "posts.json", "row": 1}
    assert docs[1].metadata == {"meta.votes": 1.5, "source": "posts.json", "row": 2}
    with pytest.raises(DocumentLoadError, match="'tags' holds list"):
        list(load_json(path, text_field="body.text", metadata_fields=["tags"]))


def test_json_single_object_records_field_and_whole_record_text(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text('\ufeff{"title": "Only", "sections": ["intro", "body"]}', encoding="utf-8")
    (doc,) = load_json(one, text_field="sections.1", source="one.json")
    assert (doc.id, doc.text, doc.metadata) == ("one.json", "body", {"source": "one.json"})
    assert next(load_json(one)).text == '{"title": "Only", "sections": ["intro", "body"]}'
    nested = tmp_path / "nested.json"
    nested.write_text('{"data": {"items": [{"q": "a?"}, {"q": "b?"}]}}')
    assert [d.text for d in load_json(nested, records_field="data.items", text_field="q")] == ["a?", "b?"]
    with pytest.raises(DocumentLoadError, match=r"no records at field 'data\.nothing'"):
        next(load_json(nested, records_field="data.nothing"))
    with pytest.raises(DocumentLoadError, match=r"row 1 .*no text at field 'missing'"):
        list(load_json(nested, records_field="data.items", text_field="missing"))
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    with pytest.raises(DocumentLoadError, match="not valid JSON"):
        next(load_json(broken))


def test_jsonl_rows_are_line_numbers_and_loading_is_lazy(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "text": "alpha", "n": 1}\n\n{"_id": "d2", "text": "beta", "n": 2}\nnot json\n')
    docs = load_jsonl(path, text_field="text", metadata_fields=["_id", "n"], source="corpus.jsonl")
    first, second = next(docs), next(docs)  # yielded before the bad line is read
    assert (first.id, first.text, first.metadata) == (
        "corpus.jsonl#row=1",
        "alpha",
        {"_id": "d1", "n": 1, "source": "corpus.jsonl", "row": 1},
    )
    assert (second.id, second.metadata["row"]) == ("corpus.jsonl#row=3", 3)
    with pytest.raises(DocumentLoadError, match=r"row 4 .*not valid JSON"):
        next(docs)


@needs_data
def test_jsonl_on_a_real_corpus_file_reads_only_what_is_asked() -> None:
    corpus = DATA / "retrieval/scifact/corpus.jsonl"
    docs = list(itertools.islice(load_jsonl(corpus, text_field="text", metadata_fields=["_id", "title"]), 3))
    assert [d.metadata["row"] for d in docs] == [1, 2, 3]
    assert all(d.text and isinstance(d.metadata["_id"], str) and d.metadata["title"] for d in docs)
