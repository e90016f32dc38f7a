"""A child's whole visit on a phone: write, keep the receipt, come back and read the answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Route

from tests.e2e.conftest import PHONE, page_screenshot, screenshot_path

pytestmark = pytest.mark.e2e

TEXT = "Меня обижают на переменах. Мен қорқамын."
NEUTRAL = "Погода в Астане"


def assert_accessible(page: Page) -> None:
    """axe-core finds no WCAG violation on the page (needs JavaScript in the page)."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def variant(request: pytest.FixtureRequest) -> str:
    """'js' or 'nojs', from the phone fixture's parameter."""
    return str(request.node.callspec.id)


def test_write_keep_the_receipt_and_read_the_conversation(
    phone: Page,
    live_server: str,
    school_code: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    name = variant(request)
    phone.goto(f"{live_server}/s/{school_code}")
    if name == "js":
        assert_accessible(phone)
    phone.get_by_label("Меня травят другие ребята").check()
    phone.get_by_label("Напиши, что случилось").fill(TEXT)
    phone.get_by_label("Твой класс (если хочешь)").select_option("6")
    page_screenshot(phone, screenshot_path(tmp_path, f"form-ru-{name}"))
    phone.get_by_role("button", name="Отправить").click()

    digits = phone.locator(".receipt .digits")
    receipt = re.sub(r"\D", "", digits.inner_text())
    assert len(receipt) == 16
    box = digits.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    if name == "js":
        assert_accessible(phone)
    page_screenshot(phone, screenshot_path(tmp_path, f"thanks-ru-{name}"))

    phone.get_by_role("link", name="Прочитать ответ").click()
    phone.get_by_label("Твой секретный код (16 цифр)").fill(" ".join(re.findall(r"\d{4}", receipt)))
    if name == "js":
        assert_accessible(phone)
    phone.get_by_role("button", name="Открыть").click()
    assert TEXT in phone.locator(".conversation").inner_text()
    phone.get_by_label("Написать ещё").fill("Это было сегодня.")
    phone.get_by_role("button", name="Отправить").click()
    entries = phone.locator(".conversation .entry")
    assert entries.count() == 2
    assert "Это было сегодня." in entries.nth(1).inner_text()
    if name == "js":
        assert_accessible(phone)
    page_screenshot(phone, screenshot_path(tmp_path, f"conversation-ru-{name}"))


def test_a_danger_report_puts_112_first(
    phone: Page, live_server: str, school_code: str, tmp_path: Path
) -> None:
    phone.goto(f"{live_server}/s/{school_code}?lang=kk")
    phone.get_by_label("Не болғанын жаз").fill("Әкем мені ұрады, үйге барғым келмейді")
    phone.get_by_label("Иә, маған қазір қауіп төніп тұр").check()
    phone.get_by_role("button", name="Жіберу").click()
    assert phone.locator("html").get_attribute("lang") == "kk"  # the chosen language stays
    first_call = phone.locator("a[href^='tel:']").first
    assert first_call.get_attribute("href") == "tel:112"
    box = first_call.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    page_screenshot(phone, screenshot_path(tmp_path, "thanks-danger-kk"))


def test_quick_exit_leaves_and_with_javascript_leaves_no_way_back(
    phone: Page, live_server: str, school_code: str, request: pytest.FixtureRequest
) -> None:
    exit_url = exit_link(phone, live_server, school_code)

    def neutral(route: Route) -> None:
        route.fulfill(
            status=200, content_type="text/html; charset=utf-8", body=f"<h1>{NEUTRAL}</h1>"
        )

    phone.route(f"{exit_url}**", neutral)  # the test never leaves 127.0.0.1
    phone.goto(f"{live_server}/")
    phone.goto(f"{live_server}/s/{school_code}")
    button = phone.get_by_role("link", name="Быстро уйти")
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]  # always on screen
    button.click()
    phone.wait_for_url(f"{exit_url}**")
    assert NEUTRAL in phone.content()
    phone.go_back()
    if variant(request) == "js":
        assert "/s/" not in phone.url  # the school's page was replaced in the history
    else:
        assert "/s/" in phone.url  # a plain link: honest about what it cannot do


def exit_link(phone: Page, live_server: str, school_code: str) -> str:
    """The exit link as the page shows it."""
    phone.goto(f"{live_server}/s/{school_code}")
    href = phone.locator("a.quick-exit").get_attribute("href")
    assert href and href.startswith("https://")
    return href
