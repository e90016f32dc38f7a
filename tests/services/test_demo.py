"""The demo set-up of `make demo`: idempotent, usable keys, never in production."""

from __future__ import annotations

import dataclasses

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from portal.config import Environment
from portal.enums import Priority, Role
from portal.models import Report
from portal.services import accounts, intake
from portal.services.demo import DEMO_INBOX, DEMO_PASSWORD, DEMO_ROLES, DemoRefused, seed_demo
from portal.web.context import get_config, get_session
from tests.conftest import SAMPLE_SCHOOLS


def test_the_demo_accounts_work_after_two_runs(app: Flask) -> None:
    with app.app_context():
        session, config = get_session(), get_config()
        first = seed_demo(session, config, SAMPLE_SCHOOLS)
        second = seed_demo(session, config, SAMPLE_SCHOOLS)
        assert first.accounts == second.accounts  # nothing made twice
        assert {account.role for account in first.accounts} == set(Role)
        inbox = accounts.get_inbox(session, DEMO_INBOX)
        for account in first.accounts:
            staff = accounts.staff_by_email(session, account.email)
            assert staff.role is DEMO_ROLES[account.email]
            private = accounts.unlock_staff_key(staff, DEMO_PASSWORD)
            assert pyotp.TOTP(account.totp_secret).verify(pyotp.TOTP(account.totp_secret).now())
            if account.role is Role.SCHOOL:
                assert staff.schools and not staff.grants  # posters only, never reports (P6)
            else:
                assert len(accounts.open_inbox_key(session, inbox, staff, private)) == 32


def test_the_sample_reports_are_sent_once_and_open_with_their_receipts(app: Flask) -> None:
    with app.app_context():
        session, config = get_session(), get_config()
        demo = seed_demo(session, config, SAMPLE_SCHOOLS)
        assert seed_demo(session, config, SAMPLE_SCHOOLS).receipts == ()
        priorities = list(session.scalars(select(Report.priority)))
        assert len(demo.receipts) == len(priorities) == 4
        assert Priority.P1 in priorities  # the inbox shows a life-safety report first
        for receipt in demo.receipts:
            assert intake.open_with_receipt(session, config, receipt) is not None


def test_the_command_prints_school_urls_and_the_login(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", str(SAMPLE_SCHOOLS)])
    assert result.exit_code == 0, result.output
    assert "https://qr111.example.kz/s/" in result.output
    for email in DEMO_ROLES:
        assert email in result.output
    assert DEMO_PASSWORD in result.output
    assert result.output.count("otpauth://totp/") == len(DEMO_ROLES)
    assert "/check" in result.output


def test_the_demo_refuses_production(app: Flask) -> None:
    with app.app_context():
        production = dataclasses.replace(get_config(), env=Environment.PRODUCTION)
        with pytest.raises(DemoRefused):
            seed_demo(get_session(), production, SAMPLE_SCHOOLS)
        with pytest.raises(accounts.UnknownStaff):
            accounts.staff_by_email(get_session(), next(iter(DEMO_ROLES)))
