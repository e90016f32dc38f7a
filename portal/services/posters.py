"""Posters from the registry: the portal's schools handed to the pure generator in qr/."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from portal.models import School
from qr import (
    BadOutputDir,
    Language,
    PosterFormat,
    PosterSchool,
    render_poster,
    render_sticker_sheet,
    write_school_files,
)
from qr.batch import ProgressCallback

SHEET = "sheet"  # the sticker sheet's download name, beside the poster formats


@dataclass(frozen=True)
class Download:
    """A file to send: its bytes, type and name."""

    data: bytes
    media_type: str
    filename: str


class PosterError(Exception):
    """Posters could not be written; the message says why and nothing was half-written."""


def poster_school(school: School) -> PosterSchool:
    """What the generator needs to know about a school."""
    return PosterSchool(
        school_id=school.school_id,
        name_kk=school.name_kk,
        name_ru=school.name_ru,
        region=school.region,
        district=school.district,
        code=school.code,
        check_word=school.check_word,
    )


def write_posters(
    schools: Sequence[School],
    base_url: str,
    out_dir: Path,
    *,
    fmt: str = "pdf",
    languages: str = "kk,ru",
    progress: ProgressCallback | None = None,
) -> int:
    """Write every school's poster and sticker sheet under out_dir; returns the count."""
    try:
        result = write_school_files(
            [poster_school(school) for school in schools],
            base_url,
            out_dir,
            fmt=fmt,
            languages=Language.parse_list(languages),
            progress=progress,
        )
    except (ValueError, BadOutputDir) as exc:
        raise PosterError(str(exc)) from None
    return result.posters


def render_for_download(school: School, base_url: str, kind: str) -> Download:
    """The school's poster as pdf, svg or png, or its sticker sheet; ValueError for other kinds."""
    if kind == SHEET:
        data = render_sticker_sheet(poster_school(school), base_url)
        return Download(data, "application/pdf", f"{school.school_id}-stickers.pdf")
    fmt = PosterFormat.parse(kind)
    data = render_poster(poster_school(school), base_url, fmt=fmt)
    return Download(data, fmt.media_type, f"{school.school_id}-poster.{fmt.value}")
