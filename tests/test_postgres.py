"""What is PostgreSQL's own: migrations step by step, column types, time zones, the audit lock.

These run in the second run of `make test` (PORTAL_TEST_DATABASE_URL); on SQLite they skip.
The rest of the suite runs on PostgreSQL too: these are the checks SQLite cannot make.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from enum import Enum as PyEnum
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import Engine, Enum, LargeBinary, String, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal import migrate
from portal.database import CONNECT_TIMEOUT_SECONDS, make_engine
from portal.enums import AuditAction
from portal.models import AuditEvent, Base, School, UTCDateTime
from portal.services import audit
from portal.web.context import engine_of
from tests.conftest import Databases, new_database
from tests.worlds import World

WAIT = 10.0  # seconds to see another connection reach a lock before calling it a failure


@pytest.fixture(autouse=True)
def postgres_only(databases: Databases) -> None:
    """Skip on SQLite: these tests are about PostgreSQL."""
    if not databases.on_postgres:
        pytest.skip("PostgreSQL only: set PORTAL_TEST_DATABASE_URL (make test's second run)")


def column_types(engine: Engine) -> dict[tuple[str, str], tuple[str, int | None]]:
    """(table, column) -> (data type, maximum length) as PostgreSQL reports them."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name, data_type, character_maximum_length "
                "FROM information_schema.columns WHERE table_schema = 'public'"
            )
        )
        return {(table, column): (kind, length) for table, column, kind, length in rows}


def tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        found = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        return set(found)


def test_every_revision_goes_up_and_down_on_an_empty_database(tmp_path: Path) -> None:
    engine = make_engine(new_database(tmp_path, template=None))
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert revisions[-1] == migrate.head_revision()
    try:
        for revision in revisions:
            migrate.upgrade(engine, revision)
            assert migrate.current_revision(engine) == revision
        assert migrate.pending_model_changes(engine) == []
        assert {table.name for table in Base.metadata.sorted_tables} <= tables(engine)
        for expected in [*reversed(revisions[:-1]), None]:
            with engine.begin() as connection:
                command.downgrade(migrate.alembic_config(connection=connection), "-1")
            assert migrate.current_revision(engine) == expected
        assert tables(engine) == {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.pending_model_changes(engine) == []
    finally:
        engine.dispose()


def test_columns_have_postgres_types_and_room_for_every_enum_value(app: Flask) -> None:
    found = column_types(engine_of(app))
    checked = 0
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind, length = found[(table.name, column.name)]
            if isinstance(column.type, UTCDateTime):
                assert kind == "timestamp with time zone", (table.name, column.name)
            elif isinstance(column.type, LargeBinary):
                assert kind == "bytea", (table.name, column.name)
            elif isinstance(column.type, Enum):
                # SQLite ignores a VARCHAR's length; PostgreSQL refuses the longer value.
                enum_class = column.type.enum_class
                assert enum_class is not None and issubclass(enum_class, PyEnum)
                longest = max(len(str(member.value)) for member in enum_class)
                assert kind == "character varying", (table.name, column.name)
                assert length is not None and length >= longest, (table.name, column.name)
            elif isinstance(column.type, String) and column.type.length:
                assert (kind, length) == ("character varying", column.type.length)
            else:
                continue
            checked += 1
    assert checked > 40  # the loop did look at the tables


def test_times_are_stored_in_utc_and_read_back_aware_in_any_session_zone(app: Flask) -> None:
    url = engine_of(app).url.set(query={"options": "-c TimeZone=Asia/Almaty"})
    almaty = make_engine(url.render_as_string(hide_password=False))  # UTC+5
    issued = datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=UTC)
    try:
        with Session(almaty) as session:
            session.add(
                School(
                    school_id="tz-1",
                    region="R",
                    code="TZ1CODE",
                    check_word="w",
                    code_issued_at=issued,
                )
            )
            session.commit()
            assert session.scalar(text("SHOW TimeZone")) == "Asia/Almaty"
        with Session(almaty) as session:
            school = session.scalar(select(School).where(School.school_id == "tz-1"))
            assert school is not None
            assert school.code_issued_at == issued
            assert school.code_issued_at.utcoffset() == timedelta(0)
            # Stored as an instant: in UTC the wall clock is the one we gave.
            naive = session.scalar(
                text(
                    "SELECT code_issued_at AT TIME ZONE 'UTC' FROM schools WHERE school_id = 'tz-1'"
                )
            )
            assert naive == issued.replace(tzinfo=None)
    finally:
        almaty.dispose()


def waiting_on_advisory_lock(engine: Engine, holder: int) -> bool:
    """True once another backend than `holder` waits on an advisory lock of this database."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> :holder"
                ),
                {"holder": holder},
            )
        if waiting:
            return True
        time.sleep(0.02)
    return False


def test_audit_writers_wait_for_each_other_on_the_advisory_lock(world: World) -> None:
    engine = engine_of(world.app)
    secret = world.config.secret_key
    start = audit.count(world.session)
    world.session.commit()
    mine = audit.record(world.session, AuditAction.LOGIN, server_secret=secret)  # lock held
    holder = world.session.scalar(text("SELECT pg_backend_pid()"))
    theirs: list[int] = []

    def other_writer() -> None:
        with Session(engine) as other:
            theirs.append(
                audit.record_and_commit(other, AuditAction.LOGOUT, server_secret=secret).seq
            )

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        assert waiting_on_advisory_lock(engine, holder), "the other writer did not wait"
        assert theirs == []  # it waits for our commit instead of taking our seq
        world.session.commit()
    finally:
        world.session.rollback()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert (mine.seq, theirs) == (start + 1, [start + 2])
    assert list(world.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))[-2:] == [
        AuditAction.LOGIN,
        AuditAction.LOGOUT,
    ]
    assert audit.verify(world.session, secret) == []


def test_a_database_that_never_answers_fails_in_seconds() -> None:
    """No connect_timeout in the URL: the engine sets one, so /healthz cannot hang."""
    failures: list[BaseException] = []

    def connect(url: str) -> None:
        try:
            make_engine(url).connect()
        except OperationalError as exc:
            failures.append(exc)

    with socket.create_server(("127.0.0.1", 0), backlog=4) as silent:  # listens, never answers
        url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
        # A thread, so that a broken timeout fails this test instead of hanging the suite.
        attempt = threading.Thread(target=connect, args=(url,), daemon=True)
        attempt.start()
        attempt.join(CONNECT_TIMEOUT_SECONDS + 5)
        assert not attempt.is_alive(), "the connection attempt is still waiting"
    assert len(failures) == 1
