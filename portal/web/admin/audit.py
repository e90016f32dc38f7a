"""The admin's view of the audit log: newest first, filtered, and whether the chain verifies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, String, func, select, type_coerce
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal.enums import AuditAction
from portal.models import AuditEvent, Staff
from portal.services import audit, labels
from portal.services.inputs import row_id
from portal.web.admin.forms import ActionForm
from portal.web.context import get_config, get_session

PAGE_SIZE = 50
PROBLEMS_SHOWN = 20
_REPORT_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class AuditFilter:
    """Which records the page lists; every value parsed strictly (a bad one is an error)."""

    action: AuditAction | None = None
    actor: str = ""  # part of the actor's email, any case
    report: str | None = None
    before: int | None = None  # the page starts below this seq

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> AuditFilter:
        """Read the query string; ValueError names the bad parameter (in the page's language)."""

        def text(name: str) -> str:
            return (args.get(name) or "").strip()

        try:
            action = AuditAction.parse(text("action")) if text("action") else None
        except ValueError:
            allowed = ", ".join(member.value for member in AuditAction)
            raise ValueError(
                _(
                    "%(value)s is not one of: %(allowed)s",
                    value=repr(text("action")[:40]),
                    allowed=allowed,
                )
            ) from None
        actor = text("actor").lower()
        if len(actor) > 254:
            raise ValueError(_("the actor's email is longer than 254 characters"))
        report = text("report").lower() or None
        if report is not None and not _REPORT_ID.fullmatch(report):
            raise ValueError(
                _("“%(report)s” is not a report id (32 hex characters)", report=report[:40])
            )
        before = text("before")
        if before and row_id(before) is None:
            raise ValueError(_("“%(before)s” is not a record number", before=before[:20]))
        return cls(action, actor, report, row_id(before))

    def conditions(self) -> list[ColumnElement[bool]]:
        """The filter as SQL conditions (the page position aside)."""
        found: list[ColumnElement[bool]] = []
        if self.action is not None:
            found.append(AuditEvent.action == self.action)
        if self.actor:
            found.append(func.lower(AuditEvent.actor_email).contains(self.actor, autoescape=True))
        if self.report is not None:
            found.append(AuditEvent.report_public_id == self.report)
        return found


@dataclass(frozen=True)
class Row:
    """One record as listed: its facts, the detail as name and value pairs."""

    seq: int
    at: datetime | str  # a stored time, or what a tampered row holds instead, as it is
    action: str
    actor: str
    report: str | None
    detail: list[tuple[str, str]]


@dataclass(frozen=True)
class AuditPage:
    """A page of records, newest first, and where the next (older) page starts."""

    rows: list[Row]
    matching: int
    older_than: int | None


@dataclass(frozen=True)
class ChainState:
    """What `audit verify` says of the whole log, as the page shows it."""

    records: int
    problems: list[str]
    more_problems: int

    @property
    def intact(self) -> bool:
        """No problem found."""
        return not self.problems


def browse(session: Session, wanted: AuditFilter, limit: int = PAGE_SIZE) -> AuditPage:
    """The newest records matching the filter, from `wanted.before` down; keyset paging."""
    conditions = wanted.conditions()
    matching = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    # Columns, time and action as stored text: a tampered row is listed, not a failure.
    query = (
        select(
            AuditEvent.seq,
            type_coerce(AuditEvent.at, String),
            type_coerce(AuditEvent.action, String),
            AuditEvent.actor_email,
            AuditEvent.report_public_id,
            AuditEvent.detail,
        )
        .where(*conditions)
        .order_by(AuditEvent.seq.desc())
        .limit(limit + 1)
    )
    if wanted.before is not None:
        query = query.where(AuditEvent.seq < wanted.before)
    found = session.execute(query).all()
    rows = [
        Row(seq, _time(at), str(action), actor or "—", report, _detail(detail))
        for seq, at, action, actor, report, detail in found[:limit]
    ]
    older = rows[-1].seq if len(found) > limit else None
    return AuditPage(rows, matching or 0, older)


def chain_state(session: Session, server_secret: str) -> ChainState:
    """Walk the whole chain (as `flask audit verify`); keep the first problems to show."""
    problems = audit.iter_problems(session, server_secret)
    first = [str(problem) for problem in islice(problems, PROBLEMS_SHOWN)]
    return ChainState(audit.count(session), first, sum(1 for _ in problems))


def _time(stored: object) -> datetime | str:
    """A stored time (UTC when its zone was lost); anything unparseable as it is."""
    try:
        at = datetime.fromisoformat(str(stored))
    except ValueError:
        return str(stored)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _detail(encoded: str) -> list[tuple[str, str]]:
    """The detail's facts; a row edited into something unreadable is shown as it is."""
    try:
        facts = json.loads(encoded)
    except ValueError:
        return [("unreadable", encoded)]
    if not isinstance(facts, dict):
        return [("unreadable", encoded)]
    return [(str(name), "—" if value is None else str(value)) for name, value in facts.items()]


bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.app_template_filter("audit_action")
def audit_action(stored: str) -> str:
    """An action as stored, in the reader's language (a tampered value as it is)."""
    return labels.label_of(AuditAction, stored)


def record_reading(session: Session, reader: Staff, server_secret: str, **detail: str) -> None:
    """Put the reading of the log on the log itself (P5: every staff access is on record)."""
    audit.record_and_commit(
        session, AuditAction.AUDIT_READ, actor=reader, detail=detail, server_secret=server_secret
    )


def _page(session: Session, chain: ChainState | None) -> str | tuple[str, int]:
    """The log as the query string filters it; a bad filter is the page again with a 400."""
    try:
        wanted = AuditFilter.parse(request.args)
    except ValueError as exc:
        # The page again, with the reason and no rows: a 400 the admin can act on.
        empty = AuditPage([], 0, None)
        page = render_template(
            "admin/audit/log.html",
            page=empty,
            wanted=AuditFilter(),
            chain=chain,
            records=audit.count(session),
            verify_form=ActionForm(),
            actions=list(AuditAction),
            bad=str(exc),
        )
        return page, 400
    return render_template(
        "admin/audit/log.html",
        page=browse(session, wanted),
        wanted=wanted,
        chain=chain,
        records=audit.count(session),
        verify_form=ActionForm(),
        actions=list(AuditAction),
    )


@bp.get("/")
def log() -> str | tuple[str, int]:
    """The log, newest first; reading it is on record."""
    session = get_session()
    filters = {name: request.args.get(name, "")[:200] for name in ("action", "actor", "report")}
    record_reading(session, g.staff, get_config().secret_key, op="browse", **filters)
    return _page(session, chain=None)


@bp.post("/verify")
def verify() -> Response | str | tuple[str, int]:
    """Walk the whole chain (as `flask audit verify`) on demand: on a long log it takes seconds."""
    if not ActionForm().validate_on_submit():
        flash(_("The form had expired; verify again."))
        return redirect(url_for("admin.audit.log"), 303)
    session = get_session()
    chain = chain_state(session, get_config().secret_key)
    verdict = "intact" if chain.intact else "broken"
    record_reading(session, g.staff, get_config().secret_key, op="verify", verdict=verdict)
    return _page(session, chain)
