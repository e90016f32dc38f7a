"""Staff sessions: the key split between cookie and server, expiry, ending, bad cookies."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from portal import clock, crypto
from portal.models import StaffSession
from portal.services import login, sessions
from tests.worlds import Member, World

LIFETIME = timedelta(hours=8)
IDLE = timedelta(minutes=30)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def start(world: World, member: Member, lifetime: timedelta = LIFETIME) -> str:
    """Log the member in: a new session's cookie value."""
    return sessions.start_session(
        world.session, member.staff, world.staff_key(member), lifetime=lifetime
    )


def resume(world: World, cookie: str, after: timedelta = timedelta(0)) -> sessions.UnlockedSession:
    return sessions.resume_session(
        world.session, cookie, idle_timeout=IDLE, now=clock.now() + after
    )


def stored(world: World) -> dict[str, bytes]:
    """Every server half kept now, by session id, as stored: the row's share, or Redis' value."""
    store = sessions.store_for(world.session)
    if isinstance(store, sessions.RedisStore):
        found: dict[str, bytes] = {}
        for key in store.client.scan_iter(match=store.key("*")):
            value = store.client.get(key)
            assert isinstance(key, bytes) and isinstance(value, bytes)
            found[key.decode().rsplit(":", 1)[1]] = value
        return found
    world.session.expire_all()
    return {row.id: row.server_share for row in world.session.scalars(select(StaffSession))}


def test_resuming_a_session_yields_the_staff_private_key(world: World) -> None:
    member = world.regional_member
    cookie = start(world, member)
    for _request in range(3):
        unlocked = resume(world, cookie)
        assert unlocked.staff.id == member.staff.id
        assert unlocked.staff_private == world.staff_key(member)
    token = unb64(cookie.split(".")[0])
    assert unlocked.session_id == hashlib.sha256(token).hexdigest()


def test_the_stored_row_holds_neither_the_token_nor_the_key(world: World) -> None:
    member = world.regional_member
    cookie = start(world, member)
    token_text, share_text = cookie.split(".")
    token, cookie_share = unb64(token_text), unb64(share_text)
    private = world.staff_key(member)
    ((session_id, raw),) = stored(world).items()
    assert session_id == hashlib.sha256(token).hexdigest()
    secrets_ = [token, token.hex().encode(), token_text.encode(), private, cookie_share]
    secrets_ += [b64(private).encode(), b64(cookie_share).encode()]
    for secret in secrets_:
        assert secret not in session_id.encode() and secret not in raw
    half = sessions.store_for(world.session).get(session_id)
    assert half is not None and half.staff_id == member.staff.id
    assert crypto.join_secret(cookie_share, half.server_share) == private
    assert cookie_share != private


def test_after_logout_the_cookie_alone_opens_nothing(world: World) -> None:
    cookie = start(world, world.regional_member)
    kept = start(world, world.regional_member)  # another browser of the same member
    sessions.end_session(world.session, cookie)
    with pytest.raises(sessions.SessionInvalid):
        resume(world, cookie)
    assert len(stored(world)) == 1
    assert resume(world, kept).staff.id == world.regional_member.staff.id


def test_the_server_share_with_a_forged_cookie_share_opens_nothing(world: World) -> None:
    member = world.regional_member
    cookie = start(world, member)
    other_cookie = start(world, member)
    token_text, _share = cookie.split(".")
    forged_shares = [
        b64(secrets.token_bytes(32)),
        b64(bytes(32)),
        b64(secrets.token_bytes(31)),
        b64(secrets.token_bytes(33)),
        other_cookie.split(".")[1],  # the member's genuine share of another session
        "",
    ]
    for share in forged_shares:
        with pytest.raises(sessions.SessionInvalid):
            resume(world, f"{token_text}.{share}")
    assert resume(world, cookie).staff_private == world.staff_key(member)


def test_a_session_idle_too_long_is_ended(world: World) -> None:
    cookie = start(world, world.regional_member)
    resume(world, cookie, IDLE - timedelta(seconds=1))
    resume(world, cookie, 2 * IDLE - timedelta(seconds=2))  # each request restarts the clock
    with pytest.raises(sessions.SessionInvalid, match="expired"):
        resume(world, cookie, 3 * IDLE)
    assert stored(world) == {}
    with pytest.raises(sessions.SessionInvalid, match="no such session"):
        resume(world, cookie)


def test_a_session_expires_after_its_lifetime_however_active(world: World) -> None:
    cookie = start(world, world.regional_member)
    step = IDLE - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed + step < LIFETIME:
        elapsed += step
        resume(world, cookie, elapsed)
    with pytest.raises(sessions.SessionInvalid, match="expired"):
        resume(world, cookie, LIFETIME)
    assert stored(world) == {}


def test_a_disabled_account_cannot_resume_its_session(world: World) -> None:
    member = world.regional_member
    cookie = start(world, member)
    member.staff.active = False
    world.session.commit()
    with pytest.raises(sessions.SessionInvalid):
        resume(world, cookie)


def test_ending_the_sessions_of_one_member_leaves_the_others(world: World) -> None:
    regional = [start(world, world.regional_member) for _ in range(2)]
    national = start(world, world.national_member)
    assert sessions.end_sessions_of(world.session, world.regional_member.staff) == 2
    for cookie in regional:
        with pytest.raises(sessions.SessionInvalid):
            resume(world, cookie)
    assert resume(world, national).staff.id == world.national_member.staff.id
    assert sessions.end_sessions_of(world.session, world.regional_member.staff) == 0


@pytest.mark.embedded_only(
    "Redis deletes a half by itself: test_redis.py::test_a_session_in_redis_expires_by_itself"
)
def test_purging_deletes_expired_and_idle_sessions_only(world: World) -> None:
    fresh = start(world, world.regional_member)
    start(world, world.regional_member, lifetime=timedelta(seconds=-1))  # past its lifetime
    idle = start(world, world.national_member)
    idle_id = hashlib.sha256(unb64(idle.split(".")[0])).hexdigest()
    idle_row = world.session.get(StaffSession, idle_id)
    assert idle_row is not None
    idle_row.last_seen_at = clock.now() - IDLE - timedelta(seconds=1)
    world.session.commit()
    assert sessions.purge_expired_sessions(world.session, idle_timeout=IDLE) == 2
    assert list(stored(world)) == [hashlib.sha256(unb64(fresh.split(".")[0])).hexdigest()]
    assert resume(world, fresh).staff.id == world.regional_member.staff.id
    assert sessions.purge_expired_sessions(world.session, idle_timeout=IDLE) == 0


def test_malformed_cookies_are_invalid_sessions_never_errors(world: World) -> None:
    cookie = start(world, world.regional_member)
    token_text, share_text = cookie.split(".")
    malformed = [
        "",
        ".",
        "..",
        "no-dot-at-all",
        token_text,
        f"{token_text}.",
        f".{share_text}",
        f"{token_text}.{share_text}.{share_text}",
        f"{token_text}={share_text}",
        f"{b64(secrets.token_bytes(31))}.{share_text}",
        f"{b64(secrets.token_bytes(33))}.{share_text}",
        f"{b64(secrets.token_bytes(32))}.{share_text}",  # well formed, unknown token
        f"{token_text[:-1]}.{share_text}",
        f"{token_text}.{share_text[:-1]}",
        f"{token_text}.A",
        "тест.тест",
        f"{token_text}.{share_text}ё",
        "\x00.\x00",
        "\udcff.\udcff",
        "%%%%.####",
        "A" * 100_000,
        "A" * 43 + "." + "A" * 100_000,
        f"{share_text}.{token_text}",
    ]
    for value in malformed:
        with pytest.raises(sessions.SessionInvalid):
            resume(world, value)
    assert resume(world, cookie).staff.id == world.regional_member.staff.id
    for value in malformed:
        sessions.end_session(world.session, value)  # logging out with a bad cookie: no error


def test_the_last_use_is_written_only_once_it_is_old(world: World) -> None:
    """A write on every staff request cost more than the page; the idle clock is coarse."""
    cookie = start(world, world.regional_member)
    before = stored(world)
    store = sessions.store_for(world.session)
    session_id = next(iter(before))
    first = store.get(session_id)
    assert first is not None
    resume(world, cookie, after=sessions.TOUCH_AFTER - timedelta(seconds=1))
    unchanged = store.get(session_id)
    assert unchanged is not None and unchanged.last_seen_at == first.last_seen_at
    resume(world, cookie, after=sessions.TOUCH_AFTER)
    touched = store.get(session_id)
    assert touched is not None and touched.last_seen_at > first.last_seen_at


@pytest.mark.embedded_only(
    "Redis deletes a half by itself: test_redis.py::test_a_session_in_redis_expires_by_itself"
)
def test_every_login_sweeps_what_nobody_resumed(world: World) -> None:
    """purge_expired_sessions runs at each login: old server halves do not pile up."""
    forgotten = start(world, world.national_member, lifetime=timedelta(seconds=-1))
    member = world.regional_member
    login.log_in(
        world.session,
        world.config,
        member.staff.email,
        member.password,
        pyotp.TOTP(member.totp_secret).now(),
    )
    forgotten_id = hashlib.sha256(unb64(forgotten.split(".")[0])).hexdigest()
    assert forgotten_id not in stored(world) and len(stored(world)) == 1
