"""Languages: Kazakh, Russian and English, chosen by link or by the browser."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, url_for
from flask_babel import Babel

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "kk"  # the state language, when the browser asks for none of ours
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
TRANSLATIONS = Path(__file__).parent / "translations"


def select_language() -> str:
    """`?lang=` when valid (no cookie is set for it), else the browser's best match."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return (
        request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    )


def language_links() -> list[tuple[str, str, str]]:
    """(code, name, url) for each language: the current page in that language."""
    if request.endpoint is None:
        return [(code, LANGUAGE_NAMES[code], f"?lang={code}") for code in LANGUAGES]
    args = dict(request.view_args or {})
    return [
        (code, LANGUAGE_NAMES[code], url_for(request.endpoint, **args, lang=code))
        for code in LANGUAGES
    ]


def init_app(app: Flask) -> None:
    """Install Flask-Babel with our catalogs and language selection."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    Babel(app, locale_selector=select_language)
    app.jinja_env.globals.update(language_links=language_links, current_language=select_language)
