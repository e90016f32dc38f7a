"""Draw a Page as SVG by plain string building (text stays text, the QR code one path)."""

from __future__ import annotations

from html import escape

from qr.encode import dark_runs
from qr.page import MM, Color, Group, Line, Page, QRSymbol, Rect, Shape, Text
from qr.safe_text import xml_text

FONT_FAMILY = "'DejaVu Sans', sans-serif"


def _text(value: str) -> str:
    """value escaped for XML text or attributes, the characters XML forbids even escaped
    (controls, U+FFFE, U+FFFF, lone surrogates) dropped: every SVG written parses."""
    return escape(xml_text(value))


def _hex(color: Color | None) -> str:
    """#rrggbb, or 'none'."""
    return "none" if color is None else "#{:02x}{:02x}{:02x}".format(*color)


def _num(value: float) -> str:
    """A coordinate with 2 decimals and no trailing zeros (smaller files, same output)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def qr_path_data(symbol: QRSymbol) -> str:
    """Path data of the dark runs in module units: 'M x y h n v 1 h -n z' each."""
    return "".join(f"M{x} {y}h{n}v1h-{n}z" for y, x, n in dark_runs(symbol.matrix))


def _op(op: Shape | Group) -> str:
    """One element; a group is defined once and placed with <use> at each offset."""
    if isinstance(op, Group):
        shapes = "\n".join(_op(shape) for shape in op.shapes)
        uses = "\n".join(
            f'<use href="#{op.name}" transform="translate({_num(dx)} {_num(dy)})"/>'
            for dx, dy in op.offsets
        )
        return f'<defs>\n<g id="{op.name}">\n{shapes}\n</g>\n</defs>\n{uses}'

    if isinstance(op, Text):
        weight = ' font-weight="bold"' if op.bold else ""
        return (
            f'<text x="{_num(op.x)}" y="{_num(op.y)}" font-size="{_num(op.size)}"{weight}'
            f' text-anchor="{op.anchor.value}" fill="{_hex(op.color)}">{_text(op.text)}</text>'
        )
    if isinstance(op, Rect):
        stroke = (
            f' stroke="{_hex(op.stroke)}" stroke-width="{_num(op.line_width)}"'
            if op.stroke is not None
            else ""
        )
        return (
            f'<rect x="{_num(op.x)}" y="{_num(op.y)}" width="{_num(op.w)}" height="{_num(op.h)}"'
            f' fill="{_hex(op.fill)}"{stroke}/>'
        )
    if isinstance(op, Line):
        return (
            f'<line x1="{_num(op.x1)}" y1="{_num(op.y1)}" x2="{_num(op.x2)}" y2="{_num(op.y2)}"'
            f' stroke="{_hex(op.color)}" stroke-width="{_num(op.width)}"/>'
        )
    return (
        f'<path class="qr" data-modules="{len(op.matrix)}" fill="#000000"'
        f' shape-rendering="crispEdges"'
        f' transform="translate({op.x:.3f} {op.y:.3f}) scale({op.module:.5f})"'
        f' d="{qr_path_data(op)}"/>'
    )


def render_svg(page: Page) -> bytes:
    """The page as UTF-8 SVG bytes, sized in millimetres with a viewBox in points."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(page.width / MM)}mm"'
        f' height="{_num(page.height / MM)}mm"'
        f' viewBox="0 0 {_num(page.width)} {_num(page.height)}" font-family="{FONT_FAMILY}">\n'
        f"<title>{_text(page.title)}</title>\n"
        f'<rect width="{_num(page.width)}" height="{_num(page.height)}" fill="#ffffff"/>\n'
    )
    body = "\n".join(_op(op) for op in page.ops)
    return f"{head}{body}\n</svg>\n".encode()
