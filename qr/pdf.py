"""Draw a Page as a one-page vector PDF with reportlab (fonts embedded as subsets)."""

from __future__ import annotations

import io
import zlib

from reportlab import rl_config
from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

from qr.encode import dark_runs
from qr.page import Anchor, Color, Group, Line, Page, QRSymbol, Rect, Shape, Text
from qr.typeface import font_name, register_fonts

# Binary compressed streams: ASCII85 would add a quarter to every file and cost time, for
# 7-bit mail transports no printer uses. reportlab reads this global when a file is written.
rl_config.useA85 = 0


class _QuickFlate(pdfdoc.PDFStreamFilterZCompress):  # type: ignore[misc]
    """Flate at level 1: a national run is CPU-bound, and level 6 saves only ~3 % of bytes."""

    def encode(self, text: str | bytes) -> bytes:
        data = text.encode("utf-8") if isinstance(text, str) else text
        return zlib.compress(data, 1)


# reportlab has no setting for the level; its streams look this filter up when written.
pdfdoc.PDFZCompress = _QuickFlate()


def _rgb(color: Color) -> tuple[float, float, float]:
    """A 0-255 colour as reportlab's 0-1 floats."""
    return color[0] / 255, color[1] / 255, color[2] / 255


def _qr_operators(symbol: QRSymbol, page_height: float) -> str:
    """Raw PDF operators filling all dark runs as one path, in module units.

    Written directly (not via canvas.rect) because reportlab formats every coordinate
    in Python: ~300 rectangles per poster cost more than the rest of the page.
    """
    # Scale to modules and flip y so that row r spans r..r+1 downwards from the top.
    head = f"q 0 g {symbol.module:.5f} 0 0 {-symbol.module:.5f} "
    head += f"{symbol.x:.3f} {page_height - symbol.y:.3f} cm\n"
    body = "\n".join(f"{x} {y} {n} 1 re" for y, x, n in dark_runs(symbol.matrix))
    return f"{head}{body}\nf Q"


def _draw(canvas: Canvas, op: Shape, height: float) -> None:
    """Draw one shape; y is flipped because PDF's origin is the bottom-left corner."""
    if isinstance(op, Text):
        canvas.setFont(font_name(op.bold), op.size)
        canvas.setFillColorRGB(*_rgb(op.color))
        y = height - op.y
        if op.anchor is Anchor.MIDDLE:
            canvas.drawCentredString(op.x, y, op.text)
        elif op.anchor is Anchor.END:
            canvas.drawRightString(op.x, y, op.text)
        else:
            canvas.drawString(op.x, y, op.text)
    elif isinstance(op, Rect):
        if op.fill is not None:
            canvas.setFillColorRGB(*_rgb(op.fill))
        if op.stroke is not None:
            canvas.setStrokeColorRGB(*_rgb(op.stroke))
            canvas.setLineWidth(op.line_width)
        canvas.rect(
            op.x,
            height - op.y - op.h,
            op.w,
            op.h,
            stroke=int(op.stroke is not None),
            fill=int(op.fill is not None),
        )
    elif isinstance(op, Line):
        canvas.setStrokeColorRGB(*_rgb(op.color))
        canvas.setLineWidth(op.width)
        canvas.line(op.x1, height - op.y1, op.x2, height - op.y2)
    else:
        canvas.addLiteral(_qr_operators(op, height))


def render_pdf(page: Page) -> bytes:
    """The page as PDF bytes."""
    register_fonts()
    buffer = io.BytesIO()
    # invariant=1: no timestamps or random IDs, so the same poster gives the same bytes.
    canvas = Canvas(buffer, pagesize=(page.width, page.height), pageCompression=1, invariant=1)
    canvas.setTitle(page.title)
    canvas.setCreator("QR 111 poster generator")
    height = page.height
    for op in page.ops:
        if isinstance(op, Group):
            # Drawn once as a form XObject and placed at each offset: 8 stickers cost
            # one sticker's text and QR operators, in time and in bytes.
            canvas.beginForm(op.name, 0, 0, page.width, height)
            for shape in op.shapes:
                _draw(canvas, shape, height)
            canvas.endForm()
            for dx, dy in op.offsets:
                canvas.saveState()
                canvas.translate(dx, -dy)
                canvas.doForm(op.name)
                canvas.restoreState()
        else:
            _draw(canvas, op, height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
