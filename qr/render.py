"""Render a school's poster (PDF, SVG or PNG) and sticker sheet (PDF) to bytes."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from qr.layout import poster_layout, sticker_sheet_layout
from qr.model import DEFAULT_LANGUAGES, Language, PosterSchool
from qr.page import Page
from qr.pdf import render_pdf
from qr.png import render_png
from qr.svg import render_svg


class PosterFormat(StrEnum):
    """An output format of a poster."""

    PDF = "pdf"
    SVG = "svg"
    PNG = "png"

    @classmethod
    def parse(cls, text: str | PosterFormat) -> PosterFormat:
        """Parse 'pdf', 'svg' or 'png' (any case); raises ValueError naming the choices."""
        if isinstance(text, PosterFormat):
            return text
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown format {text!r} (use pdf, svg, png)") from None

    @property
    def media_type(self) -> str:
        """The MIME type, for a web download."""
        return {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}[self.value]


def render_page(page: Page, fmt: PosterFormat | str = PosterFormat.PDF) -> bytes:
    """Draw a laid-out page in a format."""
    kind = PosterFormat.parse(fmt)
    if kind is PosterFormat.SVG:
        return render_svg(page)
    if kind is PosterFormat.PNG:
        return render_png(page)
    return render_pdf(page)


def render_poster(
    school: PosterSchool,
    base_url: str,
    languages: Sequence[Language] = DEFAULT_LANGUAGES,
    fmt: PosterFormat | str = PosterFormat.PDF,
) -> bytes:
    """The A4 poster of one school as PDF, SVG or PNG bytes."""
    kind = PosterFormat.parse(fmt)  # before the work: a bad format fails fast
    return render_page(poster_layout(school, base_url, languages), kind)


def render_sticker_sheet(
    school: PosterSchool, base_url: str, languages: Sequence[Language] = DEFAULT_LANGUAGES
) -> bytes:
    """An A4 PDF sheet of 8 stickers (QR code, short URL, 111, 112, check word) of one school."""
    return render_pdf(sticker_sheet_layout(school, base_url, languages))
