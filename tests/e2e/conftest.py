"""Browser tests: the app served on 127.0.0.1 and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

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
