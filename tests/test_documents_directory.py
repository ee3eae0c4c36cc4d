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
def test_a_sphinx_build_loads_its_pages_once_not_their_sources_too() -> None:
    walk = load_directory(DOCS / "html/developers-reference")
    assert sorted({p.suffix for p in walk.paths}) == [".html"] and len(walk.paths) == 11
    assert len(walk.sphinx_copies) == 10 and all(s.startswith("_sources/") and s.endswith(".rst.txt") for s in walk.sphinx_copies)
    python = load_directory(DOCS / "html/python311")
    assert len(python.paths) == len(python.sphinx_copies) == 57 and "_sources/tutorial/classes.rst.txt" in python.sphinx_copies
    # The sources are kept when they are the only copy: walked on their own, or with the pages left out of the glob.
    assert len(load_directory(DOCS / "html/python311/_sources").paths) == 57
    assert len(load_directory(DOCS / "html/python311", glob="**/*.txt").paths) == 57
    assert len(load_directory(DOCS / "html/python311", keep_sphinx_copies=True).paths) == 114


def test_sphinx_copies_by_rule(tmp_path: Path) -> None:
    for name in (
        "site/index.html",
        "site/_sources/index.rst.txt",
        "site/guide/setup.html",
        "site/_sources/guide/setup.md.txt",  # MyST
        "site/old.html",
        "site/_sources/old.txt",  # Sphinx before 1.5: no source suffix
        "site/_sources/orphan.rst.txt",  # no page: the only copy of its text
        "site/_static/basic.css",
        "site/_static/notes.txt",
        "project/_static/theme.txt",  # a _static beside no Sphinx build
        "project/readme.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("text")
    walk = load_directory(tmp_path)
    assert walk.sphinx_copies == [
        "site/_sources/guide/setup.md.txt",
        "site/_sources/index.rst.txt",
        "site/_sources/old.txt",
        "site/_static/basic.css",
        "site/_static/notes.txt",
    ]
    assert [p.relative_to(tmp_path).as_posix() for p in walk.paths] == [
        "project/_static/theme.txt",
        "project/readme.txt",
        "site/_sources/orphan.rst.txt",
        "site/guide/setup.html",
        "site/index.html",
        "site/old.html",
    ]
    (tmp_path / "project/objects.inv").write_bytes(b"")  # Sphinx's inventory marks a build even without sources
    assert "project/_static/theme.txt" in load_directory(tmp_path).sphinx_copies


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
