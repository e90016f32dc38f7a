"""Sticker sheets: eight stickers, every one of them scans, each QR code >= 3 cm."""

from __future__ import annotations

import zxingcpp

from qr import Language, PosterSchool, printed_url, render_sticker_sheet, school_url
from qr.encode import QUIET_ZONE
from qr.layout import (
    SHEET_MARGIN,
    STICKER_COLUMNS,
    STICKER_ROWS,
    sticker_sheet_layout,
)
from qr.page import MM, QRSymbol, Text
from qr.typeface import text_width

from .conftest import BASE_URL, pdf_image, pdf_pages


def test_every_sticker_decodes(kazakh_school: PosterSchool) -> None:
    pdf = render_sticker_sheet(kazakh_school, BASE_URL)
    dpi = 150
    image = pdf_image(pdf, dpi)
    page = sticker_sheet_layout(kazakh_school, BASE_URL)
    cell_w = (page.width - 2 * SHEET_MARGIN) / STICKER_COLUMNS
    cell_h = (page.height - 2 * SHEET_MARGIN) / STICKER_ROWS
    scale = dpi / 72
    decoded = []
    for row in range(STICKER_ROWS):
        for column in range(STICKER_COLUMNS):
            x = SHEET_MARGIN + column * cell_w
            y = SHEET_MARGIN + row * cell_h
            box = (
                round(x * scale),
                round(y * scale),
                round((x + cell_w) * scale),
                round((y + cell_h) * scale),
            )
            decoded += [r.text for r in zxingcpp.read_barcodes(image.crop(box))]
    assert decoded == [school_url(BASE_URL, kazakh_school.code)] * 8
    # and all at once, as a phone pointed at the sheet would see them
    assert len(zxingcpp.read_barcodes(image)) == 8


def test_sticker_text_and_sizes(kazakh_school: PosterSchool) -> None:
    pdf = render_sticker_sheet(kazakh_school, BASE_URL, Language.parse_list("kk,ru,en"))
    assert len(pdf) < 60 * 1024
    (text,) = pdf_pages(pdf)
    assert text.count(printed_url(BASE_URL, kazakh_school.code)) == 8
    assert text.count(kazakh_school.check_word) >= 8
    assert text.count("112") >= 8 and text.count("111") >= 8
    page = sticker_sheet_layout(kazakh_school, BASE_URL, tuple(Language))
    symbols = [op for op in page.shapes() if isinstance(op, QRSymbol)]
    assert len(symbols) == 8
    for symbol in symbols:
        assert (len(symbol.matrix) - 2 * QUIET_ZONE) * symbol.module >= 30 * MM
    cell_w = (page.width - 2 * SHEET_MARGIN) / STICKER_COLUMNS
    cell_h = (page.height - 2 * SHEET_MARGIN) / STICKER_ROWS
    for symbol in symbols:  # the whole quiet zone lies on the sticker
        column = int((symbol.x - SHEET_MARGIN) // cell_w)
        row = int((symbol.y - SHEET_MARGIN) // cell_h)
        assert symbol.x >= SHEET_MARGIN + column * cell_w
        assert symbol.y >= SHEET_MARGIN + row * cell_h
        assert symbol.y + symbol.size <= SHEET_MARGIN + (row + 1) * cell_h
    for op in page.shapes():
        if isinstance(op, Text):
            column = int((op.x - SHEET_MARGIN) // cell_w)
            right = SHEET_MARGIN + (column + 1) * cell_w
            width = text_width(op.text, op.size, op.bold)
            assert op.x + width <= right, op.text
            for symbol in symbols:  # nothing printed in a quiet zone
                inside_x = op.x < symbol.x + symbol.size and op.x + width > symbol.x
                inside_y = symbol.y < op.y < symbol.y + symbol.size + op.size
                assert not (inside_x and inside_y), op.text
