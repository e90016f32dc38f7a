"""The staff side over HTTP: login with TOTP, the queue, a report, and who may reach what."""

from __future__ import annotations

import html
import secrets

import pyotp
import pytest
from sqlalchemy import select

from portal.enums import Category, Priority, Status
from portal.models import AuditEvent, Report, StaffSession
from portal.services import accounts, login, triage
from portal.services.triage import BURST_REPORTS, MAX_TEXT
from portal.web.access import COOKIE, COOKIE_PATH, DEVICE_COOKIE
from portal.web.context import get_session
from tests.worlds import (
    Account,
    Desk,
    form_token,
    receipt_of,
    report_id,
)


def test_login_needs_password_and_code_and_says_nothing_more(desk: Desk) -> None:
    browser = desk.client()
    for response in (
        desk.post_login(browser, desk.triage, password="wrong password here"),
        desk.post_login(browser, desk.triage, code="000000"),
        desk.post_login(browser, Account("nobody@111.kz", desk.triage.totp)),
    ):
        assert response.status_code == 200
        assert "Wrong email, password or code" in response.get_data(as_text=True)
        assert COOKIE not in (response.headers.get("Set-Cookie") or "")
    assert browser.get("/staff/inbox").status_code == 303


def test_a_code_works_once(desk: Desk) -> None:
    code = pyotp.TOTP(desk.triage.totp).now()
    desk.log_in(desk.triage, code)
    replay = desk.post_login(desk.client(), desk.triage, code)
    assert replay.status_code == 200  # refused: the same code again


def test_repeated_failures_lock_the_account(desk: Desk) -> None:
    browser = desk.client()
    for _ in range(3):
        desk.post_login(browser, desk.triage, password="wrong password here")
    response = desk.post_login(browser, desk.triage)  # right password and code, but locked
    assert response.status_code == 200
    with desk.site.app.app_context():
        staff = accounts.staff_by_email(get_session(), desk.triage.email)
        assert staff.locked_until is not None and staff.failed_logins == 3


def test_the_session_cookie_is_strict_and_logout_destroys_the_server_share(desk: Desk) -> None:
    browser = desk.client()
    response = desk.post_login(browser, desk.triage)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/staff"):
        assert flag in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie
    token = form_token(browser, "/staff/inbox")
    assert browser.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    with desk.site.app.app_context():
        assert get_session().scalars(select(StaffSession)).all() == []
    assert browser.get("/staff/inbox").status_code == 303


def test_the_device_cookie_is_strict_long_lived_and_outlives_logging_out(desk: Desk) -> None:
    """The mark of a known browser (login.DEVICE_LIFETIME): signed, for /staff only."""
    browser = desk.client()
    response = desk.post_login(browser, desk.triage)
    device = next(
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{DEVICE_COOKIE}=")
    )
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/staff"):
        assert flag in device
    assert f"Max-Age={int(login.DEVICE_LIFETIME.total_seconds())}" in device
    assert "Secure" not in device  # development: production sets it, as for the session
    token = form_token(browser, "/staff/inbox")
    logout = browser.post("/staff/logout", data={"csrf_token": token})
    assert DEVICE_COOKIE not in logout.headers.get("Set-Cookie", "")
    assert browser.get_cookie(DEVICE_COOKIE, path=COOKIE_PATH) is not None


def test_p1_comes_first_and_a_reply_reaches_the_child(desk: Desk) -> None:
    site = desk.site
    site.send(category="online")
    receipt = receipt_of(site.send(danger="yes"))
    danger_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    page_text = browser.get("/staff/inbox").get_data(as_text=True)
    queue = page_text[page_text.index('<table class="queue">') :]  # the rows, not the filters
    assert queue.index(danger_id) < queue.index("Online bullying")
    assert "open P1" in page_text
    page = browser.get(f"/staff/reports/{danger_id}")
    assert page.status_code == 200
    token = form_token(browser, f"/staff/reports/{danger_id}")
    answer = "Спасибо, что написал. Ты не виноват. Мы рядом."
    sent = browser.post(
        f"/staff/reports/{danger_id}/reply", data={"reply-csrf_token": token, "reply-text": answer}
    )
    assert sent.status_code == 303
    opened = site.client.post(
        "/check", data={"csrf_token": site.token("/check"), "receipt": receipt}
    )
    assert answer in opened.get_data(as_text=True)
    with site.app.app_context():
        actions = [event.action.value for event in get_session().scalars(select(AuditEvent))]
    assert {"login", "report_opened", "reply"} <= set(actions)


def test_notes_never_reach_the_child(desk: Desk) -> None:
    receipt = receipt_of(desk.site.send())
    public_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    token = form_token(browser, f"/staff/reports/{public_id}")
    note = "Внутренняя заметка: позвонить в школу"
    browser.post(
        f"/staff/reports/{public_id}/note", data={"note-csrf_token": token, "note-text": note}
    )
    assert note in browser.get(f"/staff/reports/{public_id}").get_data(as_text=True)
    data = {"csrf_token": desk.site.token("/check"), "receipt": receipt}
    assert note not in desk.site.client.post("/check", data=data).get_data(as_text=True)


def test_another_inbox_sees_nothing(desk: Desk) -> None:
    desk.site.send()
    public_id = report_id(desk)
    browser = desk.log_in(desk.outsider)
    assert public_id not in browser.get("/staff/inbox").get_data(as_text=True)
    assert browser.get(f"/staff/reports/{public_id}").status_code == 404


def test_a_bad_filter_is_a_400(desk: Desk) -> None:
    browser = desk.log_in(desk.triage)
    for query in (
        "status=lost",
        "priority=p9",
        "page=0",
        "assignee=someone",
        "assignee=99999999999999999999",  # past any row id: a 400, not the driver's overflow
        "assignee=²",
        "category=x",
    ):
        assert browser.get(f"/staff/inbox?{query}").status_code == 400, query


def test_the_filters_offer_categories_regions_and_colleagues(desk: Desk) -> None:
    desk.site.send()
    browser = desk.log_in(desk.triage)
    page = browser.get("/staff/inbox").get_data(as_text=True)
    assert '<option value="self_harm">' in page  # every category
    assert "<option>Восточно-Казахстанская область</option>" in page  # the registry's regions
    # The members of the triage's inbox, and not the outsider of another inbox.
    assert "triage@111.kz</option>" in page and "admin@111.kz</option>" in page
    assert "outsider@111.kz" not in page
    with desk.site.app.app_context():
        triage_id = accounts.staff_by_email(get_session(), "triage@111.kz").id
    mine = browser.get(f"/staff/inbox?assignee={triage_id}").get_data(as_text=True)
    assert f'<option value="{triage_id}" selected>' in mine
    assert "No reports here." in mine  # nothing is assigned yet
    assert "No reports here." not in page


def test_the_school_account_gets_its_posters_and_no_report(desk: Desk) -> None:
    desk.site.send()
    public_id = report_id(desk)
    browser = desk.log_in(desk.school)
    listing = browser.get("/staff/posters").get_data(as_text=True)
    assert desk.school_id in listing
    poster = browser.get(f"/staff/posters/{desk.school_id}.pdf")
    assert poster.status_code == 200 and poster.data.startswith(b"%PDF")
    assert browser.get(f"/staff/posters/{desk.school_id}.sheet").data.startswith(b"%PDF")
    assert browser.get("/staff/posters/00000000.pdf").status_code == 404
    assert browser.get("/staff/inbox").status_code == 403
    assert browser.get(f"/staff/reports/{public_id}").status_code == 403


def test_a_refused_reply_comes_back_in_its_box(desk: Desk) -> None:
    desk.site.send()
    public_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    token = form_token(browser, f"/staff/reports/{public_id}")
    long_answer = "Мы рядом. " * (MAX_TEXT // 10 + 1)
    for text, problem in ((long_answer, "characters"), ("  \u200e ", "the reply is empty")):
        refused = browser.post(
            f"/staff/reports/{public_id}/reply",
            data={"reply-csrf_token": token, "reply-text": text},
        )
        assert refused.status_code == 200
        page = refused.get_data(as_text=True)
        assert problem in page
        if text.strip():
            assert html.escape(text, quote=False) in page  # in the textarea, to shorten it
    conversation = browser.get(f"/staff/reports/{public_id}").get_data(as_text=True)
    assert "Мы рядом." not in conversation  # nothing was sent to the child


def burst_page(desk: Desk) -> str:
    """The inbox after a child's report and BURST_REPORTS + 3 more to its school in its
    minute, two of them P1."""
    site = desk.site
    site.send(category="online")
    with site.app.app_context():
        session = get_session()
        first = session.scalars(select(Report)).one()
        for number in range(BURST_REPORTS + 3):
            session.add(
                Report(
                    public_id=secrets.token_hex(16),
                    school_pk=first.school_pk,
                    inbox_id=first.inbox_id,
                    category=Category.OTHER,
                    priority=Priority.P1 if number in (2, 5) else Priority.P3,
                    status=Status.NEW,
                    created_at=first.created_at,
                )
            )
        session.commit()
    return desk.log_in(desk.triage).get("/staff/inbox").get_data(as_text=True)


def test_a_burst_to_one_school_is_one_closed_group_that_counts_its_p1s(desk: Desk) -> None:
    """Issue 14: junk to one school is one row and a <details> group (no script), saying how
    many reports and how many P1s it holds; its P1 is the row everyone sees."""
    page = burst_page(desk)
    queue = page[page.index('<table class="queue">') :]
    assert queue.count("<details>") == 1 and "<details open" not in queue
    summary = html.unescape(queue[queue.index("<summary>") : queue.index("</summary>")])
    assert f"{BURST_REPORTS + 4} reports to " in summary and "in 1 min" in summary
    assert "2 of them P1" in summary
    assert queue.index(">P1</a>") < queue.index("<details>"), "the group's P1 leads it"
    assert "2 open P1 reports" in page
    assert "(1 report)" in page, "the group (the child's report is in it) is one row"


def test_a_group_past_the_page_s_listed_ones_links_to_its_school(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the page's first BURSTS_LISTED groups, a group says the same in a line, with a link
    to its school's list instead of its members."""
    monkeypatch.setattr(triage, "BURSTS_LISTED", 0)
    page = burst_page(desk)
    queue = page[page.index('<table class="queue">') :]
    assert "<details" not in queue and queue.count('<tr class="p') == 1
    start = queue.index('<tr class="burst">')
    line = html.unescape(queue[start : queue.index("</tr>", start)])
    assert f"{BURST_REPORTS + 4} reports to " in line and "2 of them P1" in line
    assert "The most serious is the row above." in line
    assert 'href="/staff/inbox?school=' in line
