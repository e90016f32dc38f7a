"""Browser tests: the app served on 127.0.0.1 and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from portal.enums import Role
from portal.services import accounts, registry
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS, add_inbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless (never a browser downloaded by Playwright)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def phone(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    """A phone-sized page, with JavaScript on and off."""
    context = browser.new_context(
        viewport=PHONE, java_script_enabled=request.param, locale="ru-RU", device_scale_factor=1
    )
    page = context.new_page()
    yield page
    context.close()


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where to save a screenshot: SCREENSHOT_DIR when set (for docs/), else the test's tmp."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def page_screenshot(page: Page, path: Path) -> None:
    """The whole page. A child's page scrolls inside .page above the quick exit's bar, so
    Playwright's full_page shows one screen: the viewport is made as tall as the content."""
    size = page.viewport_size
    assert size is not None
    height = page.evaluate(
        """() => {
            const scroller = document.querySelector("body.child > .page");
            const bar = document.querySelector("body.child > .exit-bar");
            if (!scroller) { return document.documentElement.scrollHeight; }
            return scroller.scrollHeight + (bar ? bar.offsetHeight : 0);
        }"""
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.screenshot(path=path)
    page.set_viewport_size(size)


# Links and controls smaller than 24×24 px (WCAG 2.2 target size), but for a link inside a
# sentence (the criterion's inline exception) and what is not shown.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    "a[href], button, select, input:not([type=hidden]), textarea")].filter((e) => {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden" ||
      e.closest("[aria-hidden=true]")) {
    return false;
  }
  const inline = e.tagName === "A" && getComputedStyle(e).display === "inline" &&
    e.parentElement.textContent.trim().length > e.textContent.trim().length + 20;
  return !inline && (r.width < 24 || r.height < 24);
}).map((e) => `${e.tagName} "${(e.textContent || e.name || "").trim().slice(0, 30)}" ` +
  `${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)}`)"""


# ---- the staff desk -------------------------------------------------------------------------

STAFF_PASSWORD = "desk passphrase for tests"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
DANGER_TEXT = "Мне страшно идти домой, отчим сказал что убьёт меня"
SCHOOL_OF_SCHOOL_ACCOUNT = "34000015"


@pytest.fixture
def school_code(app: Flask, tmp_path: Path) -> str:
    """A school whose reports have an inbox to go to."""
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "national")
        return registry.get_school(session, "34000015").code


@dataclass(frozen=True)
class Setup:
    """The school's code and the staff accounts' TOTP secrets."""

    code: str
    school_id: str
    totp: dict[str, str]


def seed_staff(app: Flask, tmp_path: Path, staff: Mapping[str, Role]) -> Setup:
    """Sample schools, a national inbox and staff accounts with STAFF_PASSWORD.

    Triage and admin accounts are members of the inbox; a school account prints the posters
    of SCHOOL_OF_SCHOOL_ACCOUNT, whose code the setup gives.
    """
    with app.app_context():
        session = get_session()
        config = app.extensions["portal.config"]
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "national")
        recovery = accounts.read_recovery_key(session, tmp_path / "recovery.key")
        school = registry.get_school(session, SCHOOL_OF_SCHOOL_ACCOUNT)
        totp = {}
        for email, role in staff.items():
            made = accounts.add_staff(
                session, email, role, STAFF_PASSWORD, config.kdf, config.secret_key
            )
            totp[email] = made.totp_secret
            if role is Role.SCHOOL:
                made.staff.schools.append(school)
                session.commit()
            else:
                accounts.grant_with_recovery_key(session, "national", email, recovery)
        return Setup(school.code, school.school_id, totp)


@pytest.fixture
def setup(app: Flask, tmp_path: Path) -> Setup:
    """Schools, a national inbox, a triage member and a school account."""
    return seed_staff(app, tmp_path, {"triage@111.kz": Role.TRIAGE, "school@111.kz": Role.SCHOOL})


def log_in(
    page: Page, live_server: str, email: str, code: str, password: str = STAFF_PASSWORD
) -> None:
    """The staff login form, in English: email, password and a TOTP code."""
    page.goto(f"{live_server}/staff/login?lang=en")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Code from the authenticator app").fill(code)
    page.get_by_role("button", name="Log in").click()


def send_report(page: Page, live_server: str, code: str, text: str, danger: bool) -> str:
    """A child's report through the real form, in Russian; returns the receipt."""
    page.goto(f"{live_server}/s/{code}?lang=ru")
    page.get_by_label("Напиши, что случилось").fill(text)
    if danger:
        page.get_by_label("Да, мне сейчас опасно").check()
    page.get_by_role("button", name="Отправить").click()
    return re.sub(r"\D", "", page.locator(".receipt .digits").inner_text())
