"""Every staff page passes axe-core on a desktop and on a phone (issue 16): tap targets of at
least 24×24, no page that reloads under its reader; the inbox says when new reports came in."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from portal.enums import Category, Priority, Role, Status
from portal.models import Report
from portal.services import triage
from portal.services.triage import BURST_SHOWN
from portal.web.context import get_session
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    SMALL_TARGETS,
    Setup,
    log_in,
    seed_staff,
    send_report,
)

pytestmark = pytest.mark.e2e

ADMIN = "admin@111.kz"
SCHOOL = "school@111.kz"


@pytest.fixture
def staff(app: Flask, tmp_path: Path) -> Setup:
    """Schools, a national inbox, an admin (a member of it) and a school account."""
    return seed_staff(app, tmp_path, {ADMIN: Role.ADMIN, SCHOOL: Role.SCHOOL})


@pytest.fixture(params=["desktop", "phone"])
def screen(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A desktop window or a phone, in English."""
    viewport = DESKTOP if request.param == "desktop" else PHONE
    context = browser.new_context(viewport=viewport, locale="en-US")
    yield context.new_page()
    context.close()


def assert_accessible(page: Page) -> None:
    """axe-core finds no violation; nothing on the page reloads it by itself."""
    page.wait_for_load_state()
    results = Axe().run(page)
    assert results.violations_count == 0, f"{page.url}: {results.generate_report()}"
    assert page.locator("meta[http-equiv='refresh' i]").count() == 0, page.url
    small = page.evaluate(SMALL_TARGETS)
    assert not small, f"{page.url}: targets under 24×24: {small}"


def test_every_staff_page_passes_axe(
    screen: Page, browser: Browser, live_server: str, staff: Setup
) -> None:
    child = browser.new_page(viewport=PHONE)
    send_report(child, live_server, staff.code, "Мне грустно на переменах", danger=False)
    child.close()

    screen.goto(f"{live_server}/staff/login?lang=en")
    assert_accessible(screen)
    screen.goto(f"{live_server}/staff/people/enrol")
    assert_accessible(screen)

    log_in(screen, live_server, ADMIN, pyotp.TOTP(staff.totp[ADMIN]).now())
    screen.goto(f"{live_server}/staff/inbox")
    assert_accessible(screen)
    screen.locator("table.queue tbody tr a").first.click()
    assert_accessible(screen)  # the report
    for path in ("schools/", "schools/import", "figures/", "audit/", "people/", "people/inboxes"):
        screen.goto(f"{live_server}/staff/{path}")
        assert_accessible(screen)
    screen.goto(f"{live_server}/staff/schools/{staff.school_id}")
    assert_accessible(screen)
    screen.goto(f"{live_server}/staff/people/")
    screen.locator("table.queue tbody a[href*='/staff/people/']").first.click()
    assert_accessible(screen)  # a person

    screen.context.clear_cookies()
    log_in(screen, live_server, SCHOOL, pyotp.TOTP(staff.totp[SCHOOL]).now())
    screen.goto(f"{live_server}/staff/posters")
    assert_accessible(screen)


def test_the_inbox_tells_of_new_reports_without_moving(
    browser: Browser, live_server: str, staff: Setup
) -> None:
    """The list never reloads by itself; a minute later it says new reports came in, in the
    line kept for it (the page does not move), and a link draws it again."""
    desk = browser.new_page(viewport=DESKTOP, locale="en-US")
    desk.clock.install()
    log_in(desk, live_server, ADMIN, pyotp.TOTP(staff.totp[ADMIN]).now())
    desk.goto(f"{live_server}/staff/inbox")
    news = desk.locator("#inbox-news .news")
    assert news.is_hidden()
    table = desk.locator("table.queue").bounding_box()
    desk.clock.run_for(61_000)
    desk.wait_for_timeout(500)
    assert news.is_hidden(), "nothing new yet"

    child = browser.new_page(viewport=PHONE)
    send_report(child, live_server, staff.code, "Мне грустно на переменах", danger=False)
    child.close()
    desk.clock.run_for(61_000)
    news.wait_for(state="visible", timeout=5000)
    assert desk.locator("table.queue").bounding_box() == table  # nothing moved
    assert "No reports here." in desk.locator("table.queue").inner_text()  # not reloaded
    desk.get_by_role("link", name="Reload the list").click()
    assert "No reports here." not in desk.locator("table.queue").inner_text()


def test_a_burst_group_passes_axe_closed_and_open(
    screen: Page,
    browser: Browser,
    app: Flask,
    live_server: str,
    staff: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14: the inbox's group of a burst to one school, closed and opened by its summary
    (a <details>, no script), passes axe on a desktop and a phone; so does the line of a group
    past a page's listed ones, whose link opens the school's list."""
    child = browser.new_page(viewport=PHONE)
    send_report(child, live_server, staff.code, "Мне грустно на переменах", danger=False)
    child.close()
    with app.app_context():
        session = get_session()
        first = session.scalars(select(Report)).one()
        for number in range(BURST_SHOWN + 5):
            session.add(
                Report(
                    public_id=secrets.token_hex(16),
                    school_pk=first.school_pk,
                    inbox_id=first.inbox_id,
                    category=Category.OTHER,
                    priority=Priority.P1 if number == 3 else Priority.P3,
                    status=Status.NEW,
                    created_at=first.created_at,
                )
            )
        session.commit()
    log_in(screen, live_server, ADMIN, pyotp.TOTP(staff.totp[ADMIN]).now())
    screen.goto(f"{live_server}/staff/inbox")
    group = screen.locator("tr.burst details")
    assert group.count() == 1
    assert_accessible(screen)
    group.locator("summary").click()
    assert group.locator("table.queue tbody tr").count() == BURST_SHOWN
    assert_accessible(screen)
    monkeypatch.setattr(triage, "BURSTS_LISTED", 0)
    screen.reload()
    line = screen.locator("tr.burst")
    assert line.locator("details").count() == 0
    assert_accessible(screen)
    line.get_by_role("link", name="Every open report of this school, one row each").click()
    assert screen.locator("tr.burst").count() == 0
    assert screen.locator("table.queue tbody tr").count() == BURST_SHOWN + 6
