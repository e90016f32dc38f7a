"""What the child's side does with a report and a follow-up: plain functions, no views."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal import crypto
from portal.config import Config
from portal.enums import Category, EntryKind, Priority
from portal.models import Inbox, Report, School
from portal.services import notify, reports
from portal.services.risk import assess


@dataclass(frozen=True)
class NewReport:
    """What the child typed into the school's form, already validated."""

    category: Category
    in_danger: bool
    text: str
    grade: int | None = None


@dataclass(frozen=True)
class SentReport:
    """A stored report: the receipt to show once, and what the thank-you page needs."""

    receipt: str
    priority: Priority
    in_danger: bool

    @property
    def receipt_groups(self) -> list[str]:
        """The 16 digits as four groups of four, as the child should write them down."""
        return crypto.format_receipt(self.receipt).split()


@dataclass(frozen=True)
class ChildView:
    """A report opened with its receipt: the conversation the child may read."""

    report: Report
    keys: crypto.ReportKeys
    entries: list[reports.ConversationEntry]


def send_report(
    session: Session, config: Config, school: School, new: NewReport, inbox: Inbox | None = None
) -> SentReport:
    """Set the priority, seal the report and store it; the receipt exists nowhere else.

    `inbox` is the one the school's reports go to, when the caller read it already."""
    assessed = assess(new.category, new.in_danger, new.text)
    priority = assessed.priority
    _report, receipt = reports.submit_report(
        session,
        school,
        new.category,
        priority,
        new.text,
        grade=new.grade,
        server_secret=config.secret_key,
        inbox=inbox,
        # The P1's notification event is stored with it, or neither is (the outbox).
        also=notify.outbox_new_report,
        risk_rule=assessed.rule,
    )
    return SentReport(receipt=receipt, priority=priority, in_danger=new.in_danger)


def open_with_receipt(session: Session, config: Config, typed_receipt: str) -> ChildView | None:
    """The report this receipt opens, with the child's part of the conversation; else None."""
    # One Argon2id finds the report and opens its key (docs/crypto.md, "Derivations").
    receipt = reports.stretch_receipt(typed_receipt, config.secret_key)
    report = None if receipt is None else reports.find_by_receipt(session, receipt)
    if receipt is None or report is None:
        return None
    try:
        keys = reports.keys_for_child(report, receipt)
    except (reports.ReportErased, crypto.CryptoError):
        return None
    return ChildView(report, keys, reports.read_conversation(report, keys))


def add_follow_up(session: Session, view: ChildView, text: str) -> ChildView:
    """Append the child's new message and return the conversation with it."""
    reports.add_entry(session, view.report, view.keys, EntryKind.CHILD, text)
    return ChildView(view.report, view.keys, reports.read_conversation(view.report, view.keys))
