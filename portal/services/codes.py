"""Short school codes (Crockford base32) and poster check words."""

from __future__ import annotations

import secrets
from functools import cache
from pathlib import Path

# Crockford's alphabet leaves out I, L, O and U so codes cannot be misread or spell words.
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 8 symbols x 5 bits = 40 random bits
# What people mistype, read back the way Crockford's decoding rules say.
_MISREAD = str.maketrans({"I": "1", "L": "1", "O": "0"})
_CHECK_WORDS_FILE = Path(__file__).parents[1] / "data" / "check_words.txt"


def new_code() -> str:
    """A fresh random school code of 40 bits, e.g. '7K3M9QPX'."""
    return "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """The canonical form of a typed or scanned code, or None if it cannot be one."""
    code = text.strip().upper().replace("-", "").translate(_MISREAD)
    if len(code) != CODE_LENGTH or any(ch not in CROCKFORD_ALPHABET for ch in code):
        return None
    return code


@cache
def check_words() -> tuple[str, ...]:
    """The list of words a poster's check word is drawn from."""
    lines = _CHECK_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def new_check_word(avoid: str = "") -> str:
    """A random check word, different from `avoid` (the school's previous one)."""
    choices = [word for word in check_words() if word != avoid]
    return secrets.choice(choices)
