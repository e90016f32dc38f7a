"""Every string a child or a staff member can see is translated into Kazakh, Russian and English."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from portal import create_app
from portal.config import Environment
from portal.web import i18n
from portal.web.context import engine_of
from portal.web.i18n import LANGUAGES, TRANSLATIONS
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
# The keywords of `make messages`: Babel's defaults (gettext, ngettext, ...) and our lazy ones.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\(\w+\)\d*[sd]|\{\w+\}|\d{3}")
MessageId = str | tuple[str, ...]


def source_messages() -> set[MessageId]:
    """The message ids in the code and templates (a plural: the pair of English forms),
    extracted the way `make messages` does."""
    method_map = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    found: set[MessageId] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(m for m in message if m))
    return found


def forms_of(text: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A translation's forms (one, or one per plural form)."""
    if text is None:
        return ()
    return (text,) if isinstance(text, str) else tuple(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_current(language: str) -> None:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        catalog = read_po(stream, locale=language)
    entries = [m for m in catalog if m.id]
    assert not [m.id for m in entries if m.fuzzy], f"{language}: fuzzy entries"
    empty = [m.id for m in entries if not all(forms_of(m.string))]
    assert not empty, f"{language}: empty translations: {empty}"
    translated = {m.id: forms_of(m.string) for m in entries}
    missing = source_messages() - set(translated)
    assert not missing, f"{language}: untranslated: {sorted(map(str, missing))}"
    for msgid, texts in translated.items():
        assert len(texts) == (catalog.num_plurals if isinstance(msgid, tuple) else 1), msgid
        placeholders = sorted(PLACEHOLDER.findall(str(forms_of(msgid)[-1])))
        for text in texts:
            assert sorted(PLACEHOLDER.findall(text)) == placeholders, (msgid, text)


def test_the_catalogs_cover_the_staff_side() -> None:
    """The check above reaches the staff's words too: labels, plurals, lazy form labels."""
    found = source_messages()
    assert {"Inbox", "Violence at home", "Code from the authenticator app"} <= found
    assert ("%(num)d open report", "%(num)d open reports") in found


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


def uncompiled_catalogs(folder: Path, *languages: str) -> Path:
    """A copy of the translations as a checkout has them before `make install`: the .po files,
    and no .mo for these languages."""
    copy = folder / "translations"
    shutil.copytree(TRANSLATIONS, copy)
    for language in languages:
        (copy / language / "LC_MESSAGES" / "messages.mo").unlink(missing_ok=True)
    return copy


@pytest.mark.parametrize(("missing", "named"), [(LANGUAGES, "kk, ru, en"), (("ru",), "for ru in")])
def test_production_refuses_to_start_without_compiled_catalogs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...], named: str
) -> None:
    """Without them every page would read in English under lang="kk" or "ru"."""
    monkeypatch.setattr(i18n, "TRANSLATIONS", uncompiled_catalogs(tmp_path, *missing))
    instance = tmp_path / "instance"
    instance.mkdir()
    with pytest.raises(i18n.CatalogsMissing) as refused:
        create_app(make_config(instance, env=Environment.PRODUCTION))
    message = str(refused.value)
    assert named in message
    assert "make install" in message and "pybabel compile -d" in message


def test_development_starts_without_compiled_catalogs_but_says_so_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(i18n, "TRANSLATIONS", uncompiled_catalogs(tmp_path, *LANGUAGES))
    instance = tmp_path / "instance"
    instance.mkdir()
    with caplog.at_level(logging.WARNING):
        app = create_app(make_config(instance))
    try:
        warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert any("kk, ru, en" in line and "make install" in line for line in warned), warned
        # What the warning is about: Russian asked, English served.
        page = app.test_client().get("/?lang=ru").get_data(as_text=True)
        assert '<html lang="ru">' in page and "Leave quickly" in page
    finally:
        engine_of(app).dispose()


def test_compiled_catalogs_start_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    with caplog.at_level(logging.WARNING):
        app = create_app(make_config(instance, env=Environment.PRODUCTION))
    engine_of(app).dispose()
    assert not [r for r in caplog.records if "catalog" in r.getMessage()]
