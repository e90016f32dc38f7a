"""Retention: closed reports past the period are erased (keys destroyed), in batches, on record."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, selectinload

from portal import clock, crypto
from portal.enums import AuditAction, EntryKind, Status
from portal.models import Entry, Report
from portal.services import audit, reports, retention
from portal.web.context import engine_of
from tests.worlds import World

TEXT = "Мені үйде ұрады. Меня бьют дома."
RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Filed:
    """A report as it was filed: its id, its receipt and the staff's key to it."""

    id: int
    public_id: str
    receipt: str


def file_report(
    world: World, *, closed_days_ago: int | None, status: Status = Status.CLOSED
) -> Filed:
    """A report with a staff reply and a note, in `status`, closed that many days ago."""
    report, receipt = world.submit(world.regional_school, TEXT)
    keys = world.staff_keys(report, world.regional_member)
    reports.add_entry(world.session, report, keys, EntryKind.STAFF, "Сіз жалғыз емессіз.")
    reports.add_entry(world.session, report, keys, EntryKind.NOTE, "called the school")
    report.status = status
    if closed_days_ago is not None:
        report.closed_at = clock.now() - timedelta(days=closed_days_ago)
    world.session.commit()
    return Filed(report.id, report.public_id, receipt)


def stored(world: World, filed: Filed) -> Report:
    """The report as committed, read by another session."""
    with Session(engine_of(world.app)) as other:
        found = other.get(Report, filed.id, options=[selectinload(Report.entries)])
    assert found is not None
    return found


def purge(world: World, batch: int = retention.BATCH) -> int:
    return retention.purge_closed_reports(
        world.session, older_than=RETENTION, server_secret=world.config.secret_key, batch=batch
    )


def assert_erased(world: World, filed: Filed) -> None:
    report = stored(world, filed)
    assert report.erased_at is not None
    assert (report.key_for_inbox, report.key_for_receipt, report.receipt_lookup) == (None,) * 3
    # The message rows are gone (issue 20); every time left is the first instant of a month.
    assert report.entries == []
    for when in (report.created_at, report.updated_at, report.closed_at, report.erased_at):
        assert when is not None
        assert when == clock.start_of_month(when), when
    assert world.find_by_receipt(filed.receipt) is None
    with pytest.raises(reports.ReportErased):
        world.child_keys(report, filed.receipt)
    with pytest.raises(reports.ReportErased):
        world.staff_keys(report, world.regional_member)
    # Not even the offline recovery key: no wrap of the report is left for its inbox key.
    inbox_private = crypto.open_inbox_key(
        world.regional.key_for_recovery, world.recovery_private, world.regional.name
    )
    with pytest.raises(reports.ReportErased):
        reports.keys_for_staff(report, inbox_private)


def assert_readable(world: World, filed: Filed) -> None:
    report = stored(world, filed)
    assert report.erased_at is None
    found = world.find_by_receipt(filed.receipt)
    assert found is not None and found.id == filed.id
    child = reports.read_conversation(report, world.child_keys(report, filed.receipt))
    assert child[0].text == TEXT
    staff = reports.read_conversation(report, world.staff_keys(report, world.regional_member))
    assert len(staff) == 3


def purge_records(world: World) -> list[dict[str, object]]:
    """The detail of every PURGE record, oldest first, checking they name no actor or report."""
    events = audit.recent(world.session, limit=100, action=AuditAction.PURGE)
    assert all(e.actor_id is None and e.report_public_id is None for e in events)
    return [json.loads(e.detail) for e in reversed(events)]


def test_reports_closed_past_the_period_are_erased_and_nothing_else(world: World) -> None:
    old = file_report(world, closed_days_ago=91)
    older = file_report(world, closed_days_ago=400)
    recent = file_report(world, closed_days_ago=89)
    still_open = file_report(world, closed_days_ago=None, status=Status.IN_PROGRESS)
    # Closed long ago, then reopened: the old closing time must not make it due.
    reopened = file_report(world, closed_days_ago=200, status=Status.REFERRED)
    for filed in (still_open, reopened):  # filed long ago too: age alone is not a reason
        report = world.session.get(Report, filed.id)
        assert report is not None
        report.created_at = clock.now() - timedelta(days=500)
    world.session.commit()

    assert purge(world) == 2
    assert_erased(world, old)
    assert_erased(world, older)
    for filed in (recent, still_open, reopened):
        assert_readable(world, filed)
    assert stored(world, old).status is Status.CLOSED  # metadata stays for the figures


def test_a_second_run_erases_nothing_and_each_run_is_one_record(world: World) -> None:
    first = file_report(world, closed_days_ago=91)
    file_report(world, closed_days_ago=95)
    assert purge(world) == 2
    erased_at = stored(world, first).erased_at
    assert purge(world) == 0
    assert stored(world, first).erased_at == erased_at  # not erased twice
    records = purge_records(world)
    assert [record["count"] for record in records] == [2, 0]
    assert all(first.public_id not in json.dumps(record) for record in records)
    assert audit.verify(world.session, world.config.secret_key) == []


def test_an_already_erased_report_is_not_counted(world: World) -> None:
    filed = file_report(world, closed_days_ago=120)
    report = world.session.get(Report, filed.id)
    assert report is not None
    reports.erase_report(world.session, report)
    assert purge(world) == 0
    assert [record["count"] for record in purge_records(world)] == [0]


def test_purge_commits_in_batches(world: World) -> None:
    filed = [file_report(world, closed_days_ago=100 + days) for days in range(5)]
    commits: list[int] = []  # real COMMITs on the database (not savepoints)
    event.listen(engine_of(world.app), "commit", lambda _connection: commits.append(1))
    assert purge(world, batch=2) == 5
    assert len(commits) == 3 + 1  # batches of 2, 2 and 1, then the audit record
    for one in filed:
        assert_erased(world, one)


def test_the_period_must_be_positive(world: World) -> None:
    with pytest.raises(ValueError, match="positive"):
        retention.purge_closed_reports(
            world.session, older_than=timedelta(0), server_secret=world.config.secret_key
        )


def test_the_purge_command_prints_the_count_and_is_safe_to_run_twice(world: World) -> None:
    old = file_report(world, closed_days_ago=91)
    month_old = file_report(world, closed_days_ago=45)
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["reports", "purge"])  # the configured 90 days
    assert (result.exit_code, result.stdout) == (
        0,
        "1 reports erased (closed more than 90 days ago)\n",
    )
    assert_erased(world, old)
    assert_readable(world, month_old)
    result = runner.invoke(args=["reports", "purge"])
    assert (result.exit_code, result.stdout) == (
        0,
        "0 reports erased (closed more than 90 days ago)\n",
    )
    result = runner.invoke(args=["reports", "purge", "--older-than-days", "30"])
    assert (result.exit_code, result.stdout) == (
        0,
        "1 reports erased (closed more than 30 days ago)\n",
    )
    assert_erased(world, month_old)
    assert [record["count"] for record in purge_records(world)] == [1, 0, 1]
    refused = runner.invoke(args=["reports", "purge", "--older-than-days", "0"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_the_purge_command_reads_the_period_from_the_config(world: World) -> None:
    filed = file_report(world, closed_days_ago=10)
    world.app.extensions["portal.config"] = dataclasses.replace(world.config, retention_days=7)
    result = world.app.test_cli_runner().invoke(args=["reports", "purge"])
    assert (result.exit_code, result.stdout) == (
        0,
        "1 reports erased (closed more than 7 days ago)\n",
    )
    assert_erased(world, filed)


def test_erasure_leaves_no_message_row_and_only_months(world: World) -> None:
    """Issue 20: kinds, positions and times of an erased conversation told how it went."""
    when = datetime(2026, 3, 31, 19, 30, 12, 345678, tzinfo=UTC)  # 1 April 00:30:12 in Almaty
    with time_machine.travel(when, tick=False):
        filed = file_report(world, closed_days_ago=0)
    report = stored(world, filed)
    # Stored to the minute from the start: enough for a P1's 15 minutes, no more.
    assert report.created_at == datetime(2026, 3, 31, 19, 30, tzinfo=UTC)
    assert {entry.created_at.second for entry in report.entries} == {0}
    with time_machine.travel(when + timedelta(days=100), tick=False):
        assert purge(world) == 1
    erased = stored(world, filed)
    assert erased.entries == []
    with Session(engine_of(world.app)) as other:
        assert other.scalar(select(func.count()).where(Entry.report_id == filed.id)) == 0
    april = datetime(2026, 3, 31, 19, 0, tzinfo=UTC)  # 1 April 00:00 in Almaty
    assert (erased.created_at, erased.closed_at) == (april, april)
    assert erased.erased_at == datetime(2026, 6, 30, 19, 0, tzinfo=UTC)  # July in Almaty
