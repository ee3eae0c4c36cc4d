"""The Office Open XML loaders (.docx, .pptx, .xlsx) on the shared office files and on files made here.

The shared files (``../shared/data/docs/office``) are tiny lorem-ipsum documents, one per format:
they check that real Office-saved files load. The files made here with python-docx, python-pptx and
openpyxl check the structure: body order, tables and merged cells, slides, groups and notes, sheets.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from pptx.util import Inches
from shared_data import DOCS, needs_data

from ragstore.documents import DocumentLoadError, MissingDependencyError, load_directory, load_docx, load_pptx, load_xlsx

OFFICE = DOCS / "office"


@needs_data
def test_the_shared_office_files_load_with_their_metadata() -> None:
    (word,) = load_docx(OFFICE / "document.docx", source="document.docx")
    assert word.id == "document.docx" and word.metadata == {"source": "document.docx"}  # no title in the file
    assert word.text.startswith("Lorem ipsum dolor sit amet") and "At vero eos et accusam" in word.text  # the table's cell
    assert word.text.split("\n\n")[1:] == [
        "At vero eos et accusam et justo duo dolores et ea rebum.",
        "Stet clita kasd gubergren no sea takimata sanctus est Lorem ipsum dolor sit amet.",
    ]

    slides = list(load_pptx(OFFICE / "document.pptx", source="document.pptx"))
    assert [s.id for s in slides] == ["document.pptx#slide=1", "document.pptx#slide=2"]
    assert [s.metadata["slide"] for s in slides] == [1, 2]
    assert slides[0].metadata["title"] == slides[0].metadata["slide_title"] == "Lorem ipsum dolor sit amet, consetetur sadipscing elitr,"
    assert "slide_title" not in slides[1].metadata and "Stet clita kasd gubergren" in slides[1].text

    (sheet,) = load_xlsx(OFFICE / "document.xlsx", source="document.xlsx")
    assert sheet.id == "document.xlsx#sheet=Sheet1" and sheet.metadata == {"source": "document.xlsx", "sheet": "Sheet1"}
    first, second = sheet.text.split("\n")  # eight empty rows between them are dropped
    assert first.endswith(" | At vero eos et accusam et justo duo dolores et ea rebum.") and second.startswith(" | Stet clita")


@needs_data
def test_the_office_folder_walks_six_formats_and_skips_the_old_binary_ones() -> None:
    walk = load_directory(OFFICE)
    assert [p.name for p in walk.paths] == [f"document.{ext}" for ext in ("docx", "html", "pdf", "pptx", "txt", "xlsx")]
    assert walk.skipped == ["document.doc", "document.ppt", "document.xls"]
    docs = list(walk)
    assert walk.errors == [] and len(docs) == 8  # docx, html, txt, xlsx: 1 each; pdf: 2 pages; pptx: 2 slides


def test_word_body_order_tables_merged_cells_and_title(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("Intro before any heading.")
    word.add_heading("Pricing", level=1)
    table = word.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Plan"
    table.cell(0, 2).text = "Price"
    for column, value in enumerate(("Basic", "per\nmonth", "3")):
        table.cell(1, column).text = value
    word.add_paragraph("After the table.")
    word.sections[0].header.paragraphs[0].text = "CONFIDENTIAL header"
    word.save(tmp_path / "a.docx")
    (doc,) = load_docx(tmp_path / "a.docx")
    assert doc.text == "Intro before any heading.\n\nPricing\n\nPlan | Price\nBasic | per month | 3\n\nAfter the table."
    assert doc.metadata["title"] == "Pricing" and doc.metadata["source"] == (tmp_path / "a.docx").as_posix()
    word.core_properties.title = "  Price   list "
    word.save(tmp_path / "b.docx")
    assert next(load_docx(tmp_path / "b.docx")).metadata["title"] == "Price list"  # the file's own title wins


def test_slides_keep_their_numbers_groups_tables_and_notes(tmp_path: Path) -> None:
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    first.shapes.title.text = "Roadmap"
    group = first.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(2), Inches(3), Inches(1)).text_frame.text = "Inside a group"
    rows = first.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    rows.cell(0, 0).text, rows.cell(0, 1).text, rows.cell(1, 0).text, rows.cell(1, 1).text = "Q1", "Q2", "beta", "1.0"
    first.notes_slide.notes_text_frame.text = "Say the date out loud."
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: still slide 2, so slide 3 keeps its number
    third = deck.slides.add_slide(deck.slide_layouts[1])
    third.shapes.title.text = "Questions"
    deck.save(tmp_path / "deck.pptx")
    slides = list(load_pptx(tmp_path / "deck.pptx", source="deck.pptx"))
    assert [(s.id, s.metadata.get("slide_title")) for s in slides] == [
        ("deck.pptx#slide=1", "Roadmap"),
        ("deck.pptx#slide=2", None),
        ("deck.pptx#slide=3", "Questions"),
    ]
    assert slides[0].text == "Roadmap\n\nInside a group\n\nQ1 | Q2\nbeta | 1.0\n\nSay the date out loud."
    assert slides[1].text == "" and "title" not in slides[0].metadata


def test_sheets_rows_values_and_formulas(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    prices = book.active
    prices.title = "Prices"
    prices.append(["Item", "Price", "Since"])
    prices.append(["Tea", 3.0, datetime.datetime(2024, 5, 1)])
    prices.append([None, None, None])
    prices.append(["Cake", 2.5, datetime.datetime(2024, 5, 1, 9, 30)])
    prices["D1"] = "=B2*2"  # never computed: openpyxl saves no cached value
    book.create_sheet("Empty")
    book.properties.title = "Menu"
    book.save(tmp_path / "menu.xlsx")
    docs = list(load_xlsx(tmp_path / "menu.xlsx", source="menu.xlsx"))
    assert [(d.id, d.metadata["sheet"], d.metadata["title"]) for d in docs] == [
        ("menu.xlsx#sheet=Prices", "Prices", "Menu"),
        ("menu.xlsx#sheet=Empty", "Empty", "Menu"),
    ]
    assert docs[0].text == "Item | Price | Since\nTea | 3 | 2024-05-01\nCake | 2.5 | 2024-05-01T09:30:00"
    assert docs[1].text == ""


@pytest.mark.parametrize("loader", [load_docx, load_pptx, load_xlsx])
def test_files_that_are_not_open_xml_raise_a_load_error_naming_them(tmp_path: Path, loader: object) -> None:
    (tmp_path / "text.bin").write_text("plain text, not a zip")
    (tmp_path / "ole.bin").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))  # an old .doc or an encrypted file
    for name, says in (("text.bin", "Cannot read"), ("ole.bin", "OLE2 file")):
        with pytest.raises(DocumentLoadError, match=says) as caught:
            list(loader(tmp_path / name, source=name))  # type: ignore[operator]
        assert caught.value.source == name and name in str(caught.value)
    with pytest.raises(DocumentLoadError, match="No such file"):
        list(loader(tmp_path / "missing.bin"))  # type: ignore[operator]
    assert not issubclass(DocumentLoadError, MissingDependencyError)  # a bad file never reads as a missing extra


def test_a_walk_skips_a_broken_office_file_and_loads_the_rest(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["fine"])
    book.save(tmp_path / "good.xlsx")
    (tmp_path / "bad.pptx").write_bytes(b"PK\x03\x04 truncated")
    walk = load_directory(tmp_path)
    assert [d.id for d in walk] == ["good.xlsx#sheet=Sheet"]
    assert [e.source for e in walk.errors] == ["bad.pptx"] and isinstance(walk.errors[0].error, DocumentLoadError)
