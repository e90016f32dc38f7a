"""What is Redis' own: staff sessions' server halves expire there by themselves, limits count there.

These run in the second run of `make test` (PORTAL_TEST_REDIS_URL); without Redis they skip.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from limits.storage import RedisStorage
from sqlalchemy import func, select

from portal import clock
from portal.config import RateLimits
from portal.models import StaffSession
from portal.services import sessions
from portal.web.context import get_session
from portal.web.ratelimit import GivingBack, RedisWindows, Taken, Window, limiter
from tests.conftest import Backend
from tests.web.test_ratelimit import counted, gives_back_the_newest, takes_all_or_nothing
from tests.worlds import Desk, Site, World, form_token

WAIT = 5.0  # seconds for Redis to expire a key that should be gone after 0.3


@pytest.fixture(autouse=True)
def redis_only(backend: Backend) -> None:
    """Skip without Redis: these tests are about it."""
    if not backend.redis_url:
        pytest.skip("Redis only: set PORTAL_TEST_REDIS_URL (make test's second run)")


def session_keys(backend: Backend) -> list[bytes]:
    return [key for key in backend.redis_keys() if b":staff-session:" in key]


def redis_store(world: World) -> sessions.RedisStore:
    store = sessions.store_for(world.session)
    assert isinstance(store, sessions.RedisStore)
    return store


def log_out(browser: FlaskClient) -> None:
    token = form_token(browser, "/staff/inbox")
    assert browser.post("/staff/logout", data={"csrf_token": token}).status_code == 303


def test_a_login_keeps_the_server_half_in_redis_and_logout_destroys_it(
    desk: Desk, backend: Backend
) -> None:
    browser = desk.log_in(desk.triage)
    (key,) = session_keys(backend)
    idle = timedelta(minutes=desk.site.app.extensions["portal.config"].triage.idle_minutes)
    with backend.redis() as client:
        left = timedelta(milliseconds=client.pttl(key))
    assert idle - timedelta(minutes=1) < left <= idle  # the idle timeout, not the lifetime
    with desk.site.app.app_context():
        assert get_session().scalar(select(func.count()).select_from(StaffSession)) == 0
    assert browser.get("/staff/inbox").status_code == 200
    log_out(browser)
    assert session_keys(backend) == []
    assert browser.get("/staff/inbox").status_code == 303


def test_a_session_in_redis_expires_by_itself(world: World) -> None:
    app_store = redis_store(world)
    store = sessions.RedisStore(app_store.client, app_store.prefix, timedelta(milliseconds=300))
    now = clock.now()
    staff_id = world.regional_member.staff.id
    half = sessions.ServerHalf(staff_id, b"share", now, now, now + timedelta(hours=8))
    session_id = secrets.token_hex(32)
    store.add(session_id, half)
    assert 0 < store.client.pttl(store.key(session_id)) <= 300
    assert store.get(session_id) == half
    deadline = time.monotonic() + WAIT
    while store.get(session_id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get(session_id) is None  # gone without anyone purging it
    store.touch(session_id, half, clock.now())  # a late use cannot bring it back
    assert store.get(session_id) is None


def test_each_use_restarts_the_idle_clock_but_never_past_the_lifetime(world: World) -> None:
    store = redis_store(world)
    member = world.regional_member
    cookie = sessions.start_session(
        world.session, member.staff, world.staff_key(member), lifetime=timedelta(minutes=5)
    )
    (key,) = list(store.client.scan_iter(match=store.key("*")))
    assert 4 * 60_000 < store.client.pttl(key) <= 5 * 60_000  # capped: 5 minutes, not 15
    store.client.pexpire(key, 1000)  # as if it had sat idle for most of its time
    idle = store.idle_timeout
    soon = clock.now() + sessions.TOUCH_AFTER  # a use once the last one is old enough to write
    sessions.resume_session(world.session, cookie, idle_timeout=idle, now=soon)
    assert store.client.pttl(key) > 4 * 60_000  # used: the clock starts again
    later = clock.now() + timedelta(minutes=4)
    sessions.resume_session(world.session, cookie, idle_timeout=idle, now=later)
    assert 0 < store.client.pttl(key) <= 60_000  # one minute of its lifetime is left
    with pytest.raises(sessions.SessionInvalid, match="expired"):
        sessions.resume_session(
            world.session, cookie, idle_timeout=idle, now=later + timedelta(minutes=1)
        )
    assert store.client.exists(key) == 0  # a refused session is destroyed at once


def test_the_rate_limits_count_in_redis(
    make_site: Callable[[RateLimits], Site], backend: Backend
) -> None:
    site = make_site(RateLimits(client_messages="2/hour"))
    assert isinstance(limiter.storage, RedisStorage)
    assert site.send().status_code == 200
    assert site.send().status_code == 200
    assert site.send().status_code == 429
    counts = [key for key in backend.redis_keys() if b":limits:" in key]
    assert counts, "no rate-limit key under the test's prefix"
    with backend.redis() as client:
        client.delete(*counts)  # the counts live there and nowhere else
    assert site.send().status_code == 200


def test_the_redis_storage_gives_back_the_newest_hit_under_the_test_prefix(
    make_site: Callable[[RateLimits], Site], backend: Backend
) -> None:
    make_site(RateLimits())
    assert isinstance(limiter.storage, RedisWindows)
    gives_back_the_newest(limiter.storage)
    (key,) = [key for key in backend.redis_keys() if b"give-back-test" in key]
    assert b":limits:" in key, "the deployment's prefix, then the limits' own"


def test_the_redis_storage_takes_all_or_nothing_in_one_script(
    make_site: Callable[[RateLimits], Site],
) -> None:
    make_site(RateLimits())
    assert isinstance(limiter.storage, RedisWindows)
    takes_all_or_nothing(limiter.storage, "take-all-test")


def test_the_script_counts_exactly_as_limits_own_hits(
    make_site: Callable[[RateLimits], Site],
) -> None:
    """One script for a request's windows (issue 17) against the window-at-a-time way, which
    takes each with limits' own acquire_entry and reads counts with its get_moving_window (the
    code before): the same answers, refusals and counts after every one of a random series of
    requests, spared windows and windows spared while the probes are untouched included."""
    make_site(RateLimits())
    storage = limiter.storage
    assert isinstance(storage, RedisWindows)
    rng = random.Random(17)  # noqa: S311 - a repeatable series of requests
    shapes = [(1, 60), (2, 60), (3, 3600), (5, 86400)]

    def windows(way: str, picks: list[tuple[int, int]]) -> list[Window]:
        """Windows of one way, each refusing (mode 0), spared (1) or spared if untouched (2)."""
        return [
            Window(
                f"script-test:{way}:{n}",
                *shapes[n % len(shapes)],
                spared=mode == 1,
                spared_if_untouched=mode == 2,
            )
            for n, mode in picks
        ]

    for _ in range(200):
        picks = [(n, rng.choice((0, 0, 1, 2))) for n in rng.sample(range(8), rng.randint(1, 4))]
        probed = [(n, 0) for n in rng.sample(range(8), rng.randint(0, 2))]
        batched, one_by_one = windows("script", picks), windows("limits", picks)
        probes, probes_too = windows("script", probed), windows("limits", probed)
        assert storage.untouched(batched) == GivingBack.untouched(storage, one_by_one)
        took = storage.take_all(batched, probes)
        assert took == GivingBack.take_all(storage, one_by_one, probes_too), (picks, probed)
        every = windows("script", [(n, 0) for n in range(8)])
        again = windows("limits", [(n, 0) for n in range(8)])
        assert [counted(storage, w) for w in every] == [counted(storage, w) for w in again]


def test_the_script_lets_an_entry_go_when_its_window_ends(
    make_site: Callable[[RateLimits], Site],
) -> None:
    make_site(RateLimits())
    storage = limiter.storage
    assert isinstance(storage, RedisWindows)
    second = Window("script-expiry-test", 1, 1)
    assert storage.take_all([second]) == Taken(None, [0])
    assert storage.take_all([second]) == Taken(0, [])
    time.sleep(1.1)
    assert storage.untouched([second])
    assert storage.take_all([second]) == Taken(None, [0])
