"""Hypothesis over every route and form of the app, anonymous and logged in (P4, no 5xx).

Routes come from the URL map and forms from the app's own pages, so a new route or form is
fuzzed without anyone adding it here. Every answer must be a page, not a failure, and carry the
security headers; on the child's side every error page gives back what the child typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from portal.config import RateLimits
from portal.services.inputs import clean_text
from tests.fuzz import strategies as fuzz
from tests.fuzz.harness import (
    Form,
    Route,
    assert_sound,
    brief,
    discover_forms,
    encoded,
    gives_back,
    routes,
)
from tests.fuzz.profiles import fuzz_settings
from tests.worlds import RECEIPT, Desk, Site, report_id

# Names the app's forms and filters use, and some they do not.
FIELD_NAMES = (
    "message",
    "csrf_token",
    "category",
    "danger",
    "grade",
    "homepage",
    "receipt",
    "email",
    "password",
    "code",
    "reply-text",
    "note-text",
    "status",
    "agency",
    "note",
    "priority",
    "reason",
    "assignee",
    "lang",
    "page",
)
ADDRESSES = tuple(f"198.51.100.{n}" for n in range(1, 60))  # TEST-NET-2, one per "client"
LOGOUT = "desk.logout"  # the logged-in fuzz must not end its own sessions


@dataclass(frozen=True)
class Aim:
    """The app under fuzz and good values for its path arguments."""

    routes: list[Route]
    samples: dict[str, str]


def aim_at(site: Site, **samples: str) -> Aim:
    """The app's routes, and sample values that reach real pages (a school, a report)."""
    return Aim(
        routes(site.app),
        {"code": site.code, "filename": "style.css", "kind": "pdf", **samples},
    )


@pytest.fixture
def desk_aim(desk: Desk) -> Aim:
    """The desk with one report in it."""
    desk.site.send()
    return aim_at(desk.site, public_id=report_id(desk), school_id=desk.school_id)


@pytest.fixture
def roomy(make_site: Callable[[RateLimits], Site]) -> Iterator[Site]:
    """A site whose limits let the fuzzer reach the forms' work, not only the 429 page."""
    wide = "100000/minute"
    yield make_site(RateLimits(wide, wide, wide, wide))


def request_of(data: st.DataObject, aim: Aim, route: Route) -> dict[str, object]:
    """Arguments of FlaskClient.open for a fuzzed request on the route."""
    draw = data.draw
    values = {}
    for name in route.arguments:
        good = [encoded(aim.samples[name])] if name in aim.samples else []
        values[name] = draw(
            st.sampled_from(good) | fuzz.path_segment if good else fuzz.path_segment
        )
    method = draw(st.sampled_from(route.methods) | st.sampled_from(fuzz.WRONG_METHODS))
    query = draw(st.dictionaries(st.sampled_from(FIELD_NAMES) | fuzz.text, fuzz.text, max_size=3))
    headers = {}
    cookie = draw(fuzz.cookies)
    if cookie is not None:
        headers["Cookie"] = cookie
    language = draw(fuzz.accept_language)
    if language is not None:
        headers["Accept-Language"] = language
    asked: dict[str, object] = {
        "path": route.path(values),
        "method": method,
        "query_string": query,
        "headers": headers,
        "environ_overrides": {"REMOTE_ADDR": draw(st.sampled_from(ADDRESSES))},
    }
    if draw(st.booleans()):
        fields = st.sampled_from(FIELD_NAMES) | fuzz.text
        asked["data"] = draw(st.dictionaries(fields, fuzz.text, max_size=6))
    elif draw(st.booleans()):
        asked["data"] = draw(fuzz.raw_body)
        headers["Content-Type"] = draw(st.sampled_from(fuzz.CONTENT_TYPES))
    return asked


def typed_in(asked: dict[str, object]) -> str:
    """The text a child's browser would have posted in the message field, if any."""
    data = asked.get("data")
    if asked["method"] != "POST" or not isinstance(data, dict):
        return ""
    message = data.get("message", "")
    return message if clean_text(message) else ""


def check_child_answer(response: TestResponse, typed: str, what: object) -> None:
    """An error page of the child's side gives the text back (not for a body over the limit)."""
    if typed and response.status_code >= 400 and response.status_code != 413:
        assert gives_back(response, typed), (brief(what), response.status_code)


def fill(given: st.DataObject, form: Form) -> dict[str, str]:
    """The form's fields with fuzzed values: choices or anything, tokens mostly valid."""
    draw = given.draw
    sent: dict[str, str] = {}
    for name, value in form.hidden.items():
        if draw(st.integers(0, 9)):
            sent[name] = value
        elif draw(st.booleans()):
            sent[name] = draw(fuzz.text)
    for name, choices in form.fields.items():
        if not draw(st.integers(0, 5)):
            continue  # left out
        if len(choices) > 0 and draw(st.booleans()):
            sent[name] = draw(st.sampled_from(choices))
        else:
            sent[name] = draw(fuzz.text)
    if not draw(st.integers(0, 5)):
        sent[draw(fuzz.text)] = draw(fuzz.text)
    return sent


@given(data=st.data())
@fuzz_settings()
def test_any_request_from_anyone_is_answered_with_a_page(
    desk_aim: Aim, desk: Desk, data: st.DataObject
) -> None:
    """Anonymous requests on every route: junk paths, methods, bodies, cookies, languages."""
    route = data.draw(st.sampled_from(desk_aim.routes))
    asked = request_of(data, desk_aim, route)
    response = desk.client().open(**asked)  # type: ignore[arg-type]
    assert_sound(response, asked)
    if not route.staff:
        check_child_answer(response, typed_in(asked), asked)


@pytest.fixture
def open_forms(roomy: Site) -> list[Form]:
    """The forms of the pages anyone reaches (found once: Hypothesis draws from a fixed list)."""
    forms = discover_forms(roomy.client, roomy.app, aim_at(roomy).samples)
    assert {"/check", f"/s/{roomy.code}", "/staff/login"} <= {
        form.path.split("?")[0] for form in forms
    }
    return forms


@given(data=st.data())
@fuzz_settings()
def test_every_anonymous_form_keeps_what_was_typed(
    roomy: Site, open_forms: list[Form], data: st.DataObject
) -> None:
    """The forms of the pages anyone reaches, filled with anything; a receipt opens the text."""
    form = data.draw(st.sampled_from(open_forms))
    sent = fill(data, form)
    address = data.draw(st.sampled_from(ADDRESSES))
    response = roomy.client.post(form.path, data=sent, environ_overrides={"REMOTE_ADDR": address})
    assert_sound(response, sent)
    if form.path.startswith("/staff"):
        return
    typed = sent.get("message", "")
    check_child_answer(response, typed if clean_text(typed) else "", sent)
    found = RECEIPT.search(response.get_data(as_text=True))
    if found:  # a report was stored: the child reads it back as written
        receipt = "".join(re.findall(r"\d{4}", found.group(1)))
        token = roomy.token("/check")
        opened = roomy.client.post("/check", data={"csrf_token": token, "receipt": receipt})
        assert opened.status_code == 200
        assert gives_back(opened, typed), brief(sent)


@pytest.fixture
def browsers(desk: Desk) -> dict[str, FlaskClient]:
    """One logged-in browser per role (a TOTP code works once: one login each)."""
    return {
        "triage": desk.log_in(desk.triage),
        "admin": desk.log_in(desk.admin),
        "school": desk.log_in(desk.school),
    }


@given(data=st.data())
@fuzz_settings()
def test_any_request_from_logged_in_staff_is_answered_with_a_page(
    desk_aim: Aim, browsers: dict[str, FlaskClient], data: st.DataObject
) -> None:
    """Each role's browser on every route but log-out, with junk of every kind."""
    role = data.draw(st.sampled_from(sorted(browsers)))
    route = data.draw(st.sampled_from([r for r in desk_aim.routes if r.endpoint != LOGOUT]))
    asked = request_of(data, desk_aim, route)
    asked["headers"].pop("Cookie", None)  # type: ignore[attr-defined]  # keep the session
    response = browsers[role].open(**asked)  # type: ignore[arg-type]
    assert_sound(response, (role, asked))


@pytest.fixture
def staff_forms(
    desk_aim: Aim, desk: Desk, browsers: dict[str, FlaskClient]
) -> list[tuple[str, Form]]:
    """Each role's forms on every page it reaches, log-out aside (found once)."""
    return [
        (role, form)
        for role, browser in sorted(browsers.items())
        for form in discover_forms(browser, desk.site.app, desk_aim.samples)
        if form.path != "/staff/logout"
    ]


@given(data=st.data())
@fuzz_settings()
def test_every_staff_form_takes_anything(
    staff_forms: list[tuple[str, Form]], browsers: dict[str, FlaskClient], data: st.DataObject
) -> None:
    """The forms of every page each role reaches, filled with anything, tokens mostly valid."""
    role, form = data.draw(st.sampled_from(staff_forms))
    sent = fill(data, form)
    response = browsers[role].post(form.path, data=sent)
    assert_sound(response, (role, form.path, sent))
