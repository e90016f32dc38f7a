"""What people type, read strictly: text cleaned of invisible controls, row ids as printed.

Shared by the services and the forms of every page, so a value means the same everywhere.
"""

from __future__ import annotations

import re

# Control characters other than tab and newline: nothing a child types, only what breaks things.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str | None) -> str:
    """The typed text with line ends unified, invisible control characters removed."""
    if not text:
        return ""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


# The largest row id any table holds: PostgreSQL's INTEGER. A larger number is no row, and
# must not reach the database driver (an overflow there is a 500, not a "not found").
MAX_ROW_ID = 2**31 - 1


def row_id(text: str | None) -> int | None:
    """A row id typed into a form or query ("17"), or None for anything else ("²", "1e9", "")."""
    text = (text or "").strip()
    # isascii: str.isdigit() accepts "²" and int() accepts "١٧"; neither is an id we printed.
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None
