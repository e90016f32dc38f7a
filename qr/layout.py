"""Lay out a school's A4 poster and A4 sticker sheet as a Page of drawing operations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qr.encode import QUIET_ZONE, qr_matrix
from qr.model import DEFAULT_LANGUAGES, Language, PosterSchool
from qr.page import (
    A4,
    ACCENT,
    CUT,
    DANGER,
    GREY,
    MM,
    WHITE,
    Anchor,
    Group,
    Line,
    Op,
    Page,
    QRSymbol,
    Rect,
    Shape,
    Text,
    shifted,
)
from qr.textfit import fit_lines, fit_size, wrap
from qr.texts import TEXTS, PosterTexts
from qr.typeface import ASCENT, text_width
from qr.urls import printed_url, school_url

WIDTH, HEIGHT = A4
MARGIN = 10 * MM  # office printers leave ~5 mm unprinted; 10 mm is safe
POSTER_QR_WIDTH = 110 * MM  # the symbol without its quiet zone: >= 10 cm for ~1 m scans
STICKER_QR_WIDTH = 34 * MM  # >= 3 cm: stickers are read from arm's length
STICKER_COLUMNS, STICKER_ROWS = 2, 4
SHEET_MARGIN = 10 * MM
# Text grows or shrinks in these steps: the largest at which everything fits wins.
SCALES = (1.3, 1.25, 1.2, 1.15, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)


# The scale index that fitted last, per kind and languages: the next school almost always
# fits at the same one, so two attempts usually replace up to fifteen.
_scale_hints: dict[tuple[str, ...], int] = {}


def _largest_fit(
    attempt: Callable[[float], tuple[list[Shape], float]], limit: float, key: tuple[str, ...]
) -> tuple[list[Shape], float, float]:
    """attempt() at the largest of SCALES whose bottom is within limit (else the smallest).

    Returns the shapes, their bottom and the scale.

    Text only grows with the scale, so the answer does not depend on where the search
    starts: the hint saves time and never changes a poster.
    """
    index = min(_scale_hints.get(key, 0), len(SCALES) - 1)
    result = attempt(SCALES[index])
    if result[1] <= limit:
        while index > 0:
            bigger = attempt(SCALES[index - 1])
            if bigger[1] > limit:
                break
            index, result = index - 1, bigger
    else:
        while index < len(SCALES) - 1:
            index += 1
            result = attempt(SCALES[index])
            if result[1] <= limit:
                break
    _scale_hints[key] = index
    return result[0], result[1], SCALES[index]


def school_names(school: PosterSchool, languages: Sequence[Language]) -> list[str]:
    """The school's names to print, in the poster's language order, without repeats."""
    by_language = {Language.KK: school.name_kk, Language.RU: school.name_ru}
    names: list[str] = []
    for language in languages:
        name = by_language.get(language, "").strip()
        if name and name not in names:
            names.append(name)
    if not names:  # e.g. an English-only poster: the registry has no English names
        names = [n for n in dict.fromkeys((school.name_kk.strip(), school.name_ru.strip())) if n]
    return names


class _Poster:
    """The poster's content, laid out at a given text scale by ops().

    Top to bottom: a band with "Write to 111", the call to action, then the QR code on
    the left with a column on its right (112, 111, the check word), the short URL under
    the QR code, and the school's names at the foot.
    """

    def __init__(self, school: PosterSchool, base_url: str, languages: Sequence[Language]):
        self.school = school
        self.url = school_url(base_url, school.code)
        self.short_url = printed_url(base_url, school.code)
        self.matrix = qr_matrix(self.url)
        self.texts = [TEXTS[language] for language in languages]
        self.names = school_names(school, languages)
        # Per scale, where ops() put the QR row and the footer (their index in the list).
        self.marks: dict[float, tuple[int, int]] = {}

    def ops(self, scale: float) -> tuple[list[Shape], float]:
        """The drawing operations at scale, and the y where the content ends."""
        ops: list[Shape] = []
        width = WIDTH - 2 * MARGIN
        center = WIDTH / 2
        y = MARGIN

        # Header band: "Write to 111" in every language, white on the accent colour.
        size = 34 * scale
        band_top, y = y, y + 12 * scale
        heads: list[Shape] = []
        for texts in self.texts:
            head_size = fit_size(texts.headline, size, width - 24, bold=True)
            baseline = y + head_size * ASCENT
            heads.append(
                Text(center, baseline, texts.headline, head_size, True, Anchor.MIDDLE, WHITE)
            )
            y += size * 1.18
        y += 6 * scale
        ops.append(Rect(MARGIN, band_top, width, y - band_top, fill=ACCENT))
        ops.extend(heads)

        # The call to action, one short paragraph per language.
        y += 12 * scale
        size = 16 * scale
        for texts in self.texts:
            for line in wrap(texts.call_to_action, size, width):
                ops.append(Text(center, y + size * ASCENT, line, size, False, Anchor.MIDDLE))
                y += size * 1.25
            y += 5 * scale

        # The QR code, its quiet zone (white, 4 modules) kept entirely on the paper; the
        # zone is also the gap to the text around it.
        qr_index = len(ops)
        module = POSTER_QR_WIDTH / (len(self.matrix) - 2 * QUIET_ZONE)
        symbol = QRSymbol(2.0, y, module, self.matrix, self.url)
        ops.append(symbol)
        quiet = module * QUIET_ZONE
        column_x = symbol.x + symbol.size
        column_bottom = self._column(ops, column_x, y + quiet, WIDTH - MARGIN - column_x, scale)
        qr_center = symbol.x + symbol.size / 2
        y = max(y + symbol.size, column_bottom + 8 * scale)

        # The short URL for a phone that cannot scan, in large plain text under the code.
        room = 2 * (qr_center - MARGIN)
        size = fit_size(self.short_url, 30 * scale, room, bold=True)
        ops.append(Text(qr_center, y + size * ASCENT, self.short_url, size, True, Anchor.MIDDLE))
        y += size * 1.2 + 14 * scale
        self.marks[scale] = (qr_index, len(ops))
        ops.append(Line(MARGIN, y, MARGIN + width, y, CUT, 0.8))
        y += 12 * scale
        return ops, self._school(ops, y, width, scale)

    def _column(self, ops: list[Shape], x: float, top: float, width: float, scale: float) -> float:
        """112 (danger now), 111 (free helpline) and the check word; returns the bottom."""
        y = top
        cells = (
            ("112", DANGER, [t.danger for t in self.texts], True),
            ("111", ACCENT, [t.helpline for t in self.texts], False),
        )
        for number, color, texts, bold in cells:
            size = 44 * scale
            ops.append(Text(x, y + size * 0.73, number, size, True, Anchor.START, color))
            y += size * 0.73 + 8 * scale
            for text in texts:
                size, lines = fit_lines(text, 12.5 * scale, width, 3, bold, minimum=7)
                for line in lines:
                    ops.append(Text(x, y + size * ASCENT, line, size, bold))
                    y += size * 1.25
                y += 4 * scale
            y += 12 * scale
        if self.school.check_word:
            y = self._check_box(ops, x, y, width, scale)
        return y

    def _school(self, ops: list[Shape], top: float, width: float, scale: float) -> float:
        """The school's names and place at the foot; returns the bottom."""
        y = top
        for name in self.names:
            size, lines = fit_lines(name, 14 * scale, width, 3, bold=True, minimum=7)
            for line in lines:
                ops.append(Text(MARGIN, y + size * ASCENT, line, size, True))
                y += size * 1.22
            y += 3 * scale
        place = ", ".join(p for p in (self.school.district, self.school.region) if p.strip())
        if place:
            size, lines = fit_lines(place, 10.5 * scale, width, 2, minimum=6)
            for line in lines:
                ops.append(Text(MARGIN, y + size * ASCENT, line, size, False, Anchor.START, GREY))
                y += size * 1.22
        return y

    def _check_box(
        self, ops: list[Shape], x: float, top: float, width: float, scale: float
    ) -> float:
        """The labelled check word that the landing page repeats; returns the box bottom."""
        pad = 7 * scale
        inner_width = width - 2 * pad
        center = x + width / 2
        inner: list[Shape] = []
        y = top + pad
        for texts in self.texts:
            size = fit_size(texts.check_label, 10 * scale, inner_width, bold=True)
            inner.append(
                Text(
                    center, y + size * ASCENT, texts.check_label, size, True, Anchor.MIDDLE, ACCENT
                )
            )
            y += 10 * scale * 1.2
        y += 2 * scale
        word = self.school.check_word
        size = fit_size(word, 24 * scale, inner_width, bold=True)
        inner.append(Text(center, y + size * ASCENT, word, size, True, Anchor.MIDDLE))
        y += 24 * scale * 1.2 + 2 * scale
        for texts in self.texts:
            size, lines = fit_lines(texts.check_note, 8.5 * scale, inner_width, 2, minimum=6)
            for line in lines:
                inner.append(
                    Text(center, y + size * ASCENT, line, size, False, Anchor.MIDDLE, GREY)
                )
                y += size * 1.22
        y += pad
        ops.append(Rect(x, top, width, y - top, stroke=ACCENT, line_width=2))
        ops.extend(inner)
        return y


def poster_layout(
    school: PosterSchool, base_url: str, languages: Sequence[Language] = DEFAULT_LANGUAGES
) -> Page:
    """Lay out the A4 portrait poster of one school."""
    languages = languages or DEFAULT_LANGUAGES
    poster = _Poster(school, base_url, languages)
    key = ("poster", *languages)
    ops, bottom, scale = _largest_fit(poster.ops, HEIGHT - MARGIN, key)
    qr_index, footer_index = poster.marks[scale]
    # Share the space left over: half above the QR row, the rest above the footer, which
    # then sits at the foot of the page.
    slack = max(0.0, HEIGHT - MARGIN - bottom)
    ops = [
        shifted(op, 0, 0 if i < qr_index else slack / 2 if i < footer_index else slack)
        for i, op in enumerate(ops)
    ]
    title = f"111 — {poster.names[0] if poster.names else school.school_id}"
    return Page(WIDTH, HEIGHT, title, tuple(ops))


def _sticker(
    x: float,
    y: float,
    width: float,
    height: float,
    symbol: QRSymbol,
    short_url: str,
    texts: Sequence[PosterTexts],
    school: PosterSchool,
    name: str,
    scale: float,
) -> tuple[list[Shape], float]:
    """One sticker's operations at scale (the QR symbol already placed); returns its bottom."""
    ops: list[Shape] = [symbol]
    left = symbol.x + symbol.size  # the quiet zone doubles as the gap before the text
    room = x + width - 6 - left
    cursor = y + 10 * scale

    size = 38 * scale
    ops.append(Text(left, cursor + size * 0.73, "111", size, True, Anchor.START, ACCENT))
    cursor += size * 0.73 + 7 * scale
    for entry in texts:
        # One line if a slightly smaller size allows it, else two lines at a readable size.
        size = fit_size(entry.sticker_call, 9.5 * scale, room, bold=True, minimum=8 * scale)
        lines = [entry.sticker_call]
        if text_width(entry.sticker_call, size, bold=True) > room:
            size, lines = fit_lines(entry.sticker_call, 9.5 * scale, room, 2, True, 6)
        for line in lines:
            ops.append(Text(left, cursor + size * ASCENT, line, size, True))
            cursor += size * 1.2
    cursor += 3 * scale
    for entry in texts:
        size = fit_size(entry.sticker_danger, 8 * scale, room, bold=True)
        ops.append(
            Text(
                left, cursor + size * ASCENT, entry.sticker_danger, size, True, Anchor.START, DANGER
            )
        )
        cursor += 8 * scale * 1.2
    cursor += 3 * scale
    size = fit_size(short_url, 9.5 * scale, room, bold=True)
    ops.append(Text(left, cursor + size * ASCENT, short_url, size, True))
    cursor += 9.5 * scale * 1.25 + 2 * scale

    if school.check_word:
        box_top = cursor
        label = " / ".join(entry.check_label for entry in texts)
        size = fit_size(label, 6.5 * scale, room - 8, minimum=4)
        cursor += 4 * scale
        ops.append(Text(left + 4, cursor + size * ASCENT, label, size, False, Anchor.START, ACCENT))
        cursor += 6.5 * scale * 1.2
        size = fit_size(school.check_word, 13 * scale, room - 8, bold=True)
        ops.append(Text(left + 4, cursor + size * ASCENT, school.check_word, size, True))
        cursor += 13 * scale * 1.2 + 2 * scale
        ops.append(Rect(left, box_top, room, cursor - box_top, stroke=ACCENT, line_width=1))
        cursor += 3 * scale
    if name:
        size, lines = fit_lines(name, 6.5 * scale, room, 2, minimum=4.5)
        for line in lines:
            ops.append(Text(left, cursor + size * ASCENT, line, size, False, Anchor.START, GREY))
            cursor += size * 1.2
    return ops, cursor


def sticker_sheet_layout(
    school: PosterSchool, base_url: str, languages: Sequence[Language] = DEFAULT_LANGUAGES
) -> Page:
    """Lay out an A4 sheet of 2 x 4 stickers of one school, with thin cut lines."""
    languages = languages or DEFAULT_LANGUAGES
    url = school_url(base_url, school.code)
    short_url = printed_url(base_url, school.code)
    matrix = qr_matrix(url)  # once per sheet: all stickers carry the same code
    texts = [TEXTS[language] for language in languages]
    names = school_names(school, languages)
    name = names[0] if names else ""
    cell_w = (WIDTH - 2 * SHEET_MARGIN) / STICKER_COLUMNS
    cell_h = (HEIGHT - 2 * SHEET_MARGIN) / STICKER_ROWS

    # Lay out the first sticker to find the scale, then repeat it at every cell.
    module = STICKER_QR_WIDTH / (len(matrix) - 2 * QUIET_ZONE)
    size = module * len(matrix)
    symbol = QRSymbol(SHEET_MARGIN + 3, SHEET_MARGIN + (cell_h - size) / 2, module, matrix, url)

    def attempt(scale: float) -> tuple[list[Shape], float]:
        return _sticker(
            SHEET_MARGIN, SHEET_MARGIN, cell_w, cell_h, symbol, short_url, texts, school, name,
            scale,
        )  # fmt: skip

    first, _, _ = _largest_fit(attempt, SHEET_MARGIN + cell_h - 6, ("sticker", *languages))
    offsets = tuple(
        (column * cell_w, row * cell_h)
        for row in range(STICKER_ROWS)
        for column in range(STICKER_COLUMNS)
    )
    ops: list[Op] = [Group("sticker", tuple(first), offsets)]
    right, bottom = WIDTH - SHEET_MARGIN, HEIGHT - SHEET_MARGIN
    for column in range(STICKER_COLUMNS + 1):
        x = SHEET_MARGIN + column * cell_w
        ops.append(Line(x, SHEET_MARGIN, x, bottom, CUT, 0.5))
    for row in range(STICKER_ROWS + 1):
        y = SHEET_MARGIN + row * cell_h
        ops.append(Line(SHEET_MARGIN, y, right, y, CUT, 0.5))
    return Page(WIDTH, HEIGHT, f"111 — {name or school.school_id}", tuple(ops))
