"""Staff sessions: the unlocked staff key split between the cookie and the server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import crypto
from portal.models import Staff, StaffSession, utcnow

TOKEN_BYTES = 32


class SessionInvalid(Exception):
    """The session cookie is unknown, expired, ended or tampered with: log in again."""


@dataclass(frozen=True)
class UnlockedSession:
    """A resumed staff session: who it is and their private key, for this request only."""

    staff: Staff
    staff_private: bytes
    session_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _session_id(token: bytes) -> str:
    # Only a hash of the token is stored: a copy of the table cannot be replayed as cookies.
    return hashlib.sha256(token).hexdigest()


def start_session(
    session: Session, staff: Staff, staff_private: bytes, *, lifetime: timedelta
) -> str:
    """Store the server share of the key and return the cookie value holding the other share."""
    token = secrets.token_bytes(TOKEN_BYTES)
    cookie_share, server_share = crypto.split_secret(staff_private)
    now = utcnow()
    session.add(
        StaffSession(
            id=_session_id(token),
            staff_id=staff.id,
            server_share=server_share,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    session.commit()
    return f"{_b64(token)}.{_b64(cookie_share)}"


def _parse_cookie(cookie_value: str) -> tuple[bytes, bytes]:
    try:
        token_text, share_text = cookie_value.split(".")
        token, share = _unb64(token_text), _unb64(share_text)
    except (ValueError, binascii.Error):
        raise SessionInvalid("malformed session cookie") from None
    if len(token) != TOKEN_BYTES:
        raise SessionInvalid("malformed session cookie")
    return token, share


def resume_session(
    session: Session, cookie_value: str, *, idle_timeout: timedelta, now: datetime | None = None
) -> UnlockedSession:
    """Join the two shares again; an idle, expired or forged session is ended and refused."""
    token, cookie_share = _parse_cookie(cookie_value)
    now = now or utcnow()
    record = session.get(StaffSession, _session_id(token))
    if record is None:
        raise SessionInvalid("no such session")
    if now >= record.expires_at or now - record.last_seen_at >= idle_timeout:
        session.delete(record)
        session.commit()
        raise SessionInvalid("the session has expired")
    staff = session.get(Staff, record.staff_id)
    try:
        private = crypto.join_secret(cookie_share, record.server_share)
        genuine = staff is not None and crypto.public_key_of(private) == staff.public_key
    except crypto.CryptoError:
        genuine = False
    if staff is None or not genuine or not staff.active:
        raise SessionInvalid("the session's key does not match its account")
    record.last_seen_at = now
    session.commit()
    return UnlockedSession(staff=staff, staff_private=private, session_id=record.id)


def end_session(session: Session, cookie_value: str) -> None:
    """Destroy the server share: the cookie alone then opens nothing."""
    try:
        token, _share = _parse_cookie(cookie_value)
    except SessionInvalid:
        return
    session.execute(delete(StaffSession).where(StaffSession.id == _session_id(token)))
    session.commit()


def end_sessions_of(session: Session, staff: Staff) -> int:
    """End every session of one staff member (password change, account disabled)."""
    result = session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired_sessions(session: Session, *, idle_timeout: timedelta) -> int:
    """Delete the server shares of sessions past their lifetime or idle too long."""
    now = utcnow()
    stale = select(StaffSession.id).where(
        (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - idle_timeout)
    )
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(StaffSession).where(StaffSession.id.in_(ids)))
        session.commit()
    return len(ids)
