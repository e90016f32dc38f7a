"""Keys and accounts: the recovery key, inboxes, staff members and their inbox grants."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from portal import clock, crypto
from portal.enums import AuditAction, InboxKind, Role
from portal.models import Inbox, InboxGrant, RecoveryKey, Staff
from portal.services import audit
from portal.services.text import LazyText
from portal.services.text import lazy as _l

RECOVERY_FILE_HEADER = "QR 111 recovery key"
MIN_PASSWORD_LENGTH = 12
# zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more (docs/crypto.md).
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input; a password's first 72 characters are judged, which is enough.
ZXCVBN_MAX_LENGTH = 72
TOTP_PURPOSE = "staff-totp"
# One @, something on each side, no space or control character (it goes into otpauth:// URIs).
EMAIL_PATTERN = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
# P6: school administrators see posters, never reports, so they never hold an inbox key.
INBOX_ROLES = frozenset({Role.TRIAGE, Role.ADMIN})


class AccountError(Exception):
    """An account or key operation could not be done; the message says why."""


class RecoveryKeyExists(AccountError):
    """`keys init` was already run on this database."""


class NoRecoveryKey(AccountError):
    """No recovery key yet: run `keys init` before creating inboxes."""


class BadRecoveryKeyFile(AccountError):
    """The file is not this server's recovery key."""


class UnknownInbox(AccountError):
    """No inbox has that name."""


class UnknownStaff(AccountError):
    """No staff member has that email address."""


class DuplicateStaff(AccountError):
    """A staff member with that email address exists already."""


class WeakPassword(AccountError):
    """The password is too short or too easy to guess; the message says why, translated."""

    def __str__(self) -> str:
        """The reason and the advice, each read in the page's language."""
        return " ".join(str(part) for part in self.args)


class NotAMember(AccountError):
    """The staff member holds no grant for that inbox."""


class NoReportAccess(AccountError):
    """The staff member's role never reads reports, so it is never granted an inbox (P6)."""


@dataclass(frozen=True)
class NewStaff:
    """A staff account just made, with the TOTP secret to show once."""

    staff: Staff
    totp_secret: str


def normalize_email(email: str) -> str:
    """Email addresses compare case-insensitively and without surrounding space."""
    return email.strip().lower()


def init_recovery_key(session: Session, out_path: Path, *, commit: bool = True) -> RecoveryKey:
    """Make the recovery key pair; its private half goes to out_path (0600) and nowhere else."""
    if session.scalar(select(RecoveryKey)) is not None:
        raise RecoveryKeyExists("a recovery key exists already; it is made once per database")
    pair = crypto.generate_keypair()
    encoded = base64.urlsafe_b64encode(pair.private).decode("ascii")
    text = (
        f"{RECOVERY_FILE_HEADER}\n"
        "Keep this file offline. With it, anyone can read every inbox of the server.\n"
        f"created: {clock.now().isoformat(timespec='seconds')}\n"
        f"public: {pair.public.hex()}\n"
        f"private: {encoded}\n"
    )
    try:
        # O_EXCL: never overwrite an existing key file (it may be the only copy of another key).
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise AccountError(f"cannot create {out_path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    record = RecoveryKey(public_key=pair.public)
    session.add(record)
    _commit_or_flush(session, commit)
    return record


def read_recovery_key(session: Session, path: Path) -> bytes:
    """The recovery private key from its file, checked against this server's public half."""
    record = _recovery_key(session)
    try:
        lines = path.read_text(encoding="ascii").splitlines()
        encoded = next(
            line.split(":", 1)[1].strip() for line in lines if line.startswith("private:")
        )
        private = base64.urlsafe_b64decode(encoded)
        matches = crypto.public_key_of(private) == record.public_key
    except (OSError, UnicodeDecodeError, StopIteration, ValueError, crypto.CryptoError):
        raise BadRecoveryKeyFile(f"{path} is not a readable recovery key file") from None
    if not matches:
        raise BadRecoveryKeyFile(f"{path} is not the recovery key of this server")
    return private


def _recovery_key(session: Session) -> RecoveryKey:
    record = session.scalar(select(RecoveryKey).order_by(RecoveryKey.id.desc()))
    if record is None:
        raise NoRecoveryKey("no recovery key: run `flask --app portal keys init --out FILE`")
    return record


def new_inbox(session: Session, name: str, region: str | None = None) -> tuple[Inbox, bytes]:
    """The keys of a new inbox, wrapped for the recovery key, uncommitted, with its private key
    (to grant its first member). The action, with its rules and record: enrolment.create_inbox."""
    recovery = _recovery_key(session)
    name = name.strip()
    if not name or session.scalar(select(Inbox).where(Inbox.name == name)) is not None:
        raise AccountError(f"inbox name {name!r} is empty or taken")
    if region is not None:
        region = region.strip()  # it must equal the registry's region exactly
        if not region:
            raise AccountError("the region is empty; omit it for the national inbox")
    if region is not None and session.scalar(select(Inbox).where(Inbox.region == region)):
        raise AccountError(f"region {region!r} has an inbox already")
    pair = crypto.generate_keypair()
    inbox = Inbox(
        name=name,
        kind=InboxKind.NATIONAL if region is None else InboxKind.REGION,
        region=region,
        public_key=pair.public,
        key_for_recovery=crypto.grant_inbox(pair.private, recovery.public_key, name),
        recovery_key_id=recovery.id,
    )
    session.add(inbox)
    return inbox, pair.private


def get_inbox(session: Session, name: str) -> Inbox:
    """The inbox with this name; raises UnknownInbox."""
    inbox = session.scalar(select(Inbox).where(Inbox.name == name))
    if inbox is None:
        raise UnknownInbox(f"no inbox named {name!r}")
    return inbox


def list_inboxes(session: Session) -> list[Inbox]:
    """All inboxes by name."""
    return list(session.scalars(select(Inbox).order_by(Inbox.name)))


def staff_by_email(session: Session, email: str) -> Staff:
    """The staff member with this email address; raises UnknownStaff."""
    staff = session.scalar(select(Staff).where(Staff.email == normalize_email(email)))
    if staff is None:
        raise UnknownStaff(f"no staff member with email {email!r}")
    return staff


def add_staff(
    session: Session,
    email: str,
    role: Role,
    password: str,
    params: crypto.KdfParams,
    server_secret: str,
    *,
    totp_secret: str | None = None,
    commit: bool = True,
) -> NewStaff:
    """Create a staff account: a key pair sealed under the password, and a TOTP secret.

    totp_secret: one the member has already confirmed (enrolment); a new one otherwise.
    """
    email = normalize_email(email)
    if not EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address")
    check_password(password, email)
    if session.scalar(select(Staff).where(Staff.email == email)) is not None:
        raise DuplicateStaff(f"{email} has an account already")
    pair = crypto.generate_keypair()
    totp_secret = totp_secret or pyotp.random_base32()
    staff = Staff(
        email=email,
        role=role,
        public_key=pair.public,
        sealed_private_key=crypto.seal_private_key(pair.private, password, params),
        sealed_totp_secret=seal_totp_secret(totp_secret, email, server_secret),
    )
    session.add(staff)
    _commit_or_flush(session, commit)
    return NewStaff(staff=staff, totp_secret=totp_secret)


# zxcvbn's warnings that we can say in our own (translated) words; others get the general one.
_SAID_AS: tuple[tuple[tuple[str, ...], LazyText], ...] = (
    (
        (
            "This is a top-10 common password.",
            "This is a top-100 common password.",
            "This is a very common password.",
            "This is similar to a commonly used password.",
        ),
        _l("This password is one of the most common ones; it is among the first to be tried."),
    ),
    (
        ("Straight rows of keys are easy to guess.", "Short keyboard patterns are easy to guess."),
        _l("Rows and patterns of keyboard keys are easy to guess."),
    ),
    (
        (
            'Repeats like "aaa" are easy to guess.',
            'Repeats like "abcabcabc" are only slightly harder to guess than "abc".',
        ),
        _l("Repeated characters or words are easy to guess."),
    ),
    (
        ('Sequences like "abc" or "6543" are easy to guess.',),
        _l("Sequences such as “abc” or “6543” are easy to guess."),
    ),
    (
        ("Recent years are easy to guess.", "Dates are often easy to guess."),
        _l("Dates and years are easy to guess."),
    ),
    (
        (
            "A word by itself is easy to guess.",
            "Names and surnames by themselves are easy to guess.",
            "Common names and surnames are easy to guess.",
        ),
        _l("A single word or name is easy to guess."),
    ),
)
_WARNINGS = {warning: message for warnings, message in _SAID_AS for warning in warnings}
_OWN_EMAIL = _l("The password must not be made of your email address or its parts.")
_TOO_EASY = _l("This password is too easy to guess.")
_ADVICE = _l("A few unrelated words, with spaces between them, make a strong password.")


def email_parts(email: str) -> list[str]:
    """The address and its pieces (name, domain, their words): what a guesser tries first."""
    email = normalize_email(email)
    local, _at, domain = email.partition("@")
    return [email, local, domain, *(part for part in re.split(r"\W+", email) if part)]


def check_password(password: str, email: str) -> None:
    """The one rule for a password a member chooses; WeakPassword says why, translated."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            _l("The password needs at least %(count)d characters.", count=MIN_PASSWORD_LENGTH)
        )
    judged = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=email_parts(email))
    if judged["score"] >= MIN_PASSWORD_SCORE:
        return
    if any(match.get("dictionary_name") == "user_inputs" for match in judged["sequence"]):
        reason = _OWN_EMAIL
    else:
        reason = _WARNINGS.get(judged["feedback"]["warning"], _TOO_EASY)
    raise WeakPassword(reason, _ADVICE)


def seal_totp_secret(totp_secret: str, email: str, server_secret: str) -> bytes:
    """A TOTP secret sealed with the server key, bound to the account's email address."""
    return crypto.seal_with_server_key(
        server_secret, TOTP_PURPOSE, totp_secret.encode("ascii"), context=email.encode()
    )


def totp_secret_of(staff: Staff, server_secret: str) -> str:
    """The staff member's TOTP secret (for the login check)."""
    opened = crypto.open_with_server_key(
        server_secret, TOTP_PURPOSE, staff.sealed_totp_secret, context=staff.email.encode()
    )
    return opened.decode("ascii")


def unlock_staff_key(staff: Staff, password: str) -> bytes:
    """The staff member's private key; raises crypto.WrongPassword."""
    return crypto.open_private_key(staff.sealed_private_key, password)


def check_can_hold_inbox(role: Role, email: str) -> None:
    """Raise NoReportAccess unless this role may be granted an inbox (P6)."""
    if role not in INBOX_ROLES:
        raise NoReportAccess(f"{normalize_email(email)} ({role.value}) may not read reports")


def grant(
    session: Session, inbox: Inbox, inbox_private: bytes, member: Staff, *, commit: bool = True
) -> InboxGrant:
    """Make member part of inbox by wrapping the inbox key for them (idempotent)."""
    check_can_hold_inbox(member.role, member.email)
    if crypto.public_key_of(inbox_private) != inbox.public_key:
        raise AccountError(f"the key given is not the private key of inbox {inbox.name}")
    existing = session.scalar(
        select(InboxGrant).where(InboxGrant.inbox_id == inbox.id, InboxGrant.staff_id == member.id)
    )
    wrapped = crypto.grant_inbox(inbox_private, member.public_key, inbox.name)
    if existing is not None:
        existing.wrapped_key = wrapped
        _commit_or_flush(session, commit)
        return existing
    record = InboxGrant(inbox=inbox, staff=member, wrapped_key=wrapped)
    session.add(record)
    _commit_or_flush(session, commit)
    return record


def grant_with_recovery_key(
    session: Session, inbox_name: str, email: str, recovery_private: bytes, *, commit: bool = True
) -> InboxGrant:
    """Grant an inbox to a member with the offline recovery key (when no member can)."""
    inbox = get_inbox(session, inbox_name)
    inbox_private = crypto.open_inbox_key(inbox.key_for_recovery, recovery_private, inbox.name)
    member = staff_by_email(session, email)
    return grant(session, inbox, inbox_private, member, commit=commit)


def _commit_or_flush(session: Session, commit: bool) -> None:
    # commit=False: the caller's action commits this with its audit record.
    if commit:
        session.commit()
    else:
        session.flush()


# ---- the operator's actions (`flask keys init|recover`, `flask staff add`) --------------------
# Each is committed together with its audit record. No actor: the command line has no staff
# login; "via" says where the change came from.


def _on_record(
    session: Session, server_secret: str, action: AuditAction, command: str, **detail: str | None
) -> None:
    audit.record(
        session,
        action,
        detail={"via": "cli", "command": command, **detail},
        server_secret=server_secret,
    )


def create_recovery_key(session: Session, server_secret: str, out_path: Path) -> RecoveryKey:
    """`keys init`: the recovery key pair, its private half written to out_path, on record."""
    made = init_recovery_key(session, out_path, commit=False)
    _on_record(session, server_secret, AuditAction.KEYS, "keys init")
    session.commit()
    return made


def recover_inbox(
    session: Session, server_secret: str, inbox_name: str, email: str, recovery_private: bytes
) -> InboxGrant:
    """`keys recover`: an inbox granted to a member with the recovery key, on record."""
    granted = grant_with_recovery_key(session, inbox_name, email, recovery_private, commit=False)
    member = normalize_email(email)
    _on_record(
        session, server_secret, AuditAction.KEYS, "keys recover", inbox=inbox_name, member=member
    )
    session.commit()
    return granted


def create_staff_account(
    session: Session,
    params: crypto.KdfParams,
    server_secret: str,
    email: str,
    role: Role,
    password: str,
    inbox: tuple[str, bytes] | None = None,
) -> NewStaff:
    """`staff add`: an account, and with (inbox name, recovery private key) its first inbox,
    on record."""
    created = add_staff(session, email, role, password, params, server_secret, commit=False)
    member = created.staff.email
    _on_record(
        session, server_secret, AuditAction.STAFF, "staff add", member=member, role=role.value
    )
    if inbox is not None:
        inbox_name, recovery_private = inbox
        grant_with_recovery_key(session, inbox_name, member, recovery_private, commit=False)
        _on_record(
            session, server_secret, AuditAction.KEYS, "staff add", inbox=inbox_name, member=member
        )
    session.commit()
    return created


def open_inbox_key(session: Session, inbox: Inbox, staff: Staff, staff_private: bytes) -> bytes:
    """The inbox private key through the member's grant; raises NotAMember."""
    record = session.scalar(
        select(InboxGrant).where(InboxGrant.inbox_id == inbox.id, InboxGrant.staff_id == staff.id)
    )
    if record is None:
        raise NotAMember(f"{staff.email} is not a member of inbox {inbox.name}")
    return crypto.open_inbox_key(record.wrapped_key, staff_private, inbox.name)


TOTP_ISSUER = "QR 111"


def totp_uri(secret: str, email: str, issuer: str = TOTP_ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or a link) for a secret."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)
