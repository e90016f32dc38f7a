"""School codes and check words."""

from __future__ import annotations

import re

import pytest

from portal.services.codes import (
    CODE_LENGTH,
    CROCKFORD_ALPHABET,
    check_words,
    new_check_word,
    new_code,
    normalize_code,
)


def test_codes_are_40_random_bits_of_uppercase_crockford() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert len(CROCKFORD_ALPHABET) ** CODE_LENGTH >= 2**40
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", code), code
    # Every symbol turns up: the choice is not stuck on part of the alphabet.
    assert set("".join(codes)) == set(CROCKFORD_ALPHABET)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("7K3M9QPX", "7K3M9QPX"),
        ("7k3m9qpx", "7K3M9QPX"),
        (" 7K3M-9QPX ", "7K3M9QPX"),
        ("OIL00000", "01100000"),  # Crockford reads O as 0, I and L as 1
        ("7K3M9QP", None),
        ("7K3M9QPXX", None),
        ("7K3M9QPU", None),
        ("7K3M9QP!", None),
        ("", None),
        ("../../etc", None),
    ],
)
def test_normalize_code(typed: str, expected: str | None) -> None:
    assert normalize_code(typed) == expected


def test_check_words_are_short_capital_cyrillic_and_unique() -> None:
    words = check_words()
    assert len(words) >= 50
    assert len(set(words)) == len(words)
    for word in words:
        assert re.fullmatch(r"[А-ЯЁ]{3,10}", word), word


def test_new_check_word_avoids_the_previous_one() -> None:
    for word in check_words():
        assert new_check_word(avoid=word) != word
