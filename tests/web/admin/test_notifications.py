"""The admins' notifications page: escalation lists and failing deliveries (issue 18)."""

from __future__ import annotations

import dataclasses
import socket

from portal.config import Notifications, SmtpServer
from portal.models import Inbox
from portal.services import accounts, notify
from portal.web.context import get_config, get_session
from tests.worlds import TEXT, Desk, form_token

PAGE = "/staff/notifications-admin/"
EMPTY = "The list is empty: an unopened P1 report of this inbox is escalated to no one"


def test_an_admin_names_an_inbox_escalation_list(desk: Desk) -> None:
    """Ticked people are the list; the page shows them ticked; /healthz is untouched."""
    browser = desk.log_in(desk.admin)
    empty_before = browser.get(PAGE).get_data(as_text=True).count(EMPTY)
    assert empty_before >= 1  # no list is named yet
    with desk.site.app.app_context():
        session = get_session()
        inbox = accounts.get_inbox(session, "national")
        admin_id = accounts.staff_by_email(session, desk.admin.email).id
        inbox_id = inbox.id
    response = browser.post(
        f"/staff/notifications-admin/{inbox_id}/escalation",
        data={"csrf_token": form_token(browser, PAGE), "member": [str(admin_id)]},
    )
    assert response.status_code == 303
    with desk.site.app.app_context():
        session = get_session()
        named = notify.escalation_list(session, session.get(Inbox, inbox_id))  # type: ignore[arg-type]
        assert [staff.email for staff in named] == [desk.admin.email]
    page = browser.get(PAGE).get_data(as_text=True)
    assert f'value="{admin_id}" checked' in page
    assert "No delivery is failing." in page
    assert page.count(EMPTY) == empty_before - 1  # national's list is named now


def test_a_forged_member_id_changes_nothing(desk: Desk) -> None:
    """A value that is no row id: refused with a message, the list unchanged."""
    browser = desk.log_in(desk.admin)
    response = browser.post(
        "/staff/notifications-admin/1/escalation",
        data={"csrf_token": form_token(browser, PAGE), "member": ["1 OR 1=1"]},
        follow_redirects=True,
    )
    assert response.status_code == 200
    with desk.site.app.app_context():
        session = get_session()
        assert notify.escalation_list(session, accounts.get_inbox(session, "national")) == []


def test_an_unknown_inbox_is_a_404(desk: Desk) -> None:
    """Not a 500."""
    browser = desk.log_in(desk.admin)
    response = browser.post(
        "/staff/notifications-admin/999/escalation", data={"csrf_token": form_token(browser, PAGE)}
    )
    assert response.status_code == 404


def test_failing_and_given_up_deliveries_are_on_the_page(desk: Desk) -> None:
    """The mail server refuses, the last attempt fails: the admin sees the delivery given up,
    with its recipient and error; never the report's words."""
    desk.site.send(danger="yes")  # a P1: its members are told at once
    with socket.socket() as held:  # a loopback port nobody listens on: refused at once
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        with desk.site.app.app_context():
            config = dataclasses.replace(
                get_config(),
                notifications=Notifications(smtp=SmtpServer("127.0.0.1", port, "none")),
            )
            policy = notify.RetryPolicy(attempts=1)
            with notify.senders_for(config) as senders:
                tick = notify.run_once(get_session(), config, "test", senders, policy)
    assert tick.failed >= 1
    page = desk.log_in(desk.admin).get(PAGE).get_data(as_text=True)
    assert "No delivery is failing." not in page
    assert desk.triage.email in page and "given up" in page and "ConnectionRefused" in page
    assert TEXT not in page
