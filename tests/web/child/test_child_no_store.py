"""No answer a child can get stays in a cache (issue 20): pages, files and every error.

A shared phone's browser cache is readable by whoever holds the phone next; a 404 on a rotated
code or a refused form gives the typed text back, so errors are no less private than pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.config import RateLimits
from portal.models import Inbox, School
from portal.services import intake, registry, reports
from portal.web.child import views
from portal.web.context import get_session
from tests.worlds import TEXT, Site, receipt_of

Answer = Callable[[Site], TestResponse]


def _rotated(site: Site) -> TestResponse:
    """A post to a poster's old code, once the school's code was rotated."""
    token = site.token()
    with site.app.app_context():
        session = get_session()
        school = session.query(School).filter_by(code=site.code).one()
        registry.rotate_code(session, school.school_id, actor=None, server_secret="s" * 32)
    return site.client.post(site.page, data={"csrf_token": token, "message": TEXT, "danger": "no"})


def _check(site: Site, receipt: str, message: str = "") -> TestResponse:
    data = {"csrf_token": site.token("/check"), "receipt": receipt, "message": message}
    return site.client.post("/check", data=data)


# Every kind of answer of the child's side: (what, how to get it, its status).
ANSWERS: list[tuple[str, Answer, int]] = [
    ("front page", lambda site: site.client.get("/"), 200),
    ("school page", lambda site: site.client.get(site.page), 200),
    ("school page, upper case", lambda site: site.client.get(f"/S/{site.code}"), 200),
    ("thank-you page", lambda site: site.send(), 200),
    ("form refused", lambda site: site.send(message=" "), 400),
    ("bad token", lambda site: site.client.post(site.page, data={"message": TEXT}), 400),
    ("check page", lambda site: site.client.get("/check"), 200),
    ("conversation", lambda site: _check(site, receipt_of(site.send()), "more"), 200),
    ("wrong receipt", lambda site: _check(site, "0000 0000 0000 0000"), 404),
    ("check refused", lambda site: site.client.post("/check", data={"receipt": "1"}), 400),
    ("unknown code", lambda site: site.client.get("/s/NOSUCHCODE"), 404),
    ("rotated code, text typed back", _rotated, 404),
    ("no such page", lambda site: site.client.get("/nothing/here"), 404),
    ("wrong method", lambda site: site.client.put("/check"), 405),
    ("too large", lambda site: site.client.post(site.page, data={"message": "x" * 300_000}), 413),
    ("robots.txt", lambda site: site.client.get("/robots.txt"), 200),
    ("style sheet", lambda site: site.client.get("/static/style.css"), 200),
    ("quick exit script", lambda site: site.client.get("/static/child/exit.js"), 200),
]
# The child's side as routed: a new route must be added to ANSWERS above.
CHILD_ENDPOINTS = {
    "child.index",
    "child.school",
    "child.school_upper",
    "child.send",
    "child.check",
    "child.robots",
    "static",
}


@pytest.mark.parametrize(("what", "answer", "status"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_no_answer_to_a_child_is_kept_in_a_cache(
    site: Site, what: str, answer: Answer, status: int
) -> None:
    response = answer(site)
    assert response.status_code == status, what
    assert response.headers["Cache-Control"] == "no-store", what


def test_the_answers_cover_every_route_of_the_child_side(site: Site) -> None:
    routed = {rule.endpoint for rule in site.app.url_map.iter_rules()}
    assert {e for e in routed if e.startswith("child.")} | {"static"} == CHILD_ENDPOINTS


def test_a_refusal_for_too_many_messages_is_not_kept(make_site: Callable[..., Site]) -> None:
    site = make_site(RateLimits(client_messages="1/hour"))
    assert site.send().status_code == 200
    refused = site.send()
    assert refused.status_code == 429
    assert refused.headers["Cache-Control"] == "no-store"
    other = dataclasses.replace(site, client=site.app.test_client())
    assert _check(other, "0000 0000 0000 0000").headers["Cache-Control"] == "no-store"


def test_a_closed_school_and_a_failure_of_ours_are_not_kept(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = site.token()
    real = reports.school_and_inbox

    def without_inbox(session: Session, code: str) -> tuple[School, Inbox | None] | None:
        found = real(session, code)
        return None if found is None else (found[0], None)

    monkeypatch.setattr(reports, "school_and_inbox", without_inbox)
    closed = site.client.post(site.page, data={"csrf_token": token, "message": TEXT})
    assert closed.status_code == 503
    assert closed.headers["Cache-Control"] == "no-store"
    monkeypatch.setattr(reports, "school_and_inbox", real)

    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(intake, "send_report", broken)
    failed = site.send()
    assert failed.status_code == 500
    assert failed.headers["Cache-Control"] == "no-store"
    # A failure outside the form's own handler too (the front page's drawing).
    monkeypatch.setattr(views, "_page", broken)
    assert site.client.get("/").status_code == 500
    assert site.client.get("/").headers["Cache-Control"] == "no-store"
