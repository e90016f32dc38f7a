"""Text handed to other programs: no CSV cell a spreadsheet runs, no SVG a parser refuses."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qr import Language, PosterSchool, render_poster
from qr.page import Page, Text
from qr.safe_text import SafeCSVWriter, cell_value, safe_cell, xml_text
from qr.svg import render_svg

from .conftest import BASE_URL

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
# The characters that break things, drawn often: what XML forbids (C0 controls, lone
# surrogates, U+FFFE, U+FFFF), what it allows but a reader may trip on (DEL, C1, the other
# noncharacters), markup, and what a spreadsheet runs.
AWKWARD = (
    "\x00\x01\x08\x0b\x0c\x1f\x7f\x85\x9f\ud800\udfff\ufdd0\ufffe\uffff\U0001ffff<>&\"'=+-@\t\r\n "
)
# Joined from a list: st.text would merge the two alphabets into one that leaves out the
# surrogates and U+FFFE/U+FFFF.
TEXT = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.characters(exclude_categories=())), max_size=60
).map("".join)
CHECKED = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def read_back(text: str) -> str:
    """text as a parser gives it back from our SVG: what XML forbids gone, line ends as one."""
    return xml_text(text).replace("\r\n", "\n").replace("\r", "\n")


def parsed(svg: bytes) -> ET.Element:
    """The SVG as an XML parser reads it (expat: XML 1.0's rules)."""
    return ET.fromstring(svg)  # noqa: S314 -- our own output, the point of the test


@CHECKED
@given(
    names=st.tuples(TEXT, TEXT),
    region=TEXT,
    district=TEXT,
    school_id=TEXT,
    check_word=TEXT,
    languages=st.sampled_from([(Language.KK, Language.RU), (Language.EN,), (Language.RU,)]),
)
def test_every_poster_svg_parses_whatever_the_school_is_called(
    names: tuple[str, str],
    region: str,
    district: str,
    school_id: str,
    check_word: str,
    languages: tuple[Language, ...],
) -> None:
    school = PosterSchool(school_id, *names, region, "7K3M9QPX", check_word, district)
    root = parsed(render_poster(school, BASE_URL, languages, fmt="svg"))
    assert root.tag == f"{SVG}svg"
    drawn = "".join(element.text or "" for element in root.iter(f"{SVG}text"))
    if check_word:
        assert read_back(check_word).strip() in drawn  # what XML forbids dropped, nothing more


@CHECKED
@given(title=TEXT, texts=st.lists(TEXT, max_size=5))
def test_every_svg_parses_and_keeps_the_text_xml_allows(title: str, texts: list[str]) -> None:
    ops = tuple(Text(10, 20 * (n + 1), text, 12) for n, text in enumerate(texts))
    root = parsed(render_svg(Page(200, 300, title, ops)))
    assert root.findtext(f"{SVG}title") == read_back(title)
    assert [element.text or "" for element in root.iter(f"{SVG}text")] == [
        read_back(text) for text in texts
    ]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+7 школа", "'+7 школа"),
        ("-", "'-"),
        ("-2+3", "'-2+3"),
        ("@HYPERLINK(1)", "'@HYPERLINK(1)"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),  # spreadsheets look past leading spaces
        ("'quoted", "''quoted"),  # so that the apostrophe read back is only ours
        ("Школа № 1", "Школа № 1"),
        ("<5", "<5"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value: str, cell: str) -> None:
    assert safe_cell(value) == cell
    assert cell_value(cell) == value


@pytest.mark.parametrize("hand_written", ["'quoted", "'", "'Школа'", "' x"])
def test_an_apostrophe_the_export_did_not_write_is_kept(hand_written: str) -> None:
    assert cell_value(hand_written) == hand_written


@CHECKED
# Without a carriage return: these files end lines with "\n" alone, and Python's csv leaves a
# value with a bare "\r" unquoted (no registry value holds one: the import refuses it).
@given(st.lists(TEXT.filter(lambda text: "\r" not in text), max_size=6))
def test_cells_read_back_as_they_were_written(row: list[str]) -> None:
    stream = io.StringIO()
    SafeCSVWriter(stream).writerow(row)
    (cells,) = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert [cell_value(cell) for cell in cells] == row
    assert not [cell for cell in cells if cell.lstrip()[:1] in ("=", "+", "-", "@")]
    assert not [cell for cell in cells if cell[:1] in ("\t", "\r")]


def test_every_csv_this_project_writes_goes_through_the_safe_writer() -> None:
    """csv.writer anywhere else would write a formula as it is."""
    writers = re.compile(r"\bcsv\.(writer|DictWriter)\b|from csv import")
    found = [
        str(path.relative_to(REPO))
        for package in ("portal", "qr")
        for path in sorted((REPO / package).rglob("*.py"))
        if writers.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["qr/safe_text.py"]
