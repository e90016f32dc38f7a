"""The triage work on reports: the queue, opening, replying, notes, status, priority, assignment.

Plain functions: the staff views call them, and so do the tests. Every access is audited (P5),
and a staff member reaches only the reports of inboxes granted to them (P6).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, func, not_, or_, select, union_all
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Subquery

from portal import clock, crypto
from portal.config import Config
from portal.database import commit_retrying
from portal.enums import Agency, AuditAction, Category, EntryKind, Priority, Status
from portal.models import Inbox, InboxGrant, Report, School, Staff
from portal.services import accounts, audit, labels, reports, risk
from portal.services.inputs import clean_text, row_id
from portal.services.text import lazy as _l

PAGE_SIZE = 50
# A burst: at least BURST_REPORTS open reports to one school, each within BURST_GAP of the one
# before (a flood of junk, or a class writing about one incident). The inbox lists it as one
# group at the place of its most serious report (issue 14): junk to one school cannot push the
# other schools' reports off the first pages. A filtered list shows every report as a row.
BURST_REPORTS = 10
BURST_GAP = timedelta(minutes=5)
# The members listed inside an opened group; the rest are in the school's own list.
BURST_SHOWN = 10
# The groups of a page that list their members, the first in queue order; the others link to
# their school's list. A page is then at most PAGE_SIZE + BURSTS_LISTED * BURST_SHOWN rows: a
# flood to many schools at once (bench/flood.py (c), 60 s) gave 40 groups, 440 rows and 234 KB,
# and the staff page took 3-4x as long as an ordinary one.
BURSTS_LISTED = 5
# Bursts are looked for among the reports of the last few days only: reading every open report
# of every crowded school on each page view made the first page of bench/inbox.py (100,000
# reports) 58 ms instead of 12. An older burst still open is listed as rows again.
BURST_HORIZON = timedelta(days=3)
# The workflow: where a report may go from each status (closed ones can be reopened).
NEXT_STATUSES: Mapping[Status, tuple[Status, ...]] = {
    Status.NEW: (Status.IN_PROGRESS, Status.REFERRED, Status.CLOSED),
    Status.IN_PROGRESS: (Status.REFERRED, Status.CLOSED),
    Status.REFERRED: (Status.IN_PROGRESS, Status.CLOSED),
    Status.CLOSED: (Status.IN_PROGRESS,),
}
MAX_TEXT = 5000


class TriageError(Exception):
    """A triage action that cannot be done; the message says why, for the staff member."""


class NoSuchReport(TriageError):
    """No report with that id in the reader's inboxes (the same answer either way: P6)."""


@dataclass(frozen=True)
class Targets:
    """How long a report may wait for its first answer, by priority."""

    p1: timedelta = timedelta(minutes=15)
    p2: timedelta = timedelta(hours=24)
    p3: timedelta = timedelta(hours=72)

    def of(self, priority: Priority) -> timedelta:
        """The target time of a priority."""
        return {Priority.P1: self.p1, Priority.P2: self.p2, Priority.P3: self.p3}[priority]


def targets_of(config: Config) -> Targets:
    """The configured target times."""
    policy = config.triage
    return Targets(
        p1=timedelta(minutes=policy.p1_target_minutes),
        p2=timedelta(minutes=policy.p2_target_minutes),
        p3=timedelta(minutes=policy.p3_target_minutes),
    )


@dataclass(frozen=True)
class QueueFilter:
    """What the inbox list shows; every value parsed strictly (a bad one is an error)."""

    status: Status | None = None  # None: every status but closed
    priority: Priority | None = None
    category: Category | None = None
    region: str | None = None
    school_id: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    page: int = 1

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> QueueFilter:
        """Read the query string; ValueError names the bad parameter."""

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value or None

        assignee = text("assignee")
        page = text("page") or "1"
        if not page.isdigit() or not 1 <= int(page) <= 100_000:
            raise ValueError(f"page {page!r} is not a page number")
        if assignee not in (None, "none") and row_id(assignee) is None:
            raise ValueError(f"assignee {assignee!r} is not a staff id or 'none'")
        return cls(
            status=Status.parse(status) if (status := text("status")) else None,
            priority=Priority.parse(priority) if (priority := text("priority")) else None,
            category=Category.parse(category) if (category := text("category")) else None,
            region=text("region"),
            school_id=text("school"),
            assignee_id=row_id(assignee),
            unassigned=assignee == "none",
            page=int(page),
        )


@dataclass(frozen=True)
class Burst:
    """Reports to one school that came close together, listed as one group after its lead."""

    school: School
    first_at: datetime
    last_at: datetime
    size: int  # the lead included
    p1: int  # of them P1, the lead included: a group never hides how many there are
    # The most serious, then the oldest, at most BURST_SHOWN, never the lead; none past the
    # page's first BURSTS_LISTED groups (a group has BURST_REPORTS - 1 others at least).
    members: list[QueueRow]

    @property
    def minutes(self) -> int:
        """Minutes from its first report to its last (stored to the minute), at least one."""
        return max(1, round((self.last_at - self.first_at).total_seconds() / 60) + 1)


@dataclass(frozen=True)
class QueueRow:
    """One line of the inbox list (metadata only: nothing is decrypted for the list)."""

    id: int  # the row's, never shown (public_id is)
    public_id: str
    priority: Priority
    status: Status
    category: Category
    school: School  # its name is shown in the reader's language (School.name_for)
    created_at: datetime
    waiting: timedelta
    assignee_email: str | None
    overdue: bool
    risk_rule: str | None = None  # the lexicon rule that made it P1 at intake (no text)
    burst: Burst | None = None  # the group this row leads (the rest of it follows the row)


@dataclass(frozen=True)
class QueuePage:
    """A page of the inbox, with the counts the staff need at a glance."""

    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[Status, int] = field(default_factory=dict)
    open_p1: int = 0


def inbox_ids(session: Session, staff: Staff) -> list[int]:
    """The inboxes granted to this staff member."""
    return list(session.scalars(select(InboxGrant.inbox_id).where(InboxGrant.staff_id == staff.id)))


def members_of(session: Session, inboxes: list[int]) -> list[Staff]:
    """The active members of these inboxes, by email: whom their reports can be assigned to."""
    member_ids = select(InboxGrant.staff_id).where(InboxGrant.inbox_id.in_(inboxes))
    return list(
        session.scalars(
            select(Staff)
            .where(Staff.id.in_(member_ids), Staff.active.is_(True))
            .order_by(Staff.email)
        )
    )


def queue(
    session: Session,
    staff: Staff,
    wanted: QueueFilter,
    targets: Targets,
    *,
    now: datetime | None = None,
) -> QueuePage:
    """The reports of the staff member's inboxes, life-safety first, then the longest waiting.

    Every query here is shaped for an index of portal.models.Report (bench/inbox.py measures
    them with 100,000 reports): the page walks an index in queue order and stops after a page,
    and the counts read an index alone.
    """
    now = now or clock.now()
    live = (Report.inbox_id.in_(inbox_ids(session, staff)), Report.erased_at.is_(None))
    counts, open_p1 = _counts(session, live)
    if wanted.status is None:
        # With `live`, this is models.OPEN_REPORT, the open-queue index's predicate, word for
        # word: the database uses a partial index only for a query that implies its predicate.
        shown: list[ColumnElement[bool]] = [Report.status != Status.CLOSED]
        in_view = sum(count for status, count in counts.items() if status is not Status.CLOSED)
    else:
        shown = [Report.status == wanted.status]
        in_view = counts.get(wanted.status, 0)
    narrowing = _narrowing(wanted)
    conditions = [*live, *shown, *narrowing]
    # The status counts give the total already unless another filter narrows the list.
    total = (
        session.scalar(select(func.count()).select_from(Report).where(*conditions)) or 0
        if narrowing
        else in_view
    )
    # Only the default list (every open report) groups bursts: a filter is the reader's own
    # narrowing, and it lists every report it keeps as a row (a school's list shows a burst's
    # members; closed reports wait for nobody and pile up over the years).
    recent = [*conditions, Report.created_at >= now - BURST_HORIZON]
    islands = _islands(session, recent) if wanted.status is None and not narrowing else []
    # Every member of a burst but its lead leaves the list (and its count): the lead's row
    # stands for the group, where its most serious report belongs in the queue.
    hidden = [island.members for island in islands]
    total -= sum(island.size - 1 for island in islands)
    listed = [*conditions, not_(or_(*hidden))] if hidden else conditions
    # The page's ids first, from an index alone (every index the queue uses holds the order
    # columns); then only those rows are read, with their school and assignee.
    page_ids = (
        select(Report.id)
        .where(*listed)
        .order_by(*_IN_ORDER)
        .limit(PAGE_SIZE)
        .offset((wanted.page - 1) * PAGE_SIZE)
        .subquery()
    )
    rows = _rows(session, page_ids, targets, now)
    leading = {island.lead_id: island for island in islands}
    on_page = [(leading[row.id], row) for row in rows if row.id in leading]
    bursts = _bursts(session, conditions, on_page, targets, now) if on_page else {}
    rows = [
        dataclasses.replace(row, burst=bursts[row.id]) if row.id in bursts else row for row in rows
    ]
    return QueuePage(
        rows=rows,
        total=total,
        page=wanted.page,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        counts=counts,
        open_p1=open_p1,
    )


_IN_ORDER = (Report.priority, Report.created_at, Report.id)


@dataclass(frozen=True)
class _Island:
    """A burst as found: its school, its first and last times, its size, P1s and lead."""

    school_pk: int
    first_at: datetime
    last_at: datetime
    size: int
    p1: int
    lead_id: int

    @property
    def members(self) -> ColumnElement[bool]:
        """Its reports but the lead (with the list's conditions: the open ones)."""
        return and_(
            Report.school_pk == self.school_pk,
            Report.created_at >= self.first_at,
            Report.created_at <= self.last_at,
            Report.id != self.lead_id,
        )

    def holds(self, row: QueueRow) -> bool:
        """Whether a row is one of its members (never its lead)."""
        return (
            row.school.id == self.school_pk
            and self.first_at <= row.created_at <= self.last_at
            and row.id != self.lead_id
        )


def _islands(session: Session, conditions: list[ColumnElement[bool]]) -> list[_Island]:
    """The bursts among the reports in view: each school's reports in time order, cut where
    the gap between two exceeds BURST_GAP; the runs of BURST_REPORTS or more."""
    # Reports are stored to the minute, so the database hands over one row per school, minute
    # and priority (a flood's thousands of reports are a few hundred rows), read in the order
    # of the recent open reports' index (no sort). Reading every member into Python made the
    # inbox three times slower under a flood (bench/inbox.py --flood).
    moments = session.execute(
        select(
            Report.school_pk, Report.created_at, Report.priority, func.count(), func.min(Report.id)
        )
        .where(*conditions)
        .group_by(Report.created_at, Report.school_pk, Report.priority)
    ).all()
    islands: list[_Island] = []
    run: list[_Moment] = []
    for moment in sorted(
        (_Moment(*row) for row in moments), key=lambda moment: (moment.school_pk, moment.at)
    ):
        if run and (moment.school_pk != run[-1].school_pk or moment.at - run[-1].at > BURST_GAP):
            islands += _island_of(run)
            run = []
        run.append(moment)
    return islands + _island_of(run)


class _Moment(NamedTuple):
    """The reports of one priority to one school in one minute (in school, then time order)."""

    school_pk: int
    at: datetime
    priority: Priority
    reports: int
    first_id: int


def _island_of(run: list[_Moment]) -> list[_Island]:
    """The run of one school's reports as a burst, if it is long enough to be one."""
    size = sum(moment.reports for moment in run)
    if size < BURST_REPORTS:
        return []
    # The lead: the most serious, then the oldest, as the queue orders them.
    lead = min(run, key=lambda moment: (moment.priority.value, moment.at, moment.first_id))
    return [
        _Island(
            school_pk=run[0].school_pk,
            first_at=run[0].at,
            last_at=run[-1].at,
            size=size,
            p1=sum(moment.reports for moment in run if moment.priority is Priority.P1),
            lead_id=lead.first_id,
        )
    ]


def _bursts(
    session: Session,
    conditions: list[ColumnElement[bool]],
    on_page: list[tuple[_Island, QueueRow]],
    targets: Targets,
    now: datetime,
) -> dict[int, Burst]:
    """The groups their leads' rows open, by lead: the first BURST_SHOWN of the rest of each
    of the first BURSTS_LISTED, in queue order, read in one statement for the whole page."""
    firsts = [
        select(Report.id)
        .where(*conditions, island.members)
        .order_by(*_IN_ORDER)
        .limit(BURST_SHOWN)
        .subquery()
        for island, _lead in on_page[:BURSTS_LISTED]
    ]
    members = (
        _rows(
            session, union_all(*(select(first.c.id) for first in firsts)).subquery(), targets, now
        )
        if firsts
        else []
    )
    # Each island matched against its school's rows only: a page of many bursts (a flood
    # to a few schools) would otherwise test every island against every member (issue 14).
    by_school: dict[int, list[QueueRow]] = {}
    for row in members:
        by_school.setdefault(row.school.id, []).append(row)
    return {
        lead.id: Burst(
            school=lead.school,
            first_at=island.first_at,
            last_at=island.last_at,
            size=island.size,
            p1=island.p1,
            members=[row for row in by_school.get(island.school_pk, []) if island.holds(row)],
        )
        for island, lead in on_page
    }


def _rows(session: Session, ids: Subquery, targets: Targets, now: datetime) -> list[QueueRow]:
    """The list's rows of these report ids, in queue order, with their school and assignee."""
    found = session.execute(
        select(
            Report.id,
            Report.public_id,
            Report.priority,
            Report.status,
            Report.category,
            Report.created_at,
            Report.answered_at,
            School,
            Staff.email,
            Report.risk_rule,
        )
        .join(ids, ids.c.id == Report.id)
        .join(School, School.id == Report.school_pk)
        .outerjoin(Staff, Staff.id == Report.assignee_id)
        .order_by(*_IN_ORDER)
    ).all()
    return [
        QueueRow(
            id=report_id,
            public_id=public_id,
            priority=priority,
            status=status,
            category=category,
            school=school,
            created_at=created_at,
            waiting=now - created_at,
            assignee_email=email,
            overdue=_overdue(priority, status, created_at, answered_at, targets, now),
            risk_rule=rule,
        )
        for (
            report_id,
            public_id,
            priority,
            status,
            category,
            created_at,
            answered_at,
            school,
            email,
            rule,
        ) in found
    ]


def _counts(
    session: Session, live: tuple[ColumnElement[bool], ...]
) -> tuple[dict[Status, int], int]:
    """Reports per status, and open P1 reports, from the status index alone (no table rows).

    Its ranges of live reports are read: the open statuses' in one pass (FILTER, no grouping),
    then the closed one's. Erased reports, which pile up over the years, are outside both.
    """
    open_statuses = [status for status in Status if status is not Status.CLOSED]
    counted = session.execute(
        select(
            func.count().filter(Report.priority == Priority.P1),
            *(func.count().filter(Report.status == status) for status in open_statuses),
        ).where(*live, Report.status.in_(open_statuses))
    ).one()
    closed = session.scalar(
        select(func.count()).select_from(Report).where(*live, Report.status == Status.CLOSED)
    )
    counts = dict(zip(open_statuses, counted[1:], strict=True)) | {Status.CLOSED: closed or 0}
    return {status: count for status, count in counts.items() if count}, counted[0]


def _narrowing(wanted: QueueFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions besides the status (a school's are on the report's school)."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.priority:
        conditions.append(Report.priority == wanted.priority)
    if wanted.category:
        conditions.append(Report.category == wanted.category)
    if wanted.region:
        conditions.append(
            Report.school_pk.in_(select(School.id).where(School.region == wanted.region))
        )
    if wanted.school_id:
        conditions.append(
            Report.school_pk.in_(select(School.id).where(School.school_id == wanted.school_id))
        )
    if wanted.unassigned:
        conditions.append(Report.assignee_id.is_(None))
    elif wanted.assignee_id is not None:
        conditions.append(Report.assignee_id == wanted.assignee_id)
    return conditions


def is_overdue(report: Report, targets: Targets, now: datetime) -> bool:
    """Unanswered and open for longer than its priority's target time."""
    return _overdue(
        report.priority, report.status, report.created_at, report.answered_at, targets, now
    )


def _overdue(
    priority: Priority,
    status: Status,
    created_at: datetime,
    answered_at: datetime | None,
    targets: Targets,
    now: datetime,
) -> bool:
    if answered_at is not None or status is Status.CLOSED:
        return False
    return now - created_at > targets.of(priority)


@dataclass(frozen=True)
class OpenedReport:
    """A report decrypted for one staff member: its metadata and the whole conversation."""

    report: Report
    school: School
    keys: crypto.ReportKeys
    entries: list[reports.ConversationEntry]
    members: list[Staff]

    @property
    def reasons(self) -> list[risk.Reason]:
        """Why the child's first message is P1, with the words that matched: recomputed from
        the decrypted text on each view, never stored or logged (the words are the child's)."""
        first = next((entry for entry in self.entries if entry.kind is EntryKind.CHILD), None)
        return risk.explain(first.text)[:3] if first is not None else []

    @property
    def grade(self) -> str | None:
        """The child's school level ("5–9"), if given (sealed as a staff-only intake entry;
        a report sealed before issue 20 holds the grade itself, shown as its band too)."""
        for entry in self.entries:
            if entry.kind is EntryKind.INTAKE:
                grade = json.loads(entry.text).get("grade")
                return reports.grade_band(grade) if grade is not None else None
        return None


def open_report(
    session: Session, config: Config, staff: Staff, staff_private: bytes, public_id: str
) -> OpenedReport:
    """Decrypt a report of one of the reader's inboxes, and put the access on record."""
    # The report with its school, inbox and whole conversation: two queries, not one a row.
    found = session.execute(
        select(Report, School, Inbox)
        .join(School, School.id == Report.school_pk)
        .join(Inbox, Inbox.id == Report.inbox_id)
        .where(Report.public_id == public_id, Report.erased_at.is_(None))
        .options(selectinload(Report.entries))
    ).first()
    if found is None:
        raise NoSuchReport(public_id)
    report, school, inbox = found
    try:
        inbox_private = accounts.open_inbox_key(session, inbox, staff, staff_private)
    except accounts.NotAMember:
        raise NoSuchReport(public_id) from None
    keys = reports.keys_for_staff(report, inbox_private)
    entries = reports.read_conversation(report, keys)
    members = members_of(session, [inbox.id])
    # Last, then commit: the audit log is appended to by one transaction at a time.
    audit.record(
        session,
        AuditAction.REPORT_OPENED,
        actor=staff,
        report_public_id=report.public_id,
        server_secret=config.secret_key,
    )
    session.commit()
    return OpenedReport(report, school, keys, entries, members)


# Messages are lazy: the staff page that shows one gives it in the reader's language.
_EMPTY = {
    "reply": _l("the reply is empty"),
    "note": _l("the note is empty"),
    "reason": _l("the reason is empty"),
}


def _checked_text(text: str, what: str) -> str:
    # As the child's text: invisible and direction-changing characters go (a reply of only
    # those would show the child an empty message; bidi overrides could disguise a text).
    text = clean_text(text)
    if not text:
        raise TriageError(_EMPTY[what])
    if len(text) > MAX_TEXT:
        raise TriageError(_l("the text is longer than %(limit)d characters", limit=MAX_TEXT))
    return text


def reply(session: Session, config: Config, staff: Staff, opened: OpenedReport, text: str) -> None:
    """Answer the child (they read it with their receipt); a new report is now in progress."""
    text = _checked_text(text, "reply")
    report = opened.report

    def act() -> None:
        reports.append_entry(report, opened.keys, EntryKind.STAFF, text)
        if report.answered_at is None:
            report.answered_at = clock.now()
        if report.status is Status.NEW:
            report.status = Status.IN_PROGRESS
        _record(session, config, staff, report, AuditAction.REPLY)

    commit_retrying(session, act)


def add_note(
    session: Session, config: Config, staff: Staff, opened: OpenedReport, text: str
) -> None:
    """An internal note: sealed with the notes key, which the child's receipt never opens."""
    text = _checked_text(text, "note")

    def act() -> None:
        reports.append_entry(opened.report, opened.keys, EntryKind.NOTE, text)
        _record(session, config, staff, opened.report, AuditAction.NOTE)

    commit_retrying(session, act)


def change_status(
    session: Session,
    config: Config,
    staff: Staff,
    opened: OpenedReport,
    new: Status,
    *,
    agency: Agency | None = None,
    note: str = "",
) -> None:
    """Move the report along the workflow; a referral names the agency (and may carry a note)."""
    report = opened.report
    old = report.status
    if new not in NEXT_STATUSES[old]:
        raise TriageError(
            _l(
                "the status %(old)s cannot change to %(new)s",
                old=labels.label(old),
                new=labels.label(new),
            )
        )
    if new is Status.REFERRED and agency is None:
        raise TriageError(_l("say where the report is referred"))
    text = ""
    if note.strip():
        label = f"{old.value} → {new.value}" + (f" ({agency.value})" if agency else "")
        text = f"{label}: {_checked_text(note, 'note')}"
    detail = {"from": old.value, "to": new.value, "agency": agency.value if agency else None}

    def act() -> None:
        if text:
            reports.append_entry(report, opened.keys, EntryKind.NOTE, text)
        report.status = new
        if new is Status.REFERRED:
            report.referred_to = agency
        report.closed_at = clock.now() if new is Status.CLOSED else None
        _record(session, config, staff, report, AuditAction.STATUS, detail)

    commit_retrying(session, act)


def change_priority(
    session: Session,
    config: Config,
    staff: Staff,
    opened: OpenedReport,
    new: Priority,
    reason: str,
) -> None:
    """Set another priority; the reason is required and kept as a sealed note."""
    report = opened.report
    old = report.priority
    if new is old:
        raise TriageError(_l("the report is %(priority)s already", priority=new.value.upper()))
    text = f"{old.value.upper()} → {new.value.upper()}: {_checked_text(reason, 'reason')}"

    def act() -> None:
        reports.append_entry(report, opened.keys, EntryKind.NOTE, text)
        report.priority = new
        detail = {"from": old.value, "to": new.value}
        _record(session, config, staff, report, AuditAction.PRIORITY, detail)

    commit_retrying(session, act)


def assign(
    session: Session,
    config: Config,
    staff: Staff,
    opened: OpenedReport,
    assignee_id: int | None,
) -> None:
    """Give the report to a member of its inbox, or to nobody."""
    if assignee_id is not None and assignee_id not in {member.id for member in opened.members}:
        raise TriageError(_l("that person is not a member of this report's inbox"))
    opened.report.assignee_id = assignee_id
    _record(session, config, staff, opened.report, AuditAction.ASSIGN, {"to": assignee_id})
    session.commit()


def _record(
    session: Session,
    config: Config,
    staff: Staff,
    report: Report,
    action: AuditAction,
    detail: Mapping[str, str | int | None] | None = None,
) -> None:
    """The action on record, in the caller's transaction: both are committed or neither."""
    audit.record(
        session,
        action,
        actor=staff,
        report_public_id=report.public_id,
        detail=detail,
        server_secret=config.secret_key,
    )
