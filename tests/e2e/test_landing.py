"""The school landing page on a phone-sized screen, in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page

from portal.services import registry
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS
from tests.e2e.conftest import PHONE, page_screenshot, screenshot_path

pytestmark = pytest.mark.e2e


@pytest.fixture
def school_without_inbox(app: Flask) -> str:
    """The code of a school whose registry was imported before any inbox was made."""
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        return registry.get_school(session, "34000015").code


def test_emergency_numbers_and_check_word_above_the_fold(
    phone: Page, live_server: str, school_code: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    response = phone.goto(f"{live_server}/S/{school_code}")
    assert response is not None and response.status == 200
    for number in ("112", "102", "103", "111"):
        link = phone.locator(f'a[href="tel:{number}"]')
        box = link.bounding_box()
        assert box is not None, number
        assert box["y"] + box["height"] <= PHONE["height"], f"{number} is below the fold"
        assert box["height"] >= 44, f"tap target of {number} is {box['height']}px high"
    assert phone.locator("h1").inner_text().startswith("КГУ")
    assert phone.locator(".check .word").is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"
    variant = request.node.callspec.id
    page_screenshot(phone, screenshot_path(tmp_path, f"landing-ru-{variant}"))


def test_language_switch_by_link(
    phone: Page, live_server: str, school_code: str, tmp_path: Path
) -> None:
    phone.goto(f"{live_server}/s/{school_code.lower()}")
    phone.get_by_role("link", name="Қазақша").click()
    assert phone.locator("html").get_attribute("lang") == "kk"
    assert "Тексеру сөзі" in (phone.locator(".check").text_content() or "")
    for link in phone.locator(".languages a").all():
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
    page_screenshot(phone, screenshot_path(tmp_path, "landing-kk"))


def test_unknown_code_page(phone: Page, live_server: str, tmp_path: Path) -> None:
    response = phone.goto(f"{live_server}/s/ZZZZZZZZ")
    assert response is not None and response.status == 404
    assert phone.locator('a[href="tel:111"]').is_visible()
    page_screenshot(phone, screenshot_path(tmp_path, "not-found-ru"))


def test_a_school_without_an_inbox_says_to_call_111_and_offers_no_form(
    phone: Page, live_server: str, school_without_inbox: str, tmp_path: Path
) -> None:
    response = phone.goto(f"{live_server}/s/{school_without_inbox}?lang=ru")
    assert response is not None and response.status == 200
    assert phone.locator("form textarea").count() == 0
    box = phone.locator('a[href="tel:111"]').first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    assert "111" in (phone.locator("main").inner_text())
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"
    page_screenshot(phone, screenshot_path(tmp_path, "landing-no-inbox-ru"))
