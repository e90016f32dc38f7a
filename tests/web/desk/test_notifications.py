"""A member's own notification choices on the desk (issue 18)."""

from __future__ import annotations

from sqlalchemy import select

from portal.models import AuditEvent, Staff
from portal.services import accounts, notify
from portal.web.context import get_session
from tests.worlds import Desk, form_token


def choices(desk: Desk, email: str) -> notify.Choices:
    """What is stored for the member now."""
    with desk.site.app.app_context():
        session = get_session()
        return notify.choices_of(session, accounts.staff_by_email(session, email))


def test_the_member_sees_the_defaults_and_changes_them(desk: Desk) -> None:
    """P1 at once to the login e-mail until changed; a change is stored and on record."""
    browser = desk.log_in(desk.triage)
    page = browser.get("/staff/notifications").get_data(as_text=True)
    assert '<input checked id="p1_at_once" name="p1_at_once"' in page
    assert '<input id="digest" name="digest"' in page
    assert "says nothing of the report" in page
    response = browser.post(
        "/staff/notifications",
        data={
            "csrf_token": form_token(browser, "/staff/notifications"),
            "address": "Night.Duty@111.kz",
            "digest": "y",
            "language": "kk",
        },
    )
    assert response.status_code == 303
    assert choices(desk, desk.triage.email) == notify.Choices(
        "night.duty@111.kz", True, False, True, "kk"
    )
    with desk.site.app.app_context():
        actions = get_session().scalars(select(AuditEvent.action)).all()
    assert "notify_setup" in [action.value for action in actions]


def test_a_bad_address_is_refused_and_what_was_typed_comes_back(desk: Desk) -> None:
    """A clear message, the typed value still in the field, nothing stored."""
    browser = desk.log_in(desk.triage)
    response = browser.post(
        "/staff/notifications",
        data={
            "csrf_token": form_token(browser, "/staff/notifications"),
            "address": "not an address",
            "p1_at_once": "y",
            "language": "en",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "not an e-mail address" in page and 'value="not an address"' in page
    assert choices(desk, desk.triage.email).own_address is False


def test_a_language_not_offered_is_a_form_problem_not_a_500(desk: Desk) -> None:
    """Any input: an answer, never a server error."""
    browser = desk.log_in(desk.triage)
    response = browser.post(
        "/staff/notifications",
        data={"csrf_token": form_token(browser, "/staff/notifications"), "language": "xx"},
    )
    assert response.status_code == 200
    with desk.site.app.app_context():
        staff = get_session().scalar(select(Staff).where(Staff.email == desk.triage.email))
        assert staff is not None
