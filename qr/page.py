"""A laid-out page: a few drawing operations that every backend (PDF, SVG, PNG) draws alike.

Coordinates are PDF points (1/72 inch) from the top-left corner, y going down.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qr.encode import Matrix

Color = tuple[int, int, int]

BLACK: Color = (0, 0, 0)
WHITE: Color = (255, 255, 255)
ACCENT: Color = (0, 82, 155)  # a deep blue: prints well in greyscale too
DANGER: Color = (196, 18, 28)
GREY: Color = (90, 90, 90)
CUT: Color = (170, 170, 170)

MM = 72 / 25.4  # points per millimetre
A4 = (210 * MM, 297 * MM)


class Anchor(StrEnum):
    """Which point of a text run its x is: its start, middle or end."""

    START = "start"
    MIDDLE = "middle"
    END = "end"


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle, filled and/or stroked."""

    x: float
    y: float
    w: float
    h: float
    fill: Color | None = None
    stroke: Color | None = None
    line_width: float = 0.0


@dataclass(frozen=True, slots=True)
class Line:
    """A straight line (cut marks)."""

    x1: float
    y1: float
    x2: float
    y2: float
    color: Color
    width: float


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; y is its baseline."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    anchor: Anchor = Anchor.START
    color: Color = BLACK


@dataclass(frozen=True, slots=True)
class QRSymbol:
    """A QR code: its matrix (quiet zone included) placed at x, y with square modules."""

    x: float
    y: float
    module: float
    matrix: Matrix
    data: str

    @property
    def size(self) -> float:
        """Width (= height) in points, quiet zone included."""
        return self.module * len(self.matrix)


Shape = Rect | Line | Text | QRSymbol


@dataclass(frozen=True, slots=True)
class Group:
    """The same shapes drawn at several offsets (stickers): PDF and SVG define them once."""

    name: str
    shapes: tuple[Shape, ...]
    offsets: tuple[tuple[float, float], ...]


Op = Shape | Group


def shifted(shape: Shape, dx: float, dy: float) -> Shape:
    """The same shape moved by dx, dy."""
    if isinstance(shape, Line):
        return Line(shape.x1 + dx, shape.y1 + dy, shape.x2 + dx, shape.y2 + dy, shape.color,
                    shape.width)  # fmt: skip
    if isinstance(shape, Rect):
        return Rect(shape.x + dx, shape.y + dy, shape.w, shape.h, shape.fill, shape.stroke,
                    shape.line_width)  # fmt: skip
    if isinstance(shape, Text):
        return Text(shape.x + dx, shape.y + dy, shape.text, shape.size, shape.bold, shape.anchor,
                    shape.color)  # fmt: skip
    return QRSymbol(shape.x + dx, shape.y + dy, shape.module, shape.matrix, shape.data)


@dataclass(frozen=True)
class Page:
    """One page: its size in points, a title and its drawing operations in paint order."""

    width: float
    height: float
    title: str
    ops: tuple[Op, ...]

    def shapes(self) -> list[Shape]:
        """Every shape as drawn on the page, groups expanded at their offsets."""
        result: list[Shape] = []
        for op in self.ops:
            if isinstance(op, Group):
                for dx, dy in op.offsets:
                    result.extend(shifted(shape, dx, dy) for shape in op.shapes)
            else:
                result.append(op)
        return result
