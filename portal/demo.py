"""The set-up behind `make demo`: sample schools, a national inbox and one demo staff account."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import accounts, registry
from portal.config import Config
from portal.enums import Role
from portal.models import InboxGrant, RecoveryKey

DEMO_EMAIL = "demo@qr111.example"
# A published password is fine only because seed_demo refuses to run in production.
DEMO_PASSWORD = "demo-password-111"  # noqa: S105
DEMO_INBOX = "national"
RECOVERY_FILE = "demo-recovery.key"


class DemoRefused(Exception):
    """The demo set-up never runs on a production configuration."""


@dataclass(frozen=True)
class DemoAccount:
    """How to log in to the demo: email, password and the TOTP secret."""

    email: str
    password: str
    totp_secret: str
    recovery_file: Path


def seed_demo(session: Session, config: Config, schools_csv: Path) -> DemoAccount:
    """Import the sample schools and make the demo inbox and staff member (idempotent)."""
    if config.is_production:
        raise DemoRefused("the demo set-up refuses to run in production")
    registry.import_schools(session, registry.parse_schools_csv(schools_csv.read_bytes()))
    recovery_file = config.instance_path / RECOVERY_FILE
    if session.scalar(select(RecoveryKey)) is None:
        # A file left by an earlier demo database belongs to a key that no longer exists.
        recovery_file.unlink(missing_ok=True)
        accounts.init_recovery_key(session, recovery_file)
    try:
        inbox = accounts.get_inbox(session, DEMO_INBOX)
    except accounts.UnknownInbox:
        inbox = accounts.create_inbox(session, DEMO_INBOX)
    try:
        staff = accounts.get_staff(session, DEMO_EMAIL)
    except accounts.UnknownStaff:
        staff = accounts.add_staff(
            session, DEMO_EMAIL, Role.TRIAGE, DEMO_PASSWORD, config.kdf, config.secret_key
        ).staff
    member = session.scalar(
        select(InboxGrant).where(InboxGrant.inbox_id == inbox.id, InboxGrant.staff_id == staff.id)
    )
    if member is None:
        private = accounts.read_recovery_key(session, recovery_file)
        accounts.grant_with_recovery_key(session, DEMO_INBOX, DEMO_EMAIL, private)
    return DemoAccount(
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        totp_secret=accounts.totp_secret_of(staff, config.secret_key),
        recovery_file=recovery_file,
    )
