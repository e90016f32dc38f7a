"""The set-up behind `make demo`: sample schools, a national inbox, one account per role and a
few sample reports to triage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.config import Config
from portal.enums import Category, Role
from portal.models import InboxGrant, RecoveryKey, Report, School, Staff
from portal.services import accounts, enrolment, intake, registry

# A published password is fine only because seed_demo refuses to run in production.
DEMO_PASSWORD = "demo-password-111"  # noqa: S105
DEMO_INBOX = "national"
RECOVERY_FILE = "demo-recovery.key"
DEMO_ROLES = {
    "admin@qr111.example": Role.ADMIN,
    "triage@qr111.example": Role.TRIAGE,
    "school@qr111.example": Role.SCHOOL,
}
SCHOOLS_OF_SCHOOL_ACCOUNT = 3  # the school account prints the posters of the first few schools
# What the demo inbox holds at first: one life-safety report and a few ordinary ones.
SAMPLE_REPORTS = (
    intake.NewReport(
        Category.HOME, True, "Отчим бьёт меня и маму, сегодня снова кричал. Мне страшно идти домой."
    ),
    intake.NewReport(
        Category.BULLYING, False, "Сыныптастарым мені күнде мазақтайды, телефонымды тартып алады."
    ),
    intake.NewReport(
        Category.ONLINE,
        False,
        "Someone online keeps asking me for photos and says he will tell my parents.",
    ),
    intake.NewReport(
        Category.OTHER, False, "Хочу спросить, можно ли поменять класс, если учитель несправедлив."
    ),
)


class DemoRefused(Exception):
    """The demo set-up never runs on a production configuration."""


@dataclass(frozen=True)
class DemoAccount:
    """How to log in as one demo account: email, role, password and the TOTP secret."""

    email: str
    role: Role
    password: str
    totp_secret: str


@dataclass(frozen=True)
class Demo:
    """What the demo made: its accounts, the receipts of its sample reports, the recovery key."""

    accounts: tuple[DemoAccount, ...]
    receipts: tuple[str, ...]
    recovery_file: Path


def seed_demo(session: Session, config: Config, schools_csv: Path) -> Demo:
    """Import the sample schools and make the demo inbox, accounts and reports (idempotent)."""
    if config.is_production:
        raise DemoRefused("the demo set-up refuses to run in production")
    registry.import_schools(
        session, schools_csv.read_bytes(), actor=None, server_secret=config.secret_key
    )
    recovery_file = config.instance_path / RECOVERY_FILE
    if session.scalar(select(RecoveryKey)) is None:
        # A file left by an earlier demo database belongs to a key that no longer exists.
        recovery_file.unlink(missing_ok=True)
        accounts.init_recovery_key(session, recovery_file)
    try:
        accounts.get_inbox(session, DEMO_INBOX)
    except accounts.UnknownInbox:
        enrolment.create_inbox(session, config, None, DEMO_INBOX, None)
    made = tuple(
        _demo_account(session, config, email, role, recovery_file)
        for email, role in DEMO_ROLES.items()
    )
    return Demo(made, _sample_reports(session, config), recovery_file)


def _demo_account(
    session: Session, config: Config, email: str, role: Role, recovery_file: Path
) -> DemoAccount:
    try:
        staff = accounts.staff_by_email(session, email)
    except accounts.UnknownStaff:
        staff = accounts.add_staff(
            session, email, role, DEMO_PASSWORD, config.kdf, config.secret_key
        ).staff
    if role is Role.SCHOOL:
        _give_first_schools(session, staff)
    elif not _is_member(session, staff):
        private = accounts.read_recovery_key(session, recovery_file)
        accounts.grant_with_recovery_key(session, DEMO_INBOX, email, private)
    return DemoAccount(
        email, role, DEMO_PASSWORD, accounts.totp_secret_of(staff, config.secret_key)
    )


def _is_member(session: Session, staff: Staff) -> bool:
    inbox = accounts.get_inbox(session, DEMO_INBOX)
    grant = select(InboxGrant).where(
        InboxGrant.inbox_id == inbox.id, InboxGrant.staff_id == staff.id
    )
    return session.scalar(grant) is not None


def _give_first_schools(session: Session, staff: Staff) -> None:
    if not staff.schools:
        first = select(School).where(School.active).order_by(School.school_id)
        staff.schools.extend(session.scalars(first.limit(SCHOOLS_OF_SCHOOL_ACCOUNT)))
        session.commit()


def _sample_reports(session: Session, config: Config) -> tuple[str, ...]:
    """Send the sample reports once, from the first schools; their receipts open at /check."""
    if session.scalar(select(func.count()).select_from(Report)):
        return ()
    schools = registry.list_schools(session, include_inactive=False)
    return tuple(
        intake.send_report(session, config, schools[index % len(schools)], new).receipt
        for index, new in enumerate(SAMPLE_REPORTS)
    )
