"""Data migrations: rows written before each Alembic revision read the same after it.

SecureDrop's pattern, one test per revision: a fresh database is migrated to the revision
before, filled by plain SQL with realistic rows of that schema, upgraded, and read back by SQL
there and through the models at the head. Where a revision goes down, its rows go down and up
again too. (tests/test_migrations.py checks the schemas, on empty databases.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, inspect, select, text
from sqlalchemy.orm import Session

from portal import clock, migrate
from portal.database import make_engine
from portal.enums import Agency, EntryKind, Priority, Role
from portal.models import (
    OPEN_REPORT,
    AuditEvent,
    Base,
    Entry,
    EscalationMember,
    FigureCount,
    FigureMonth,
    Inbox,
    InboxGrant,
    LoginDevice,
    NotificationChoice,
    NotificationDelivery,
    NotificationEvent,
    RecoveryKey,
    Report,
    School,
    Staff,
    StaffInvitation,
    StaffInvitationSchool,
    StaffSchool,
    StaffSession,
    UTCDateTime,
)
from tests.conftest import Backend, new_database

Row = dict[str, Any]
Rows = dict[str, list[Row]]  # table -> its rows in primary-key order; tables in insertion order

MODELS: dict[str, type[Base]] = {
    model.__tablename__: model
    for model in (
        School,
        RecoveryKey,
        Inbox,
        Staff,
        InboxGrant,
        StaffSession,
        Report,
        Entry,
        StaffSchool,
        AuditEvent,
        StaffInvitation,
        StaffInvitationSchool,
        LoginDevice,
        NotificationChoice,
        EscalationMember,
        NotificationEvent,
        NotificationDelivery,
        FigureMonth,
        FigureCount,
    )
}
ORDER = {
    "notification_choices": "staff_id",
    "escalation_members": "inbox_id, staff_id",
    "staff_schools": "staff_id, school_pk",
    "staff_invitation_schools": "invitation_id, school_pk",
    "figure_months": "month",
    "figure_counts": "month, region, category, priority, status",
}


def blob(label: str, size: int = 32) -> bytes:
    """Stable bytes standing for a key or a sealed text (any byte value, NUL too)."""
    return hashlib.shake_256(label.encode()).digest(size)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    """A UTC instant, as every timestamp is stored."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# 0001: the school registry. The second school has a Kazakh name only and is deactivated; its
# code was reissued at 23:45:30.5 Almaty time (18:45:30.5 UTC).
SCHOOLS: list[Row] = [
    {
        "id": 1,
        "school_id": "90000000",
        "name_kk": "Шұбаркөл ауылының негізгі орта мектебі",
        "name_ru": "Основная средняя школа села Шубарколь",
        "region": "Северо-Казахстанская область",
        "district": "Оркенский район",
        "address": "ул. Толе би, 44",
        "code": "7KQ2M9XD",
        "check_word": "АНАНАС",
        "code_issued_at": utc(2026, 9, 1, 4, 0),
        "active": True,
        "created_at": utc(2026, 9, 1, 4, 0),
        "updated_at": utc(2026, 9, 1, 4, 0),
    },
    {
        "id": 2,
        "school_id": "45000001",
        "name_kk": "№ 216 мектеп-гимназия",
        "name_ru": "",
        "region": "Акмолинская область",
        "district": "район Байконыр",
        "address": "мкр. Самал-2, 183",
        "code": "H3VZ8T0P",
        "check_word": "БАНАН",
        "code_issued_at": utc(2026, 10, 15, 18, 45, 30, 500_000),
        "active": False,
        "created_at": utc(2026, 9, 1, 4, 0),
        "updated_at": utc(2026, 11, 2, 6, 10),
    },
]
WORLD_0001: Rows = {"schools": SCHOOLS}


def staff(number: int, email: str, role: str, active: bool = True) -> Row:
    """A staff account as 0002 stores it."""
    return {
        "id": number,
        "email": email,
        "role": role,
        "public_key": blob(f"staff {number} public"),
        "sealed_private_key": blob(f"staff {number} private", 72),
        "sealed_totp_secret": blob(f"staff {number} totp", 60),
        "active": active,
        "created_at": utc(2026, 11, 20, 5, number),
    }


def report(
    number: int,
    created: datetime,
    school: int,
    inbox: int,
    category: str,
    priority: str,
    **more: Any,
) -> Row:
    """A report as 0002 stores it (new, its keys wrapped, unless `more` says otherwise)."""
    return {
        "id": number,
        "public_id": blob(f"report {number} id", 16).hex(),
        "school_pk": school,
        "inbox_id": inbox,
        "category": category,
        "priority": priority,
        "status": "new",
        "receipt_lookup": blob(f"report {number} lookup"),
        "key_for_inbox": blob(f"report {number} for inbox", 80),
        "key_for_receipt": blob(f"report {number} for receipt", 80),
        "created_at": created,
        "updated_at": created,
        "closed_at": None,
        "erased_at": None,
        **more,
    }


def entry(number: int, report: Row, position: int, kind: str, sealed: bool = True) -> Row:
    """One entry of a report's conversation (its sealed text gone once the report is erased)."""
    return {
        "id": number,
        "report_id": report["id"],
        "position": position,
        "kind": kind,
        "sealed": blob(f"entry {number}", 120) if sealed else None,
        "created_at": report["created_at"] + timedelta(minutes=position),
    }


# A new P1 report made at midnight, Almaty time, on New Year; a referred one; a closed one; an
# erased one (nothing is left to open it with).
REPORTS = [
    report(1, utc(2026, 12, 31, 19, 0, 0, 1), 1, 2, "self_harm", "p1"),
    report(2, utc(2026, 12, 2, 9, 15), 1, 2, "bullying", "p2", status="referred"),
    report(
        3,
        utc(2026, 12, 3, 9, 15),
        2,
        1,
        "online",
        "p3",
        status="closed",
        closed_at=utc(2026, 12, 10, 11, 0),
    ),
    report(
        4,
        utc(2026, 12, 4, 9, 15),
        2,
        1,
        "home",
        "p2",
        status="closed",
        receipt_lookup=None,
        key_for_inbox=None,
        key_for_receipt=None,
        closed_at=utc(2026, 12, 5, 10, 0),
        erased_at=utc(2026, 12, 20, 0, 0),
    ),
]


# 0002: inboxes, staff and their grants and sessions, reports and their sealed entries.
WORLD_0002: Rows = {
    **WORLD_0001,
    "recovery_keys": [
        {"id": 1, "public_key": blob("recovery"), "created_at": utc(2026, 11, 20, 5)}
    ],
    "inboxes": [
        {
            "id": 1,
            "name": "national",
            "kind": "national",
            "region": None,
            "public_key": blob("national inbox"),
            "key_for_recovery": blob("national for recovery", 80),
            "recovery_key_id": 1,
            "created_at": utc(2026, 11, 20, 5, 0, 1),
        },
        {
            "id": 2,
            "name": "north-kazakhstan",
            "kind": "region",
            "region": "Северо-Казахстанская область",
            "public_key": blob("regional inbox"),
            "key_for_recovery": blob("regional for recovery", 80),
            "recovery_key_id": 1,
            "created_at": utc(2026, 11, 20, 5, 0, 2),
        },
    ],
    "staff": [
        staff(1, "admin@qr111.example.kz", "admin"),
        staff(2, "aigerim.nurlanqyzy@qr111.example.kz", "triage"),
        staff(3, "director.90000000@mektep.example.kz", "school", active=False),
    ],
    "inbox_grants": [
        {
            "id": number,
            "inbox_id": number,
            "staff_id": 2,
            "wrapped_key": blob(f"grant {number}", 80),
            "created_at": utc(2026, 11, 21, 8, number),
        }
        for number in (1, 2)
    ],
    "staff_sessions": [
        {
            "id": blob("session token").hex(),
            "staff_id": 2,
            "server_share": blob("session share"),
            "created_at": utc(2026, 12, 3, 8, 0),
            "last_seen_at": utc(2026, 12, 3, 8, 20, 42, 123_456),
            "expires_at": utc(2026, 12, 3, 16, 0),
        }
    ],
    "reports": REPORTS,
    "report_entries": [
        entry(1, REPORTS[0], 0, "child"),
        entry(2, REPORTS[0], 1, "staff"),
        entry(3, REPORTS[0], 2, "note"),
        entry(4, REPORTS[1], 0, "child"),
        entry(5, REPORTS[2], 0, "child"),
        entry(6, REPORTS[3], 0, "child", sealed=False),
    ],
}

# 0003: what the new columns of 0002's rows hold (their defaults), and what they can hold.
STAFF_0003_DEFAULTS: Row = {
    "failed_logins": 0,
    "locked_until": None,
    "last_login_at": None,
    "last_totp_step": None,
}
REPORTS_0003_DEFAULTS: Row = {"answered_at": None, "assignee_id": None, "referred_to": None}
STAFF_0003_VALUES: dict[int, Row] = {
    1: {"last_login_at": utc(2026, 12, 1, 3, 0), "last_totp_step": 59_650_000},
    2: {"failed_logins": 5, "locked_until": utc(2026, 12, 3, 8, 45)},
}
REPORTS_0003_VALUES: dict[int, Row] = {
    1: {"answered_at": utc(2026, 12, 31, 19, 40), "assignee_id": 2},
    # The longest agency value (19 characters): the column is as wide as the models' one.
    2: {"answered_at": utc(2026, 12, 2, 10, 0), "referred_to": "school_psychologist"},
    3: {"assignee_id": 2},
}


def with_columns(world: Rows, table: str, defaults: Row, values: Mapping[int, Row]) -> Rows:
    """The world with new columns in a table: their defaults, or the values given by row id."""
    rows = [{**row, **defaults, **values.get(row["id"], {})} for row in world[table]]
    return {**world, table: rows}


def with_0003_columns(world: Rows, staff: Mapping[int, Row], reports: Mapping[int, Row]) -> Rows:
    """The world with 0003's new staff and report columns (defaults unless given by id)."""
    world = with_columns(world, "staff", STAFF_0003_DEFAULTS, staff)
    return with_columns(world, "reports", REPORTS_0003_DEFAULTS, reports)


def emptied(world: Rows, *tables: str) -> Rows:
    """The world with these tables there but empty."""
    return {**world, **{table: [] for table in tables}}


UPGRADED_0002 = with_0003_columns(WORLD_0002, {}, {})  # 0002's rows as 0003 reads them
WORLD_0003: Rows = {
    **with_0003_columns(WORLD_0002, STAFF_0003_VALUES, REPORTS_0003_VALUES),
    "staff_schools": [{"staff_id": 3, "school_pk": 1}],
    "audit_events": [
        {
            "id": number,
            "seq": number,
            "at": at,
            "action": action,
            "actor_id": 2,
            "actor_email": "aigerim.nurlanqyzy@qr111.example.kz",
            "report_public_id": public_id,
            "detail": detail,
            "chain": blob(f"chain {number}").hex(),
        }
        for number, at, action, public_id, detail in (
            (1, utc(2026, 12, 2, 9, 59), "login", None, "{}"),
            (
                2,
                utc(2026, 12, 2, 10, 0),
                "status",
                REPORTS[1]["public_id"],
                '{"from": "new", "to": "referred"}',
            ),
        )
    ],
}
# 0005: an invitation of a new school account (with its school) and a TOTP reset.
INVITATIONS = ("staff_invitations", "staff_invitation_schools")
WORLD_0005: Rows = {
    **WORLD_0003,
    "staff_invitations": [
        {
            "id": 1,
            "token_hash": blob("invitation 1").hex(),
            "email": "director.45000001@mektep.example.kz",
            "role": "school",
            "staff_id": None,
            "created_by_id": 1,
            "created_at": utc(2026, 12, 4, 6, 0),
            "expires_at": utc(2026, 12, 7, 6, 0),
            "used_at": None,
            "revoked_at": None,
            "sealed_totp_secret": None,
        },
        {
            "id": 2,
            "token_hash": blob("invitation 2").hex(),
            "email": "aigerim.nurlanqyzy@qr111.example.kz",
            "role": "triage",
            "staff_id": 2,
            "created_by_id": 1,
            "created_at": utc(2026, 12, 4, 6, 5),
            "expires_at": utc(2026, 12, 7, 6, 5),
            "used_at": utc(2026, 12, 4, 7, 0),
            "revoked_at": None,
            "sealed_totp_secret": blob("invitation 2 totp", 60),
        },
    ],
    "staff_invitation_schools": [{"invitation_id": 1, "school_pk": 2}],
}

# 0006: the browser that took a link (issue 13); links made before it were taken by none.
UPGRADED_0005 = with_columns(WORLD_0005, "staff_invitations", {"browser_hash": None}, {})
WORLD_0006 = with_columns(
    WORLD_0005, "staff_invitations", {"browser_hash": None}, {2: {"browser_hash": "b" * 64}}
)


@pytest.fixture
def engine(tmp_path: Path, backend: Backend) -> Iterator[Engine]:
    """An engine on a new empty database (no revision yet), SQLite or PostgreSQL."""
    made = make_engine(new_database(tmp_path, template=None))
    yield made
    made.dispose()


def write(engine: Engine, world: Rows) -> None:
    """INSERT the rows by plain SQL, timestamps bound as UTC."""
    with engine.begin() as connection:
        for table, rows in world.items():
            for row in rows:
                statement = text(
                    f"INSERT INTO {table} ({', '.join(row)}) "  # noqa: S608 (our own names)
                    f"VALUES ({', '.join(':' + name for name in row)})"
                ).bindparams(
                    *(
                        bindparam(name, type_=UTCDateTime())
                        for name, value in row.items()
                        if isinstance(value, datetime)
                    )
                )
                connection.execute(statement, row)


def stored(engine: Engine, expected: Rows) -> Rows:
    """What plain SQL reads of the tables and columns of `expected` (all columns if none)."""
    found: Rows = {}
    with engine.connect() as connection:
        for table, rows in expected.items():
            names = list(rows[0]) if rows else ["*"]
            times = {
                name for row in rows for name, value in row.items() if isinstance(value, datetime)
            }
            statement = text(
                f"SELECT {', '.join(names)} FROM {table} ORDER BY {ORDER.get(table, 'id')}"  # noqa: S608
            ).columns(**{name: UTCDateTime() for name in times})
            found[table] = [dict(row._mapping) for row in connection.execute(statement)]
    return found


def loaded(engine: Engine, expected: Rows) -> Rows:
    """What the models read of the tables and columns of `expected` (enums as their values)."""
    with Session(engine) as session:
        return {
            table: [
                {name: getattr(instance, name) for name in (rows[0] if rows else ())}
                for instance in session.scalars(
                    select(MODELS[table]).order_by(*inspect(MODELS[table]).primary_key)
                )
            ]
            for table, rows in expected.items()
        }


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database down to the revision."""
    migrate.downgrade(engine, revision)


# Since 0012 (issue 20) the head keeps a report's, a message's and a P1 notification's times to
# the minute, and an erased report's to their month in Kazakhstan without its message rows: what
# the models read there of rows written at any revision before.
MINUTE_TIMES = {
    "reports": ("created_at", "updated_at", "answered_at", "closed_at", "erased_at"),
    "report_entries": ("created_at",),
    "notification_events": ("created_at", "fanned_out_at"),
    "notification_deliveries": ("sent_at", "created_at"),
}


def cut_times(world: Rows) -> Rows:
    """The world as 0012 leaves it."""
    erased = {row["id"] for row in world.get("reports", ()) if row.get("erased_at") is not None}
    cut = dict(world)
    if "report_entries" in cut:
        cut["report_entries"] = [e for e in cut["report_entries"] if e["report_id"] not in erased]
    for table, names in MINUTE_TIMES.items():
        if table not in cut:
            continue
        rows = []
        for row in cut[table]:
            month = table == "reports" and row["id"] in erased
            times = {name: row[name] for name in names if row.get(name) is not None}
            rows.append(
                {
                    **row,
                    **{
                        name: clock.start_of_month(value) if month else clock.to_the_minute(value)
                        for name, value in times.items()
                    },
                }
            )
        cut[table] = rows
    return cut


def assert_reads(engine: Engine, expected: Rows) -> None:
    """SQL reads `expected` at the current revision; the models read it after the head (its
    times cut by 0012)."""
    assert stored(engine, expected) == expected
    migrate.upgrade(engine)
    assert loaded(engine, expected) == cut_times(expected)


def assert_upgrade_keeps(
    engine: Engine, written_at: str, world: Rows, revision: str, expected: Rows
) -> None:
    """Rows written at `written_at` read as `expected` once upgraded to `revision`."""
    migrate.upgrade(engine, written_at)
    write(engine, world)
    migrate.upgrade(engine, revision)
    assert_reads(engine, expected)


def assert_down_and_up_keeps(
    engine: Engine, revision: str, world: Rows, below: str, down: Rows, up: Rows
) -> None:
    """Rows written at `revision` read as `down` at `below`, and as `up` back at `revision`."""
    migrate.upgrade(engine, revision)
    write(engine, world)
    downgrade(engine, below)
    assert stored(engine, down) == down
    migrate.upgrade(engine, revision)
    assert_reads(engine, up)


def test_schools_written_at_0001_read_the_same_at_the_head(engine: Engine) -> None:
    """0001: the registry's rows come through every later revision, by SQL and School."""
    assert_upgrade_keeps(engine, "0001", WORLD_0001, "head", WORLD_0001)
    with Session(engine) as session:
        school = session.scalars(select(School).where(School.code == "H3VZ8T0P")).one()
        assert school.name_for("ru") == "№ 216 мектеп-гимназия"  # no Russian name: Kazakh
        assert school.code_issued_at == utc(2026, 10, 15, 18, 45, 30, 500_000)
        assert school.code_issued_at.tzinfo is UTC
        assert school.active is False


def test_0002_keeps_the_schools(engine: Engine) -> None:
    """0002 creates the report tables around the schools of 0001 without touching them."""
    assert_upgrade_keeps(engine, "0001", WORLD_0001, "0002", WORLD_0001)


def test_0002_down_and_up_keeps_the_schools(engine: Engine) -> None:
    """Down from 0002 drops its tables (and their rows) only; the schools stay, up again too."""
    assert_down_and_up_keeps(
        engine,
        "0002",
        WORLD_0002,
        "0001",
        WORLD_0001,
        emptied(WORLD_0002, *(WORLD_0002.keys() - WORLD_0001.keys())),
    )


def test_0003_keeps_the_rows_of_0002_with_the_new_defaults(engine: Engine) -> None:
    """0003 keeps every row of 0002 (SQLite too: a rebuilt table takes no child rows with it);
    staff get failed_logins 0, new nullable columns NULL."""
    assert_upgrade_keeps(engine, "0002", WORLD_0002, "0003", UPGRADED_0002)


def test_0003_down_and_up_keeps_the_rows_of_0002(engine: Engine) -> None:
    """Down from 0003 loses only its own columns and tables; up again they are at defaults."""
    up = emptied(UPGRADED_0002, "staff_schools", "audit_events")
    assert_down_and_up_keeps(engine, "0003", WORLD_0003, "0002", WORLD_0002, up)


def test_0004_keeps_every_row_and_the_open_queue(engine: Engine) -> None:
    """0004 rebuilds the report indexes: rows unchanged, the open queue lists the open ones."""
    assert_upgrade_keeps(engine, "0003", WORLD_0003, "0004", WORLD_0003)
    queue = text(
        f"SELECT id FROM reports WHERE {OPEN_REPORT.text} ORDER BY priority, created_at, id"  # noqa: S608
    )
    with engine.connect() as connection:
        assert connection.scalars(queue).all() == [1, 2]


def test_0004_down_and_up_keeps_every_row(engine: Engine) -> None:
    """0004 goes down to the indexes before it and up again without touching a row."""
    assert_down_and_up_keeps(engine, "0004", WORLD_0003, "0003", WORLD_0003, WORLD_0003)


def test_0005_keeps_every_row_and_the_models_follow_their_links(engine: Engine) -> None:
    """0005 keeps every row; through the models reports reach their school and entries."""
    assert_upgrade_keeps(engine, "0004", WORLD_0003, "0005", emptied(WORLD_0003, *INVITATIONS))
    with Session(engine) as session:
        first = session.get_one(Report, 1)
        assert (first.priority, first.school.code) == (Priority.P1, "7KQ2M9XD")
        assert [entry.kind for entry in first.entries] == [
            EntryKind.CHILD,
            EntryKind.STAFF,
            EntryKind.NOTE,
        ]
        assert first.created_at == utc(2026, 12, 31, 19, 0)  # 00:00 on 1 Jan in Almaty (0012)
        assert session.get_one(Report, 2).referred_to is Agency.SCHOOL_PSYCHOLOGIST
        member = session.get_one(Staff, 2)
        assert sorted(grant.inbox.name for grant in member.grants) == [
            "national",
            "north-kazakhstan",
        ]
        assert (member.role, member.failed_logins) == (Role.TRIAGE, 5)
        assert [school.code for school in session.get_one(Staff, 3).schools] == ["7KQ2M9XD"]


def test_0005_down_and_up_keeps_every_row_but_the_invitations(engine: Engine) -> None:
    """Down from 0005 drops the invitations only; up again their tables are empty."""
    assert_down_and_up_keeps(
        engine, "0005", WORLD_0005, "0004", WORLD_0003, emptied(WORLD_0005, *INVITATIONS)
    )


# 0007: the browsers members logged in with, one of them locked by its own failures.
WORLD_0007: Rows = {
    **WORLD_0005,
    "login_devices": [
        {
            "id": blob(f"device {number}").hex(),
            "staff_id": staff_id,
            "created_at": utc(2026, 12, 4, 7, number),
            "last_used_at": utc(2026, 12, 8, 9, number),
            "failed_logins": failures,
            "locked_until": locked_until,
        }
        for number, staff_id, failures, locked_until in (
            (1, 2, 0, None),
            (2, 2, 4, utc(2026, 12, 8, 9, 30)),
            (3, 1, 0, None),
        )
    ],
}


def test_0007_keeps_every_row_of_0006_and_knows_no_browser_yet(engine: Engine) -> None:
    """0007 adds the known browsers beside every row of 0006; nobody has one yet."""
    assert_upgrade_keeps(engine, "0006", WORLD_0005, "0007", emptied(WORLD_0007, "login_devices"))


def test_0007_down_and_up_keeps_every_row_but_the_known_browsers(engine: Engine) -> None:
    """Down from 0007 drops the known browsers only (each then logs in as a new one)."""
    assert_down_and_up_keeps(
        engine, "0007", WORLD_0007, "0006", WORLD_0005, emptied(WORLD_0007, "login_devices")
    )


def test_0006_keeps_the_invitations_untaken(engine: Engine) -> None:
    """0006 keeps every invitation; none was taken by a browser yet."""
    assert_upgrade_keeps(engine, "0005", WORLD_0005, "0006", UPGRADED_0005)


def test_0006_down_and_up_forgets_only_the_browsers(engine: Engine) -> None:
    """Down from 0006 loses the browser of each link only; up again no link is taken."""
    assert_down_and_up_keeps(engine, "0006", WORLD_0006, "0005", WORLD_0005, UPGRADED_0005)


# 0008: a member's own choices, an escalation list, a P1's outbox event and its deliveries
# (one sent, one failed after every attempt, the webhook's leased by a worker).
NOTIFICATIONS = ("notification_choices", "escalation_members")
OUTBOX = ("notification_events", "notification_deliveries")
WORLD_0008: Rows = {
    **WORLD_0007,
    "notification_choices": [
        {
            "staff_id": 2,
            "address": "duty@qr111.example.kz",
            "p1_at_once": True,
            "digest": True,
            "language": "kk",
            "updated_at": utc(2026, 12, 8, 9, 0),
        }
    ],
    "escalation_members": [{"inbox_id": 1, "staff_id": 1, "created_at": utc(2026, 12, 8, 9, 1)}],
    "notification_events": [
        {
            "id": 1,
            "key": "p1:" + REPORTS[0]["public_id"],
            "kind": "p1",
            "inbox_id": 1,
            "report_id": 1,
            "report_count": 1,
            "created_at": REPORTS[0]["created_at"],
            "fanned_out_at": utc(2026, 12, 31, 19, 0, 1),
        }
    ],
    "notification_deliveries": [
        {
            "id": number,
            "event_id": 1,
            "staff_id": staff_id,
            "channel": channel,
            "recipient": recipient,
            "language": "kk",
            "status": status,
            "attempts": attempts,
            "next_attempt_at": utc(2026, 12, 31, 19, 0, 1),
            "lease_until": lease,
            "leased_by": "worker-1" if lease else None,
            "sent_at": utc(2026, 12, 31, 19, 0, 2) if status == "sent" else None,
            "last_error": "" if status == "sent" else "connection refused",
            "created_at": utc(2026, 12, 31, 19, 0, 1),
        }
        for number, staff_id, channel, recipient, status, attempts, lease in (
            (1, 2, "email", "duty@qr111.example.kz", "sent", 1, None),
            (2, 1, "email", "admin@qr111.example.kz", "failed", 8, None),
            (3, None, "webhook", "webhook", "pending", 1, utc(2026, 12, 31, 19, 2)),
        )
    ],
}


def test_0008_keeps_every_row_of_0007_with_no_notification_yet(engine: Engine) -> None:
    """0008 adds the notification tables beside every row of 0007; all start empty."""
    assert_upgrade_keeps(
        engine, "0007", WORLD_0007, "0008", emptied(WORLD_0008, *NOTIFICATIONS, *OUTBOX)
    )


def test_0008_down_and_up_keeps_every_row_but_the_notifications(engine: Engine) -> None:
    """Down from 0008 drops the choices, lists and outbox only (members get the defaults)."""
    assert_down_and_up_keeps(
        engine,
        "0008",
        WORLD_0008,
        "0007",
        WORLD_0007,
        emptied(WORLD_0008, *NOTIFICATIONS, *OUTBOX),
    )


# 0009: November's figures counted once (two kinds of report in one region), and October's
# month with none at all.
FIGURES = ("figure_months", "figure_counts")
WORLD_0009: Rows = {
    **WORLD_0008,
    "figure_months": [
        {"month": "2026-10", "taken_at": utc(2026, 11, 1, 3, 0)},
        {"month": "2026-11", "taken_at": utc(2026, 12, 1, 3, 0)},
    ],
    "figure_counts": [
        {
            "month": "2026-11",
            "region": "Акмолинская область",
            "category": category,
            "priority": priority,
            "status": "closed",
            "count": count,
        }
        for category, priority, count in (("bullying", "p2", 7), ("self_harm", "p1", 2))
    ],
}


def test_0009_keeps_every_row_of_0008_with_no_snapshot_yet(engine: Engine) -> None:
    """0009 adds the figures' snapshots beside every row of 0008; no month is counted yet."""
    assert_upgrade_keeps(engine, "0008", WORLD_0008, "0009", emptied(WORLD_0009, *FIGURES))


def test_0009_down_and_up_keeps_every_row_but_the_snapshots(engine: Engine) -> None:
    """Down from 0009 drops the snapshots only (the next view counts closed months again)."""
    assert_down_and_up_keeps(
        engine, "0009", WORLD_0009, "0008", WORLD_0008, emptied(WORLD_0009, *FIGURES)
    )


# 0010: the risk rule that made a report P1 (lexicon text, never the child's words).
WORLD_0010 = with_columns(
    WORLD_0009, "reports", {"risk_rule": None}, {1: {"risk_rule": "self_harm:ru:хочу умереть"}}
)
UPGRADED_0009 = with_columns(WORLD_0009, "reports", {"risk_rule": None}, {})


def test_0010_keeps_every_row_of_0009_with_no_rule_yet(engine: Engine) -> None:
    """0010 keeps every report; none names a rule (they were checked before rules had ids)."""
    assert_upgrade_keeps(engine, "0009", WORLD_0009, "0010", UPGRADED_0009)


def test_0010_down_and_up_keeps_every_row_but_the_rules(engine: Engine) -> None:
    """Down from 0010 forgets which rule flagged a report, and nothing else."""
    assert_down_and_up_keeps(engine, "0010", WORLD_0010, "0009", WORLD_0009, UPGRADED_0009)


# 0012: times written before issue 20 were kept to the microsecond. They are cut as they are
# cut now (cut_times above).
START_OF_DECEMBER = utc(2026, 11, 30, 19, 0)  # 1 December 2026, 00:00 in Kazakhstan (UTC+5)
WORLD_0012 = cut_times(WORLD_0010)


def test_0012_cuts_old_times_to_the_minute_and_erased_reports_to_their_month(
    engine: Engine,
) -> None:
    """0012 leaves no second in a report's, a message's or a P1 notification's time; an erased
    report keeps the month of each time and no message row (as erasure does now)."""
    assert WORLD_0010["reports"][0]["created_at"] == utc(2026, 12, 31, 19, 0, 0, 1)
    assert WORLD_0012["reports"][0]["created_at"] == utc(2026, 12, 31, 19, 0)
    assert WORLD_0012["reports"][3]["erased_at"] == START_OF_DECEMBER  # was 20 December
    assert WORLD_0012["reports"][3]["closed_at"] == START_OF_DECEMBER  # was 5 December
    assert [e["id"] for e in WORLD_0012["report_entries"]] == [1, 2, 3, 4, 5]  # 6: erased
    assert WORLD_0012["notification_deliveries"][0]["sent_at"] == utc(2026, 12, 31, 19, 0)
    assert WORLD_0012["notification_deliveries"][0]["next_attempt_at"].second == 1  # not MINUTE
    assert_upgrade_keeps(engine, "0011", WORLD_0010, "0012", WORLD_0012)


def test_0012_down_and_up_keeps_the_cut_times(engine: Engine) -> None:
    """Down from 0012 changes nothing (the seconds are gone for good); up again neither."""
    assert_down_and_up_keeps(engine, "0012", WORLD_0012, "0011", WORLD_0012, WORLD_0012)
