"""Staff login: password and TOTP, throttled per account and per known browser; the session
keeps the key split.

Failures count in two places (OWASP's device cookie): a browser that logged in as the member
before carries a signed cookie naming its row of `login_devices`, and its failures count and
lock there; every other attempt counts on the account. A stranger's guesses then lock only
the account's untrusted path, never the member's own browsers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.config import Config
from portal.enums import AuditAction
from portal.models import LoginDevice, Staff
from portal.services import accounts, audit, sessions

# Failures before the account (or a known browser) starts locking, and the longest lock.
FREE_FAILURES = 3
MAX_LOCK = timedelta(hours=1)
TOTP_WINDOW = 1  # one 30-second step either way: phones' clocks drift
DEVICE_PURPOSE = "login-device"
DEVICE_TOKEN_BYTES = 32
DEVICE_MAC_BYTES = 16
# A browser unused this long is a stranger again (and its cookie expires with it).
DEVICE_LIFETIME = timedelta(days=180)


class LoginFailed(Exception):
    """Wrong email, password or code, or a locked account; the message never says which."""


@dataclass(frozen=True)
class LoggedIn:
    """A successful login: who, the cookie holding one share of their key, the device cookie."""

    staff: Staff
    cookie: str
    device_cookie: str  # set again at each login: a known browser's lifetime starts over


def lock_for(failures: int) -> timedelta:
    """How long an account locks after this many failures in a row: doubling, up to an hour."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(minutes=2 ** (failures - FREE_FAILURES)), MAX_LOCK)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The TOTP time step whose code this is (within the window), else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(current + offset), code):
            return current + offset
    return None


def _device_mac(config: Config, staff_id: int, token: str) -> str:
    key = crypto.derive_server_key(config.secret_key, DEVICE_PURPOSE)
    mac = hmac.digest(key, f"{staff_id}|{token}".encode(), "sha256")[:DEVICE_MAC_BYTES]
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _device_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def known_device(
    session: Session, config: Config, staff: Staff, cookie: str, now: datetime
) -> LoginDevice | None:
    """The browser this device cookie names, if it is staff's and was used within its lifetime."""
    token, _, mac = cookie.partition(".")
    # The MAC names the account: another member's cookie, or a made-up one, costs no query.
    if not (token and mac) or not hmac.compare_digest(mac, _device_mac(config, staff.id, token)):
        return None
    device = session.get(LoginDevice, _device_id(token))
    if device is None or device.staff_id != staff.id:
        return None  # forgotten (expired, or the account's devices were cleared)
    if device.last_used_at + DEVICE_LIFETIME <= now:
        return None
    return device


def _new_device(session: Session, config: Config, staff: Staff, now: datetime) -> str:
    token = secrets.token_urlsafe(DEVICE_TOKEN_BYTES)
    session.add(
        LoginDevice(id=_device_id(token), staff_id=staff.id, created_at=now, last_used_at=now)
    )
    return f"{token}.{_device_mac(config, staff.id, token)}"


def _open_key(staff: Staff | None, password: str, config: Config) -> bytes | None:
    """Exactly one Argon2id whoever asks: the private key, or None (wrong or no account).

    Threat model: the answer's time must not tell an unknown email, a locked account, a wrong
    password and a wrong code apart, so every one of them pays this before anything is decided.
    """
    if staff is None:
        crypto.spend_password_check(password, config.kdf)
        return None
    try:
        return accounts.unlock_staff_key(staff, password)
    except crypto.WrongPassword:
        return None


def _is_locked(counter: Staff | LoginDevice, now: datetime) -> bool:
    return counter.locked_until is not None and counter.locked_until > now


def log_in(
    session: Session,
    config: Config,
    email: str,
    password: str,
    code: str,
    *,
    device: str = "",
    now: datetime | None = None,
) -> LoggedIn:
    """Check password and code; on success start a session, on failure count and maybe lock.

    `device` is the browser's device cookie ('' for none): a valid one for this account counts
    the failures on that browser instead of on the account.
    """
    now = now or clock.now()
    found = session.scalar(select(Staff).where(Staff.email == accounts.normalize_email(email)))
    staff = found if found is not None and found.active else None
    private = _open_key(staff, password, config)
    if staff is None:
        audit.record(session, AuditAction.LOGIN_FAILED, server_secret=config.secret_key)
        session.commit()
        raise LoginFailed
    known = known_device(session, config, staff, device, now) if device else None
    counter: Staff | LoginDevice = known if known is not None else staff
    if _is_locked(counter, now):
        _fail(session, config, staff, counter, now, locked=True)
    if private is None:
        _fail(session, config, staff, counter, now)
    step = matching_step(accounts.totp_secret_of(staff, config.secret_key), code, now)
    if step is None or (staff.last_totp_step is not None and step <= staff.last_totp_step):
        _fail(session, config, staff, counter, now)  # a wrong code, or one already used
    # Only the path that succeeded starts afresh: the owner's known browser logging in must
    # not hand a stranger a new round of free guesses on the account.
    counter.failed_logins = 0
    counter.locked_until = None
    staff.last_login_at = now
    staff.last_totp_step = step
    if known is None:
        device_cookie = _new_device(session, config, staff, now)
    else:
        known.last_used_at = now
        device_cookie = device
    session.execute(
        delete(LoginDevice).where(
            LoginDevice.staff_id == staff.id, LoginDevice.last_used_at <= now - DEVICE_LIFETIME
        )
    )  # what nobody used for its lifetime opens nothing any more
    audit.record(
        session,
        AuditAction.LOGIN,
        actor=staff,
        detail={"known_browser": known is not None},
        server_secret=config.secret_key,
    )
    cookie = sessions.start_session(
        session, staff, private, lifetime=timedelta(minutes=config.triage.session_minutes)
    )  # commits the login record with the session
    # What nobody resumed goes at the next login (the database store; Redis expires its own).
    sessions.purge_expired_sessions(
        session, idle_timeout=timedelta(minutes=config.triage.idle_minutes)
    )
    return LoggedIn(staff=staff, cookie=cookie, device_cookie=device_cookie)


def _fail(
    session: Session,
    config: Config,
    staff: Staff,
    counter: Staff | LoginDevice,
    now: datetime,
    locked: bool = False,
) -> NoReturn:
    """Count a failure on the path it came by (unless already locked), record it, refuse."""
    if not locked:
        counter.failed_logins += 1
        pause = lock_for(counter.failed_logins)
        if pause:
            counter.locked_until = now + pause
    detail = {
        "locked": locked,
        "failures": counter.failed_logins,
        "known_browser": counter is not staff,
    }
    audit.record(
        session,
        AuditAction.LOGIN_FAILED,
        actor=staff,
        detail=detail,
        server_secret=config.secret_key,
    )
    session.commit()
    raise LoginFailed


def log_out(session: Session, config: Config, cookie: str) -> None:
    """End the session: the server share is destroyed, the cookie alone opens nothing."""
    try:
        unlocked = sessions.resume_session(session, cookie, idle_timeout=timedelta.max)
    except sessions.SessionInvalid:
        pass  # expired or forged: nothing to record, and nothing of it may survive either
    else:
        audit.record(
            session, AuditAction.LOGOUT, actor=unlocked.staff, server_secret=config.secret_key
        )
    sessions.end_session(session, cookie)
