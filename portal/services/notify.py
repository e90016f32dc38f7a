"""Content-free notifications to staff: the outbox, its fan-out, and delivery by workers.

A new P1 report's event is written in the report's own transaction (`outbox_new_report`); the
child's request never waits on mail. A worker (`flask --app portal notify run`, several at once
on PostgreSQL) repeats `run_once`: it adds the events now due (escalations of P1 reports nobody
opened, the daily digest), fans each event out into one delivery per recipient (a unique key:
one delivery per event and address, ever), then claims due deliveries with a lease, sends each
and marks it sent together with its audit record.

**What "exactly once per recipient" means here.** A delivery is claimed (PostgreSQL: `SELECT
... FOR UPDATE SKIP LOCKED`, then a conditional UPDATE that also serialises SQLite) for
`LEASE`; it is sent; it is marked sent in one commit with its audit record, before the next
message goes. A worker killed before the server accepted the message leaves it unsent: once the
lease lapses another worker sends it, once. A worker killed *after* the server accepted it
(its 250 reply to the message, or the webhook's 2xx) and *before* its mark commits cannot know
the message left: the next worker sends it again. That window is one database commit long;
the copy carries the same Message-ID (`<qr111-DELIVERY-EVENT@HOST>`) and the same webhook
`Idempotency-Key`, so the receiver can drop it. Nothing sends twice otherwise: a claim is one
worker's at a time, and renewed just before each send for `LEASE`, longer than a send can take
(`SEND_TIMEOUT_SECONDS` a network step, four times over); a worker whose claim lapsed leaves it
alone.

**A database outage does not end a worker.** `run` rolls back, says so once in the log, waits
(doubling, up to `OutageBackoff.longest`) and carries on when the database answers; what was
claimed before lapses and is taken again. A message handed over just before the database went
is the duplicate window above, stretched over the outage: sent again, under the same key.

**A message no longer needed is not sent.** Just before each send, under the renewed claim, a
P1 or escalation message asks again whether its report still waits unopened (not closed, not
erased): a report opened after its message was queued (an escalation step, a retry while the
mail server was down) drops the message, as DROPPED with its audit record. What is left is the
one send's own time: a report opened while its message is being handed over still gets it.

**Nothing of the report leaves.** A message says which inbox, what kind (new P1, unopened P1,
digest), how many and how long waiting, and links to the desk: no text, category, school,
region or report id (tests/services/test_notify.py searches every message sent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import urlsplit

from babel.support import NullTranslations, Translations
from sqlalchemy import Table, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from portal import clock
from portal.config import Config, Notifications, SmtpServer
from portal.enums import AuditAction, Channel, DeliveryStatus, NotificationKind, Priority, Role
from portal.enums import Status as ReportStatus
from portal.models import (
    AuditEvent,
    EscalationMember,
    Inbox,
    InboxGrant,
    NotificationChoice,
    NotificationDelivery,
    NotificationEvent,
    Report,
    Staff,
)
from portal.services import audit
from portal.services.accounts import normalize_email
from portal.services.reports import StoredReport
from portal.services.text import LazyText
from portal.services.text import lazy as _l

logger = logging.getLogger(__name__)

LANGUAGES = ("kk", "ru", "en")
DEFAULT_LANGUAGE = "ru"  # the staff side's default (web/i18n.STAFF_DEFAULT_LANGUAGE)
WEBHOOK = "webhook"  # the recipient of the centre's webhook deliveries
SEND_TIMEOUT_SECONDS = 30
# Longer than any send can take (its timeout, twice): a live worker never loses its claim.
LEASE = timedelta(seconds=4 * SEND_TIMEOUT_SECONDS)
BATCH = 20  # deliveries claimed at a time: a killed worker holds no more than these
SIGNATURE_HEADER = "X-QR111-Signature"
TIMESTAMP_HEADER = "X-QR111-Timestamp"
TRANSLATIONS = Path(__file__).parents[1] / "translations"
MAX_ADDRESS = 254


class NotifyError(Exception):
    """A notification setting was refused; the message says why."""


class SendFailed(Exception):
    """A message could not be handed over (the server refused, or could not be reached)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff while a server is down: doubling from `first_delay`, then give up loudly; and
    how long a claim lasts."""

    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=30)
    attempts: int = 12  # about four hours of trying at the longest delays
    lease: timedelta = LEASE

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th failed attempt."""
        doubled: timedelta = self.first_delay * 2 ** max(attempts - 1, 0)
        return min(doubled, self.max_delay)


# ---- the outbox --------------------------------------------------------------------------


_INSERT_EVENT = insert(cast(Table, NotificationEvent.__table__))


def outbox_new_report(session: Session, report: StoredReport) -> None:
    """Add a new report's notification event to the report's own transaction (P1 only: the
    others wait for the digest). The report is the row submit_report just inserted (by id:
    it is written with Core, not as an ORM object)."""
    if report.priority is Priority.P1:
        # Core, as the report's own rows: no ORM flush in the child's request (issue 17).
        session.connection().execute(
            _INSERT_EVENT,
            {
                "key": f"p1:{report.public_id}",
                "kind": NotificationKind.P1,
                "inbox_id": report.inbox_id,
                "report_id": report.id,
                "report_count": 1,
            },
        )


# ---- who wants what ----------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """A member's notification choices, the defaults filled in."""

    address: str
    own_address: bool  # False: the login e-mail
    p1_at_once: bool
    digest: bool
    language: str


def choices_of(session: Session, staff: Staff) -> Choices:
    """The member's choices; without any made, P1 at once for triage members, to the login."""
    row = session.get(NotificationChoice, staff.id)
    if row is None:
        return Choices(staff.email, False, staff.role is Role.TRIAGE, False, DEFAULT_LANGUAGE)
    return Choices(
        row.address or staff.email,
        row.address is not None,
        row.p1_at_once,
        row.digest,
        row.language,
    )


def set_choices(
    session: Session,
    config: Config,
    staff: Staff,
    *,
    address: str,
    p1_at_once: bool,
    digest: bool,
    language: str,
) -> Choices:
    """Store the member's own choices with their audit record (empty address: the login)."""
    address = normalize_email(address)
    if address and (len(address) > MAX_ADDRESS or not _looks_like_address(address)):
        raise NotifyError(str(_l("the notification address is not an e-mail address")))
    if language not in LANGUAGES:
        raise NotifyError(str(_l("choose one of the languages offered")))
    row = session.get(NotificationChoice, staff.id) or NotificationChoice(staff_id=staff.id)
    row.address = None if address in ("", staff.email) else address
    row.p1_at_once, row.digest, row.language = p1_at_once, digest, language
    row.updated_at = clock.now()
    session.add(row)
    audit.record(
        session,
        AuditAction.NOTIFY_SETUP,
        actor=staff,
        detail={"p1_at_once": p1_at_once, "digest": digest, "own_address": row.address is not None},
        server_secret=config.secret_key,
    )
    session.commit()
    return choices_of(session, staff)


def _looks_like_address(address: str) -> bool:
    # One '@' with something on each side and a dot in the domain: the mail server says more.
    local, _, domain = address.partition("@")
    return bool(local) and "." in domain and " " not in address and "@" not in domain


def escalation_list(session: Session, inbox: Inbox) -> list[Staff]:
    """Whom the inbox's unopened P1 reports go to, by e-mail."""
    return list(
        session.scalars(
            select(Staff)
            .join(EscalationMember, EscalationMember.staff_id == Staff.id)
            .where(EscalationMember.inbox_id == inbox.id)
            .order_by(Staff.email)
        )
    )


def set_escalation_list(
    session: Session, config: Config, admin: Staff, inbox: Inbox, staff_ids: list[int]
) -> list[Staff]:
    """Name the inbox's escalation list (active accounts only), on the audit log."""
    chosen = list(
        session.scalars(select(Staff).where(Staff.id.in_(staff_ids), Staff.active.is_(True)))
    )
    if len(chosen) != len(set(staff_ids)):
        raise NotifyError(str(_l("someone chosen is no longer an active account")))
    session.query(EscalationMember).filter_by(inbox_id=inbox.id).delete()
    session.add_all(EscalationMember(inbox_id=inbox.id, staff_id=staff.id) for staff in chosen)
    audit.record(
        session,
        AuditAction.NOTIFY_SETUP,
        actor=admin,
        detail={"inbox": inbox.name, "escalation_list": len(chosen)},
        server_secret=config.secret_key,
    )
    session.commit()
    return escalation_list(session, inbox)


# ---- what is due -------------------------------------------------------------------------


def _opened(report: type[Report]) -> object:
    """True for a report someone opened (its REPORT_OPENED audit record)."""
    return exists().where(
        AuditEvent.action == AuditAction.REPORT_OPENED,
        AuditEvent.report_public_id == report.public_id,
    )


def schedule(session: Session, config: Config, now: datetime | None = None) -> int:
    """Add the events now due (escalation steps, today's digests); returns how many.

    Each event's key makes it once only: several workers may all try."""
    now = now or clock.now()
    added = 0
    target = timedelta(minutes=config.triage.p1_target_minutes)
    unopened = session.execute(
        select(Report.id, Report.public_id, Report.inbox_id, Report.created_at).where(
            Report.priority == Priority.P1,
            Report.status != ReportStatus.CLOSED,
            Report.erased_at.is_(None),
            Report.created_at <= now - target,
            ~_opened(Report),  # type: ignore[operator]
        )
    ).all()
    for report_id, public_id, inbox_id, created_at in unopened:
        step = (now - created_at) // target  # 1 after one target time, 2 after two, ...
        added += _add_event(
            session,
            NotificationEvent(
                key=f"escalation:{public_id}:{step}",
                kind=NotificationKind.ESCALATION,
                inbox_id=inbox_id,
                report_id=report_id,
                report_count=1,
            ),
        )
    local = clock.in_kazakhstan(now)
    if local.hour >= config.notifications.digest_hour:
        waiting = session.execute(
            select(Report.inbox_id, func.count())
            .where(
                Report.priority != Priority.P1,
                Report.status != ReportStatus.CLOSED,
                Report.erased_at.is_(None),
                Report.answered_at.is_(None),
            )
            .group_by(Report.inbox_id)
        ).all()
        for inbox_id, count in waiting:
            added += _add_event(
                session,
                NotificationEvent(
                    key=f"digest:{inbox_id}:{local.date().isoformat()}",
                    kind=NotificationKind.DIGEST,
                    inbox_id=inbox_id,
                    report_count=count,
                ),
            )
    session.commit()
    return added


def _add_event(session: Session, event: NotificationEvent) -> int:
    """Insert the event unless its key is taken (by an earlier tick or another worker)."""
    if session.scalar(select(NotificationEvent.id).where(NotificationEvent.key == event.key)):
        return 0
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return 0
    return 1


# ---- fan-out -----------------------------------------------------------------------------


def fan_out(session: Session, config: Config, now: datetime | None = None) -> int:
    """Write one delivery per recipient of each new event; returns how many deliveries."""
    now = now or clock.now()
    events = session.scalars(
        select(NotificationEvent)
        .where(NotificationEvent.fanned_out_at.is_(None))
        .order_by(NotificationEvent.id)
        .limit(50)
        .with_for_update(skip_locked=True)
    ).all()
    made = 0
    for event in events:
        recipients: dict[str, tuple[Staff | None, Channel, str]] = {}
        if config.notifications.smtp is not None:
            for member in _recipients(session, event):
                choices = choices_of(session, member)
                recipients.setdefault(choices.address, (member, Channel.EMAIL, choices.language))
        if event.kind is NotificationKind.ESCALATION and not recipients:
            # The issue names no fallback: an empty list is the admins' to fill, and said aloud.
            logger.warning(
                "an unopened P1 in the inbox '%s' is escalated to no one by e-mail (%s): "
                "name its escalation list on the Deliveries page",
                event.inbox.name,
                "the webhook only" if config.notifications.webhook_url else "nobody at all",
            )
        if config.notifications.webhook_url is not None:
            recipients[WEBHOOK] = (None, Channel.WEBHOOK, "en")
        for recipient, (staff, channel, language) in recipients.items():
            session.add(
                NotificationDelivery(
                    event_id=event.id,
                    staff_id=staff.id if staff is not None else None,
                    channel=channel,
                    recipient=recipient,
                    language=language,
                    # To the minute: a first attempt's time would tell the report's to the second.
                    next_attempt_at=clock.to_the_minute(now),
                )
            )
        event.fanned_out_at = now
        made += len(recipients)
    session.commit()
    return made


def _recipients(session: Session, event: NotificationEvent) -> list[Staff]:
    """Who is told of the event: the escalation list, or the members who asked for its kind."""
    if event.kind is NotificationKind.ESCALATION:
        return [staff for staff in escalation_list(session, event.inbox) if staff.active]
    members = session.scalars(
        select(Staff)
        .join(InboxGrant, InboxGrant.staff_id == Staff.id)
        .where(InboxGrant.inbox_id == event.inbox_id, Staff.active.is_(True))
        .order_by(Staff.id)
    ).all()
    at_once = event.kind is NotificationKind.P1
    chosen = [choices_of(session, staff) for staff in members]
    return [
        staff
        for staff, choice in zip(members, chosen, strict=True)
        if (choice.p1_at_once if at_once else choice.digest)
    ]


# ---- the message -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message to one recipient: only what the issue allows a message to say."""

    delivery_id: int
    key: str  # stable across attempts: the Message-ID and the webhook's Idempotency-Key
    channel: Channel
    recipient: str
    language: str
    kind: NotificationKind
    inbox: str
    count: int
    waiting_minutes: int
    desk_url: str

    def summary(self) -> str:
        """The one line: subject of the mail and first line of its body."""
        return in_language(_summary(self), self.language)

    def body(self) -> str:
        """The mail's text: the line and the desk link, nothing of the report."""
        link = in_language(_l("Open the desk: %(url)s", url=self.desk_url), self.language)
        why = in_language(
            _l("This message says nothing of the report on purpose: read it on the desk."),
            self.language,
        )
        return f"{self.summary()}\n\n{link}\n\n{why}\n"

    def fields(self) -> dict[str, object]:
        """The webhook's JSON: the same facts as the mail, no more."""
        return {
            "id": self.key,
            "kind": self.kind.value,
            "inbox": self.inbox,
            "count": self.count,
            "waiting_minutes": self.waiting_minutes,
            "desk_url": self.desk_url,
            "text": self.summary(),
        }


def _summary(message: Outgoing) -> LazyText:
    if message.kind is NotificationKind.P1:
        return _l(
            "QR 111: 1 new P1 report in the inbox '%(inbox)s', waiting %(minutes)s min",
            inbox=message.inbox,
            minutes=message.waiting_minutes,
        )
    if message.kind is NotificationKind.ESCALATION:
        return _l(
            "QR 111: 1 P1 report in the inbox '%(inbox)s' not opened yet, waiting %(minutes)s min",
            inbox=message.inbox,
            minutes=message.waiting_minutes,
        )
    return _l(
        "QR 111: P2/P3 reports waiting for a reply in the inbox '%(inbox)s': %(count)s",
        inbox=message.inbox,
        count=message.count,
    )


@cache
def _catalog(language: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [language])


def in_language(message: LazyText, language: str) -> str:
    """The message in the recipient's language (the worker has no request to take it from)."""
    translated = _catalog(language).gettext(message.string)
    return translated % message.variables if message.variables else translated


def _outgoing(session: Session, config: Config, delivery: NotificationDelivery) -> Outgoing:
    event = delivery.event
    since = event.report.created_at if event.report is not None else event.created_at
    return Outgoing(
        delivery_id=delivery.id,
        key=f"qr111-{delivery.id}-{hashlib.sha256(event.key.encode()).hexdigest()[:12]}",
        channel=delivery.channel,
        recipient=delivery.recipient,
        language=delivery.language,
        kind=event.kind,
        inbox=event.inbox.name,
        count=event.report_count,
        waiting_minutes=max(int((clock.now() - since).total_seconds() // 60), 0),
        desk_url=f"{config.base_url}/staff/inbox",
    )


# ---- the channels ------------------------------------------------------------------------


class Sender(Protocol):
    """Hands one message over, or raises SendFailed."""

    def __call__(self, message: Outgoing) -> None: ...


@contextmanager
def smtp_sender(settings: Notifications, host_name: str) -> Iterator[Sender]:
    """Send mail over one SMTP connection, opened at the first message (STARTTLS and login
    as PORTAL_SMTP_URL says), closed at the end."""
    server = settings.smtp
    connection: smtplib.SMTP | None = None

    def send(message: Outgoing) -> None:
        nonlocal connection
        if server is None:
            raise SendFailed("PORTAL_SMTP_URL is not set")
        mail = EmailMessage()
        mail["From"] = settings.mail_from
        mail["To"] = message.recipient
        mail["Subject"] = message.summary()
        mail["Date"] = format_datetime(clock.now())
        # The same on every attempt: a copy sent after a worker died is recognisably a copy.
        mail["Message-ID"] = f"<{message.key}@{host_name}>"
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body())
        try:
            if connection is None:
                connection = _connect(server)
            connection.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            _close(connection)
            connection = None
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc

    try:
        yield send
    finally:
        _close(connection)


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if server.tls == "implicit":
        connection = smtplib.SMTP_SSL(
            server.host, server.port, timeout=SEND_TIMEOUT_SECONDS, context=context
        )
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=SEND_TIMEOUT_SECONDS)
        if server.tls == "starttls":
            connection.starttls(context=context)
    if server.username is not None:
        connection.login(server.username, server.password or "")
    return connection


def _close(connection: smtplib.SMTP | None) -> None:
    if connection is None:
        return
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook's signature header: HMAC-SHA256 of "timestamp.body" under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_sender(settings: Notifications) -> Sender:
    """POST the message's fields as JSON, signed, with its key as the Idempotency-Key."""

    def send(message: Outgoing) -> None:
        if settings.webhook_url is None or settings.webhook_secret is None:
            raise SendFailed("PORTAL_WEBHOOK_URL is not set")
        body = json.dumps(message.fields(), ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(clock.now().timestamp()))
        request = urllib.request.Request(  # noqa: S310 -- http(s) only, checked in config
            settings.webhook_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(settings.webhook_secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS):  # noqa: S310
                pass  # any 2xx; urlopen raises HTTPError for the rest
        except (OSError, urllib.error.URLError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc

    return send


# ---- the worker --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """What one round of a worker did."""

    events: int
    deliveries: int
    sent: int
    failed: int
    dropped: int = 0


def claim(
    session: Session,
    worker: str,
    now: datetime | None = None,
    *,
    batch: int = BATCH,
    lease: timedelta = LEASE,
) -> list[int]:
    """Take up to `batch` due deliveries for `worker` for `lease`; returns their ids."""
    now = now or clock.now()
    due = (
        NotificationDelivery.status == DeliveryStatus.PENDING,
        NotificationDelivery.next_attempt_at <= now,
        or_(NotificationDelivery.lease_until.is_(None), NotificationDelivery.lease_until < now),
    )
    # PostgreSQL: workers skip each other's rows instead of queueing behind them.
    candidates = session.scalars(
        select(NotificationDelivery.id)
        .where(*due)
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    taken = []
    for delivery_id in candidates:
        # Compare-and-set: on SQLite (no row locks) two workers may read the same row; only
        # one UPDATE still finds it unclaimed.
        result = session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id, *due)
            .values(
                lease_until=now + lease,
                leased_by=worker,
                attempts=NotificationDelivery.attempts + 1,
            )
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(delivery_id)
    session.commit()
    return taken


class Outcome(StrEnum):
    """What became of one claimed delivery."""

    SENT = "sent"
    FAILED = "failed"  # to be tried again, or given up on
    DROPPED = "dropped"  # no longer needed: not sent, on the audit log
    LOST = "lost"  # the claim was no longer the worker's: left alone


def deliver(
    session: Session,
    config: Config,
    delivery_id: int,
    senders: dict[Channel, Sender],
    policy: RetryPolicy,
    worker: str,
) -> Outcome:
    """Send one delivery `worker` claimed, then mark it (sent with its audit record, or to
    retry), unless the claim is no longer the worker's or the message no longer needed."""
    now = clock.now()
    # Renew the claim for this one send, if it is still ours: slow sends before it may have
    # outlasted the lease, and then another worker has it.
    renewed = session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id == delivery_id,
            NotificationDelivery.status == DeliveryStatus.PENDING,
            NotificationDelivery.leased_by == worker,
            NotificationDelivery.lease_until > now,
        )
        .values(lease_until=now + policy.lease)
    )
    delivery = session.get(NotificationDelivery, delivery_id)
    if renewed.rowcount != 1 or delivery is None:  # type: ignore[attr-defined]
        session.commit()
        return Outcome.LOST
    # Asked again under the renewed claim, just before the send: a message queued a while ago
    # (an escalation step, a retry while the mail server was down) may have been overtaken.
    if not _still_needed(session, delivery.event):
        _mark(session, config, delivery, DeliveryStatus.DROPPED, AuditAction.NOTIFY_DROPPED)
        return Outcome.DROPPED
    message = _outgoing(session, config, delivery)
    session.commit()  # no transaction (nor lock) is held while the server is talked to
    try:
        senders[message.channel](message)
    except SendFailed as exc:
        _failed(session, config, delivery, str(exc), policy)
        return Outcome.FAILED
    # The duplicate window: from the server's acceptance to this commit (module docstring).
    _mark(session, config, delivery, DeliveryStatus.SENT, AuditAction.NOTIFY)
    return Outcome.SENT


def _still_needed(session: Session, event: NotificationEvent) -> bool:
    """A P1 or escalation message is needed while its report waits unopened (not closed, not
    erased); a digest says how many waited when it was due, and goes."""
    if event.kind is NotificationKind.DIGEST:
        return True
    waiting = select(Report.id).where(
        Report.id == event.report_id,
        Report.status != ReportStatus.CLOSED,
        Report.erased_at.is_(None),
        ~_opened(Report),  # type: ignore[operator]
    )
    return session.execute(waiting).first() is not None


def _mark(
    session: Session,
    config: Config,
    delivery: NotificationDelivery,
    status: DeliveryStatus,
    action: AuditAction,
) -> None:
    """Close the delivery as sent or dropped, with its audit record, in one commit."""
    delivery.status = status
    delivery.lease_until = None
    delivery.last_error = ""
    if status is DeliveryStatus.SENT:
        delivery.sent_at = clock.now()
    event = delivery.event
    detail = {
        "recipient": delivery.recipient,
        "kind": event.kind.value,
        "channel": delivery.channel.value,
        "inbox": event.inbox.name,
    }
    if status is DeliveryStatus.DROPPED:
        detail["reason"] = "no longer needed"
    audit.record(
        session,
        action,
        report_public_id=event.report.public_id if event.report is not None else None,
        detail=detail,
        server_secret=config.secret_key,
    )
    session.commit()


def _failed(
    session: Session,
    config: Config,
    delivery: NotificationDelivery,
    error: str,
    policy: RetryPolicy,
) -> None:
    delivery.last_error = error[:300]
    delivery.lease_until = None
    if delivery.attempts >= policy.attempts:
        delivery.status = DeliveryStatus.FAILED
        # Loudly: the log at ERROR, and the admins' notifications page lists it.
        logger.error(
            "notification %s to %s gave up after %s attempts: %s",
            delivery.id,
            delivery.recipient,
            delivery.attempts,
            error,
        )
    else:
        delivery.next_attempt_at = clock.now() + policy.delay(delivery.attempts)
        logger.warning(
            "notification %s to %s failed (attempt %s), again at %s: %s",
            delivery.id,
            delivery.recipient,
            delivery.attempts,
            delivery.next_attempt_at.isoformat(timespec="seconds"),
            error,
        )
    session.commit()


def run_once(
    session: Session,
    config: Config,
    worker: str,
    senders: dict[Channel, Sender],
    policy: RetryPolicy = RetryPolicy(),
) -> Tick:
    """One round of a worker: add due events, fan them out, send what is due."""
    events = schedule(session, config)
    deliveries = fan_out(session, config)
    outcomes = [
        deliver(session, config, delivery_id, senders, policy, worker)
        for delivery_id in claim(session, worker, lease=policy.lease)
    ]
    return Tick(
        events,
        deliveries,
        outcomes.count(Outcome.SENT),
        outcomes.count(Outcome.FAILED),
        outcomes.count(Outcome.DROPPED),
    )


@contextmanager
def senders_for(config: Config) -> Iterator[dict[Channel, Sender]]:
    """The channels the configuration names, open for one round."""
    host = urlsplit(config.base_url).hostname or "localhost"
    with smtp_sender(config.notifications, host) as mail:
        yield {Channel.EMAIL: mail, Channel.WEBHOOK: webhook_sender(config.notifications)}


@dataclass(frozen=True)
class OutageBackoff:
    """Waits while the database does not answer: doubling from `first` up to `longest`."""

    first: float = 1.0
    longest: float = 30.0  # a worker back within half a minute of the database

    def wait(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed round in a row."""
        return float(min(self.first * 2 ** max(failures - 1, 0), self.longest))


def run(
    session: Session,
    config: Config,
    worker: str,
    *,
    poll_seconds: float,
    policy: RetryPolicy = RetryPolicy(),
    keep_going: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], object],
    outage: OutageBackoff = OutageBackoff(),
) -> None:
    """Repeat `run_once` every `poll_seconds` until `keep_going` says no; through a database
    outage, wait and try again (said once in the log when it starts, once when it ends)."""
    failures = 0
    while keep_going():
        try:
            with senders_for(config) as senders:
                tick = run_once(session, config, worker, senders, policy)
        except (OperationalError, InterfaceError) as exc:
            # The database stopped, restarted or refused: a worker that exited here would leave
            # P1s unsent until systemd restarted it into the same outage, again and again.
            _roll_back_quietly(session)
            failures += 1
            if failures == 1:
                logger.error(
                    "database unavailable (%s): notifications wait, tried again with a "
                    "doubling pause of up to %g s",
                    _first_line(exc),
                    outage.longest,
                )
            sleep(outage.wait(failures))
            continue
        if failures:
            logger.warning("database back after %s failed rounds: sending resumes", failures)
            failures = 0
        if tick.sent or tick.failed or tick.dropped:
            logger.info("sent %s, failed %s, dropped %s", tick.sent, tick.failed, tick.dropped)
        else:
            sleep(poll_seconds)


def _roll_back_quietly(session: Session) -> None:
    """End the failed transaction; on a dead connection that can fail too, and is then done."""
    try:
        session.rollback()
    except (OperationalError, InterfaceError):
        logger.debug("rollback on a dead connection failed", exc_info=True)


def _first_line(exc: DBAPIError) -> str:
    """The driver's own message, first line: no SQL statement (nor, hidden anyway, values)."""
    message = str(exc.orig).strip().splitlines()
    return f"{type(exc.orig).__name__}: {message[0] if message else ''}"


# ---- for the admins ----------------------------------------------------------------------


@dataclass(frozen=True)
class Trouble:
    """A delivery that failed for good, or is failing now (shown to admins)."""

    delivery: NotificationDelivery
    event: NotificationEvent
    inbox: str


def troubles(session: Session, limit: int = 100) -> list[Trouble]:
    """Deliveries given up on, and those retrying after a failure, newest first."""
    rows = session.execute(
        select(NotificationDelivery, NotificationEvent, Inbox.name)
        .join(NotificationEvent, NotificationEvent.id == NotificationDelivery.event_id)
        .join(Inbox, Inbox.id == NotificationEvent.inbox_id)
        .where(
            or_(
                NotificationDelivery.status == DeliveryStatus.FAILED,
                (NotificationDelivery.status == DeliveryStatus.PENDING)
                & (NotificationDelivery.last_error != ""),
            )
        )
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    ).all()
    return [Trouble(delivery, event, name) for delivery, event, name in rows]
