"""Text this project hands to other programs: CSV cells a spreadsheet opens, and XML.

Plain Python in qr/ so that the poster generator and its schools reader use it, and the portal
imports it from here (qr/ never imports the portal).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

# The complement of XML 1.0's Char production: what no parser accepts, not even escaped as a
# character reference (C0 controls but tab and the line ends, lone surrogates, U+FFFE, U+FFFF).
XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (some
# drop a leading tab or carriage return first); after leading spaces too, as spaces may be
# trimmed on the way in.
_FORMULA_STARTS = frozenset("=+-@\t\r")
# The prefix that makes such a cell text. A value that starts with it anyway gets a second one,
# so every cell written with a prefix is the prefix and a value that needs one: cell_value takes
# it off exactly there, and a hand-written "'Quoted" keeps its apostrophe.
CELL_ESCAPE = "'"


def xml_text(value: str) -> str:
    """value without the characters XML 1.0 forbids (anything else can be escaped)."""
    return XML_FORBIDDEN.sub("", value)


def _escaped(value: str) -> bool:
    """Whether safe_cell puts the apostrophe before value."""
    return value[:1] in _FORMULA_STARTS or value.lstrip()[:1] in (*_FORMULA_STARTS, CELL_ESCAPE)


def safe_cell(value: str) -> str:
    """value as a CSV cell no spreadsheet runs: an apostrophe before a formula (or before an
    apostrophe, so that cell_value can undo it exactly)."""
    return CELL_ESCAPE + value if _escaped(value) else value


def cell_value(cell: str) -> str:
    """The value safe_cell was given for this cell.

    Only an apostrophe safe_cell would have written is taken off: a registry file written by
    hand keeps a name like "'Quoted'" as it is.
    """
    rest = cell.removeprefix(CELL_ESCAPE)
    return rest if rest != cell and _escaped(rest) else cell


class SafeCSVWriter:
    """The one way this project writes CSV: csv.writer with every cell through safe_cell."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")

    def writerow(self, row: Iterable[str]) -> None:
        """Write one row, each cell made safe."""
        self._writer.writerow([safe_cell(value) for value in row])
