"""Enrolment in a real browser: an admin invites, the invitee scans the QR code and logs in."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, Page

from portal.enums import Role
from tests.e2e.conftest import DESKTOP, PHONE, log_in, screenshot_path, seed_staff

pytestmark = pytest.mark.e2e

ADMIN = "admin@111.kz"
INVITEE = "aliya@111.kz"
INVITEE_PASSWORD = "Алия құпия сөз 2026"


@pytest.fixture
def admin_secret(app: Flask, tmp_path: Path) -> str:
    """Schools, a national inbox and an admin who is its member; the admin's TOTP secret."""
    return seed_staff(app, tmp_path, {ADMIN: Role.ADMIN}).totp[ADMIN]


def scanned_secret(page: Page) -> str:
    """What an authenticator app reads: the QR code on screen, decoded by ZXing."""
    image = Image.open(io.BytesIO(page.locator(".totp-qr svg").screenshot())).convert("RGB")
    (result,) = zxingcpp.read_barcodes(image)
    uri = urlsplit(result.text)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert INVITEE in uri.path.replace("%40", "@")
    (secret,) = parse_qs(uri.query)["secret"]
    return secret


def test_an_invitee_enrols_with_the_qr_code_and_logs_in(
    browser: Browser, live_server: str, admin_secret: str, tmp_path: Path
) -> None:
    admin = browser.new_context(viewport=DESKTOP, locale="en-US").new_page()
    log_in(admin, live_server, ADMIN, pyotp.TOTP(admin_secret).now())
    admin.get_by_role("link", name="People").click()
    admin.get_by_label("Email").fill(INVITEE)
    admin.get_by_label("Role").select_option("triage")
    admin.get_by_role("button", name="Make the invitation link").click()
    link = admin.locator("#link").input_value()
    assert link.startswith("https://qr111.example.kz/staff/people/enrol#")
    parts = urlsplit(link)

    # The token rides after '#': the browser never sends it; the page's script posts it.
    invitee = browser.new_context(viewport=PHONE, locale="en-US").new_page()
    requested: list[str] = []
    invitee.on("request", lambda request: requested.append(request.url))
    invitee.goto(f"{live_server}{parts.path}#{parts.fragment}")
    assert invitee.locator("#paste").is_hidden() and invitee.locator("#found").is_visible()
    invitee.screenshot(path=screenshot_path(tmp_path, "staff-enrol-open"), full_page=True)
    invitee.get_by_role("button", name="Begin").click()
    assert not any(parts.fragment in url for url in requested), requested
    assert invitee.locator(".secret").count() == 0  # no secret before the password

    invitee.get_by_label("Choose a password").fill("password1234")
    invitee.get_by_label("The same password again").fill("password1234")
    invitee.get_by_role("button", name="Create my account").click()
    assert "one of the most common ones" in invitee.locator(".problem").inner_text()
    invitee.get_by_label("Choose a password").fill(INVITEE_PASSWORD)
    invitee.get_by_label("The same password again").fill(INVITEE_PASSWORD)
    invitee.get_by_role("button", name="Create my account").click()

    secret = scanned_secret(invitee)
    assert invitee.locator("#secret").inner_text().replace(" ", "") == secret
    invitee.screenshot(path=screenshot_path(tmp_path, "staff-enrol"), full_page=True)
    invitee.set_viewport_size(DESKTOP)
    invitee.screenshot(path=screenshot_path(tmp_path, "staff-enrol-desktop"), full_page=True)

    invitee.get_by_label("Code from the authenticator app").fill("000000")
    invitee.get_by_role("button", name="Save the new authenticator").click()
    if not pyotp.TOTP(secret).verify("000000", valid_window=1):  # almost always
        assert "That code does not match" in invitee.locator(".problem").inner_text()
        assert invitee.locator("#secret").count() == 0  # shown once; the app has it already
        invitee.get_by_label("Code from the authenticator app").fill(pyotp.TOTP(secret).now())
        invitee.get_by_role("button", name="Save the new authenticator").click()
    assert invitee.url.endswith("/staff/login")
    assert "authenticator is set up" in invitee.locator(".problem").inner_text()

    # The admin gives the new member the national inbox, with the admin's own membership.
    admin.get_by_role("link", name="Inboxes").click()
    admin.get_by_label("Grant national to").select_option(label=f"{INVITEE} (Triage)")
    admin.get_by_role("button", name="Grant").click()
    assert f"{INVITEE} is now a member of national." in admin.locator(".problem").inner_text()
    admin.screenshot(path=screenshot_path(tmp_path, "staff-inboxes"), full_page=True)

    # The confirmation code does not log in a second time: the next step's code does.
    log_in(invitee, live_server, INVITEE, pyotp.TOTP(secret).at(time.time() + 30), INVITEE_PASSWORD)
    assert invitee.url.endswith("/staff/inbox")

    admin.get_by_role("link", name="Staff", exact=True).click()
    row = admin.locator("table.people tr", has_text=INVITEE)
    assert "Triage" in row.inner_text() and "national" in row.inner_text()
    admin.screenshot(path=screenshot_path(tmp_path, "staff-people"), full_page=True)
    admin.set_viewport_size(PHONE)
    admin.screenshot(path=screenshot_path(tmp_path, "staff-people-phone"), full_page=True)
    admin.context.close()
    invitee.context.close()
