"""The triage desk in a real browser: TOTP login, P1 first, a reply the child then reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import (
    DANGER_TEXT,
    DESKTOP,
    Setup,
    log_in,
    page_screenshot,
    screenshot_path,
    send_report,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """A desktop browser window."""
    # English: the labels below (tests/e2e/test_staff_languages.py has the desk in kk and ru).
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    yield page
    context.close()


def test_triage_sees_p1_first_replies_and_the_child_reads_it(
    desk: Page, browser: Browser, live_server: str, setup: Setup, tmp_path: Path
) -> None:
    child = browser.new_page(viewport={"width": 360, "height": 740})
    send_report(child, live_server, setup.code, "Мне грустно на переменах", danger=False)
    receipt = send_report(child, live_server, setup.code, DANGER_TEXT, danger=True)

    log_in(desk, live_server, "triage@111.kz", pyotp.TOTP(setup.totp["triage@111.kz"]).now())
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
    child.get_by_label("Твой секретный код (16 цифр)").fill(receipt)
    child.get_by_role("button", name="Открыть").click()
    assert answer in child.locator(".conversation").inner_text()
    page_screenshot(child, screenshot_path(tmp_path, "conversation-answered-ru"))
    child.close()


def test_a_school_account_downloads_its_poster_and_reaches_no_report(
    desk: Page, live_server: str, setup: Setup, tmp_path: Path
) -> None:
    log_in(desk, live_server, "school@111.kz", pyotp.TOTP(setup.totp["school@111.kz"]).now())
    assert desk.url.endswith("/staff/posters")
    with desk.expect_download() as download_info:
        desk.get_by_role("link", name="poster PDF").click()
    saved = tmp_path / "poster.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    response = desk.goto(f"{live_server}/staff/inbox")
    assert response is not None and response.status == 403
    desk.screenshot(path=screenshot_path(tmp_path, "staff-school-forbidden"), full_page=True)
