"""QR encoding: a URL to a module matrix (error correction Q, quiet zone of 4 modules)."""

from __future__ import annotations

import functools

import qrcode
import qrcode.constants

# Q survives ~25 % damage: posters get scratched, folded and partly pasted over.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4  # modules of white on each side, as ISO/IEC 18004 requires

Matrix = tuple[tuple[bool, ...], ...]
Run = tuple[int, int, int]  # (row, first column, length) of dark modules, quiet zone included


def uncached_qr_matrix(data: str) -> Matrix:
    """The module matrix of data, quiet zone included (True is dark), encoded anew each call."""
    # For data that must not stay in memory after its use (a TOTP secret), and for timing.
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


@functools.lru_cache(maxsize=64)
def qr_matrix(data: str) -> Matrix:
    """The module matrix of data, as uncached_qr_matrix, kept for the next call with it."""
    # Cached: a school's poster and its sticker sheet encode the same URL.
    return uncached_qr_matrix(data)


def dark_runs(matrix: Matrix) -> list[Run]:
    """Horizontal runs of dark modules: one rectangle each instead of one per module."""
    runs: list[Run] = []
    for y, row in enumerate(matrix):
        start = -1
        for x, dark in enumerate(row):
            if dark and start < 0:
                start = x
            elif not dark and start >= 0:
                runs.append((y, start, x - start))
                start = -1
        if start >= 0:
            runs.append((y, start, len(row) - start))
    return runs
