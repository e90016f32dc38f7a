"""The audit log: a keyed hash chain that names every edited, removed or reordered record."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import crypto
from portal.enums import AuditAction
from portal.models import AuditEvent, Staff
from portal.services import audit, registry
from portal.web.context import engine_of, get_session
from tests.conftest import SAMPLE_SCHOOLS
from tests.worlds import REGION, World

OTHER_SECRET = "another-server-secret-" + "y" * 32


def secret(world: World) -> str:
    return world.config.secret_key


def write_log(world: World, count: int = 5) -> list[AuditEvent]:
    """`count` committed records of several shapes: staff and operator, with and without report."""
    staff = world.national_member.staff
    shapes: list[dict[str, Any]] = [
        {"action": AuditAction.LOGIN, "actor": staff},
        {"action": AuditAction.REPORT_OPENED, "actor": staff, "report_public_id": "r" * 32},
        {
            "action": AuditAction.STATUS,
            "actor": staff,
            "report_public_id": "s" * 32,
            "detail": {"from": "new", "to": "closed", "agency": None},
        },
        {"action": AuditAction.KEYS, "detail": {"via": "cli", "command": "keys init"}},
        {"action": AuditAction.PURGE, "detail": {"count": 12, "dry": False}},
    ]
    return [
        audit.record_and_commit(world.session, server_secret=secret(world), **shapes[i % 5])
        for i in range(count)
    ]


def raw(world: World, *statements: str) -> None:
    """Change the table behind the application's back, as someone with the database could."""
    for statement in statements:
        world.session.connection().exec_driver_sql(statement)
    world.session.commit()


def seqs(problems: list[audit.AuditProblem]) -> list[int]:
    return [problem.seq for problem in problems]


# ---- writing -------------------------------------------------------------------------------


def test_records_are_numbered_from_one_and_a_whole_chain_verifies(world: World) -> None:
    assert audit.verify(world.session, secret(world)) == []  # an empty log is intact
    events = write_log(world, 7)
    assert [event.seq for event in events] == [1, 2, 3, 4, 5, 6, 7]
    assert len({event.chain for event in events}) == 7
    assert all(len(event.chain) == 64 and int(event.chain, 16) >= 0 for event in events)
    assert audit.verify(world.session, secret(world)) == []
    assert audit.count(world.session) == 7
    first = events[0]
    assert (first.actor_id, first.actor_email) == (world.national_member.staff.id, "daniyar@111.kz")
    assert (events[3].actor_id, events[3].actor_email) == (None, "")
    # Canonical detail: sorted keys, compact, None kept.
    assert events[2].detail == '{"agency":null,"from":"new","to":"closed"}'


def test_the_chain_is_the_documented_hmac(world: World) -> None:
    """Pins the format: an HMAC-SHA256 under the "audit-chain" server key over the previous
    chain and the canonical fields; a change here breaks every stored log."""
    first, second = write_log(world, 2)
    key = crypto.derive_server_key(secret(world), "audit-chain")

    def chain(previous: str, event: AuditEvent) -> str:
        fields = [
            event.seq,
            event.at.isoformat(timespec="microseconds"),
            event.action.value,
            event.actor_id,
            event.actor_email,
            event.report_public_id,
            event.detail,
        ]
        encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        message = b"qr111/audit/v1\n" + previous.encode() + b"\n" + encoded
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    assert first.at.utcoffset() is not None
    assert chain("0" * 64, first) == first.chain
    assert chain(first.chain, second) == second.chain


def test_record_adds_to_the_callers_transaction_and_commits_with_its_change(world: World) -> None:
    staff = world.national_member.staff
    staff.failed_logins = 3
    audit.record(world.session, AuditAction.LOGIN_FAILED, actor=staff, server_secret=secret(world))
    world.session.rollback()  # the change and its record go together
    assert audit.count(world.session) == 0
    assert world.session.get(Staff, staff.id).failed_logins == 0  # type: ignore[union-attr]

    staff.failed_logins = 3
    event = audit.record(
        world.session, AuditAction.LOGIN_FAILED, actor=staff, server_secret=secret(world)
    )
    assert event.id is not None  # flushed: the caller may use it at once
    world.session.commit()
    with Session(engine_of(world.app)) as other:
        assert other.scalars(select(AuditEvent.seq)).all() == [1]
        assert other.get(Staff, staff.id).failed_logins == 3  # type: ignore[union-attr]


def test_a_clash_on_seq_is_retried_and_keeps_the_callers_change(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(world, 2)
    real_tail = audit._tail
    calls: list[int] = []

    def stale_once(session: Session) -> tuple[int, str]:
        calls.append(1)
        return (1, "0" * 64) if len(calls) == 1 else real_tail(session)  # seq 2 is taken

    monkeypatch.setattr(audit, "_tail", stale_once)
    staff = world.national_member.staff
    staff.failed_logins = 4
    event = audit.record(world.session, AuditAction.LOGIN, actor=staff, server_secret=secret(world))
    world.session.commit()
    assert len(calls) == 2
    assert event.seq == 3
    with Session(engine_of(world.app)) as other:
        assert other.get(Staff, staff.id).failed_logins == 4  # type: ignore[union-attr]
    assert audit.verify(world.session, secret(world)) == []


@pytest.mark.embedded_only(
    "on PostgreSQL the advisory lock makes the other writer wait for ours (in this one thread,"
    " forever): test_postgres.py::test_audit_writers_wait_for_each_other_on_the_advisory_lock"
)
def test_a_writer_racing_from_another_session_gets_the_next_seq(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_log(world, 1)
    real_tail = audit._tail
    raced: list[int] = []

    def race(session: Session) -> tuple[int, str]:
        tail = real_tail(session)
        # Between our reading the end of the log and our insert, another process writes.
        if session is world.session and not raced:
            with Session(engine_of(world.app)) as other:
                event = audit.record_and_commit(
                    other, AuditAction.LOGOUT, server_secret=secret(world)
                )
                raced.append(event.seq)
        return tail

    monkeypatch.setattr(audit, "_tail", race)
    mine = audit.record_and_commit(world.session, AuditAction.EXPORT, server_secret=secret(world))
    assert (raced, mine.seq) == ([2], 3)
    assert [event.action for event in audit.recent(world.session, limit=3)] == [
        AuditAction.EXPORT,
        AuditAction.LOGOUT,
        AuditAction.LOGIN,
    ]
    assert audit.verify(world.session, secret(world)) == []


@pytest.mark.parametrize(
    "detail",
    [
        {"text": "x" * 201},
        {"nested": {"a": 1}},
        {"items": ["a"]},
        {"ratio": 0.5},
        {"blob": b"sealed"},
        {"Text": "x"},
        {"a" * 33: "x"},
        {"key with space": "x"},
        {f"k{i}": "x" * 200 for i in range(10)},  # each fits, together over the column
    ],
)
def test_detail_takes_only_small_facts(world: World, detail: dict[str, Any]) -> None:
    with pytest.raises(audit.AuditError) as refused:
        audit.record(world.session, AuditAction.NOTE, detail=detail, server_secret=secret(world))
    assert "x" * 20 not in str(refused.value)  # the refused text is never repeated
    world.session.commit()
    assert audit.count(world.session) == 0


def test_detail_up_to_the_limit_is_kept(world: World) -> None:
    detail: dict[str, audit.DetailValue] = {
        "reason": "я" * 200,
        "count": 2**40,
        "locked": True,
        "agency": None,
    }
    event = audit.record_and_commit(
        world.session, AuditAction.STATUS, detail=detail, server_secret=secret(world)
    )
    assert json.loads(event.detail) == detail
    assert audit.verify(world.session, secret(world)) == []


# ---- tampering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        """detail = '{"from":"new","to":"in_progress"}'""",
        "actor_email = 'someone.else@111.kz'",
        "actor_id = NULL",
        "report_public_id = 'another'",
        "action = 'export'",
        "action = 'no such action'",
        "at = '2020-01-01 00:00:00.000000'",
        "at = 'yesterday'",
        "chain = '" + "f" * 64 + "'",
    ],
)
def test_an_edited_record_is_named(world: World, change: str) -> None:
    write_log(world, 6)
    raw(world, f"UPDATE audit_events SET {change} WHERE seq = 3")  # noqa: S608
    problems = audit.verify(world.session, secret(world))
    if change.startswith("chain"):
        # The record's own fields are intact; it is the next one that no longer follows.
        assert seqs(problems) == [3, 4]
    else:
        assert problems == [audit.AuditProblem(3, audit._EDITED)]
        assert str(problems[0]).startswith("seq 3: edited")


def test_an_edit_of_the_first_or_the_last_record_is_named(world: World) -> None:
    write_log(world, 4)
    raw(
        world,
        "UPDATE audit_events SET actor_email = 'x@111.kz' WHERE seq = 1",
        "UPDATE audit_events SET actor_email = 'x@111.kz' WHERE seq = 4",
    )
    assert seqs(audit.verify(world.session, secret(world))) == [1, 4]


def test_a_removed_record_is_named_as_a_gap(world: World) -> None:
    write_log(world, 6)
    raw(world, "DELETE FROM audit_events WHERE seq = 3")
    problems = audit.verify(world.session, secret(world))
    assert problems == [audit.AuditProblem(3, "record 3 is missing (removed)")]


def test_removed_records_at_the_start_and_in_a_row(world: World) -> None:
    write_log(world, 8)
    raw(world, "DELETE FROM audit_events WHERE seq IN (1, 4, 5, 6)")
    problems = audit.verify(world.session, secret(world))
    assert [str(problem) for problem in problems] == [
        "seq 1: record 1 is missing (removed)",
        "seq 4: records 4 to 6 are missing (removed)",
    ]


def test_closing_the_gap_by_renumbering_is_named_too(world: World) -> None:
    write_log(world, 6)
    raw(
        world,
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE audit_events SET seq = seq - 1 WHERE seq > 3",
    )
    problems = audit.verify(world.session, secret(world))
    assert seqs(problems) == [3, 4, 5]  # seq is part of each chain: every renumbered one breaks


def test_swapped_records_are_named_as_out_of_order(world: World) -> None:
    write_log(world, 6)
    raw(
        world,
        "UPDATE audit_events SET seq = -2 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = -2",
    )
    problems = audit.verify(world.session, secret(world))
    assert {2, 3} <= set(seqs(problems)) <= {2, 3, 4}
    assert all("reordered" in problem.message for problem in problems)


def test_moving_a_whole_row_between_positions_is_named(world: World) -> None:
    """Swap everything but seq (the chain travels with the row): neither row follows any more."""
    write_log(world, 5)
    columns = "at, action, actor_id, actor_email, report_public_id, detail, chain"
    raw(
        world,
        "CREATE TEMP TABLE moved AS SELECT * FROM audit_events WHERE seq IN (2, 4)",
        "UPDATE audit_events SET chain = 'tmp' || seq WHERE seq IN (2, 4)",  # chain is unique
        f"UPDATE audit_events SET ({columns}) = "  # noqa: S608
        f"(SELECT {columns} FROM moved WHERE moved.seq = 6 - audit_events.seq) "
        "WHERE seq IN (2, 4)",
    )
    problems = audit.verify(world.session, secret(world))
    assert {2, 4} <= set(seqs(problems))


def test_removing_the_newest_records_needs_an_anchor_from_outside(world: World) -> None:
    """The limitation of a chain: a shortened log is still a valid chain (module docstring)."""
    write_log(world, 5)
    raw(world, "DELETE FROM audit_events WHERE seq >= 4")
    assert audit.verify(world.session, secret(world)) == []  # the chain alone cannot tell
    problems = audit.verify(world.session, secret(world), expect_at_least=5)
    assert seqs(problems) == [4]
    assert "ends at record 3, but 5 were there before" in problems[0].message
    assert audit.verify(world.session, secret(world), expect_at_least=3) == []


def test_the_chain_depends_on_the_server_secret(world: World) -> None:
    write_log(world, 4)
    problems = audit.verify(world.session, OTHER_SECRET)
    assert seqs(problems) == [1, 2, 3, 4]
    # And a database-only attacker who rewrote a record with a chain of their own is caught.
    raw(world, "DELETE FROM audit_events WHERE seq = 4")
    forged = audit.record_and_commit(world.session, AuditAction.LOGIN, server_secret=OTHER_SECRET)
    assert forged.seq == 4
    assert seqs(audit.verify(world.session, secret(world))) == [4]


# ---- browsing ------------------------------------------------------------------------------


def test_recent_pages_newest_first_and_filters_by_action(world: World) -> None:
    write_log(world, 10)
    first_page = audit.recent(world.session, limit=4)
    assert [event.seq for event in first_page] == [10, 9, 8, 7]
    second_page = audit.recent(world.session, limit=4, before_seq=first_page[-1].seq)
    assert [event.seq for event in second_page] == [6, 5, 4, 3]
    logins = audit.recent(world.session, limit=10, action=AuditAction.LOGIN)
    assert [event.seq for event in logins] == [6, 1]
    assert audit.recent(world.session, limit=10, before_seq=1) == []
    for limit in (0, audit.MAX_PAGE + 1):
        with pytest.raises(ValueError, match="limit"):
            audit.recent(world.session, limit=limit)


# ---- the commands --------------------------------------------------------------------------


def invoke(world: World, *args: str) -> Result:
    return world.app.test_cli_runner().invoke(args=list(args))


def test_audit_verify_says_intact_with_the_count(world: World) -> None:
    write_log(world, 3)
    result = invoke(world, "audit", "verify")
    assert (result.exit_code, result.stdout) == (0, "audit log intact: 3 records\n")
    result = invoke(world, "audit", "verify", "--expect-at-least", "3")
    assert (result.exit_code, result.stdout) == (0, "audit log intact: 3 records\n")


def test_audit_verify_prints_one_line_per_problem_and_exits_1(world: World) -> None:
    write_log(world, 6)
    raw(
        world,
        "DELETE FROM audit_events WHERE seq = 2",
        "UPDATE audit_events SET detail = '{}' WHERE seq = 4",
        "DELETE FROM audit_events WHERE seq = 6",
    )
    result = invoke(world, "audit", "verify", "--expect-at-least", "6")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["seq 2", "seq 4", "seq 6"]
    assert "missing" in lines[0] and "edited" in lines[1] and "removed" in lines[2]
    assert "Traceback" not in result.output


def test_audit_verify_with_another_secret_hints_at_it(world: World) -> None:
    write_log(world, 2)
    raw(world, "UPDATE audit_events SET actor_email = 'x@111.kz'")  # every record edited
    result = invoke(world, "audit", "verify")
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    assert "server secret" in result.stderr


def test_audit_list_prints_the_newest_records(world: World) -> None:
    write_log(world, 5)
    result = invoke(world, "audit", "list", "--limit", "2")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(line[0], line[2], line[3], line[5]) for line in lines] == [
        ("5", "purge", "-", '{"count":12,"dry":false}'),
        ("4", "keys", "-", '{"command":"keys init","via":"cli"}'),
    ]
    assert "--before 4" in result.stderr  # how to read on
    result = invoke(world, "audit", "list", "--action", "report_opened")
    assert [line.split("\t")[:5:2] for line in result.stdout.splitlines()] == [
        ["2", "report_opened", "r" * 32]
    ]
    assert result.stderr == ""
    result = invoke(world, "audit", "list", "--action", "nonsense")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_audit_list_says_kazakhstan_time_to_the_minute(world: World) -> None:
    """An operator reads times as the staff's pages show them, and the record keeps no more: a
    P1's notification, recorded at once, must not give its report's second (issue 20)."""
    with time_machine.travel(datetime(2027, 3, 9, 18, 59, 37, 123456, tzinfo=UTC), tick=False):
        write_log(world, 1)
    stored = world.session.scalars(select(AuditEvent.at)).one()
    assert stored == datetime(2027, 3, 9, 18, 59, tzinfo=UTC)  # stored to the minute too
    result = invoke(world, "audit", "list")
    assert result.stdout.split("\t")[1] == "09.03.2027 23:59 (Kazakhstan time)"
    assert not re.search(r"\d:\d\d:\d\d", result.stdout)


# ---- the key commands are on record --------------------------------------------------------


def details(app: Flask) -> list[tuple[int, str, int | None, dict[str, Any]]]:
    with app.app_context():
        events = reversed(audit.recent(get_session(), limit=100))
        return [(e.seq, e.action.value, e.actor_id, json.loads(e.detail)) for e in events]


def test_key_commands_leave_audit_records(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    key = tmp_path / "recovery.key"

    def ok(*args: str, password: str | None = None) -> None:
        result = runner.invoke(args=list(args), input=password)
        assert result.exit_code == 0, result.output

    with app.app_context():  # a regional inbox is for a region of the registry
        registry.seed_schools(get_session(), SAMPLE_SCHOOLS.read_bytes())
    ok("keys", "init", "--out", str(key))
    ok("inbox", "create", "national")
    ok("inbox", "create", "turkestan", "--region", "Туркестанская область")
    ok(
        *("staff", "add", "--email", "New@111.kz", "--role", "triage", "--inbox", "national"),
        *("--recovery-key", str(key), "--password-stdin"),
        password="a long enough password\n",
    )
    ok(
        "keys",
        "recover",
        "--recovery-key",
        str(key),
        "--inbox",
        "turkestan",
        "--email",
        "new@111.kz",
    )
    # A refused command changed nothing, and leaves nothing on record.
    refused = runner.invoke(args=["inbox", "create", "national"])
    assert refused.exit_code == 2
    cli = {"via": "cli"}
    created = {"op": "create", "first_member": None}
    assert details(app) == [
        (1, "keys", None, {**cli, "command": "keys init"}),
        (2, "inbox", None, {**cli, **created, "inbox": "national", "region": None}),
        (3, "inbox", None, {**cli, **created, "inbox": "turkestan", "region": REGION}),
        (
            4,
            "staff",
            None,
            {**cli, "command": "staff add", "member": "new@111.kz", "role": "triage"},
        ),
        (
            5,
            "keys",
            None,
            {**cli, "command": "staff add", "inbox": "national", "member": "new@111.kz"},
        ),
        (
            6,
            "keys",
            None,
            {**cli, "command": "keys recover", "inbox": "turkestan", "member": "new@111.kz"},
        ),
    ]
    result = runner.invoke(args=["audit", "verify"])
    assert (result.exit_code, result.stdout) == (0, "audit log intact: 6 records\n")
