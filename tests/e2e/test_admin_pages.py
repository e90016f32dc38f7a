"""The admin's pages in a real browser: schools (search, a school, rotation), figures, audit."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from portal import clock
from portal.enums import Category, Priority, Role, Status
from portal.models import Inbox, Report, School
from portal.web.context import get_session
from tests.e2e.conftest import DESKTOP, PHONE, log_in, screenshot_path, seed_staff

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin_totp(app: Flask, tmp_path: Path) -> str:
    """Schools, a national inbox, an admin, and a year of reports (metadata only)."""
    secret = seed_staff(app, tmp_path, {"admin@111.kz": Role.ADMIN}).totp["admin@111.kz"]
    with app.app_context():
        session = get_session()
        inbox = session.scalars(select(Inbox)).one()
        schools = list(session.scalars(select(School)))
        rng = random.Random(111)  # noqa: S311 - test data, repeatable
        now = clock.now()
        for school in schools:
            for _ in range(rng.choice([0, 1, 3, 8, 15, 25])):
                session.add(
                    Report(
                        public_id=secrets.token_hex(16),
                        school_pk=school.id,
                        inbox_id=inbox.id,
                        category=rng.choice(list(Category)),
                        priority=rng.choice(list(Priority)),
                        status=rng.choice(list(Status)),
                        created_at=now - timedelta(days=rng.randint(0, 360)),
                    )
                )
        session.commit()
    return secret


@pytest.fixture
def desk(browser: Browser) -> Page:
    """A desktop browser window."""
    return browser.new_context(viewport=DESKTOP).new_page()


def test_an_admin_searches_rotates_and_reads_figures_and_the_log(
    desk: Page, live_server: str, admin_totp: str, tmp_path: Path
) -> None:
    log_in(desk, live_server, "admin@111.kz", pyotp.TOTP(admin_totp).now())

    desk.get_by_role("link", name="Schools").click()
    desk.get_by_label("Search").fill("ГИМНАЗИЯ")
    desk.get_by_role("button", name="Search").click()
    assert desk.locator(".counts").inner_text() == "10 schools"
    desk.screenshot(path=screenshot_path(tmp_path, "staff-schools"), full_page=True)

    desk.locator("table.queue tbody tr a").first.click()
    old_code = desk.locator("code.big").inner_text()
    confirm = desk.get_by_label("I understand: every poster with")
    assert confirm.get_attribute("required") is not None  # the browser asks first
    confirm.check()
    desk.get_by_role("button", name="Rotate the code").click()
    new_code = desk.locator("code.big").inner_text()
    assert new_code != old_code and new_code in desk.locator("[role=alert]").inner_text()
    desk.screenshot(path=screenshot_path(tmp_path, "staff-school"), full_page=True)
    gone = desk.request.get(f"{live_server}/s/{old_code}")
    assert gone.status == 404

    desk.get_by_role("link", name="Figures").click()
    assert desk.locator("h2", has_text="Region × month").is_visible()
    desk.screenshot(path=screenshot_path(tmp_path, "staff-figures"), full_page=True)

    desk.get_by_role("link", name="Audit").click()
    desk.get_by_role("button", name="Verify the chain").click()
    assert "The chain verifies" in desk.locator(".chain-ok").inner_text()
    assert "rotate" in desk.locator("table.audit").inner_text()
    desk.screenshot(path=screenshot_path(tmp_path, "staff-audit"), full_page=True)
    desk.set_viewport_size(PHONE)
    desk.goto(f"{live_server}/staff/audit/")
    assert desk.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    desk.screenshot(path=screenshot_path(tmp_path, "staff-audit-phone"), full_page=True)
    for path in ("/staff/schools/", "/staff/figures/", "/staff/people/", "/staff/inbox"):
        desk.goto(f"{live_server}{path}")
        width = desk.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    desk.context.close()
