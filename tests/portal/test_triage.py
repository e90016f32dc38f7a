"""The triage functions: queue order and filters, workflow, priority, assignment, target times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import reports, triage
from portal.enums import Agency, AuditAction, Category, EntryKind, Priority, Status
from portal.models import AuditEvent, Report
from tests.portal.conftest import World


def opened(world: World, report: Report) -> triage.OpenedReport:
    """The report as the national member opens it."""
    member = world.national_member
    return triage.open_report(
        world.session, world.config, member.staff, world.staff_key(member), report.public_id
    )


def actions(world: World) -> list[AuditAction]:
    """The audit log's actions, oldest first."""
    return [event.action for event in world.session.query(AuditEvent).order_by(AuditEvent.seq)]


def test_the_queue_is_life_safety_first_then_oldest(world: World) -> None:
    school = world.national_school
    p3, _ = world.submit(school, "a", Priority.P3)
    p1_late, _ = world.submit(school, "b", Priority.P1)
    p2, _ = world.submit(school, "c", Priority.P2)
    p1_early, _ = world.submit(school, "d", Priority.P1)
    p1_early.created_at = p1_late.created_at - timedelta(minutes=5)
    world.session.commit()
    page = triage.queue(
        world.session, world.national_member.staff, triage.QueueFilter(), triage.Targets()
    )
    order = [row.public_id for row in page.rows]
    assert order == [p1_early.public_id, p1_late.public_id, p2.public_id, p3.public_id]
    assert page.open_p1 == 2 and page.counts == {Status.NEW: 4}


def test_filters_and_pages(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triage, "PAGE_SIZE", 2)
    for _ in range(5):
        world.submit(world.national_school, "x", Priority.P3)
    staff = world.national_member.staff
    second = triage.queue(world.session, staff, triage.QueueFilter(page=2), triage.Targets())
    assert (second.total, second.pages, len(second.rows)) == (5, 3, 2)
    wanted = triage.QueueFilter.parse({"priority": "p1", "status": "new"})
    assert triage.queue(world.session, staff, wanted, triage.Targets()).total == 0
    mine = triage.QueueFilter.parse({"school": world.national_school.school_id})
    assert triage.queue(world.session, staff, mine, triage.Targets()).total == 5


@pytest.mark.parametrize(
    "args",
    [{"status": "lost"}, {"priority": "P1 "}, {"page": "0"}, {"page": "x"}, {"assignee": "me"}],
)
def test_bad_filters_are_refused(args: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        triage.QueueFilter.parse(args)


def test_a_report_past_its_target_is_marked_until_answered(world: World) -> None:
    report, _ = world.submit(world.national_school, "help", Priority.P1)
    targets = triage.Targets()
    later = report.created_at + timedelta(minutes=16)
    assert triage.is_overdue(report, targets, later)
    assert not triage.is_overdue(report, targets, report.created_at + timedelta(minutes=14))
    triage.reply(
        world.session, world.config, world.national_member.staff, opened(world, report), "Мы здесь"
    )
    assert report.answered_at is not None and report.status is Status.IN_PROGRESS
    assert not triage.is_overdue(report, targets, later)


def test_the_workflow_refers_closes_and_reopens(world: World) -> None:
    report, _ = world.submit(world.national_school, "help")
    staff = world.national_member.staff
    with pytest.raises(triage.TriageError, match="say where"):
        triage.change_status(
            world.session, world.config, staff, opened(world, report), Status.REFERRED
        )
    triage.change_status(
        world.session,
        world.config,
        staff,
        opened(world, report),
        Status.REFERRED,
        agency=Agency.POLICE,
        note="Передано участковому",
    )
    assert (report.status, report.referred_to) == (Status.REFERRED, Agency.POLICE)
    triage.change_status(world.session, world.config, staff, opened(world, report), Status.CLOSED)
    assert report.closed_at is not None
    with pytest.raises(triage.TriageError):
        triage.change_status(
            world.session, world.config, staff, opened(world, report), Status.REFERRED
        )
    triage.change_status(
        world.session, world.config, staff, opened(world, report), Status.IN_PROGRESS
    )
    assert report.closed_at is None
    notes = [e.text for e in opened(world, report).entries if e.kind is EntryKind.NOTE]
    assert notes == ["new → referred (police): Передано участковому"]
    assert actions(world).count(AuditAction.STATUS) == 3


def test_a_priority_change_needs_a_reason_kept_sealed(world: World) -> None:
    report, _ = world.submit(world.national_school, "help", Priority.P3)
    staff = world.national_member.staff
    with pytest.raises(triage.TriageError, match="empty"):
        triage.change_priority(
            world.session, world.config, staff, opened(world, report), Priority.P1, " "
        )
    triage.change_priority(
        world.session, world.config, staff, opened(world, report), Priority.P1, "упоминает нож"
    )
    assert report.priority is Priority.P1
    assert opened(world, report).entries[-1].text == "P3 → P1: упоминает нож"


def test_only_members_of_the_inbox_can_be_assigned(world: World) -> None:
    report, _ = world.submit(world.national_school, "help")
    staff = world.national_member.staff
    with pytest.raises(triage.TriageError):
        triage.assign(
            world.session,
            world.config,
            staff,
            opened(world, report),
            world.regional_member.staff.id,
        )
    triage.assign(world.session, world.config, staff, opened(world, report), staff.id)
    assert report.assignee_id == staff.id
    page = triage.queue(
        world.session, staff, triage.QueueFilter.parse({"assignee": "none"}), triage.Targets()
    )
    assert page.total == 0


def test_opening_is_audited_and_another_inbox_cannot_open(world: World) -> None:
    report, _ = world.submit(world.national_school, "help")
    opened(world, report)
    assert actions(world)[-1] is AuditAction.REPORT_OPENED
    outsider = world.regional_member
    with pytest.raises(triage.NoSuchReport):
        triage.open_report(
            world.session, world.config, outsider.staff, world.staff_key(outsider), report.public_id
        )


def test_the_grade_is_read_from_the_sealed_intake(world: World) -> None:
    report, _ = reports.submit_report(
        world.session,
        world.national_school,
        Category.HOME,
        Priority.P2,
        "текст",
        params=world.config.kdf,
        server_secret=world.config.secret_key,
        grade=7,
    )
    assert opened(world, report).grade == "7"


def test_the_queue_names_the_assignee(world: World) -> None:
    mine, _ = world.submit(world.national_school, "help", Priority.P1)
    world.submit(world.national_school, "more", Priority.P3)
    staff = world.national_member.staff
    triage.assign(world.session, world.config, staff, opened(world, mine), staff.id)
    page = triage.queue(world.session, staff, triage.QueueFilter(), triage.Targets())
    assert [row.assignee_email for row in page.rows] == [staff.email, None]
    wanted = triage.QueueFilter.parse({"assignee": str(staff.id)})
    assert [
        row.public_id for row in triage.queue(world.session, staff, wanted, triage.Targets()).rows
    ] == [mine.public_id]
