"""Fixtures and helpers for the poster generator tests: sample schools, PDF rasterising."""

from __future__ import annotations

import shutil
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from qr import PosterSchool, read_schools_csv

DATA = Path(__file__).resolve().parent / "data"
EXPORT = DATA / "schools-export.csv"
BASE_URL = "https://qr111.kz"
KAZAKH_LETTERS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of every page, whitespace collapsed (so wrapped lines join with a space)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(" ".join(textpage.get_text_range().split()))
        return texts
    finally:
        document.close()


def pdf_image(pdf: bytes, dpi: float = 100) -> Image.Image:
    """The first page rasterised at dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=dpi / 72).to_pil()
        return image.convert("RGB")
    finally:
        document.close()


def qr_texts(image: Image.Image) -> list[str]:
    """The text of every QR code a real decoder (ZXing) finds in the image."""
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.fixture(scope="session")
def export_schools() -> list[PosterSchool]:
    """The schools of the fixture export (rows of shared/schools-sample.csv plus codes)."""
    return read_schools_csv(EXPORT)


@pytest.fixture(scope="session")
def kazakh_school(export_schools: list[PosterSchool]) -> PosterSchool:
    """A school whose Kazakh name has every Kazakh-specific letter in both cases."""
    school = next(s for s in export_schools if s.school_id == "61000099")
    assert all(letter in school.name_kk for letter in KAZAKH_LETTERS)
    return school


@pytest.fixture
def export_copy(tmp_path: Path) -> Path:
    """A private copy of the fixture export."""
    target = tmp_path / "schools.csv"
    shutil.copyfile(EXPORT, target)
    return target
