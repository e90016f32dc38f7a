"""The staff side over HTTP: login with TOTP, the queue, a report, and who may reach what."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal import accounts
from portal.db import get_session
from portal.enums import Role
from portal.models import AuditEvent, Report, School, StaffSession
from portal.staff import ACCESS, COOKIE, PUBLIC
from tests.portal.conftest import Site, build_site, receipt_of

PASSWORD = "a long staff passphrase 111"


@dataclass(frozen=True)
class Account:
    """A staff account of the desk and its TOTP secret."""

    email: str
    totp: str


@dataclass(frozen=True)
class Desk:
    """A site with a triage member, an admin, a school account and an outsider's inbox."""

    site: Site
    triage: Account
    admin: Account
    school: Account
    outsider: Account  # triage, but of another inbox
    school_id: str

    def client(self) -> FlaskClient:
        """A fresh browser."""
        return self.site.app.test_client()

    def log_in(self, account: Account, code: str | None = None) -> FlaskClient:
        """A browser logged in as the account (password and the current TOTP code)."""
        browser = self.client()
        response = self.post_login(browser, account, code)
        assert response.status_code == 303, response.get_data(as_text=True)
        assert response.headers["Location"].endswith("/staff/")
        return browser

    def post_login(
        self, browser: FlaskClient, account: Account, code: str | None = None, password: str = ""
    ) -> TestResponse:
        """Post the login form."""
        page = browser.get("/staff/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        return browser.post(
            "/staff/login",
            data={
                "csrf_token": token.group(1),
                "email": account.email,
                "password": password or PASSWORD,
                "code": code or pyotp.TOTP(account.totp).now(),
            },
        )


def form_token(browser: FlaskClient, path: str) -> str:
    """The CSRF token of a staff page."""
    found = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', browser.get(path).get_data(as_text=True)
    )
    assert found
    return found.group(1)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """The site and its staff."""
    sites = build_site(tmp_path)
    site = next(sites)
    with site.app.app_context():
        session = get_session()
        config = site.app.extensions["portal.config"]
        recovery = accounts.read_recovery_key(session, tmp_path / "recovery.key")
        accounts.create_inbox(session, "elsewhere", region="Nowhere region")

        def account(email: str, role: Role, inbox: str | None) -> Account:
            made = accounts.add_staff(session, email, role, PASSWORD, config.kdf, config.secret_key)
            if inbox:
                accounts.grant_with_recovery_key(session, inbox, email, recovery)
            return Account(made.staff.email, made.totp_secret)

        triage = account("triage@111.kz", Role.TRIAGE, "national")
        admin = account("admin@111.kz", Role.ADMIN, "national")
        outsider = account("outsider@111.kz", Role.TRIAGE, "elsewhere")
        school = account("school@111.kz", Role.SCHOOL, None)
        own = session.scalar(select(School).where(School.code == site.code))
        assert own is not None
        school_staff = accounts.get_staff(session, school.email)
        school_staff.schools.append(own)
        session.commit()
        school_id = own.school_id
    yield Desk(site, triage, admin, school, outsider, school_id)
    next(sites, None)


def report_id(desk: Desk) -> str:
    """The public id of the newest report."""
    with desk.site.app.app_context():
        found = get_session().scalar(select(Report.public_id).order_by(Report.id.desc()))
    assert found
    return found


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
        staff = accounts.get_staff(get_session(), desk.triage.email)
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


def test_p1_comes_first_and_a_reply_reaches_the_child(desk: Desk) -> None:
    site = desk.site
    site.send(category="online")
    receipt = receipt_of(site.send(danger="yes"))
    danger_id = report_id(desk)
    browser = desk.log_in(desk.triage)
    queue = browser.get("/staff/inbox").get_data(as_text=True)
    assert queue.index(danger_id) < queue.index("online")
    assert "open P1" in queue
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
    for query in ("status=lost", "priority=p9", "page=0", "assignee=someone", "category=x"):
        assert browser.get(f"/staff/inbox?{query}").status_code == 400, query


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


# Every staff route with a sample URL; the test below fails when a route is missing here.
SAMPLE_URLS = {
    "staff.login": ("GET", "/staff/login"),
    "staff.logout": ("POST", "/staff/logout"),
    "staff.home": ("GET", "/staff/"),
    "staff.inbox": ("GET", "/staff/inbox"),
    "staff.report": ("GET", "/staff/reports/{report}"),
    "staff.reply": ("POST", "/staff/reports/{report}/reply"),
    "staff.note": ("POST", "/staff/reports/{report}/note"),
    "staff.status": ("POST", "/staff/reports/{report}/status"),
    "staff.priority": ("POST", "/staff/reports/{report}/priority"),
    "staff.assign": ("POST", "/staff/reports/{report}/assign"),
    "staff.poster_list": ("GET", "/staff/posters"),
    "staff.poster": ("GET", "/staff/posters/{school}.pdf"),
}


def test_every_role_over_every_route(desk: Desk) -> None:
    app = desk.site.app
    staff_endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")
    }
    assert staff_endpoints == set(SAMPLE_URLS), "add the new route to SAMPLE_URLS"
    assert {"staff.login"} == PUBLIC
    desk.site.send()
    urls = {
        endpoint: (method, template.format(report=report_id(desk), school=desk.school_id))
        for endpoint, (method, template) in SAMPLE_URLS.items()
        if endpoint not in ("staff.login", "staff.logout")
    }
    for role, account in (
        (Role.TRIAGE, desk.triage),
        (Role.ADMIN, desk.admin),
        (Role.SCHOOL, desk.school),
    ):
        browser = desk.log_in(account)  # one login per role: a TOTP code works once
        for endpoint, (method, url) in urls.items():
            status = browser.open(url, method=method, data={}).status_code
            expected = (200, 303) if role in ACCESS[endpoint] else (403,)
            assert status in expected, (role.value, endpoint, status)
    for endpoint, (method, url) in urls.items():
        anonymous = desk.client().open(url, method=method, data={})
        assert anonymous.status_code == 303, endpoint
        assert anonymous.headers["Location"].endswith("/staff/login"), endpoint
