"""Login throttling (security review, issue 13): strangers' failures lock only the untrusted
path, never the owner's known browser; guessing stays bounded on both paths; every answer
costs exactly one Argon2id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from portal import clock, crypto
from portal.models import LoginDevice
from portal.services import login
from tests.worlds import Member, World

SECOND = timedelta(seconds=1)
STEP = timedelta(seconds=30)  # one TOTP step: a code works once, the next login needs the next
WRONG = "not the password at all"


def _try(
    world: World,
    member: Member,
    now: datetime,
    password: str | None = None,
    *,
    device: str = "",
    code: str | None = None,
) -> login.LoggedIn:
    """One login attempt at `now`: the member's password and current code unless given."""
    return login.log_in(
        world.session,
        world.config,
        member.staff.email,
        member.password if password is None else password,
        pyotp.TOTP(member.totp_secret).at(now) if code is None else code,
        device=device,
        now=now,
    )


def _known_browser(world: World, member: Member, now: datetime) -> str:
    """The device cookie of a browser the member logged in with at `now`."""
    return _try(world, member, now).device_cookie


def test_a_strangers_wrong_passwords_never_stop_the_owners_known_browser(world: World) -> None:
    """(a) A day of one wrong try every half hour: the account's lock stays at its longest,
    and the owner's own browser logs in at once all the same."""
    member = world.regional_member
    now = clock.now()
    device = _known_browser(world, member, now)
    for _ in range(48):
        now += timedelta(minutes=30)
        with pytest.raises(login.LoginFailed):
            _try(world, member, now, WRONG)
    failures, locked_until = member.staff.failed_logins, member.staff.locked_until
    assert locked_until is not None and locked_until > now  # the untrusted path is shut
    assert login.lock_for(failures) == login.MAX_LOCK
    done = _try(world, member, now + SECOND, device=device)
    assert done.staff.id == member.staff.id and done.device_cookie == device
    # Its success gives the stranger no new round of free guesses on the account.
    assert (member.staff.failed_logins, member.staff.locked_until) == (failures, locked_until)


def test_a_new_browser_of_the_owner_waits_like_a_stranger(world: World) -> None:
    """(b) Without a device cookie the owner is a stranger: locked until the lock ends."""
    member = world.regional_member
    now = clock.now()
    for _ in range(login.FREE_FAILURES):
        with pytest.raises(login.LoginFailed):
            _try(world, member, now, WRONG)
    pause = login.lock_for(login.FREE_FAILURES)
    with pytest.raises(login.LoginFailed):  # right password and code
        _try(world, member, now + pause - SECOND)
    done = _try(world, member, now + pause + STEP)
    assert done.device_cookie  # from now on this browser is known
    assert (member.staff.failed_logins, member.staff.locked_until) == (0, None)


def test_a_known_browser_that_keeps_failing_locks_too_and_alone(world: World) -> None:
    """(b) A device cookie buys no more guesses: its own failures lock it (doubling as the
    account's do), while the account and the member's other browsers stay open."""
    member = world.regional_member
    now = clock.now()
    device = _known_browser(world, member, now)
    other = _known_browser(world, member, now + STEP)
    now += 2 * STEP
    for _ in range(login.FREE_FAILURES):
        with pytest.raises(login.LoginFailed):
            _try(world, member, now, WRONG, device=device)
    with pytest.raises(login.LoginFailed):  # right, but locked
        _try(world, member, now + SECOND, device=device)
    row = world.session.get(LoginDevice, login._device_id(device.partition(".")[0]))
    assert row is not None and row.failed_logins == login.FREE_FAILURES
    assert row.locked_until == now + login.lock_for(login.FREE_FAILURES)
    assert (member.staff.failed_logins, member.staff.locked_until) == (0, None)
    _try(world, member, now + STEP, device=other)
    _try(world, member, now + 2 * STEP)  # a new browser: the account's path is open


@pytest.mark.parametrize("device", [False, True], ids=["stranger", "known-browser"])
def test_a_day_of_guessing_passwords_tries_a_few_dozen(world: World, device: bool) -> None:
    """(b) Guessing as fast as the lock allows, one path tries ~33 passwords a day."""
    member = world.regional_member
    start = now = clock.now()
    cookie = _known_browser(world, member, now) if device else ""
    counter = member.staff if not device else world.session.scalars(select(LoginDevice)).one()
    tried = 0
    while now < start + timedelta(days=1):
        if counter.locked_until is not None and counter.locked_until > now:
            now = counter.locked_until
            continue
        with pytest.raises(login.LoginFailed):
            _try(world, member, now, WRONG, device=cookie)
        tried += 1
        now += SECOND
    assert 24 <= tried <= 40, tried


def test_a_device_cookie_counts_only_for_its_account_untampered_and_in_its_lifetime(
    world: World,
) -> None:
    """Another member's cookie, a tampered one or one unused too long is a stranger's."""
    member, other = world.regional_member, world.national_member
    now = clock.now()
    theirs = _known_browser(world, other, now)
    mine = _known_browser(world, member, now)
    token, _, mac = mine.partition(".")
    tampered = f"{token}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"
    for number, cookie in enumerate((theirs, tampered, "", "junk", f"{token}.")):
        when = now + number * login.MAX_LOCK  # each after the lock before it: each counts
        with pytest.raises(login.LoginFailed):
            _try(world, member, when, WRONG, device=cookie)
    assert member.staff.failed_logins == 5  # all on the account: none named a known browser
    later = now + login.DEVICE_LIFETIME
    with pytest.raises(login.LoginFailed):
        _try(world, member, later, WRONG, device=mine)
    assert member.staff.failed_logins == 6  # forgotten: counted on the account
    fresh = _try(world, member, later + login.MAX_LOCK, device=mine)
    assert fresh.device_cookie != mine  # a stranger's success: a new device
    assert world.session.get(LoginDevice, login._device_id(token)) is None  # swept away


def _attempts(world: World) -> dict[str, Callable[[], object]]:
    member, locked = world.regional_member, world.national_member
    locked.staff.locked_until = clock.now() + timedelta(hours=1)
    world.session.commit()
    now = clock.now()
    return {
        "unknown email": lambda: login.log_in(
            world.session, world.config, "nobody@111.kz", WRONG, "123456"
        ),
        "locked account": lambda: _try(world, locked, now),
        "wrong password": lambda: _try(world, member, now, WRONG),
        "wrong code": lambda: _try(world, member, now, code="000000"),
        "success": lambda: _try(world, member, now + STEP),
    }


def test_every_answer_costs_exactly_one_argon2id(world: World) -> None:
    """Timing tells nothing when every path pays the same: an unknown email, a locked account,
    a wrong password or code and a success each derive exactly one key."""
    derived: list[int] = []

    def counting(derive: Callable[[], bytes]) -> bytes:
        derived.append(1)
        return derive()

    for name, attempt in _attempts(world).items():
        derived.clear()
        with crypto.derivations_run_by(counting):
            try:
                attempt()
            except login.LoginFailed:
                assert name != "success"
        assert len(derived) == 1, name
