"""Everything that counts time, at the instants where calendars break (tests/instants.py).

Each test moves the one clock (time-machine) to the instant and checks the feature one second
either side of its boundary: figures' months, retention, target times, login locks, staff
sessions, enrolment links and the rate limits' daily client key.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from flask import Flask
from sqlalchemy.orm import Session

from portal import clock
from portal.enums import Category, Priority, Role, Status
from portal.models import Report
from portal.services import enrolment, figures, login, retention, sessions, triage
from portal.web import ratelimit
from tests.instants import EVERY_EDGE, SECOND
from tests.services.test_figures import add_reports, world_inbox  # noqa: F401 (a fixture)
from tests.worlds import Desk, World, receipt_of, report_id

TEXT = "Мені ұрады. Меня бьют."


def at(instant: datetime) -> time_machine.travel:
    """The clock stopped at the instant."""
    return time_machine.travel(instant, tick=False)


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_figures_count_the_twelve_calendar_months_up_to_the_instant(instant: datetime) -> None:
    starts = figures.month_starts(instant)
    assert len(starts) == figures.MONTHS + 1
    # Closed months only (issue 20): they end where the current month starts.
    assert starts[-1] <= instant < starts[-1] + relativedelta(months=1)
    for start, following in itertools.pairwise(starts):
        assert start.tzinfo is clock.KAZAKHSTAN
        assert (start.day, start.hour, start.minute, start.second) == (1, 0, 0, 0)
        assert start + relativedelta(months=1) == following
    local = clock.in_kazakhstan(instant)
    assert (starts[-1].year, starts[-1].month) == (local.year, local.month)


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_a_report_at_a_month_edge_counts_in_its_own_month(
    session: Session,
    world_inbox: None,  # noqa: F811
    instant: datetime,
) -> None:
    this_month = figures.month_starts(instant)[-1]
    last_month = figures.month_starts(instant)[-2]
    first = figures.month_starts(instant)[0]
    add_reports(session, "г. Астана", 4, this_month, Category.HOME)  # not closed yet: out
    add_reports(session, "г. Астана", 5, last_month, Category.HOME)  # its first second
    add_reports(
        session, "г. Астана", 6, last_month - SECOND, Category.HOME
    )  # the one before's last
    add_reports(session, "г. Астана", 7, first - SECOND, Category.HOME)  # 13 months ago: out
    with at(instant):
        found = figures.compute(session)
    by_month = {row[0]: row[1] for row in found.table("month").rows}
    assert list(by_month.values())[-2:] == ["6", "5"]
    assert set(list(by_month.values())[:-2]) == {"0"}
    assert found.table("month").foot == ["Total", "11"]
    assert found.months[-1] == clock.in_kazakhstan(last_month).strftime("%Y-%m")


@pytest.mark.parametrize(
    "instant",
    [
        pytest.param(datetime(2026, 11, 30, 19, 0, tzinfo=UTC), id="1-December-00:00-KZ"),
        pytest.param(datetime(2026, 12, 31, 23, 59, tzinfo=clock.KAZAKHSTAN), id="31-Dec-23:59"),
        pytest.param(datetime(2028, 2, 29, 23, 59, tzinfo=clock.KAZAKHSTAN), id="29-Feb-23:59"),
    ],
)
def test_the_figures_page_and_csv_answer_with_the_right_twelve_months(
    desk: Desk, instant: datetime
) -> None:
    local = clock.in_kazakhstan(instant)
    wanted = [f"{(local - relativedelta(months=n)):%Y-%m}" for n in range(12, 0, -1)]
    with time_machine.travel(instant, tick=True):
        admin = desk.log_in(desk.admin)
        page = admin.get("/staff/figures/")
        exported = admin.get("/staff/figures/figures.csv")
    assert page.status_code == 200 and exported.status_code == 200
    text = page.get_data(as_text=True)
    assert all(month in text for month in wanted)
    lines = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    grid = lines.index(["Region × month"])
    assert lines[grid + 1] == ["Region", *wanted, "Total"]
    month_end = local.replace(day=1) - relativedelta(days=1)  # the last closed month's end
    assert f"received {wanted[0]}-01 to {month_end:%Y-%m-%d} " in lines[0][0]


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_retention_erases_a_report_closed_a_second_past_the_period(
    world: World, instant: datetime
) -> None:
    period = timedelta(days=90)
    due, kept = (
        world.submit(world.regional_school, TEXT)[0],
        world.submit(world.regional_school, TEXT)[0],
    )
    for report, closed in ((due, instant - period - SECOND), (kept, instant - period + SECOND)):
        report.status, report.closed_at = Status.CLOSED, closed
    world.session.commit()
    with at(instant):
        erased = retention.purge_closed_reports(
            world.session, older_than=period, server_secret=world.config.secret_key
        )
    assert erased == 1
    # Erased, its times left at their month (issue 20).
    assert due.erased_at == clock.start_of_month(instant) and kept.erased_at is None


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_a_report_is_late_a_second_past_its_target_time(world: World, instant: datetime) -> None:
    targets = triage.targets_of(world.config)
    for priority in Priority:
        late, in_time = (world.submit(world.regional_school, TEXT, priority)[0] for _ in "ab")
        late.created_at = instant - targets.of(priority) - SECOND
        in_time.created_at = instant - targets.of(priority) + SECOND
    world.session.commit()
    with at(instant):
        rows = triage.queue(
            world.session, world.regional_member.staff, triage.QueueFilter(), targets
        ).rows
    marks = {(row.priority, row.waiting > targets.of(row.priority)): row.overdue for row in rows}
    assert marks == {(priority, late): late for priority in Priority for late in (True, False)}


def _log_in(world: World, password: str) -> None:
    member = world.regional_member
    login.log_in(
        world.session,
        world.config,
        member.staff.email,
        password,
        pyotp.TOTP(member.totp_secret).now(),
    )


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_a_locked_account_opens_a_second_after_its_lock_ends(
    world: World, instant: datetime
) -> None:
    failures = login.FREE_FAILURES + 1
    with at(instant - login.lock_for(failures - 1)):  # earlier failures, their lock now over
        for _ in range(failures - 1):
            with pytest.raises(login.LoginFailed):
                _log_in(world, "wrong password")
    with at(instant):
        with pytest.raises(login.LoginFailed):
            _log_in(world, "wrong password")
        assert world.regional_member.staff.locked_until == instant + login.lock_for(failures)
    with at(instant + login.lock_for(failures) - SECOND), pytest.raises(login.LoginFailed):
        _log_in(world, world.regional_member.password)  # the right password, still locked
    with at(instant + login.lock_for(failures) + timedelta(seconds=31)):  # a fresh TOTP step
        _log_in(world, world.regional_member.password)
    assert world.regional_member.staff.failed_logins == 0


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_a_staff_session_ends_when_idle_and_at_its_lifetime(
    world: World, instant: datetime
) -> None:
    member, idle = world.regional_member, timedelta(minutes=15)
    lifetime = timedelta(hours=1)

    def resume(cookie: str) -> sessions.UnlockedSession:
        return sessions.resume_session(world.session, cookie, idle_timeout=idle)

    with at(instant - idle):
        idle_cookie = sessions.start_session(
            world.session, member.staff, world.staff_key(member), lifetime=lifetime
        )
    with at(instant - SECOND):
        resume(idle_cookie)  # used a second before: alive
    with at(instant - SECOND + idle), pytest.raises(sessions.SessionInvalid):
        resume(idle_cookie)
    with at(instant - lifetime):
        busy_cookie = sessions.start_session(
            world.session, member.staff, world.staff_key(member), lifetime=lifetime
        )
    for minutes in range(10, 60, 10):  # used every 10 minutes: never idle
        with at(instant - lifetime + timedelta(minutes=minutes)):
            resume(busy_cookie)
    with at(instant - SECOND):
        resume(busy_cookie)
    with at(instant), pytest.raises(sessions.SessionInvalid):
        resume(busy_cookie)  # its lifetime is over, however busy


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_an_enrolment_link_works_until_its_last_second(world: World, instant: datetime) -> None:
    actor = world.national_member.staff
    with at(instant):
        issued = enrolment.invite(world.session, world.config, actor, "new@111.kz", Role.TRIAGE)
        reset = enrolment.reset_totp(
            world.session, world.config, actor, world.regional_member.staff
        )
    lifetime = issued.invitation.expires_at - instant
    assert lifetime == timedelta(hours=72)
    for link in (issued, reset):
        with at(instant + lifetime - SECOND):
            assert enrolment.find_link(world.session, link.token) == link.invitation
            assert link.invitation in enrolment.pending_invitations(world.session)
        with at(instant + lifetime), pytest.raises(enrolment.ExpiredLink):
            enrolment.find_link(world.session, link.token)


@pytest.mark.parametrize("instant", EVERY_EDGE)
def test_the_limits_client_key_turns_at_midnight_utc(app: Flask, instant: datetime) -> None:
    def key_at(moment: datetime) -> str:
        with at(moment), app.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.3"}):
            return ratelimit.client_key()

    midnight = datetime.combine(instant.astimezone(UTC).date(), datetime.min.time(), UTC)
    same_day = {key_at(midnight), key_at(instant), key_at(midnight + timedelta(days=1) - SECOND)}
    assert len(same_day) == 1
    assert key_at(midnight - SECOND) not in same_day
    assert key_at(midnight + timedelta(days=1)) not in same_day


def test_the_edges_include_the_instants_that_broke_before() -> None:
    instants = {value for param in EVERY_EDGE for value in param.values}
    assert all(isinstance(instant, datetime) for instant in instants)
    assert datetime(2026, 11, 30, 19, 0, tzinfo=UTC) in instants
    assert datetime(2028, 2, 29, 23, 59, 59, tzinfo=clock.KAZAKHSTAN) in instants
    assert datetime(2028, 12, 31, 23, 59, 59, tzinfo=clock.KAZAKHSTAN) in instants
    assert datetime(2028, 1, 1, tzinfo=clock.KAZAKHSTAN) in instants
    firsts = [i for i in instants if isinstance(i, datetime) and clock.in_kazakhstan(i).day == 1]
    assert len(firsts) >= 12


def test_a_report_keeps_its_utc_instant(world: World) -> None:
    """Stored instants stay UTC; only what people read is Kazakhstan time."""
    with at(datetime(2027, 12, 31, 23, 59, 59, tzinfo=clock.KAZAKHSTAN)):
        report = world.submit(world.regional_school, TEXT)[0]
    world.session.expire_all()
    stored = world.session.get(Report, report.id)
    assert stored is not None
    assert stored.created_at == datetime(2027, 12, 31, 18, 59, tzinfo=UTC)  # to the minute
    assert stored.created_at.utcoffset() == timedelta(0)


def test_the_child_and_the_staff_read_the_time_in_kazakhstan_time(desk: Desk) -> None:
    """30 November 19:05 UTC is 1 December 00:05 in Kazakhstan: that is what both pages say."""
    with time_machine.travel(datetime(2026, 11, 30, 19, 5, tzinfo=UTC), tick=True):
        receipt = receipt_of(desk.site.send())
        data = {"csrf_token": desk.site.token("/check"), "receipt": receipt}
        child_page = desk.site.client.post("/check", data=data).get_data(as_text=True)
        staff = desk.log_in(desk.triage)
        staff_page = staff.get(f"/staff/reports/{report_id(desk)}").get_data(as_text=True)
    for page in (child_page, staff_page):
        assert '<time datetime="2026-12-01T00:05+05:00">01.12.2026 00:05 (Kazakhstan time)' in page
        assert "UTC" not in page and "30.11.2026" not in page
