"""The demo set-up of `make demo`: idempotent, usable keys, never in production."""

from __future__ import annotations

import dataclasses

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from portal import accounts, get_config
from portal.config import Environment
from portal.db import get_session
from portal.demo import DEMO_EMAIL, DEMO_INBOX, DEMO_PASSWORD, DemoRefused, seed_demo
from tests.conftest import SAMPLE_SCHOOLS


def test_the_demo_account_can_open_its_inbox_after_two_runs(app: Flask) -> None:
    with app.app_context():
        session, config = get_session(), get_config()
        first = seed_demo(session, config, SAMPLE_SCHOOLS)
        second = seed_demo(session, config, SAMPLE_SCHOOLS)
        assert first == second  # nothing made twice
        staff = accounts.get_staff(session, DEMO_EMAIL)
        private = accounts.unlock_staff_key(staff, DEMO_PASSWORD)
        inbox = accounts.get_inbox(session, DEMO_INBOX)
        assert len(accounts.open_inbox_key(session, inbox, staff, private)) == 32
        assert pyotp.TOTP(first.totp_secret).verify(pyotp.TOTP(first.totp_secret).now())


def test_the_command_prints_school_urls_and_the_login(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", str(SAMPLE_SCHOOLS)])
    assert result.exit_code == 0, result.output
    assert "https://qr111.example.kz/s/" in result.output
    assert DEMO_EMAIL in result.output and DEMO_PASSWORD in result.output
    assert "otpauth://totp/" in result.output


def test_the_demo_refuses_production(app: Flask) -> None:
    with app.app_context():
        production = dataclasses.replace(get_config(), env=Environment.PRODUCTION)
        with pytest.raises(DemoRefused):
            seed_demo(get_session(), production, SAMPLE_SCHOOLS)
        with pytest.raises(accounts.UnknownStaff):
            accounts.get_staff(get_session(), DEMO_EMAIL)
