"""Staff sessions: the unlocked staff key split between the cookie and the server.

The server half lives in a `SessionStore`: the database (the embedded default), or Redis when
`PORTAL_REDIS_URL` is set, so that every instance behind a load balancer sees every session.
In Redis a half expires by itself after the idle timeout (refreshed on each use, never past the
absolute lifetime); in the database `purge_expired_sessions`, run at every login, deletes what
nobody resumed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal import clock, crypto
from portal.config import Config
from portal.models import Staff, StaffSession

if TYPE_CHECKING:  # redis is needed only with PORTAL_REDIS_URL (the prod extra installs it)
    import redis

TOKEN_BYTES = 32
REDIS_TIMEOUT_SECONDS = 2
# Where a database session carries the store of its app (`Session.info`, set by its factory).
STORE_INFO = "portal.session_store"


# The last use is written only when it is this old: a write (a commit, fsync on SQLite) on every
# staff request cost more than the page. The idle timeout may then end up to this much early.
TOUCH_AFTER = timedelta(seconds=30)


class SessionInvalid(Exception):
    """The session cookie is unknown, expired, ended or tampered with: log in again."""


@dataclass(frozen=True)
class UnlockedSession:
    """A resumed staff session: who it is and their private key, for this request only."""

    staff: Staff
    staff_private: bytes
    session_id: str


@dataclass(frozen=True)
class ServerHalf:
    """What the server keeps of one session: whose it is, its key share and its times."""

    staff_id: int
    server_share: bytes
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionStore(Protocol):
    """Where the server halves live; the rules (expiry, key check) are the module's, not its."""

    def add(self, session_id: str, half: ServerHalf) -> None:
        """Keep a new half."""

    def get(self, session_id: str) -> ServerHalf | None:
        """The half, or None when there is none (ended, expired, never made)."""

    def touch(self, session_id: str, half: ServerHalf, now: datetime) -> None:
        """Record a use at `now` (only if the half is still there)."""

    def delete(self, session_id: str) -> None:
        """Destroy the half."""

    def delete_of(self, staff_id: int) -> int:
        """Destroy every half of one staff member; how many there were."""

    def purge(self, now: datetime, idle_timeout: timedelta) -> int:
        """Destroy halves past their lifetime or idle too long; how many."""


class DatabaseStore:
    """Server halves as rows of `staff_sessions`, in the caller's database session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, session_id: str, half: ServerHalf) -> None:
        """Add the row; the caller's commit (in `start_session`) stores it."""
        self.session.add(
            StaffSession(
                id=session_id,
                staff_id=half.staff_id,
                server_share=half.server_share,
                created_at=half.created_at,
                last_seen_at=half.last_seen_at,
                expires_at=half.expires_at,
            )
        )

    def get(self, session_id: str) -> ServerHalf | None:
        """The row as a half."""
        row = self.session.get(StaffSession, session_id)
        if row is None:
            return None
        return ServerHalf(
            row.staff_id, row.server_share, row.created_at, row.last_seen_at, row.expires_at
        )

    def touch(self, session_id: str, half: ServerHalf, now: datetime) -> None:
        """Move the row's last use to now."""
        row = self.session.get(StaffSession, session_id)
        if row is not None:
            row.last_seen_at = now
        self.session.commit()

    def delete(self, session_id: str) -> None:
        """Delete the row, committed."""
        self.session.execute(delete(StaffSession).where(StaffSession.id == session_id))
        self.session.commit()

    def delete_of(self, staff_id: int) -> int:
        """Delete the member's rows, committed."""
        result = self.session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
        self.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    def purge(self, now: datetime, idle_timeout: timedelta) -> int:
        """Delete stale rows, committed."""
        stale = select(StaffSession.id).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - idle_timeout)
        )
        ids = list(self.session.scalars(stale))
        if ids:
            self.session.execute(delete(StaffSession).where(StaffSession.id.in_(ids)))
            self.session.commit()
        return len(ids)


class RedisStore:
    """Server halves as Redis strings that expire by themselves after the idle timeout.

    One key per session (`PREFIX:staff-session:ID`, a small JSON), and one set per member
    (`PREFIX:staff-sessions-of:STAFF`) listing their session ids, for ending them all at once.
    """

    def __init__(self, client: redis.Redis, prefix: str, idle_timeout: timedelta) -> None:
        self.client = client
        self.prefix = prefix
        self.idle_timeout = idle_timeout

    def answers(self) -> bool:
        """Whether Redis answers a ping now."""
        import redis

        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def key(self, session_id: str) -> str:
        """The Redis key of one session's half."""
        return f"{self.prefix}:staff-session:{session_id}"

    def members_key(self, staff_id: int) -> str:
        """The Redis set of one member's session ids."""
        return f"{self.prefix}:staff-sessions-of:{staff_id}"

    def ttl(self, half: ServerHalf, now: datetime) -> int:
        """Milliseconds to keep a half used at `now`: the idle timeout, capped at the lifetime."""
        left = min(self.idle_timeout, half.expires_at - now)
        return max(1, int(left / timedelta(milliseconds=1)))

    def add(self, session_id: str, half: ServerHalf) -> None:
        """Store the half with its expiry, and list it under its member."""
        members = self.members_key(half.staff_id)
        lifetime = max(1, int((half.expires_at - half.created_at) / timedelta(milliseconds=1)))
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self.key(session_id), _encode(half), px=self.ttl(half, half.created_at))
            pipe.sadd(members, session_id)
            # The list lives as long as its newest session could; older ones end before.
            pipe.pexpire(members, lifetime)
            pipe.execute()

    def get(self, session_id: str) -> ServerHalf | None:
        """The stored half; None when it expired or was destroyed."""
        raw = self.client.get(self.key(session_id))
        return None if raw is None else _decode(raw)

    def touch(self, session_id: str, half: ServerHalf, now: datetime) -> None:
        """Store the new last use and restart the idle clock; XX: an ended one stays ended."""
        used = ServerHalf(half.staff_id, half.server_share, half.created_at, now, half.expires_at)
        self.client.set(self.key(session_id), _encode(used), px=self.ttl(half, now), xx=True)

    def delete(self, session_id: str) -> None:
        """Delete the half (and its entry in the member's list)."""
        half = self.get(session_id)
        self.client.delete(self.key(session_id))
        if half is not None:
            self.client.srem(self.members_key(half.staff_id), session_id)

    def delete_of(self, staff_id: int) -> int:
        """Delete every half listed under the member."""
        members = self.members_key(staff_id)
        ids = [_text(member) for member in self.client.smembers(members)]
        deleted = int(self.client.delete(*[self.key(i) for i in ids])) if ids else 0
        self.client.delete(members)
        return deleted

    def purge(self, now: datetime, idle_timeout: timedelta) -> int:
        """Nothing to do: Redis expires every half by itself."""
        return 0


def _encode(half: ServerHalf) -> bytes:
    return json.dumps(
        {
            "staff": half.staff_id,
            "share": _b64(half.server_share),
            "created": half.created_at.isoformat(),
            "seen": half.last_seen_at.isoformat(),
            "expires": half.expires_at.isoformat(),
        }
    ).encode("ascii")


def _text(value: bytes | str) -> str:
    # Our client hands back bytes; the type also allows a client decoding responses itself.
    return value.decode("ascii") if isinstance(value, bytes) else value


def _decode(raw: bytes | str) -> ServerHalf:
    data = json.loads(raw)
    return ServerHalf(
        staff_id=int(data["staff"]),
        server_share=_unb64(data["share"]),
        created_at=datetime.fromisoformat(data["created"]),
        last_seen_at=datetime.fromisoformat(data["seen"]),
        expires_at=datetime.fromisoformat(data["expires"]),
    )


def shared_store(config: Config) -> SessionStore | None:
    """The store every instance shares when the configuration names a Redis, else None (each
    database session then keeps the halves in its own database)."""
    if not config.redis_url:
        return None
    import redis

    # A Redis that hangs fails a staff page in seconds (errors.store_unavailable), not never.
    client = redis.Redis.from_url(
        config.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    idle = timedelta(minutes=config.triage.idle_minutes)
    return RedisStore(client, config.redis_prefix, idle)


def store_for(session: Session) -> SessionStore:
    """The store of the session's app (`Session.info`): Redis when configured, else the
    database of `session`."""
    found: SessionStore | None = session.info.get(STORE_INFO)
    return found if found is not None else DatabaseStore(session)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _session_id(token: bytes) -> str:
    # Only a hash of the token is stored: a copy of the store cannot be replayed as cookies.
    return hashlib.sha256(token).hexdigest()


def start_session(
    session: Session, staff: Staff, staff_private: bytes, *, lifetime: timedelta
) -> str:
    """Store the server share of the key and return the cookie value holding the other share.

    Commits `session`: the caller's pending work (the login's audit record) goes with it.
    """
    token = secrets.token_bytes(TOKEN_BYTES)
    cookie_share, server_share = crypto.split_secret(staff_private)
    now = clock.now()
    half = ServerHalf(staff.id, server_share, now, now, now + lifetime)
    store_for(session).add(_session_id(token), half)
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
    now = now or clock.now()
    store = store_for(session)
    session_id = _session_id(token)
    half = store.get(session_id)
    if half is None:
        raise SessionInvalid("no such session")
    if now >= half.expires_at or now - half.last_seen_at >= idle_timeout:
        store.delete(session_id)
        raise SessionInvalid("the session has expired")
    staff = session.get(Staff, half.staff_id)
    try:
        private = crypto.join_secret(cookie_share, half.server_share)
        genuine = staff is not None and crypto.public_key_of(private) == staff.public_key
    except crypto.CryptoError:
        genuine = False
    if staff is None or not genuine or not staff.active:
        raise SessionInvalid("the session's key does not match its account")
    if now - half.last_seen_at >= TOUCH_AFTER:
        store.touch(session_id, half, now)
    return UnlockedSession(staff=staff, staff_private=private, session_id=session_id)


def end_session(session: Session, cookie_value: str) -> None:
    """Destroy the server share: the cookie alone then opens nothing.

    Commits `session` (the logout's audit record) in either store.
    """
    try:
        token, _share = _parse_cookie(cookie_value)
    except SessionInvalid:
        return
    store_for(session).delete(_session_id(token))
    session.commit()


def end_sessions_of(session: Session, staff: Staff) -> int:
    """End every session of one staff member (password change, account disabled)."""
    return store_for(session).delete_of(staff.id)


def purge_expired_sessions(session: Session, *, idle_timeout: timedelta) -> int:
    """Delete the server shares of sessions past their lifetime or idle too long."""
    return store_for(session).purge(clock.now(), idle_timeout)
