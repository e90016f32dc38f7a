"""Fitting text into a width: wrapping and shrinking, measured with the font's metrics."""

from __future__ import annotations

from qr.typeface import text_width

ELLIPSIS = "…"


def _break_word(word: str, size: float, bold: bool, width: float) -> list[str]:
    """Split a word wider than width into pieces that fit (a long number or a URL)."""
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and text_width(current + char, size, bold) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of text into lines no wider than width."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if text_width(word, size, bold) <= width:
            current = word
        else:
            *whole, current = _break_word(word, size, bold, width)
            lines.extend(whole)
    if current:
        lines.append(current)
    return lines


def fit_size(text: str, size: float, width: float, bold: bool = False, minimum: float = 4) -> float:
    """The largest size <= size at which text fits on one line in width."""
    measured = text_width(text, size, bold)
    if measured <= width:
        return size
    return max(minimum, size * width / measured)


def fit_lines(
    text: str,
    size: float,
    width: float,
    max_lines: int,
    bold: bool = False,
    minimum: float = 6,
) -> tuple[float, list[str]]:
    """Wrap text into at most max_lines, shrinking from size down to minimum if needed.

    If even minimum needs more lines, the last line ends with an ellipsis: a name must
    never run off the paper.
    """
    current = size
    while True:
        lines = wrap(text, current, width, bold)
        if len(lines) <= max_lines:
            return current, lines
        if current <= minimum:
            break
        current = max(minimum, current - 0.5)
    kept = lines[:max_lines]
    last = kept[-1]
    while last and text_width(last + ELLIPSIS, current, bold) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return current, kept
