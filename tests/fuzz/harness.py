"""The fuzzer's view of the app: its routes from the URL map, its forms from its own pages."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from portal.services.inputs import clean_text
from portal.web.access import COOKIE_PATH
from portal.web.security import HEADERS

# `<converter(args):name>` in a rule's text.
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Route:
    """A rule of the app's URL map, as the fuzzer aims at it."""

    endpoint: str
    rule: str
    methods: tuple[str, ...]
    arguments: tuple[str, ...]

    @property
    def staff(self) -> bool:
        """A staff page (behind the login), not the child's side."""
        return self.rule.startswith(COOKIE_PATH)

    def path(self, values: Mapping[str, str]) -> str:
        """The rule's path with each argument replaced by its (already encoded) value."""
        return _ARGUMENT.sub(lambda found: values[found.group(1)], self.rule)


def routes(app: Flask) -> list[Route]:
    """Every route of the app, new ones included without anyone listing them."""
    found = []
    for rule in app.url_map.iter_rules():
        assert isinstance(rule, Rule)
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        found.append(Route(rule.endpoint, rule.rule, methods, tuple(sorted(rule.arguments))))
    return sorted(found, key=lambda route: (route.rule, route.endpoint))


@dataclass
class Form:
    """A form as a page carries it: where it goes and the fields it has (with choices)."""

    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # name -> choices ([] = free)
    hidden: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The action without scheme and host."""
        parts = urlsplit(self.action)
        return parts.path + (f"?{parts.query}" if parts.query else "")


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {name: value or "" for name, value in attrs}
        name = given.get("name", "")
        if tag == "form":
            self.forms.append(Form(given.get("action", ""), given.get("method", "get").upper()))
        elif not self.forms or (not name and tag != "option"):
            return
        elif tag == "input" and given.get("type") == "hidden":
            self.forms[-1].hidden[name] = given.get("value", "")
        elif tag == "input" and given.get("type") in ("radio", "checkbox"):
            self.forms[-1].fields.setdefault(name, []).append(given.get("value", "on"))
        elif tag in ("input", "textarea"):
            self.forms[-1].fields.setdefault(name, [])
        elif tag == "select":
            self._select = name
            self.forms[-1].fields.setdefault(name, [])
        elif tag == "option" and self._select is not None:
            self.forms[-1].fields[self._select].append(given.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def forms_of(page: str) -> list[Form]:
    """The POST forms of a page."""
    parser = _FormParser()
    parser.feed(page)
    return [form for form in parser.forms if form.method == "POST"]


def encoded(value: str) -> str:
    """A path value as a browser sends it."""
    return quote(value.encode("utf-8"), safe="")


def brief(what: object, size: int = 600) -> str:
    """A request as a failure message shows it: huge values would bury the rest."""
    shown = repr(what)
    return shown if len(shown) <= size else f"{shown[: size // 2]} ... {shown[-size // 2 :]}"


def assert_sound(response: TestResponse, what: object) -> None:
    """Never a failure of ours, and the security headers on every answer."""
    assert response.status_code < 500, (brief(what), response.status_code)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (brief(what), name)


def gives_back(response: TestResponse, typed: str) -> bool:
    """The page shows what the child typed (as typed, or as the form cleaned it)."""
    page = html.unescape(response.get_data(as_text=True))
    return typed in page or clean_text(typed) in page


def discover_forms(browser: FlaskClient, app: Flask, samples: Mapping[str, str]) -> list[Form]:
    """The POST forms of every GET page reachable with the sample path values."""
    found: dict[str, Form] = {}
    for route in routes(app):
        if "GET" not in route.methods or not set(route.arguments) <= set(samples):
            continue
        response = browser.get(
            route.path({name: encoded(samples[name]) for name in route.arguments})
        )
        if response.status_code == 200 and response.mimetype == "text/html":
            for form in forms_of(response.get_data(as_text=True)):
                found.setdefault(form.path.split("?")[0], form)
    return list(found.values())
