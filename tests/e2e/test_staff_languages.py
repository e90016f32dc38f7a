"""The triage desk in Russian and Kazakh on a phone-sized screen: the browser's language first,
then the switcher in the staff bar, remembered for the staff pages and never sent to a child's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import (
    DANGER_TEXT,
    PHONE,
    STAFF_PASSWORD,
    Setup,
    screenshot_path,
    send_report,
)

pytestmark = pytest.mark.e2e

STAFF_COOKIE = "qr111_staff_lang"


@pytest.fixture
def phone_desk(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized browser that asks for Russian."""
    context = browser.new_context(viewport=PHONE, locale="ru-RU", device_scale_factor=1)
    yield context
    context.close()


def test_the_desk_in_russian_then_kazakh_on_a_phone(
    phone_desk: BrowserContext, browser: Browser, live_server: str, setup: Setup, tmp_path: Path
) -> None:
    child = browser.new_page(viewport=PHONE)
    send_report(child, live_server, setup.code, "Мне грустно на переменах", danger=False)
    send_report(child, live_server, setup.code, DANGER_TEXT, danger=True)
    child.close()

    page = phone_desk.new_page()
    page.goto(f"{live_server}/staff/login")
    assert page.locator("html").get_attribute("lang") == "ru"
    page.get_by_label("Эл. почта").fill("triage@111.kz")
    page.get_by_label("Пароль").fill(STAFF_PASSWORD)
    code = pyotp.TOTP(setup.totp["triage@111.kz"]).now()
    page.get_by_label("Код из приложения-аутентификатора").fill(code)
    page.get_by_role("button", name="Войти").click()

    # The assertions below read the page at once: wait for each navigation to end first.
    page.wait_for_url("**/staff/inbox")
    expect(page.get_by_role("heading", name="Входящие")).to_be_visible()
    assert "1 открытое обращение P1" in page.locator(".p1-cue").inner_text()
    first = page.locator("table.queue tbody tr").first
    assert first.locator("td").first.inner_text().startswith("P1")
    assert "мин" in first.locator("td").nth(1).inner_text()
    table = page.locator("table.queue").inner_text()
    assert "Другое" in table and "Новое" in table  # category and status, by their labels
    # The filters' long translated choices must not widen the page (the queue scrolls alone).
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=screenshot_path(tmp_path, "staff-inbox-ru"), full_page=True)

    page.locator(".staff-languages").get_by_role("link", name="ҚАЗ").click()
    expect(page.get_by_role("heading", name="Кіріс")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "kk"
    first = page.locator("table.queue tbody tr").first
    first.get_by_role("link").click()
    page.wait_for_url("**/staff/reports/**")
    assert page.locator("html").get_attribute("lang") == "kk"  # remembered on the next page
    assert DANGER_TEXT in page.locator(".conversation").inner_text()
    answer = "Жазғаның үшін рақмет. Сен кінәлі емессің. Қазір қауіпті болса, 112-ге қоңырау шал."
    page.get_by_label("Балаға жауап (бала оны өз коды арқылы оқиды)").fill(answer)
    page.get_by_role("button", name="Жауап жіберу").click()
    expect(page.locator(".conversation")).to_contain_text(answer)
    assert "111 (жауап)" in page.locator(".conversation").inner_text()
    page.screenshot(path=screenshot_path(tmp_path, "staff-report-kk"), full_page=True)

    # The choice is a cookie for /staff only: a child's page on this browser never gets it.
    staff_cookies = phone_desk.cookies(f"{live_server}/staff/inbox")
    assert {(c["name"], c["value"]) for c in staff_cookies} >= {(STAFF_COOKIE, "kk")}
    chosen = next(c for c in staff_cookies if c["name"] == STAFF_COOKIE)
    assert chosen["path"] == "/staff" and chosen["sameSite"] == "Strict" and chosen["httpOnly"]
    child_cookies = phone_desk.cookies([f"{live_server}/s/{setup.code}", f"{live_server}/check"])
    assert child_cookies == []
    school = phone_desk.new_page()
    school.goto(f"{live_server}/s/{setup.code}")
    assert school.locator("html").get_attribute("lang") == "ru"  # the browser's, as before
