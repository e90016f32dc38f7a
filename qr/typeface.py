"""The one typeface of the posters (DejaVu Sans, shipped in qr/fonts/) and its metrics."""

from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().with_name("fonts")
REGULAR_FILE = FONT_DIR / "DejaVuSans.ttf"
BOLD_FILE = FONT_DIR / "DejaVuSans-Bold.ttf"
# Names private to this package, so that another reportlab user in the same process
# (the portal) cannot register a different file under the same name.
REGULAR_NAME = "QR111-DejaVuSans"
BOLD_NAME = "QR111-DejaVuSans-Bold"
# DejaVu Sans's ascent and descent in em, from its hhea table; used to place lines.
ASCENT = 0.928
DESCENT = 0.236


@functools.cache
def register_fonts() -> None:
    """Register both fonts with reportlab once per process (parsing a TTF costs ~10 ms)."""
    for name, path in ((REGULAR_NAME, REGULAR_FILE), (BOLD_NAME, BOLD_FILE)):
        pdfmetrics.registerFont(TTFont(name, str(path)))


def font_name(bold: bool) -> str:
    """The reportlab name of the regular or bold face."""
    return BOLD_NAME if bold else REGULAR_NAME


def font_file(bold: bool) -> Path:
    """The TTF file of the regular or bold face (for Pillow)."""
    return BOLD_FILE if bold else REGULAR_FILE


@functools.lru_cache(maxsize=16384)
def _width_per_point(text: str, bold: bool) -> float:
    """Width of text at 1 pt; cached because posters repeat the same strings thousands of times."""
    register_fonts()
    return float(pdfmetrics.stringWidth(text, font_name(bold), 1000)) / 1000


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of text set at size, from the TTF's own metrics (no kerning, as drawn)."""
    return _width_per_point(text, bold) * size
