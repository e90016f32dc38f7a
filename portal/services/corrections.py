"""Staff corrections of the intake's P1, counted by risk-lexicon rule (issue 15): which rules
make reports P1 that staff then lower, and how many P1s staff raise that no rule flagged. Counts
only, from metadata (the rule id kept beside the category, the priority changes on the audit
log): no report is opened, and small counts are suppressed as on the rest of the figures page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.enums import AuditAction, Priority
from portal.models import AuditEvent, Report
from portal.services.figures import shown

# The audit detail of a priority change is canonical JSON (audit.encode_detail: sorted keys,
# no spaces), so these fragments find the changes from and to P1.
_FROM_P1 = f'"from":"{Priority.P1.value}"'
_TO_P1 = f'"to":"{Priority.P1.value}"'


@dataclass(frozen=True)
class RuleCount:
    """One rule's line: reports it made P1, and how many staff lowered or raised (shown)."""

    rule: str  # the rule's id (risk.Rule.id); "" for reports that no rule flagged
    flagged: str
    lowered: str
    raised: str


def _corrected(session: Session, start: datetime, end: datetime, fragment: str) -> Counter[str]:
    """Reports received in the period whose priority staff changed this way, by rule."""
    rows = session.execute(
        select(Report.risk_rule, func.count(func.distinct(Report.id)))
        .join(AuditEvent, AuditEvent.report_public_id == Report.public_id)
        .where(
            AuditEvent.action == AuditAction.PRIORITY,
            AuditEvent.detail.contains(fragment),
            Report.created_at >= start,
            Report.created_at < end,
        )
        .group_by(Report.risk_rule)
    )
    return Counter({rule or "": number for rule, number in rows})


def rule_corrections(session: Session, start: datetime, end: datetime) -> list[RuleCount]:
    """Per rule, over reports received from `start` to `end`: made P1, lowered from P1 by
    staff, raised to P1 by staff; then the reports no rule flagged that staff raised to P1."""
    flagged = Counter(
        {
            rule: number
            for rule, number in session.execute(
                select(Report.risk_rule, func.count())
                .where(
                    Report.risk_rule.is_not(None),
                    Report.created_at >= start,
                    Report.created_at < end,
                )
                .group_by(Report.risk_rule)
            )
            if rule is not None
        }
    )
    lowered = _corrected(session, start, end, _FROM_P1)
    raised = _corrected(session, start, end, _TO_P1)
    rules = sorted(set(flagged) | set(lowered) | set(raised), key=lambda rule: (rule == "", rule))
    return [
        RuleCount(rule, shown(flagged[rule]), shown(lowered[rule]), shown(raised[rule]))
        for rule in rules
    ]
