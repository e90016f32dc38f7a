"""Two gunicorn instances on two ports, one PostgreSQL and one Redis: they act as one service."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import redis
from sqlalchemy import create_engine, func, select

from portal.models import StaffSession
from tests.prod.servers import (
    REDIS_VARIABLE,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    Browser,
    Prepared,
    database,
    gunicorn,
    portal_env,
    prepare,
    service_url,
)

REPORT_LINK = re.compile(r'href="(/staff/reports/[^"]+)"')


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    """The test's Redis URL and a key prefix of its own; its keys are deleted afterwards."""
    url = service_url(REDIS_VARIABLE)
    prefix = f"qr111-test-{os.getpid()}-prod-{secrets.token_hex(4)}"
    yield url, prefix
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


def log_in(browser: Browser, base: str, totp_secret: str) -> str:
    """Log in through the staff form; returns the URL the browser ends on."""
    page = browser.open(f"{base}/staff/login")
    reply = browser.open(
        f"{base}/staff/login",
        {
            "csrf_token": page.token(),
            "email": STAFF_EMAIL,
            "password": STAFF_PASSWORD,
            "code": pyotp.TOTP(totp_secret).now(),
        },
    )
    assert reply.status == 200, reply.body[:500]
    return reply.url


def staff_sessions_in_database(prepared: Prepared) -> int:
    """Server halves stored in the database (none when Redis keeps them)."""
    engine = create_engine(prepared.url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(StaffSession)) or 0)
    finally:
        engine.dispose()


def test_two_instances_share_limits_sessions_and_reports(
    tmp_path: Path, redis_prefix: tuple[str, str]
) -> None:
    redis_url, prefix = redis_prefix
    with database("postgresql", tmp_path / "db") as url:
        prepared = prepare(url, tmp_path)
        shared = {
            "PORTAL_REDIS_URL": redis_url,
            "PORTAL_REDIS_PREFIX": prefix,
            "PORTAL_LIMIT_RECEIPT_FAILURES": "3/hour",
            "PORTAL_LIMIT_RECEIPT_RETRIES": "1/hour",
        }
        env_a = portal_env(url, tmp_path / "instance-a", **shared)
        env_b = portal_env(url, tmp_path / "instance-b", **shared)
        with gunicorn(env_a, tmp_path / "a") as a, gunicorn(env_b, tmp_path / "b") as b:
            assert a.port != b.port
            child = Browser(language="ru")

            # A report sent to A is read on B, with its receipt.
            text = "Меня обижают в раздевалке. Мені шешінетін жерде ренжітеді."
            page = child.open(f"{a.url}/s/{prepared.code}")
            form = {"csrf_token": page.token(), "category": "home", "danger": "no", "message": text}
            receipt = child.open(f"{a.url}/s/{prepared.code}", form).receipt()
            assert receipt
            assert child.check(b.url, receipt).shows(text)
            # The same page sent again to B: B knows its token was used on A (issue 20).
            again = child.open(f"{b.url}/s/{prepared.code}", form)
            assert again.status == 409 and receipt[-4:] not in again.body

            # A staff session made on A works on B (and B reads the report sent to A).
            staff = Browser()
            assert log_in(staff, a.url, prepared.totp_secret) == f"{a.url}/staff/inbox"
            inbox = staff.open(f"{b.url}/staff/inbox")
            assert inbox.status == 200 and inbox.url.endswith("/staff/inbox"), inbox.url
            links = REPORT_LINK.findall(inbox.body)
            assert len(links) == 1
            assert staff.open(b.url + links[0]).shows(text)
            # The server half of the session is in Redis, not in the database.
            with redis.Redis.from_url(redis_url) as client:
                assert list(client.scan_iter(match=f"{prefix}:staff-session:*"))
            assert staff_sessions_in_database(prepared) == 0
            # Logging out on B ends the session on A too.
            assert staff.open(f"{b.url}/staff/logout", {}).url.endswith("/staff/login")
            assert staff.open(f"{a.url}/staff/inbox").url.endswith("/staff/login")

            # A rate limit counts across both: 3 wrong receipts an hour, wherever they land.
            wrong = "0000 0000 0000 0000"
            statuses = [child.check(server.url, wrong).status for server in (a, b, a, b, a)]
            assert statuses == [404, 404, 404, 404, 429]  # its own 3, the 1 retry of everyone's
            assert (
                child.check(a.url, receipt).status == 429
            )  # the retries spent, even the right one
