"""Every string a child can see is translated into Kazakh, Russian and English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from portal.i18n import LANGUAGES, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")


def source_messages() -> set[str]:
    """The message ids in the code and templates, extracted the way `make messages` does."""
    method_map = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords={"_": None, "gettext": None, "lazy_gettext": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_current(language: str) -> None:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        catalog = read_po(stream)
    translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy and m.string}
    missing = source_messages() - set(translated)
    assert not missing, f"{language}: untranslated: {sorted(missing)}"
    for msgid, text in translated.items():
        placeholders = sorted(re.findall(r"%\(\w+\)s|\{\w+\}|\d{3}", str(msgid)))
        assert sorted(re.findall(r"%\(\w+\)s|\{\w+\}|\d{3}", str(text))) == placeholders, msgid


def test_kazakh_is_kazakh() -> None:
    with (TRANSLATIONS / "kk" / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        strings = " ".join(str(m.string) for m in read_po(stream) if m.id)
    assert KAZAKH_LETTERS & set(strings), "the kk catalog reads like Russian"


def test_compiled_catalogs_are_present() -> None:
    for language in LANGUAGES:
        compiled = TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo"
        source = compiled.with_suffix(".po")
        assert compiled.exists(), "run `make install` to compile the catalogs"
        assert compiled.stat().st_mtime >= source.stat().st_mtime, f"{compiled} is stale"
