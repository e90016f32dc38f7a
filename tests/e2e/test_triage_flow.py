"""The triage desk in a real browser: TOTP login, P1 first, a reply the child then reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from portal import accounts, registry
from portal.db import get_session
from portal.enums import Role
from tests.conftest import SAMPLE_SCHOOLS
from tests.e2e.conftest import screenshot_path

pytestmark = pytest.mark.e2e

PASSWORD = "desk passphrase for tests"
DANGER_TEXT = "Мне страшно идти домой, отчим сказал что убьёт меня"


@dataclass(frozen=True)
class Setup:
    """The school's code and the staff accounts' TOTP secrets."""

    code: str
    school_id: str
    totp: dict[str, str]


@pytest.fixture
def setup(app: Flask, tmp_path: Path) -> Setup:
    """Schools, a national inbox, a triage member and a school account."""
    with app.app_context():
        session = get_session()
        config = app.extensions["portal.config"]
        registry.import_schools(session, registry.parse_schools_csv(SAMPLE_SCHOOLS.read_bytes()))
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        accounts.create_inbox(session, "national")
        recovery = accounts.read_recovery_key(session, tmp_path / "recovery.key")
        totp = {}
        for email, role in (("triage@111.kz", Role.TRIAGE), ("school@111.kz", Role.SCHOOL)):
            made = accounts.add_staff(session, email, role, PASSWORD, config.kdf, config.secret_key)
            totp[email] = made.totp_secret
        accounts.grant_with_recovery_key(session, "national", "triage@111.kz", recovery)
        school = registry.get_school(session, "34000015")
        accounts.get_staff(session, "school@111.kz").schools.append(school)
        session.commit()
        return Setup(school.code, school.school_id, totp)


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desktop browser window."""
    # English: the labels below (tests/e2e/test_staff_languages.py has the desk in kk and ru).
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


def send_report(page: Page, live_server: str, code: str, text: str, danger: bool) -> str:
    """A child's report through the real form; returns the receipt."""
    page.goto(f"{live_server}/s/{code}?lang=ru")
    page.get_by_label("Напиши, что случилось").fill(text)
    if danger:
        page.get_by_label("Да, мне сейчас опасно").check()
    page.get_by_role("button", name="Отправить").click()
    return re.sub(r"\D", "", page.locator(".receipt .digits").inner_text())


def log_in(page: Page, live_server: str, email: str, secret: str) -> None:
    """Email, password and the current TOTP code."""
    page.goto(f"{live_server}/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from the authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Log in").click()


def test_triage_sees_p1_first_replies_and_the_child_reads_it(
    desk: Page, browser: Browser, live_server: str, setup: Setup, tmp_path: Path
) -> None:
    child = browser.new_page(viewport={"width": 360, "height": 740})
    send_report(child, live_server, setup.code, "Мне грустно на переменах", danger=False)
    receipt = send_report(child, live_server, setup.code, DANGER_TEXT, danger=True)

    log_in(desk, live_server, "triage@111.kz", setup.totp["triage@111.kz"])
    assert desk.url.endswith("/staff/inbox")
    first = desk.locator("table.queue tbody tr").first
    assert first.locator("td").first.inner_text().startswith("P1")
    assert desk.locator(".p1-cue").is_visible()
    desk.screenshot(path=screenshot_path(tmp_path, "staff-inbox"), full_page=True)

    first.get_by_role("link").click()
    assert DANGER_TEXT in desk.locator(".conversation").inner_text()
    answer = "Спасибо, что написал. Ты не виноват. Если опасно сейчас, звони 112."
    desk.get_by_label("Reply to the child").fill(answer)
    desk.get_by_role("button", name="Send reply").click()
    assert answer in desk.locator(".conversation").inner_text()
    desk.screenshot(path=screenshot_path(tmp_path, "staff-report"), full_page=True)

    child.goto(f"{live_server}/check?lang=ru")
    child.get_by_label("Твой код (16 цифр)").fill(receipt)
    child.get_by_role("button", name="Открыть").click()
    assert answer in child.locator(".conversation").inner_text()
    child.screenshot(path=screenshot_path(tmp_path, "conversation-answered-ru"), full_page=True)
    child.close()


def test_a_school_account_downloads_its_poster_and_reaches_no_report(
    desk: Page, live_server: str, setup: Setup, tmp_path: Path
) -> None:
    log_in(desk, live_server, "school@111.kz", setup.totp["school@111.kz"])
    assert desk.url.endswith("/staff/posters")
    with desk.expect_download() as download_info:
        desk.get_by_role("link", name="poster PDF").click()
    saved = tmp_path / "poster.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    response = desk.goto(f"{live_server}/staff/inbox")
    assert response is not None and response.status == 403
    desk.screenshot(path=screenshot_path(tmp_path, "staff-school-forbidden"), full_page=True)
