"""Who the limits count as one client: an IPv4 address or an IPv6 /64, under a random key of
the day that every instance shares and nobody keeps past the day (issue 14, issue 20 item 5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask

from portal import create_app
from portal.config import RateLimits
from portal.web import ratelimit
from tests.conftest import Backend
from tests.test_calendar import at
from tests.web.child.test_child_tokens import other_school_page as other_school
from tests.worlds import TEXT, Site, receipt_of

NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SLASH_64 = "2001:db8:85a3:7::"


def key_of(app: Flask, address: str, moment: datetime = NOON) -> str:
    """The client key the limits use for a request from `address`."""
    with at(moment), app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        return ratelimit.client_key()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (SLASH_64 + "1", "2001:db8:85a3:7:ffff:ffff:ffff:fffe"),  # privacy addresses of one phone
        ("2001:db8:85a3:7:a::1", "2001:DB8:85A3:0007:b::2"),  # any spelling
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4 written as IPv6
    ],
)
def test_addresses_of_one_ipv6_64_are_one_client(site: Site, first: str, second: str) -> None:
    assert key_of(site.app, first) == key_of(site.app, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (SLASH_64 + "1", "2001:db8:85a3:8::1"),  # the next /64: another subscriber
        ("198.51.100.7", "198.51.100.8"),
    ],
)
def test_other_networks_are_other_clients(site: Site, first: str, second: str) -> None:
    assert key_of(site.app, first) != key_of(site.app, second)


def test_a_key_reveals_no_address(site: Site) -> None:
    key = key_of(site.app, SLASH_64 + "1")
    assert key.startswith("client:")
    pseudonym = key.removeprefix("client:")
    # A keyed hash in hex: no piece of an address with its separators can be in it. (Its hex
    # digits alone, "db8" and the like, turn up in a random digest by chance: ~2% of runs.)
    assert re.fullmatch(r"[0-9a-f]+", pseudonym), pseudonym
    for part in ("2001:db8", "85a3:7", SLASH_64):
        assert part not in pseudonym


def test_wrong_receipts_from_rotating_addresses_of_one_64_are_limited(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """Issue 14: 40 wrong receipts from 40 addresses of one /64 all got 404, never 429."""
    site = make_site(RateLimits(receipt_failures="3/hour", receipt_retries="1/hour"))
    statuses = []
    for number in range(6):
        data = {"csrf_token": site.token("/check"), "receipt": "1111 2222 3333 4444"}
        environ = {"REMOTE_ADDR": f"{SLASH_64}{number + 1:x}"}
        statuses.append(site.client.post("/check", data=data, environ_base=environ).status_code)
    assert statuses == [404, 404, 404, 404, 429, 429]  # 3 of its own, 1 of the shared retries


def test_the_day_key_is_random_not_derived_from_the_secret(
    site: Site, tmp_path: object, backend: Backend
) -> None:
    """Two instances with the same secret: without a shared store, two unrelated keys (so the
    secret alone tests no address); with Redis, one key, drawn by whichever came first."""
    other = create_app(site.app.extensions["portal.config"])
    same = key_of(site.app, "198.51.100.7") == key_of(other, "198.51.100.7")
    assert same is bool(backend.redis_url)


def test_the_day_key_is_forgotten_when_the_day_ends(site: Site, backend: Backend) -> None:
    """A new UTC day draws a new key; in Redis the day's key expires at the day's end."""
    today = key_of(site.app, "198.51.100.7", NOON)
    tomorrow = key_of(site.app, "198.51.100.7", NOON + timedelta(days=1))
    assert today != tomorrow
    if not backend.redis_url:
        assert key_of(site.app, "198.51.100.7", NOON) != today, "yesterday's key was kept"
    else:
        keys = [key for key in backend.redis_keys() if b":day-key:" in key]
        assert keys
        with backend.redis() as client:
            for key in keys:
                ttl = client.ttl(key)
                assert 0 < ttl <= 12 * 3600 + 1, "expires at the end of the clock's UTC day"


def test_thirty_pupils_behind_one_address_all_get_their_receipt_and_read_it(site: Site) -> None:
    """bench/flood.py (d), in-process on the default limits: 30 pupils behind the school's one
    address each send a report and open it twice within 10 minutes, while one of them
    mistypes codes 20 times. Every pupil gets a receipt and reads the conversation twice."""
    nat = {"REMOTE_ADDR": "203.0.113.50"}
    statuses: list[int] = []
    wrong = 0
    with time_machine.travel(NOON, tick=False) as traveller:
        for pupil in range(30):
            data = {"csrf_token": site.token(), "message": f"{TEXT} {pupil}", "danger": "no"}
            receipt = receipt_of(site.client.post(site.page, data=data, environ_base=nat))
            for _ in range(2):
                if wrong < 20:  # the one who mistypes, in between the others
                    data = {"csrf_token": site.token("/check"), "receipt": "1234 5678 9012 3456"}
                    site.client.post("/check", data=data, environ_base=nat)
                    wrong += 1
                data = {"csrf_token": site.token("/check"), "receipt": receipt}
                opened = site.client.post("/check", data=data, environ_base=nat)
                statuses.append(opened.status_code)
                assert f"{TEXT} {pupil}" in opened.get_data(as_text=True)
            traveller.shift(timedelta(seconds=19))  # 30 pupils within 10 minutes
    assert wrong == 20 and statuses == [200] * 60
    assert len(site.reports()) == 30


JUNK = "junk junk junk"


def junk_from_24_addresses(site: Site, after_each: Callable[[], object] = lambda: None) -> int:
    """Junk to the site's school, each of 24 addresses sending its 5 a minute at once, then
    `after_each`; how many were stored."""
    stored = 0
    for number in range(24):
        for _ in range(5):
            junk = {"csrf_token": site.token(), "message": JUNK, "danger": "yes"}
            address = {"REMOTE_ADDR": f"203.0.113.{number + 1}"}
            stored += (
                site.client.post(site.page, data=junk, environ_base=address).status_code == 200
            )
        after_each()
    return stored


def test_junk_at_full_speed_cannot_fill_the_whole_service_s_count(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """bench/flood.py (e)'s first second: 24 addresses each send their 5 at once. Past the
    repeats' share of the service's count (a quarter of 40), only first messages get through,
    so a child at a new address still gets a receipt. (Before, the junk filled all 40 and the
    child got 429.) Counted a minute, not a second: Redis drops a window a second after its
    last entry by its own clock, which the test does not stop."""
    site = make_site(RateLimits(all_messages="40/minute"))
    with time_machine.travel(NOON, tick=False):
        stored = junk_from_24_addresses(site)
        assert stored == 10 + 22  # the repeats' 10 (two addresses' 5), then each one's first
        data = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
        child = {"REMOTE_ADDR": "198.51.100.77"}
        assert receipt_of(site.client.post(site.page, data=data, environ_base=child))


def test_junk_from_24_addresses_cannot_silence_a_school(site: Site) -> None:
    """bench/flood.py (e), in-process on the default limits: 24 addresses fill the school's
    count with junk; a child at a new address still gets a receipt there, and so does one at
    another school. (Issue 14: 120 junk reports from 24 addresses, then a child's report: 429.)"""
    with time_machine.travel(NOON, tick=False) as traveller:
        # A second after each address's 5: under the whole service's 40 a second.
        stored = junk_from_24_addresses(site, lambda: traveller.shift(timedelta(seconds=1)))
        assert stored == 120  # the school's hour is full
        traveller.shift(timedelta(seconds=61))
        junk = {"csrf_token": site.token(), "message": JUNK, "danger": "yes"}
        again = site.client.post(site.page, data=junk, environ_base={"REMOTE_ADDR": "203.0.113.1"})
        assert again.status_code == 429, "a sender over the school's count is still refused"
        child = {"REMOTE_ADDR": "198.51.100.77"}
        data = {"csrf_token": site.token(), "message": TEXT, "danger": "no"}
        assert receipt_of(site.client.post(site.page, data=data, environ_base=child))
        other = other_school(site)
        data = {"csrf_token": site.token(other), "message": TEXT, "danger": "no"}
        assert receipt_of(
            site.client.post(other, data=data, environ_base={"REMOTE_ADDR": "198.51.100.78"})
        )
