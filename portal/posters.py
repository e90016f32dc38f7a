"""Posters from the registry: the portal's schools handed to the pure generator in qr/."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from portal.models import School
from qr import BadOutputDir, Language, PosterSchool, write_school_files
from qr.batch import ProgressCallback


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
