"""Languages: Kazakh, Russian and English, chosen by link or by the browser.

The child's side and the staff side choose differently. A child's choice is a `?lang=` link
and is never remembered (no cookie, P3). A staff member's choice is remembered in a cookie
that only the staff pages receive (Path=/staff), so the desk stays in the language they
picked; the child's pages neither read nor set it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask, current_app, has_request_context, request, url_for
from flask_babel import Babel, get_translations, gettext, support
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from portal import clock
from portal.services import text

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "kk"  # the state language, when the browser asks for none of ours
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
TRANSLATIONS = Path(__file__).parents[1] / "translations"

# The staff side: every staff page lives under this path (access.COOKIE_PATH says the same;
# importing it here would import the whole staff side into the app factory's first import).
STAFF_PATH = "/staff"
STAFF_COOKIE = "qr111_staff_lang"
STAFF_COOKIE_DAYS = 365
# When a staff browser asks for none of kk, ru, en: Russian, the language every worker of the
# 111 contact centre and of the regional teams reads (their case work, referrals to police and
# social services are in Russian as often as in Kazakh); the child's side keeps Kazakh, the
# state language, for children. One click in the staff bar changes it for good.
STAFF_DEFAULT_LANGUAGE = "ru"
STAFF_SHORT_NAMES = {"kk": "ҚАЗ", "ru": "РУС", "en": "ENG"}
# Outside a request (commands, work functions called by tests) messages are English, like
# the rest of the command line.
NO_REQUEST_LANGUAGE = "en"
# What Flask-Babel reads: the .po files are compiled into these by `make install`.
COMPILED_CATALOG = Path("LC_MESSAGES") / "messages.mo"
# Worked out once per request and kept on its Request object: a child's page asks for its
# language ~4 times and translates ~20 texts, and Flask-Babel walks the request's contexts
# ~10 times for each (py-spy under bench/child.py: ~15 % of the school page's CPU).
_LANGUAGE_ATTRIBUTE = "qr111_language"
_TRANSLATIONS_ATTRIBUTE = "qr111_translations"


class CatalogsMissing(RuntimeError):
    """The catalogs were never compiled: every page would be English whatever its lang says."""


def is_staff_request() -> bool:
    """True for a page of the staff side (its own language rules and cookie)."""
    return request.path == STAFF_PATH or request.path.startswith(STAFF_PATH + "/")


def asked_language() -> str | None:
    """The language a `?lang=` link asks for, if it is one of ours."""
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else None


def staff_language() -> str:
    """`?lang=`, else the staff cookie, else the browser's best match, else Russian."""
    remembered = request.cookies.get(STAFF_COOKIE, "")
    if remembered not in LANGUAGES:
        remembered = ""
    best = request.accept_languages.best_match(LANGUAGES)
    return asked_language() or remembered or best or STAFF_DEFAULT_LANGUAGE


def select_language() -> str:
    """`?lang=` when valid (no cookie is set for it), else the browser's best match.

    Staff pages follow `staff_language` instead.
    """
    if not has_request_context():
        return NO_REQUEST_LANGUAGE
    chosen: str | None = getattr(request, _LANGUAGE_ATTRIBUTE, None)
    if chosen is None:
        chosen = staff_language() if is_staff_request() else child_language()
        setattr(request, _LANGUAGE_ATTRIBUTE, chosen)
    return chosen


def child_language() -> str:
    """`?lang=` when valid, else the browser's best match, else Kazakh."""
    return asked_language() or (
        request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE
    )


def page_translations() -> support.Translations | support.NullTranslations:
    """The catalog of this request's language (Flask-Babel's choice), looked up once a request."""
    if not has_request_context():
        return get_translations()
    found: support.Translations | support.NullTranslations | None = getattr(
        request, _TRANSLATIONS_ATTRIBUTE, None
    )
    if found is None:
        found = get_translations()
        setattr(request, _TRANSLATIONS_ATTRIBUTE, found)
    return found


def language_links() -> list[tuple[str, str, str]]:
    """(code, name, url) for each language: the current page in that language."""
    if request.endpoint is None:
        return [(code, LANGUAGE_NAMES[code], f"?lang={code}") for code in LANGUAGES]
    args = dict(request.view_args or {})
    return [
        (code, LANGUAGE_NAMES[code], url_for(request.endpoint, **args, lang=code))
        for code in LANGUAGES
    ]


def _shown_again_by_get() -> bool:
    """True if a GET of this page's URL shows this page (not a 405, a redirect, another view)."""
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return False
    try:
        endpoint, _args = adapter.match(request.path, method="GET")
    except (HTTPException, RequestRedirect):
        return False
    return bool(endpoint == request.endpoint)


def staff_language_links() -> list[tuple[str, str, str, str]]:
    """(code, short name, full name, url) for the staff bar's switcher.

    The page itself in that language, with its filters kept; a page that answered a form
    (its URL takes only a POST) switches on the first staff page instead.
    """
    if request.method == "GET" and request.endpoint is not None and _shown_again_by_get():
        # Query arguments kept (the inbox's filters), but none that url_for reads as its own.
        kept = {name: value for name, value in request.args.items() if not name.startswith("_")}
        args = {**kept, **(request.view_args or {})}
        links = [url_for(request.endpoint, **{**args, "lang": code}) for code in LANGUAGES]
    else:
        links = [url_for("desk.home", lang=code) for code in LANGUAGES]
    return [
        (code, STAFF_SHORT_NAMES[code], LANGUAGE_NAMES[code], link)
        for code, link in zip(LANGUAGES, links, strict=True)
    ]


def remember_staff_language(response: Response) -> Response:
    """A staff page reached with `?lang=` keeps that language for the staff pages only."""
    if not has_request_context() or not is_staff_request():
        return response
    asked = asked_language()
    if asked is None or request.cookies.get(STAFF_COOKIE) == asked:
        return response
    response.set_cookie(
        STAFF_COOKIE,
        asked,
        max_age=STAFF_COOKIE_DAYS * 24 * 3600,
        path=STAFF_PATH,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Strict",
    )
    return response


def kazakhstan_time(instant: datetime) -> str:
    """The instant as people in Kazakhstan read it, the zone named in the reader's language:
    "05.12.2026 11:54 (Kazakhstan time)"."""
    shown: str = gettext("%(time)s (Kazakhstan time)", time=clock.kazakhstan_minute(instant))
    return shown


def time_tag(instant: datetime) -> Markup:
    """A `<time>` element: Kazakhstan time to the minute for people and for machines."""
    return Markup('<time datetime="{}">{}</time>').format(
        clock.machine_time(instant), kazakhstan_time(instant)
    )


def missing_catalogs(directory: Path) -> list[str]:
    """Our languages whose compiled catalog is not in the translations directory."""
    return [code for code in LANGUAGES if not (directory / code / COMPILED_CATALOG).is_file()]


def check_catalogs(app: Flask, *, production: bool) -> None:
    """Production refuses to start without the compiled catalogs; development warns loudly.

    Flask-Babel falls back to the English msgids without a word: a child would read English
    on a page marked lang="kk" or "ru".
    """
    missing = missing_catalogs(TRANSLATIONS)
    if not missing:
        return
    problem = (
        f"no compiled catalogs for {', '.join(missing)} in {TRANSLATIONS}: pages in those "
        f"languages would be English. Run `make install`, or `pybabel compile -d {TRANSLATIONS}`."
    )
    if production:
        raise CatalogsMissing(problem)
    app.logger.warning("%s", problem)


def init_app(app: Flask, *, production: bool) -> None:
    """Install Flask-Babel with our catalogs (checked first) and language selection."""
    check_catalogs(app, production=production)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    Babel(app, locale_selector=select_language)
    # As Flask-Babel installs them, but through page_translations (once a request, not per text).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda string: page_translations().ugettext(string),
        ngettext=lambda single, plural, n: page_translations().ungettext(single, plural, n),
        newstyle=True,
        pgettext=lambda context, string: page_translations().upgettext(context, string),
        npgettext=lambda context, single, plural, n: page_translations().unpgettext(
            context, single, plural, n
        ),
    )
    # The services' messages read in the language of the page that shows them.
    text.translate_with(gettext)
    app.jinja_env.globals.update(
        language_links=language_links,
        staff_language_links=staff_language_links,
        current_language=select_language,
    )
    app.jinja_env.filters.update(kazakhstan_time=kazakhstan_time, time_tag=time_tag)
    app.after_request(remember_staff_language)
