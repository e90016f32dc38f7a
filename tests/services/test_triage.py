"""The triage functions: queue order and filters, workflow, priority, assignment, target times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from portal import clock
from portal.enums import Agency, AuditAction, Category, EntryKind, Priority, Status
from portal.models import AuditEvent, Report, School
from portal.services import accounts, audit, registry, reports, triage
from tests.worlds import OTHER_REGION, REGION, World, add_member


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
    stored, _ = reports.submit_report(
        world.session,
        world.national_school,
        Category.HOME,
        Priority.P2,
        "текст",
        server_secret=world.config.secret_key,
        grade=7,
    )
    # Issue 20: the school level only, sealed as such (in a small school a grade is a child).
    found = opened(world, world.session.get_one(Report, stored.id))
    assert found.grade == "5–9"
    intake = [entry.text for entry in found.entries if entry.kind is EntryKind.INTAKE]
    assert intake == ['{"grade": "5\\u20139"}']


@pytest.mark.parametrize(
    ("grade", "band"),
    [(1, "1–4"), (4, "1–4"), (5, "5–9"), (9, "5–9"), (10, "10–11"), (11, "10–11"), (12, "?")],
)
def test_a_grade_is_shown_as_its_school_level(grade: int, band: str) -> None:
    assert reports.grade_band(grade) == band
    assert reports.grade_band(band) == band  # a band sealed as such reads as itself


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


def test_the_counts_cover_every_status_and_leave_out_erased_reports(world: World) -> None:
    school, staff = world.national_school, world.national_member.staff
    world.submit(school, "a", Priority.P1)
    closed_p1, _ = world.submit(school, "b", Priority.P1)
    gone, _ = world.submit(school, "c", Priority.P3)
    world.submit(school, "d", Priority.P3)
    for report in (closed_p1, gone):
        triage.change_status(
            world.session, world.config, staff, opened(world, report), Status.CLOSED
        )
    reports.erase_report(world.session, gone)
    page = triage.queue(world.session, staff, triage.QueueFilter(), triage.Targets())
    assert page.counts == {Status.NEW: 2, Status.CLOSED: 1}
    assert (page.open_p1, page.total) == (1, 2)
    closed = triage.queue(
        world.session, staff, triage.QueueFilter(status=Status.CLOSED), triage.Targets()
    )
    assert [row.public_id for row in closed.rows] == [closed_p1.public_id]
    assert closed.total == 1


def test_region_school_and_category_filters_count_what_they_show(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triage, "PAGE_SIZE", 1)
    elsewhere = next(
        school
        for school in registry.list_schools(world.session)
        if school.region not in (REGION, OTHER_REGION)
    )
    world.submit(world.national_school, "a")
    world.submit(world.national_school, "b")
    far, _ = reports.submit_report(
        world.session,
        elsewhere,
        Category.HOME,
        Priority.P3,
        "c",
        server_secret=world.config.secret_key,
    )
    staff = world.national_member.staff

    def shown(**args: str) -> tuple[int, int, int]:
        page = triage.queue(world.session, staff, triage.QueueFilter.parse(args), triage.Targets())
        return page.total, page.pages, len(page.rows)

    assert shown(region=OTHER_REGION) == (2, 2, 1)
    assert shown(region=elsewhere.region) == (1, 1, 1)
    assert shown(school=elsewhere.school_id) == (1, 1, 1)
    assert shown(category="home") == (1, 1, 1)
    assert shown(category="home", region=OTHER_REGION) == (0, 1, 0)
    assert shown(school="no-such-school") == (0, 1, 0)
    home = triage.queue(
        world.session, staff, triage.QueueFilter.parse({"category": "home"}), triage.Targets()
    )
    listed = [(row.public_id, row.school.region) for row in home.rows]
    assert listed == [(far.public_id, elsewhere.region)]


def statements_of(world: World, work: Callable[[], object]) -> list[tuple[str, Any]]:
    """The SQL statements (and their parameters) that `work` runs."""
    ran: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    engine = world.session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return ran


def test_opening_a_report_takes_as_many_queries_for_any_number_of_members(world: World) -> None:
    report, _ = world.submit(world.national_school, "help")
    world.session.expunge_all()  # nothing loaded beforehand: the report page's real work
    alone = statements_of(world, lambda: opened(world, report))
    for number in range(3):
        email = f"colleague{number}@111.kz"
        add_member(world.session, world.config, email, "a long colleague passphrase")
        accounts.grant_with_recovery_key(world.session, "national", email, world.recovery_private)
    world.session.expunge_all()
    crowded = statements_of(world, lambda: opened(world, report))
    assert len(opened(world, report).members) == 4
    assert len(crowded) == len(alone)


@pytest.mark.parametrize("args", [{}, {"status": "closed"}, {"priority": "p2"}])
def test_the_queue_reads_indexes_and_sorts_nothing(world: World, args: dict[str, str]) -> None:
    """SQLite's plans (PostgreSQL plans by statistics): a sort or a table scan here would read
    every report of the inbox on each page view (bench/inbox.py measures the difference).
    Only the page's own rows may be sorted, at the top level, once its ids are chosen; a school
    or region filter may sort too (only that school's or region's reports), so is left out."""
    if world.session.get_bind().dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    world.submit(world.national_school, "a")
    ran = statements_of(
        world,
        lambda: triage.queue(
            world.session,
            world.national_member.staff,
            triage.QueueFilter.parse(args),
            triage.Targets(),
        ),
    )
    connection = world.session.connection()
    plans = [
        list(connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
        for sql, params in ran
        if "FROM reports" in sql
    ]
    assert len(plans) >= 3  # the open counts, the closed count, the page
    for plan in plans:
        steps = [detail for _id, _parent, _unused, detail in plan]
        assert "SCAN reports" not in steps, steps
        nested_sorts = [row for row in plan if "TEMP B-TREE" in row[3] and row[1] != 0]
        assert not nested_sorts, steps


Act = Callable[[World, triage.OpenedReport], None]
ACTIONS_WITH_AN_ENTRY: dict[str, Act] = {
    "reply": lambda w, o: triage.reply(w.session, w.config, w.national_member.staff, o, "Мы тут."),
    "note": lambda w, o: triage.add_note(w.session, w.config, w.national_member.staff, o, "x"),
    "status": lambda w, o: triage.change_status(
        w.session,
        w.config,
        w.national_member.staff,
        o,
        Status.REFERRED,
        agency=Agency.POLICE,
        note="called the police",
    ),
    "priority": lambda w, o: triage.change_priority(
        w.session, w.config, w.national_member.staff, o, Priority.P1, "the child is alone"
    ),
}


@pytest.mark.parametrize("action", ACTIONS_WITH_AN_ENTRY)
def test_an_action_and_its_audit_record_are_committed_together(
    world: World, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """A crash while writing the record leaves nothing of the action: no entry off the log."""
    report = world.submit(world.national_school, "Мне плохо дома.")[0]
    act = ACTIONS_WITH_AN_ENTRY[action]

    def stored() -> tuple[int, Status, Priority, int]:
        world.session.expire_all()
        found = world.session.get(Report, report.id)
        assert found is not None
        return len(found.entries), found.status, found.priority, len(actions(world))

    first = opened(world, report)
    before = stored()

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the process died here")

    with monkeypatch.context() as patched:
        patched.setattr(audit, "record", crash)
        with pytest.raises(RuntimeError):
            act(world, first)
    world.session.rollback()
    assert stored() == before
    act(world, opened(world, report))  # opened again, then done: two records
    assert stored()[0] == before[0] + 1 and stored()[3] == before[3] + 2


def registry_school(world: World) -> School:
    """A school other than the national one whose reports the national inbox receives."""
    return next(
        school
        for school in registry.list_schools(world.session)
        if school.region not in (REGION, OTHER_REGION)
    )


def burst_to(
    world: World, school: School, size: int, gap: timedelta, p1_at: int = -1
) -> list[Report]:
    """`size` reports to a school, `gap` apart (the one at p1_at a P1, the rest P3)."""
    made = []
    start = clock.now() - gap * size
    for number in range(size):
        priority = Priority.P1 if number == p1_at else Priority.P3
        report, _ = world.submit(school, f"junk {number}", priority)
        report.created_at = start + gap * number
        made.append(report)
    world.session.commit()
    return made


def test_a_burst_to_one_school_is_one_group_led_by_its_most_serious_report(world: World) -> None:
    """Issue 14: junk to one school is one row and a group, not pages above real reports; the
    group's P1 leads it, and the group says how many P1s it holds."""
    junk = burst_to(world, world.national_school, triage.BURST_REPORTS + 2, timedelta(minutes=1), 4)
    other = registry_school(world)
    real, _ = world.submit(other, "a real one", Priority.P3)
    staff = world.national_member.staff
    page = triage.queue(world.session, staff, triage.QueueFilter(), triage.Targets())
    assert [row.public_id for row in page.rows] == [junk[4].public_id, real.public_id]
    burst = page.rows[0].burst
    assert burst is not None and page.rows[1].burst is None
    assert (burst.size, burst.p1, burst.minutes) == (len(junk), 1, len(junk))
    assert [row.public_id for row in burst.members] == [
        report.public_id for report in junk if report is not junk[4]
    ][: triage.BURST_SHOWN]
    assert page.total == 2 and page.open_p1 == 1 and page.counts == {Status.NEW: len(junk) + 1}
    for narrowed in ({"school": world.national_school.school_id}, {"status": "new"}):
        own = triage.queue(
            world.session, staff, triage.QueueFilter.parse(narrowed), triage.Targets()
        )
        assert own.total == len(own.rows) >= len(junk), "a filtered list shows every row"
        assert all(row.burst is None for row in own.rows)


def test_reports_spread_over_time_or_too_few_are_not_a_burst(world: World) -> None:
    spread = burst_to(
        world, world.national_school, triage.BURST_REPORTS, triage.BURST_GAP + timedelta(minutes=1)
    )
    few = burst_to(world, registry_school(world), triage.BURST_REPORTS - 1, timedelta(minutes=1))
    page = triage.queue(
        world.session, world.national_member.staff, triage.QueueFilter(), triage.Targets()
    )
    assert len(page.rows) == page.total == len(spread) + len(few)
    assert all(row.burst is None for row in page.rows)


def test_two_runs_to_one_school_are_two_bursts_each_led_by_its_most_serious(
    world: World,
) -> None:
    """Runs are cut where the gap exceeds BURST_GAP (a gap of exactly BURST_GAP joins); many
    reports in one minute (times are stored to the minute) count one by one, and the lead is
    the most serious, then the first sent, even within a minute."""
    school = world.national_school
    early = burst_to(world, school, triage.BURST_REPORTS, triage.BURST_GAP, p1_at=3)
    for report in early:  # an hour before the second run, which they must not join
        report.created_at -= timedelta(hours=1)
    crowd = burst_to(world, school, triage.BURST_REPORTS + 1, timedelta(seconds=5), p1_at=7)
    world.session.commit()
    page = triage.queue(
        world.session, world.national_member.staff, triage.QueueFilter(), triage.Targets()
    )
    groups = {row.public_id: row.burst for row in page.rows}
    assert list(groups) == [early[3].public_id, crowd[7].public_id] and page.total == 2
    early_group, crowd_group = groups[early[3].public_id], groups[crowd[7].public_id]
    assert early_group is not None and crowd_group is not None
    assert (early_group.size, early_group.p1) == (len(early), 1)
    assert [row.public_id for row in early_group.members] == [
        report.public_id for report in early if report is not early[3]
    ]
    assert early_group.minutes == 1 + (len(early) - 1) * triage.BURST_GAP.seconds // 60
    assert (crowd_group.size, crowd_group.p1) == (len(crowd), 1)
    assert [row.public_id for row in crowd_group.members] == [
        report.public_id for report in crowd if report is not crowd[7]
    ][: triage.BURST_SHOWN]


def test_only_a_page_s_first_groups_list_their_members(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood to many schools at once: the page's first BURSTS_LISTED groups, in queue order,
    list their members; the others are their lead and count alone (their school's list shows
    the rest), so the page stays a bounded number of rows."""
    monkeypatch.setattr(triage, "BURSTS_LISTED", 2)
    schools = [
        school
        for school in registry.list_schools(world.session)
        if school.region not in (REGION, OTHER_REGION)  # the national inbox's
    ][:3]
    bursts = [
        burst_to(world, school, triage.BURST_REPORTS, timedelta(seconds=20), p1_at=number)
        for number, school in enumerate(schools)
    ]
    page = triage.queue(
        world.session, world.national_member.staff, triage.QueueFilter(), triage.Targets()
    )
    groups = [row.burst for row in page.rows]
    assert [row.public_id for row in page.rows] == [
        junk[number].public_id for number, junk in enumerate(bursts)
    ]
    assert [len(group.members) if group else None for group in groups] == [
        triage.BURST_REPORTS - 1,
        triage.BURST_REPORTS - 1,
        0,
    ]
    assert all(group is not None and group.size == triage.BURST_REPORTS for group in groups)


def test_a_long_burst_lists_its_first_members_and_pages_count_without_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(triage, "PAGE_SIZE", 2)
    junk = burst_to(world, world.national_school, triage.BURST_SHOWN + 5, timedelta(seconds=10))
    later = [world.submit(registry_school(world), f"real {n}", Priority.P3)[0] for n in range(3)]
    staff = world.national_member.staff
    first = triage.queue(world.session, staff, triage.QueueFilter(), triage.Targets())
    assert (first.total, first.pages) == (4, 2)
    assert first.rows[0].public_id == junk[0].public_id
    burst = first.rows[0].burst
    assert burst is not None and len(burst.members) == triage.BURST_SHOWN
    assert burst.size == len(junk) and burst.p1 == 0
    second = triage.queue(world.session, staff, triage.QueueFilter(page=2), triage.Targets())
    assert [row.public_id for row in first.rows[1:] + second.rows] == [r.public_id for r in later]
