"""Database tables (SQLAlchemy 2 declarative models)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum as PyEnum

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from portal import clock
from portal.enums import (
    Agency,
    AuditAction,
    Category,
    Channel,
    DeliveryStatus,
    EntryKind,
    InboxKind,
    NotificationKind,
    Priority,
    Role,
    Status,
)

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC timestamps and always returns them timezone-aware (SQLite forgets zones).

    to_the_minute: stored without seconds, as a child's report and its messages are (issue 20).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __init__(self, *, to_the_minute: bool = False) -> None:
        super().__init__()
        self.to_the_minute = to_the_minute

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use portal.clock.now()")
        return (
            clock.to_the_minute(value.astimezone(UTC))
            if self.to_the_minute
            else value.astimezone(UTC)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def coerce_compared_value(self, op: object, value: object) -> TypeEngine[datetime]:
        """An instant compared with a column is taken as it is: only what is stored is cut to
        the minute (`closed_at < cutoff` must not become `< cutoff's minute`)."""
        return UTCDateTime()


MINUTE = UTCDateTime(to_the_minute=True)


def enum_type(enum: type[PyEnum]) -> Enum:
    """A portable column type storing an enum's values (not its names) as short strings."""
    return Enum(
        enum,
        native_enum=False,
        # 16 fits every vocabulary but the longest agency names; columns keep their width.
        length=max(16, *(len(str(member.value)) for member in enum)),
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class School(Base):
    """A school of the national registry, with the short code printed on its posters."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[str] = mapped_column(String(64), unique=True)
    name_kk: Mapped[str] = mapped_column(String(300), default="")
    name_ru: Mapped[str] = mapped_column(String(300), default="")
    region: Mapped[str] = mapped_column(String(200), index=True)
    district: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    code: Mapped[str] = mapped_column(String(16), unique=True)
    check_word: Mapped[str] = mapped_column(String(32))
    code_issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=clock.now, onupdate=clock.now
    )

    def name_for(self, language: str) -> str:
        """The school's name in the given language, falling back to the other one."""
        if language == "ru":
            return self.name_ru or self.name_kk
        return self.name_kk or self.name_ru

    def __repr__(self) -> str:
        return f"<School {self.school_id} {self.code}>"


class RecoveryKey(Base):
    """The public half of the offline recovery key; its private half never touches the server."""

    __tablename__ = "recovery_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Inbox(Base):
    """A triage team (national, or one region) with its own X25519 key pair."""

    __tablename__ = "inboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Immutable: every wrapped copy of the inbox key is bound to this name.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[InboxKind] = mapped_column(enum_type(InboxKind))
    region: Mapped[str | None] = mapped_column(String(200), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The inbox private key wrapped for the offline recovery key.
    key_for_recovery: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_key_id: Mapped[int] = mapped_column(ForeignKey("recovery_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    grants: Mapped[list[InboxGrant]] = relationship(back_populates="inbox")


class Staff(Base):
    """A staff account: its private key is sealed under the member's password."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[Role] = mapped_column(enum_type(Role))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The TOTP secret, sealed under a key derived from the server secret.
    sealed_totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Login throttling: failures since the last success, and a lock after too many.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last TOTP time step accepted: a code is good for one login only.
    last_totp_step: Mapped[int | None] = mapped_column(Integer)

    grants: Mapped[list[InboxGrant]] = relationship(back_populates="staff")
    schools: Mapped[list[School]] = relationship(secondary="staff_schools")


class StaffSchool(Base):
    """A school whose posters a `school` account may print (and nothing else)."""

    __tablename__ = "staff_schools"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    school_pk: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )


class InboxGrant(Base):
    """An inbox's private key wrapped for one staff member: membership of the inbox."""

    __tablename__ = "inbox_grants"
    __table_args__ = (UniqueConstraint("inbox_id", "staff_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    inbox: Mapped[Inbox] = relationship(back_populates="grants")
    staff: Mapped[Staff] = relationship(back_populates="grants")


# The predicate of the open-queue index; the queue's own conditions must imply it (see triage).
OPEN_REPORT = text(f"status <> '{Status.CLOSED.value}' AND erased_at IS NULL")


class Report(Base):
    """A child's report: triage metadata in the clear, its keys wrapped, its text sealed."""

    __tablename__ = "reports"
    __table_args__ = (
        # The inbox's default view, open reports life-safety first then oldest: walked in
        # order, it stops after a page. Partial: only the (few) open reports are in it, with
        # what the filters and counts of open reports read, so that those need no table rows.
        Index(
            "ix_reports_open_queue",
            "priority",
            "created_at",
            "id",
            "inbox_id",
            "status",
            "category",
            "assignee_id",
            sqlite_where=OPEN_REPORT,
            postgresql_where=OPEN_REPORT,
        ),
        # The open reports of the last days, by time: the inbox's bursts (many reports to one
        # school close together, triage.BURST_REPORTS) are counted among them per school.
        Index(
            "ix_reports_open_school",
            "created_at",
            "school_pk",
            "priority",
            "id",
            "inbox_id",
            "status",
            "category",
            "assignee_id",
            sqlite_where=OPEN_REPORT,
            postgresql_where=OPEN_REPORT,
        ),
        # One status's list (closed, referred, ...) in the same order, and its count: the
        # erased reports, which pile up over the years, are outside the range read.
        Index(
            "ix_reports_queue", "status", "erased_at", "priority", "created_at", "id", "inbox_id"
        ),
        # A school's or a region's reports (the school filters): counted, and their page
        # chosen, from the index alone.
        Index(
            "ix_reports_school",
            "school_pk",
            "status",
            "erased_at",
            "inbox_id",
            "priority",
            "created_at",
            "id",
        ),
        # Someone's (or nobody's) reports, by category too: the same.
        Index(
            "ix_reports_assignee",
            "assignee_id",
            "erased_at",
            "status",
            "inbox_id",
            "category",
            "priority",
            "created_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    # The school's row id (School.school_id is the registry's own identifier).
    school_pk: Mapped[int] = mapped_column(ForeignKey("schools.id"))  # ix_reports_school
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id"))
    category: Mapped[Category] = mapped_column(enum_type(Category))
    priority: Mapped[Priority] = mapped_column(enum_type(Priority))
    # The lexicon rule that made it P1 at intake (risk.Rule.id: category, language and the
    # entry as the lexicon writes it, never the child's words), for the inbox's reason and the
    # per-rule correction counts; NULL when none matched.
    risk_rule: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[Status] = mapped_column(enum_type(Status), default=Status.NEW)
    # Keyed hash of the receipt: finds the report, reveals nothing; NULL once erased.
    receipt_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # Both NULL once erased: nothing then opens the sealed entries.
    key_for_inbox: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_for_receipt: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Every time of a report and its messages is stored to the minute (MINUTE): enough for
    # the target times (15 minutes for a P1), too coarse to match a log line or a school
    # network's record of a device to the second; an erased report keeps its month only.
    created_at: Mapped[datetime] = mapped_column(MINUTE, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(MINUTE, default=clock.now, onupdate=clock.now)
    # The first staff reply: a report waits for one until then (target times count to it).
    answered_at: Mapped[datetime | None] = mapped_column(MINUTE)
    assignee_id: Mapped[int | None] = mapped_column(  # ix_reports_assignee
        ForeignKey("staff.id", ondelete="SET NULL")
    )
    referred_to: Mapped[Agency | None] = mapped_column(enum_type(Agency))
    closed_at: Mapped[datetime | None] = mapped_column(MINUTE)
    erased_at: Mapped[datetime | None] = mapped_column(MINUTE)

    school: Mapped[School] = relationship()
    entries: Mapped[list[Entry]] = relationship(
        back_populates="report", order_by="Entry.position", cascade="all, delete-orphan"
    )


class Entry(Base):
    """One sealed entry of a report's conversation: the child's or staff's message, or a note."""

    __tablename__ = "report_entries"
    __table_args__ = (UniqueConstraint("report_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(MINUTE, default=clock.now)

    report: Mapped[Report] = relationship(back_populates="entries")


class FigureMonth(Base):
    """A closed month whose figures were counted once (figures.snapshot): they never change."""

    __tablename__ = "figure_months"

    # "2026-11": a calendar month in Kazakhstan time.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class FigureCount(Base):
    """How many reports of one region, category, priority and status a closed month had."""

    __tablename__ = "figure_counts"

    month: Mapped[str] = mapped_column(
        ForeignKey("figure_months.month", ondelete="CASCADE"), primary_key=True
    )
    region: Mapped[str] = mapped_column(String(200), primary_key=True)
    category: Mapped[Category] = mapped_column(enum_type(Category), primary_key=True)
    priority: Mapped[Priority] = mapped_column(enum_type(Priority), primary_key=True)
    status: Mapped[Status] = mapped_column(enum_type(Status), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class StaffSession(Base):
    """The server half of a staff session's unlocked key; the cookie holds the other half."""

    __tablename__ = "staff_sessions"

    # SHA-256 of the session token: a stolen table cannot be replayed as cookies.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    server_share: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginDevice(Base):
    """A browser that logged in as a staff member: its failed logins count apart (OWASP's
    device cookie), so strangers' failures never lock its owner out."""

    __tablename__ = "login_devices"

    # SHA-256 of the device cookie's token: a copy of the table makes no cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # The last login from it: unused for login.DEVICE_LIFETIME, it is a stranger again.
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """One record of the append-only audit log, chained to the one before it by an HMAC."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 1, 2, 3, ... without gaps: a removed row shows as a gap, a moved one as a broken link.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    action: Mapped[AuditAction] = mapped_column(enum_type(AuditAction), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # Copied, so the record still says who it was after the account is gone.
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    report_public_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # Small JSON of facts (counts, old and new status); never a child's or staff's text.
    detail: Mapped[str] = mapped_column(String(2000), default="{}")
    chain: Mapped[str] = mapped_column(String(64), unique=True)


class StaffInvitation(Base):
    """A one-time enrolment link: a new account's invitation, or an existing one's TOTP reset."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the link's token: a copy of the table cannot be used to enrol.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[Role] = mapped_column(enum_type(Role))
    # Set for a TOTP reset of an existing account; NULL for the invitation of a new one.
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The TOTP secret last shown on the enrolment page until confirmed, sealed with the server
    # key; a new one is drawn each time the page shows one.
    sealed_totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    # SHA-256 of the key of the browser that opened the link first: from then on only that
    # browser (its enrolment cookie) goes on, whoever else learns the link.
    browser_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    staff: Mapped[Staff | None] = relationship(foreign_keys=[staff_id])
    schools: Mapped[list[School]] = relationship(secondary="staff_invitation_schools")


class StaffInvitationSchool(Base):
    """A school the invited `school` account will print posters for."""

    __tablename__ = "staff_invitation_schools"

    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("staff_invitations.id", ondelete="CASCADE"), primary_key=True
    )
    school_pk: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )


class NotificationChoice(Base):
    """A member's own notification choices; without a row, the defaults (notify.choices_of)."""

    __tablename__ = "notification_choices"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    # NULL: the login e-mail, whatever it becomes.
    address: Mapped[str | None] = mapped_column(String(254))
    p1_at_once: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class EscalationMember(Base):
    """Someone an inbox's unopened P1 reports go to (named by an admin)."""

    __tablename__ = "escalation_members"

    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class NotificationEvent(Base):
    """The outbox: something staff must be told, written with what caused it (a new P1 in
    the report's own transaction); a worker fans it out into deliveries."""

    __tablename__ = "notification_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What makes it once only: "p1:<report>", "escalation:<report>:<n>", "digest:<inbox>:<day>".
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[NotificationKind] = mapped_column(enum_type(NotificationKind))
    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="SET NULL"), index=True
    )
    report_count: Mapped[int] = mapped_column(Integer, default=1)
    # To the minute, like the report's own times (MINUTE): the event must not keep what the
    # report does not.
    created_at: Mapped[datetime] = mapped_column(MINUTE, default=clock.now)
    # NULL until a worker has written its deliveries.
    fanned_out_at: Mapped[datetime | None] = mapped_column(MINUTE, index=True)

    report: Mapped[Report | None] = relationship()
    inbox: Mapped[Inbox] = relationship()


class NotificationDelivery(Base):
    """One event to one recipient: claimed by a worker with a lease, sent, then marked."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("notification_events.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    # The e-mail address, or "webhook": one delivery per event and recipient, ever.
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # A claim: until then no other worker takes it; a worker killed mid-send lets it lapse.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leased_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(MINUTE)  # to the minute, as the report
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(MINUTE, default=clock.now)

    event: Mapped[NotificationEvent] = relationship()
