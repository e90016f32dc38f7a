"""Reports at rest: sealing a child's report, its conversation, and erasing it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, insert, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal import clock, crypto
from portal.database import commit_retrying
from portal.enums import Category, EntryKind, Priority
from portal.models import Entry, Inbox, Report, School
from portal.services import registry
from portal.services.codes import normalize_code

RECEIPT_LOOKUP_PURPOSE = "receipt-lookup"
_AUTHOR_OF = {EntryKind.CHILD: crypto.Author.CHILD, EntryKind.STAFF: crypto.Author.STAFF}
# Sealed with the notes key, which is wrapped for the inbox only: the receipt never opens them.
_STAFF_ONLY = (EntryKind.NOTE, EntryKind.INTAKE)


class ReportError(Exception):
    """A report operation could not be done."""


class NoInbox(ReportError):
    """No inbox receives this school's reports (neither its region's nor a national one)."""


class ReportErased(ReportError):
    """The report's keys were destroyed: nothing of it can be read or added."""


@dataclass(frozen=True)
class ConversationEntry:
    """One opened entry of a report's conversation."""

    position: int
    kind: EntryKind
    text: str
    created_at: datetime


def lookup_secret(server_secret: str) -> bytes:
    """The HMAC key that turns receipts into lookup keys (derived from the server secret)."""
    return crypto.derive_server_key(server_secret, RECEIPT_LOOKUP_PURPOSE)


def _receives(region: ColumnElement[str] | InstrumentedAttribute[str] | str) -> ColumnElement[bool]:
    """The inboxes that may receive reports from this region: its own and the national ones."""
    return or_(Inbox.region == region, Inbox.region.is_(None))


# Among those, the region's own first (its region IS NULL is false), else the oldest national.
_ROUTING_ORDER = (Inbox.region.is_(None), Inbox.id)


def inbox_for_school(session: Session, school: School) -> Inbox:
    """The region's inbox if it has one, else the national inbox."""
    inbox = session.scalar(
        select(Inbox).where(_receives(school.region)).order_by(*_ROUTING_ORDER).limit(1)
    )
    if inbox is None:
        raise NoInbox(f"no inbox for region {school.region!r} and no national inbox")
    return inbox


# Built once, the code bound at each call: building it was a quarter of the school page's lookup
# (py-spy under bench/child.py). Read at every request, never cached: a rotated code stops at once.
# Columns, not entities (Core): what a report's POST uses of both, at about half the ORM's CPU.
# The school as a report's POST and its page use it, read as columns (_school_of).
_SCHOOL_COLUMNS = (
    School.id,
    School.school_id,
    School.code,
    School.check_word,
    School.name_kk,
    School.name_ru,
    School.region,
)
_SCHOOL_AND_INBOX = (
    select(
        *_SCHOOL_COLUMNS,
        Inbox.id.label("inbox_id"),
        Inbox.name.label("inbox_name"),
        Inbox.region.label("inbox_region"),
        Inbox.public_key,
    )
    .outerjoin(Inbox, _receives(School.region))
    .where(registry.ACTIVE_SCHOOL_CODE)
    .order_by(*_ROUTING_ORDER)
    .limit(1)
)


def school_and_inbox(session: Session, typed_code: str) -> tuple[School, Inbox | None] | None:
    """The active school of a code and the inbox its reports go to (None if none does), read in
    one query: a report's POST needs both, and each query costs the worker CPU (bench/child.py).

    Both come outside the session, with what a report's POST uses of them (the school as its
    page shows it, its id and region; the inbox's id, name, region and public key), like
    school_for_page's: nothing of them is loaded later or written back by a flush.
    """
    code = normalize_code(typed_code)
    if code is None:
        return None
    row = session.connection().execute(_SCHOOL_AND_INBOX, {"code": code}).first()
    if row is None:
        return None
    school = _school_of(row)
    if row.inbox_id is None:
        return school, None
    inbox = Inbox(
        id=row.inbox_id, name=row.inbox_name, region=row.inbox_region, public_key=row.public_key
    )
    return school, inbox


# The school page's own read: the columns it shows, not entities (Core, half the ORM's CPU).
_SCHOOL_PAGE = (
    select(*_SCHOOL_COLUMNS, Inbox.id.label("inbox_id"))
    .outerjoin(Inbox, _receives(School.region))
    .where(registry.ACTIVE_SCHOOL_CODE)
    .order_by(*_ROUTING_ORDER)
    .limit(1)
)


def school_for_page(session: Session, typed_code: str) -> tuple[School, bool] | None:
    """The active school of a code as its page shows it (a School outside the session, with
    only what the page shows), and whether an inbox receives its reports; read in one query at
    every request, like school_and_inbox (a rotated code stops at once)."""
    code = normalize_code(typed_code)
    if code is None:
        return None
    row = session.connection().execute(_SCHOOL_PAGE, {"code": code}).first()
    if row is None:
        return None
    return _school_of(row), row.inbox_id is not None


def _school_of(row: Row[*tuple[Any, ...]]) -> School:
    """A School outside the session from a row holding _SCHOOL_COLUMNS."""
    return School(**{column.key: getattr(row, column.key) for column in _SCHOOL_COLUMNS})


# Kazakhstan's school levels: primary (1-4), basic secondary (5-9), upper secondary (10-11).
# A grade alone, beside the school's name, can be one child in a small school (issue 20); the
# level is what triage needs (a young child, a teenager). No registry field gives a school's
# size, so every school gets the band, and only the band is sealed.
GRADE_BANDS = ((1, 4), (5, 9), (10, 11))


def grade_band(grade: int | str) -> str:
    """The school level of a grade, as staff read it: "5–9"; an unknown value as "?"."""
    try:
        number = int(grade)
    except ValueError:
        return str(grade)  # already a band (a report sealed after issue 20)
    for low, high in GRADE_BANDS:
        if low <= number <= high:
            return f"{low}–{high}"
    return "?"


@dataclass(frozen=True)
class StoredReport:
    """A report just stored by submit_report: what its transaction's other rows need (the
    notification outbox). The ORM's Report, where a caller wants it: session.get(Report, id)."""

    id: int
    public_id: str
    inbox_id: int
    priority: Priority


# A new report and its entries are written as two Core INSERTs, built once: the ORM's unit of
# work (the objects, their relationship, the flush's bookkeeping) cost ~1 ms of a submission's
# CPU (docs/benchmarks.md, issue 17). The tables' Python defaults (status, times) still apply.
_REPORTS = cast(Table, Report.__table__)
_INSERT_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_INSERT_ENTRIES = insert(cast(Table, Entry.__table__))


def submit_report(
    session: Session,
    school: School,
    category: Category,
    priority: Priority,
    text: str,
    *,
    server_secret: str,
    grade: int | None = None,
    inbox: Inbox | None = None,
    also: Callable[[Session, StoredReport], None] | None = None,
    risk_rule: str | None = None,
) -> tuple[StoredReport, str]:
    """Seal and store a new report with the child's first message; returns it and the receipt.

    The grade, when given, is sealed as a staff-only intake entry, as its band (grade_band):
    only the priority and category of a report are kept in the clear. `inbox` is the school's
    (school_and_inbox read it already); without it, it is looked up. `also` adds what must be
    stored with the report, in its transaction (the notification outbox), given the stored
    report. `risk_rule` is the lexicon rule that made it P1 (risk.assess), kept in the clear
    beside the category.
    """
    if inbox is None:
        inbox = inbox_for_school(session, school)
    receipts: list[str] = []

    def build() -> StoredReport:
        receipt = crypto.new_receipt()
        receipts.append(receipt)
        sealed, keys = crypto.seal_report(inbox.public_key, receipt, lookup_secret(server_secret))
        connection = session.connection()  # the session's transaction: one commit for all
        report_pk = connection.execute(
            _INSERT_REPORT,
            {
                "public_id": sealed.report_id,
                "school_pk": school.id,
                "inbox_id": inbox.id,
                "category": category,
                "priority": priority,
                "risk_rule": risk_rule,
                "receipt_lookup": sealed.receipt_lookup,
                "key_for_inbox": sealed.key_for_inbox,
                "key_for_receipt": sealed.key_for_receipt,
            },
        ).scalar_one()
        stored = StoredReport(report_pk, sealed.report_id, inbox.id, priority)
        entries = [_sealed_entry(keys, sealed.report_id, 0, EntryKind.CHILD, text)]
        if grade is not None:
            facts = json.dumps({"grade": grade_band(grade)})
            entries.append(_sealed_entry(keys, sealed.report_id, 1, EntryKind.INTAKE, facts))
        rows = [{"report_id": stored.id, **entry} for entry in entries]
        connection.execute(_INSERT_ENTRIES, rows)
        if also is not None:
            also(session, stored)
        return stored

    # The commit is what makes the receipt worth showing (P4: acknowledged means durable).
    stored = commit_retrying(session, build)
    return stored, receipts[-1]


def _sealed_entry(
    keys: crypto.ReportKeys, report_id: str, position: int, kind: EntryKind, text: str
) -> dict[str, object]:
    """An entry's columns (position, kind, sealed text), sealed with the key its kind takes."""
    if kind in _STAFF_ONLY:
        blob = crypto.seal_note(keys.notes_key, report_id, position, text)
    else:
        blob = crypto.seal_message(keys.message_key, report_id, position, _AUTHOR_OF[kind], text)
    return {"position": position, "kind": kind, "sealed": blob}


def stretch_receipt(typed_receipt: str, server_secret: str) -> crypto.StretchedReceipt | None:
    """A typed receipt after its one Argon2id (finds and opens its report); None unless 16
    digits, then at no cost."""
    receipt = crypto.parse_receipt(typed_receipt)
    if receipt is None:
        return None
    return crypto.stretch_receipt(receipt, lookup_secret(server_secret))


def find_by_receipt(session: Session, receipt: crypto.StretchedReceipt) -> Report | None:
    """The live report a receipt belongs to, or None (the receipt itself is never stored)."""
    return session.scalar(
        select(Report).where(Report.receipt_lookup == receipt.lookup, Report.erased_at.is_(None))
    )


def keys_for_child(report: Report, receipt: crypto.StretchedReceipt) -> crypto.ReportKeys:
    """The report's keys as the child holds them: the message key only, never the notes key."""
    if report.key_for_receipt is None:
        raise ReportErased(f"report {report.public_id} was erased")
    message_key = crypto.open_report_with_receipt(report.key_for_receipt, receipt, report.public_id)
    return crypto.ReportKeys(message_key=message_key, notes_key=b"")


def keys_for_staff(report: Report, inbox_private: bytes) -> crypto.ReportKeys:
    """The report's keys through its inbox's private key."""
    if report.key_for_inbox is None:
        raise ReportErased(f"report {report.public_id} was erased")
    return crypto.open_report_as_staff(report.key_for_inbox, inbox_private, report.public_id)


def read_conversation(report: Report, keys: crypto.ReportKeys) -> list[ConversationEntry]:
    """The entries these keys open, in order; notes only when the notes key is held."""
    opened: list[ConversationEntry] = []
    for entry in report.entries:
        if entry.sealed is None or (entry.kind in _STAFF_ONLY and not keys.notes_key):
            continue
        if entry.kind in _STAFF_ONLY:
            text = crypto.open_note(entry.sealed, keys.notes_key, report.public_id, entry.position)
        else:
            message = crypto.open_message(
                entry.sealed, keys.message_key, report.public_id, entry.position
            )
            if message.author is not _AUTHOR_OF[entry.kind]:
                raise crypto.MisplacedMessage("the sealed author differs from the stored one")
            text = message.text
        opened.append(ConversationEntry(entry.position, entry.kind, text, entry.created_at))
    return opened


def add_entry(
    session: Session, report: Report, keys: crypto.ReportKeys, kind: EntryKind, text: str
) -> Entry:
    """Seal and append a message or note to the conversation, committed."""
    return commit_retrying(session, lambda: append_entry(report, keys, kind, text))


def append_entry(report: Report, keys: crypto.ReportKeys, kind: EntryKind, text: str) -> Entry:
    """Seal and append a message or note, uncommitted: the caller commits it with the rest of
    its action (its audit record), retrying the whole unit on a clash of positions."""
    if report.erased_at is not None:
        raise ReportErased(f"report {report.public_id} was erased")
    if kind is EntryKind.INTAKE:
        raise ReportError("intake facts are sealed with the report, never added later")
    if kind is EntryKind.NOTE and not keys.notes_key:
        raise ReportError("only staff may write notes")
    # Who wrote an entry is sealed with it: the child's keys never write as staff, nor the reverse.
    if (kind is EntryKind.CHILD) == bool(keys.notes_key):
        raise ReportError(f"these keys may not write a {kind.value} entry")
    position = 1 + max((entry.position for entry in report.entries), default=-1)
    entry = Entry(**_sealed_entry(keys, report.public_id, position, kind, text))
    report.entries.append(entry)
    report.updated_at = clock.now()
    return entry


def erase_report(session: Session, report: Report, *, commit: bool = True) -> None:
    """Destroy the report's wrapped keys and its messages; what the figures count stays, its
    times coarsened to their month.

    The message rows go whole (issue 20): their kinds, positions and times told how the
    conversation went, and when the child wrote again. The report keeps its region, category,
    priority and status, and only the month of each time (the first instant of the month in
    Kazakhstan, so the figures still count it in its month).
    commit=False leaves the commit to the caller (the retention job erases in batches).
    """
    report.key_for_inbox = None
    report.key_for_receipt = None
    report.receipt_lookup = None  # the receipt then finds nothing, as if never issued
    report.entries.clear()  # delete-orphan: the rows are deleted at the flush
    report.created_at = clock.start_of_month(report.created_at)
    report.updated_at = clock.start_of_month(clock.now())
    for name in ("answered_at", "closed_at"):
        when = getattr(report, name)
        if when is not None:
            setattr(report, name, clock.start_of_month(when))
    report.erased_at = clock.start_of_month(clock.now())
    if commit:
        session.commit()
