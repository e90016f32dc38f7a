"""The data the poster generator needs about one school: plain values, no Flask."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Language(StrEnum):
    """A language a poster can speak; Kazakh and Russian are the default pair."""

    KK = "kk"
    RU = "ru"
    EN = "en"

    @classmethod
    def parse_list(cls, text: str) -> tuple[Language, ...]:
        """Parse 'kk,ru,en' strictly; raises ValueError naming the bad entry."""
        languages: list[Language] = []
        for part in text.split(","):
            name = part.strip().lower()
            try:
                language = cls(name)
            except ValueError:
                raise ValueError(f"unknown language {part.strip()!r} (use kk, ru, en)") from None
            if language not in languages:
                languages.append(language)
        if not languages:
            raise ValueError("no language given")
        return tuple(languages)


DEFAULT_LANGUAGES: tuple[Language, ...] = (Language.KK, Language.RU)


@dataclass(frozen=True)
class PosterSchool:
    """One school as printed on its poster: names, its short code and check word."""

    school_id: str
    name_kk: str
    name_ru: str
    region: str
    code: str
    check_word: str
    district: str = ""
