"""Draw a Page as a PNG with Pillow, using the same TTF files as the PDF."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw, ImageFont

from qr.encode import dark_runs
from qr.page import WHITE, Anchor, Line, Page, Rect, Text
from qr.typeface import font_file

DPI = 150
# Pillow anchors: left/middle/right horizontally, on the baseline ("s") vertically.
_ANCHORS = {Anchor.START: "ls", Anchor.MIDDLE: "ms", Anchor.END: "rs"}


@functools.lru_cache(maxsize=128)
def _font(bold: bool, pixels: float) -> ImageFont.FreeTypeFont:
    """A loaded face at a pixel size; cached because posters reuse a handful of sizes."""
    return ImageFont.truetype(str(font_file(bold)), pixels)


def render_png(page: Page, dpi: int = DPI) -> bytes:
    """The page as PNG bytes at dpi (default 150)."""
    scale = dpi / 72

    def px(value: float) -> int:
        # Round each edge (not each size) so that touching rectangles never leave gaps.
        return round(value * scale)

    image = Image.new("RGB", (px(page.width), px(page.height)), WHITE)
    draw = ImageDraw.Draw(image)
    for op in page.shapes():  # groups expanded: a bitmap gains nothing from sharing
        if isinstance(op, Text):
            draw.text(
                (op.x * scale, op.y * scale),
                op.text,
                fill=op.color,
                font=_font(op.bold, op.size * scale),
                anchor=_ANCHORS[op.anchor],
            )
        elif isinstance(op, Rect):
            box = (px(op.x), px(op.y), px(op.x + op.w) - 1, px(op.y + op.h) - 1)
            width = max(1, round(op.line_width * scale)) if op.stroke is not None else 0
            draw.rectangle(box, fill=op.fill, outline=op.stroke, width=width)
        elif isinstance(op, Line):
            draw.line(
                (px(op.x1), px(op.y1), px(op.x2), px(op.y2)),
                fill=op.color,
                width=max(1, round(op.width * scale)),
            )
        else:
            for y, x, n in dark_runs(op.matrix):
                draw.rectangle(
                    (
                        px(op.x + x * op.module),
                        px(op.y + y * op.module),
                        px(op.x + (x + n) * op.module) - 1,
                        px(op.y + (y + 1) * op.module) - 1,
                    ),
                    fill=(0, 0, 0),
                )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi))
    return buffer.getvalue()
