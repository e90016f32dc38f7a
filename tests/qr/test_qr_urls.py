"""The URL in the QR code, the printed short URL and base URL validation."""

from __future__ import annotations

import pytest

from qr import BadBaseURL, BadSchoolCode, printed_url, school_url, validate_base_url


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://qr111.kz", "HTTPS://QR111.KZ/S/7K3M9QPX"),
        ("https://qr111.kz/", "HTTPS://QR111.KZ/S/7K3M9QPX"),
        ("HTTPS://QR111.KZ", "HTTPS://QR111.KZ/S/7K3M9QPX"),
        ("http://localhost:5000", "HTTP://LOCALHOST:5000/S/7K3M9QPX"),
        ("https://qr111.kz:443", "HTTPS://QR111.KZ/S/7K3M9QPX"),
        ("https://Example.org/Portal", "https://example.org/Portal/S/7K3M9QPX"),
        ("https://example.org/portal/", "https://example.org/portal/S/7K3M9QPX"),
    ],
)
def test_school_url(base: str, expected: str) -> None:
    assert school_url(base, "7K3M9QPX") == expected


def test_school_url_without_path_is_qr_alphanumeric() -> None:
    alphanumeric = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert set(school_url("https://qr111.kz", "7K3M9QPX")) <= alphanumeric


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://qr111.kz", "qr111.kz/s/7K3M9QPX"),
        ("HTTPS://QR111.KZ/", "qr111.kz/s/7K3M9QPX"),
        ("http://localhost:5000", "localhost:5000/s/7K3M9QPX"),
        ("https://example.org/Portal", "example.org/Portal/s/7K3M9QPX"),
    ],
)
def test_printed_url(base: str, expected: str) -> None:
    assert printed_url(base, "7K3M9QPX") == expected


@pytest.mark.parametrize(
    "base",
    [
        "",
        "qr111.kz",
        "ftp://qr111.kz",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "https://qr111.kz?x=1",
        "https://qr111.kz/?",
        "https://qr111.kz#top",
        "https://user:pw@qr111.kz",
        "https://qr111.kz:99999",
        "https://qr 111.kz",
        "https://қр111.kz",
        "https://qr111.kz/a//b",
        "https://qr111.kz/a/../b",
        " https://qr111.kz",
    ],
)
def test_bad_base_urls(base: str) -> None:
    with pytest.raises(BadBaseURL):
        validate_base_url(base)
    with pytest.raises(ValueError, match="base URL"):
        school_url(base, "7K3M9QPX")


def test_validate_base_url_normalises() -> None:
    assert validate_base_url("HTTPS://QR111.KZ/") == "https://qr111.kz"
    assert validate_base_url("https://example.org/Portal/") == "https://example.org/Portal"


@pytest.mark.parametrize("code", ["", "7K3M9QP", "7K3M9QPXX", "7k3m9qpx", "7K3M9QPI", "7K3M9QPU"])
def test_bad_codes(code: str) -> None:
    with pytest.raises(BadSchoolCode):
        school_url("https://qr111.kz", code)
    with pytest.raises(BadSchoolCode):
        printed_url("https://qr111.kz", code)
