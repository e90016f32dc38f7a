"""Staff login: password and TOTP, throttled per account; the session keeps the key split."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.config import Config
from portal.enums import AuditAction
from portal.models import Staff
from portal.services import accounts, audit, sessions

# Failures before the account starts locking, and the longest lock.
FREE_FAILURES = 3
MAX_LOCK = timedelta(hours=1)
TOTP_WINDOW = 1  # one 30-second step either way: phones' clocks drift


class LoginFailed(Exception):
    """Wrong email, password or code, or a locked account; the message never says which."""


@dataclass(frozen=True)
class LoggedIn:
    """A successful login: who, and the cookie value holding one share of their key."""

    staff: Staff
    cookie: str


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


def log_in(
    session: Session,
    config: Config,
    email: str,
    password: str,
    code: str,
    *,
    now: datetime | None = None,
) -> LoggedIn:
    """Check password and code; on success start a session, on failure count and maybe lock."""
    now = now or clock.now()
    staff = session.scalar(select(Staff).where(Staff.email == accounts.normalize_email(email)))
    if staff is None or not staff.active:
        # The same Argon2id cost as a real account: timing does not tell who has one.
        crypto.spend_password_check(password, config.kdf)
        audit.record(session, AuditAction.LOGIN_FAILED, server_secret=config.secret_key)
        session.commit()
        raise LoginFailed
    if staff.locked_until is not None and staff.locked_until > now:
        _fail(session, config, staff, now, locked=True)
    try:
        private = accounts.unlock_staff_key(staff, password)
    except crypto.WrongPassword:
        _fail(session, config, staff, now)
    step = matching_step(accounts.totp_secret_of(staff, config.secret_key), code, now)
    if step is None or (staff.last_totp_step is not None and step <= staff.last_totp_step):
        _fail(session, config, staff, now)  # a wrong code, or one already used
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    staff.last_totp_step = step
    audit.record(session, AuditAction.LOGIN, actor=staff, server_secret=config.secret_key)
    cookie = sessions.start_session(
        session, staff, private, lifetime=timedelta(minutes=config.triage.session_minutes)
    )  # commits the login record with the session
    # What nobody resumed goes at the next login (the database store; Redis expires its own).
    sessions.purge_expired_sessions(
        session, idle_timeout=timedelta(minutes=config.triage.idle_minutes)
    )
    return LoggedIn(staff=staff, cookie=cookie)


def _fail(
    session: Session, config: Config, staff: Staff, now: datetime, locked: bool = False
) -> None:
    if not locked:
        staff.failed_logins += 1
        pause = lock_for(staff.failed_logins)
        if pause:
            staff.locked_until = now + pause
    detail = {"locked": locked, "failures": staff.failed_logins}
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
