"""The directory walker on the real document tree (../shared/data/docs) and on trees with broken files."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from shared_data import DOCS, needs_data

from ragstore.documents import (
    LOADERS,
    DocumentLoadError,
    FileError,
    MissingDependencyError,
    UnsupportedFileError,
    load_directory,
    load_file,
    load_text,
)


@needs_data
def test_markdown_tree_walk_is_sorted_relative_and_stable() -> None:
    walk = load_directory(DOCS / "markdown")
    sources = [p.relative_to(DOCS / "markdown").as_posix() for p in walk.paths]
    assert len(sources) == 50 and sources == sorted(sources)
    assert "httpx/advanced/ssl.md" in sources and walk.skipped == []
    docs = list(walk)
    assert [d.id for d in docs] == sources == [d.metadata["source"] for d in docs] == walk.loaded
    assert walk.errors == []
    assert [d.id for d in load_directory(DOCS / "markdown")] == sources  # deterministic


@needs_data
def test_globs_recursion_and_exclusions() -> None:
    root = DOCS / "markdown"

    def sources(**kwargs: object) -> list[str]:
        return [p.relative_to(root).as_posix() for p in load_directory(root, **kwargs).paths]  # type: ignore[arg-type]

    top_level = sources(glob="*/*.md", recursive=False)
    assert top_level == []  # not recursive: only files directly in the root
    httpx_top = [p.relative_to(root / "httpx").as_posix() for p in load_directory(root / "httpx", recursive=False).paths]
    assert "quickstart.md" in httpx_top and not any("/" in s for s in httpx_top)
    everything = sources()
    assert sources(glob="*.md") == everything  # recursive: a pattern matches at any depth
    assert sources(glob="**/*.md") == everything
    assert sources(glob="httpx/advanced/*.md") == [s for s in everything if s.startswith("httpx/advanced/")]
    assert sources(glob=["*clients.md", "*ssl.md"]) == ["httpx/advanced/clients.md", "httpx/advanced/ssl.md"]
    assert not [s for s in sources(exclude=("advanced",)) if "advanced" in s]
    assert "httpx/LICENSE.md" not in sources(exclude=("LICENSE.md",))
    assert sources(exclude=("starlette/*",)) == [s for s in everything if s.startswith("httpx/")]


@needs_data
def test_html_tree_with_its_rest_sources_and_the_office_formats() -> None:
    walk = load_directory(DOCS / "html/developers-reference")
    by_suffix = sorted({p.suffix for p in walk.paths})
    assert by_suffix == [".html", ".txt"]  # the _sources/*.rst.txt files are text
    assert len(load_directory(DOCS / "html/developers-reference", exclude=("_sources",)).paths) == 11
    office = load_directory(DOCS / "office")
    assert [p.name for p in office.paths] == ["document.html", "document.pdf", "document.txt"]
    assert office.skipped == [f"document.{ext}" for ext in ("doc", "docx", "ppt", "pptx", "xls", "xlsx")]
    docs = list(office)
    assert office.errors == [] and {d.metadata["source"] for d in docs} == {"document.html", "document.pdf", "document.txt"}
    assert [d.id for d in docs if d.metadata["source"] == "document.pdf"] == ["document.pdf#page=1", "document.pdf#page=2"]


@needs_data
def test_broken_files_are_reported_and_skipped_never_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "tree"
    shutil.copytree(DOCS / "markdown/httpx/advanced", root / "advanced")
    shutil.copy(DOCS / "pdf/R-FAQ.pdf", root / "faq.pdf")
    (root / "broken.pdf").write_bytes((DOCS / "pdf/R-data.pdf").read_bytes()[:5000])
    (root / "binary.txt").write_bytes(bytes(range(256)))
    (root / "bad.json").write_text("{not json")
    (root / "rows.jsonl").write_text('{"text": "ok"}\n{"text": \n')  # the second line is broken: the whole file is skipped
    (root / ".hidden.md").write_text("# secret")
    (root / ".git").mkdir()
    (root / ".git" / "notes.txt").write_text("internal")
    seen: list[FileError] = []
    with caplog.at_level(logging.WARNING, logger="ragstore.documents"):
        walk = load_directory(root, on_error=seen.append)
        docs = list(walk)
    failed = ["bad.json", "binary.txt", "broken.pdf", "rows.jsonl"]
    assert [e.source for e in walk.errors] == failed == [e.source for e in seen]
    assert all(isinstance(e.error, DocumentLoadError) for e in walk.errors)
    ours = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "ragstore.documents"]
    assert ours == [f"Skipped {name}" for name in failed]
    sources = {d.metadata["source"] for d in docs}
    assert "faq.pdf" in sources and "advanced/ssl.md" in sources and not sources & set(failed)
    assert not any(s.startswith(".") for s in sources)  # hidden files and directories are left out by default
    assert sum(1 for d in docs if d.metadata["source"] == "faq.pdf") == 52
    assert ".hidden.md" in [p.name for p in load_directory(root, exclude=()).paths]


def test_missing_dependency_is_fatal_not_a_file_error(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(b"%PDF")

    def needs_missing_package(path: Path, *, source: str) -> list[object]:
        raise MissingDependencyError('Loading PDF files needs the pypdf package: pip install "ragstore[documents]"')

    with pytest.raises(MissingDependencyError, match="ragstore\\[documents\\]"):
        list(load_directory(tmp_path, loaders={".pdf": needs_missing_package}))  # type: ignore[dict-item]


def test_custom_loaders_single_files_and_a_missing_root(tmp_path: Path) -> None:
    (tmp_path / "app.LOG").write_text("started\n")
    assert [d.text for d in load_directory(tmp_path, loaders={".log": load_text})] == ["started\n"]
    assert load_directory(tmp_path).skipped == ["app.LOG"]
    single = load_directory(tmp_path / "app.LOG", loaders={".log": load_text})
    assert [d.metadata["source"] for d in single] == [(tmp_path / "app.LOG").as_posix()]
    with pytest.raises(FileNotFoundError):
        load_directory(tmp_path / "nowhere")
    with pytest.raises(UnsupportedFileError, match="No loader for"):
        next(load_file(tmp_path / "app.LOG"))
    assert {".md", ".html", ".pdf", ".csv", ".json", ".jsonl", ".txt"} <= set(LOADERS)


def test_files_gives_per_file_progress_and_iterating_again_reloads(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "c/d.md"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n")
    walk = load_directory(tmp_path)
    assert [(f.source, [d.id for d in f.documents]) for f in walk.files()] == [
        ("a.txt", ["a.txt"]),
        ("b.txt", ["b.txt"]),
        ("c/d.md", ["c/d.md"]),
    ]
    (tmp_path / "b.txt").write_bytes(b"\x00binary")
    assert [d.id for d in walk] == ["a.txt", "c/d.md"]
    assert [e.source for e in walk.errors] == ["b.txt"] and walk.loaded == ["a.txt", "c/d.md"]
