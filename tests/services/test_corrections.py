"""Per-rule counts of the intake's P1 and of staff corrections: counts only, suppressed."""

from __future__ import annotations

from datetime import timedelta

from portal import clock
from portal.enums import Category, Priority
from portal.models import Report
from portal.services import intake, triage
from portal.services.corrections import RuleCount, rule_corrections
from tests.worlds import World

RISKY = "ya ne hochu bolshe zhit"  # one rule of the Russian lexicon, in Latin letters


def child_writes(world: World, text: str) -> Report:
    """A report through the intake (category other, not in danger)."""
    new = intake.NewReport(category=Category.OTHER, in_danger=False, text=text)
    intake.send_report(world.session, world.config, world.national_school, new)
    return world.session.query(Report).order_by(Report.id.desc()).first()  # type: ignore[return-value]


def change(world: World, report: Report, priority: Priority) -> None:
    """The national member sets another priority, with a reason."""
    member = world.national_member
    opened = triage.open_report(
        world.session, world.config, member.staff, world.staff_key(member), report.public_id
    )
    triage.change_priority(world.session, world.config, member.staff, opened, priority, "ok")


def counts(world: World) -> list[RuleCount]:
    """The counts over the last day and the next."""
    now = clock.now()
    return rule_corrections(world.session, now - timedelta(days=1), now + timedelta(days=1))


def test_each_rule_counts_its_p1s_and_the_corrections_small_counts_hidden(world: World) -> None:
    flagged = [child_writes(world, RISKY) for _ in range(6)]
    for report in flagged[:5]:
        change(world, report, Priority.P3)  # five lowered
    change(world, flagged[0], Priority.P1)  # and one of them raised again
    missed = child_writes(world, "в столовой холодный чай")
    change(world, missed, Priority.P1)  # a P1 no rule flagged
    rule = flagged[0].risk_rule
    assert rule is not None
    assert counts(world) == [RuleCount(rule, "6", "5", "<5"), RuleCount("", "0", "0", "<5")]


def test_a_period_without_reports_has_no_line(world: World) -> None:
    child_writes(world, RISKY)
    later = clock.now() + timedelta(days=40)
    assert rule_corrections(world.session, later, later + timedelta(days=30)) == []
