"""Posters: the QR code decodes back, the text is really there, the sizes are right."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from qr import (
    Language,
    PosterFormat,
    PosterSchool,
    poster_layout,
    printed_url,
    render_poster,
    school_url,
)
from qr.encode import QUIET_ZONE, qr_matrix, uncached_qr_matrix
from qr.page import MM, QRSymbol, Text
from qr.typeface import ASCENT, DESCENT, text_width

from .conftest import BASE_URL, pdf_image, pdf_pages, qr_texts

SVG = "{http://www.w3.org/2000/svg}"


def the_symbol(school: PosterSchool, languages: tuple[Language, ...] = ()) -> QRSymbol:
    page = poster_layout(school, BASE_URL, languages or (Language.KK, Language.RU))
    (symbol,) = [op for op in page.ops if isinstance(op, QRSymbol)]
    return symbol


def test_every_sample_poster_pdf_decodes(export_schools: list[PosterSchool]) -> None:
    for school in export_schools:
        pdf = render_poster(school, BASE_URL)
        assert qr_texts(pdf_image(pdf, dpi=50)) == [school_url(BASE_URL, school.code)]


def test_png_decodes(kazakh_school: PosterSchool) -> None:
    png = render_poster(kazakh_school, BASE_URL, fmt="png")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (1240, 1754)  # A4 at 150 dpi
    assert qr_texts(image.convert("RGB")) == [school_url(BASE_URL, kazakh_school.code)]


def test_svg_path_is_the_qr_matrix(kazakh_school: PosterSchool) -> None:
    svg = render_poster(kazakh_school, BASE_URL, fmt=PosterFormat.SVG)
    root = ET.fromstring(svg)  # noqa: S314 -- our own output
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "qr"]
    expected = qr_matrix(school_url(BASE_URL, kazakh_school.code))
    size = len(expected)
    assert path.get("data-modules") == str(size)
    decoded = [[False] * size for _ in range(size)]
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path.get("d", ""))
    assert "".join(f"M{x} {y}h{n}v1h-{m}z" for x, y, n, m in runs) == path.get("d")
    for x, y, n, _ in runs:
        for column in range(int(x), int(x) + int(n)):
            decoded[int(y)][column] = True
    assert tuple(tuple(row) for row in decoded) == expected


def test_pdf_text_has_names_word_url_and_numbers(kazakh_school: PosterSchool) -> None:
    (text,) = pdf_pages(render_poster(kazakh_school, BASE_URL))
    assert kazakh_school.name_kk in text
    assert kazakh_school.name_ru in text
    assert kazakh_school.check_word in text
    assert printed_url(BASE_URL, kazakh_school.code) in text
    assert "111-ге жаз" in text and "Напиши в 111" in text
    assert "112" in text
    assert "Тексеру сөзі" in text and "Проверочное слово" in text
    assert "Write to 111" not in text  # English only when asked


def test_svg_text_matches(kazakh_school: PosterSchool) -> None:
    svg = render_poster(kazakh_school, BASE_URL, fmt="svg")
    root = ET.fromstring(svg)  # noqa: S314 -- our own output
    text = " ".join(element.text or "" for element in root.iter(f"{SVG}text"))
    for needle in (
        kazakh_school.name_kk,
        kazakh_school.name_ru,
        kazakh_school.check_word,
        printed_url(BASE_URL, kazakh_school.code),
        "112",
        "111-ге жаз",
    ):
        assert needle in text
    assert "DejaVu Sans" in (root.get("font-family") or "")


def test_three_languages(kazakh_school: PosterSchool) -> None:
    pdf = render_poster(kazakh_school, BASE_URL, Language.parse_list("kk,ru,en"))
    (text,) = pdf_pages(pdf)
    assert "Write to 111" in text and "Check word" in text and "Напиши в 111" in text
    assert qr_texts(pdf_image(pdf, dpi=50)) == [school_url(BASE_URL, kazakh_school.code)]


def test_qr_is_at_least_10_cm_with_q_and_a_quiet_zone(kazakh_school: PosterSchool) -> None:
    symbol = the_symbol(kazakh_school)
    modules = len(symbol.matrix) - 2 * QUIET_ZONE
    assert modules * symbol.module >= 110 * MM - 0.01
    border = [symbol.matrix[i][j] for i in range(len(symbol.matrix)) for j in range(QUIET_ZONE)]
    assert not any(border)
    assert not any(any(row) for row in symbol.matrix[:QUIET_ZONE] + symbol.matrix[-QUIET_ZONE:])
    # Measured on the printed page too: the decoder's corners at 100 dpi.
    dpi = 100
    (result,) = zxingcpp.read_barcodes(pdf_image(render_poster(kazakh_school, BASE_URL), dpi))
    assert result.ec_level == "Q"
    position = result.position
    width_px = position.top_right.x - position.top_left.x
    assert width_px / dpi * 25.4 >= 100


def test_nothing_printed_in_the_quiet_zone(export_schools: list[PosterSchool]) -> None:
    for school in export_schools:
        page = poster_layout(school, BASE_URL)
        (symbol,) = [op for op in page.ops if isinstance(op, QRSymbol)]
        left, top = symbol.x, symbol.y
        right, bottom = left + symbol.size, top + symbol.size
        assert left >= 0 and right <= page.width
        for op in page.ops:
            if not isinstance(op, Text):
                continue
            x0, x1 = text_box(op)
            y0, y1 = op.y - ASCENT * op.size, op.y + DESCENT * op.size
            overlaps = x0 < right and x1 > left and y0 < bottom and y1 > top
            assert not overlaps, op.text


def text_box(op: Text) -> tuple[float, float]:
    width = text_width(op.text, op.size, op.bold)
    start = {"start": op.x, "middle": op.x - width / 2, "end": op.x - width}[op.anchor.value]
    return start, start + width


def test_poster_pdf_is_small(export_schools: list[PosterSchool]) -> None:
    for school in export_schools:
        for languages in ((Language.KK, Language.RU), tuple(Language)):
            assert len(render_poster(school, BASE_URL, languages)) < 60 * 1024


def test_long_name_wraps_inside_the_page(kazakh_school: PosterSchool) -> None:
    long_kk = (
        "Шығыс Қазақстан облысы білім басқармасының Үлкен Нарын ауылындағы Мұхтар Әуезов "
        "атындағы дарынды балаларға арналған мамандандырылған № 1 өңірлік мектеп-интернаты "
        "Һ-корпусы ғылыми-жаратылыстану бағыты"
    )
    school = PosterSchool(
        kazakh_school.school_id, long_kk, "Школа " * 30 + "конец", "г. Алматы", "7K3M9QPX", "ЛИМОН"
    )
    page = poster_layout(school, BASE_URL, tuple(Language))
    texts = [op for op in page.ops if isinstance(op, Text)]
    for op in texts:
        x0, x1 = text_box(op)
        assert x0 >= 10 * MM - 0.5 and x1 <= page.width - 10 * MM + 0.5, op.text
        assert op.y + DESCENT * op.size <= page.height - 10 * MM + 0.5, op.text
        assert op.size >= 6
    name_lines = [op.text for op in texts if op.text.split()[0] in long_kk.split()]
    assert len(name_lines) >= 2  # wrapped, not shrunk to nothing
    (text,) = pdf_pages(render_poster(school, BASE_URL))
    assert long_kk in text


def test_same_input_same_pdf(kazakh_school: PosterSchool) -> None:
    assert render_poster(kazakh_school, BASE_URL) == render_poster(kazakh_school, BASE_URL)


def test_unknown_format(kazakh_school: PosterSchool) -> None:
    with pytest.raises(ValueError, match="unknown format 'gif'"):
        render_poster(kazakh_school, BASE_URL, fmt="gif")


def test_layout_does_not_depend_on_the_scale_hint(
    export_schools: list[PosterSchool], monkeypatch: pytest.MonkeyPatch
) -> None:
    import qr.layout

    for school in export_schools:
        pages = []
        for hint in (0, 6, len(qr.layout.SCALES) - 1):
            monkeypatch.setattr(
                qr.layout, "_scale_hints", {("poster", Language.KK, Language.RU): hint}
            )
            pages.append(poster_layout(school, BASE_URL))
        assert pages[0] == pages[1] == pages[2]


def test_svg_is_well_formed_even_with_odd_names(kazakh_school: PosterSchool) -> None:
    odd = PosterSchool("1", "Мектеп <№ 1> & \"Ақ\" 'сай'\x01\x1f", "", "R", "7K3M9QPX", "A&B")
    svg = render_poster(odd, BASE_URL, fmt="svg")
    root = ET.fromstring(svg)  # noqa: S314 -- our own output
    text = " ".join(element.text or "" for element in root.iter(f"{SVG}text"))
    assert "Мектеп <№ 1> & \"Ақ\" 'сай'" in text and "A&B" in text


def test_the_uncached_matrix_is_the_cached_one_and_leaves_the_cache_alone() -> None:
    data = "https://qr111.example/s/uncached-1"
    before = qr_matrix.cache_info()
    matrix = uncached_qr_matrix(data)
    assert qr_matrix.cache_info() == before
    assert matrix == qr_matrix(data)
