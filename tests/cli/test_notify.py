"""`flask --app portal notify run` as real processes against an aiosmtpd server on loopback:
two workers at once, and a worker killed with SIGKILL in the middle of a send."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from portal.enums import AuditAction, Category, DeliveryStatus
from portal.models import AuditEvent, NotificationDelivery
from portal.services import accounts, intake
from tests.conftest import DATABASE_VARIABLE
from tests.mail import MailCatcher, free_port
from tests.worlds import World, add_member

REPO = Path(__file__).parents[2]
LEASE_SECONDS = 2  # a killed worker's claims lapse this soon (production: notify.LEASE)


@pytest.fixture
def catcher() -> Iterator[MailCatcher]:
    """An SMTP server on loopback, started by the test."""
    server = MailCatcher()
    server.start()
    yield server
    server.stop()


def environment(world: World, smtp_url: str) -> dict[str, str]:
    """The environment of a `flask notify` process on the world's database."""
    config = world.config
    return {
        "PATH": os.environ.get("PATH", ""),
        "PORTAL_ENV": "development",
        "PORTAL_DATABASE_URL": config.database_url,
        "PORTAL_SECRET_KEY": config.secret_key,
        "PORTAL_INSTANCE_PATH": str(config.instance_path),
        "PORTAL_BASE_URL": config.base_url,
        "PORTAL_SMTP_URL": smtp_url,
    }


def start_worker(
    world: World, catcher: MailCatcher | str, log: Path | None = None, poll: str = "0.1"
) -> subprocess.Popen[str]:
    """A worker process on the world's database, sending to the catcher (or an SMTP URL); its
    stderr to `log` if given, to be read while it runs."""
    env = environment(world, catcher if isinstance(catcher, str) else catcher.url)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "portal",
            "notify",
            "run",
            "--poll-seconds",
            poll,
            "--lease-seconds",
            str(LEASE_SECONDS),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if log is None else log.open("w"),
        text=True,
    )


def stop(worker: subprocess.Popen[str]) -> str:
    """SIGTERM (the worker finishes its message and leaves); its stderr."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=30)
    return err or ""


def p1_reports(world: World, count: int) -> None:
    """`count` P1 reports through the intake, at the national inbox."""
    for number in range(count):
        intake.send_report(
            world.session,
            world.config,
            world.national_school,
            intake.NewReport(Category.HOME, in_danger=True, text=f"report {number}"),
        )


def wait_until_all_sent(world: World, expected: int, timeout: float = 60) -> None:
    """Poll the database until `expected` deliveries are sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        world.session.rollback()  # a fresh snapshot: the workers write from elsewhere
        sent = world.session.scalar(
            select(func.count()).where(NotificationDelivery.status == DeliveryStatus.SENT)
        )
        if sent == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{sent} of {expected} deliveries sent after {timeout} s")


def audited_recipients(world: World) -> list[str]:
    """The recipient of every NOTIFY audit record."""
    world.session.rollback()
    return [
        event.detail
        for event in world.session.scalars(
            select(AuditEvent).where(AuditEvent.action == AuditAction.NOTIFY)
        )
    ]


def first_to_exit(
    workers: list[subprocess.Popen[str]], timeout: float = 60
) -> subprocess.Popen[str]:
    """The first of the processes to end (whichever started second loses the lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.poll() is not None:
                return worker
        time.sleep(0.05)
    raise AssertionError("no worker ended")


def on_postgres(world: World) -> bool:
    """True in the suite's PostgreSQL run."""
    return world.config.database_url.startswith("postgresql")


def test_two_workers_send_each_message_once(world: World, catcher: MailCatcher) -> None:
    """PostgreSQL: both work (SKIP LOCKED), no message twice. SQLite: the second is refused."""
    for email in ("second@111.kz", "third@111.kz"):
        add_member(world.session, world.config, email, "member-pass-1234-xyz")
        accounts.grant_with_recovery_key(world.session, "national", email, world.recovery_private)
    p1_reports(world, 20)
    workers = [start_worker(world, catcher) for _ in range(2)]
    try:
        if not on_postgres(world):
            refused = first_to_exit(workers)
            assert refused.returncode == 2
            assert "one only" in stop(refused)
        wait_until_all_sent(world, 60)
    finally:
        errors = [stop(worker) for worker in workers]
    mails = catcher.wait_for(60)
    ids = Counter(mail.message["Message-ID"] for mail in mails)
    assert len(mails) == 60 and set(ids.values()) == {1}, errors
    world.session.rollback()
    takers = set(world.session.scalars(select(NotificationDelivery.leased_by)))
    assert len(takers) == (2 if on_postgres(world) else 1)
    assert len(audited_recipients(world)) == 60


def test_a_p1_leaves_within_60_seconds(world: World, catcher: MailCatcher) -> None:
    """The issue's "when": a worker running as deployed (its default 2 s poll) hands the P1's
    message to the mail server within 60 s of the report being stored (bench/notify.py
    measures it under a flood)."""
    worker = start_worker(world, catcher, poll="2")
    try:
        time.sleep(1)  # (a slower start-up only counts against the 60 s too)
        stored = time.monotonic()
        p1_reports(world, 1)
        (mail,) = catcher.wait_for(1, timeout=60)
    finally:
        stop(worker)
    assert mail.at - stored < 60


@pytest.mark.parametrize(
    ("stage", "copies"),
    [
        # Killed while the server had not the message yet: it arrives once.
        ("rcpt", 1),
        # Killed after the server took it, before its "250" reached the worker (the one
        # window left): sent again after the lease, with the same Message-ID.
        ("data", 2),
    ],
)
def test_a_worker_killed_mid_send(
    world: World, catcher: MailCatcher, stage: str, copies: int
) -> None:
    """SIGKILL in the middle of an SMTP exchange; another worker finishes the work once the
    lease lapses: every recipient has each message, under one Message-ID."""
    p1_reports(world, 3)
    catcher.handler.hold_at = stage
    first = start_worker(world, catcher)
    try:
        assert catcher.handler.hold.wait(timeout=60), stop(first)
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        catcher.handler.release.set()
    second = start_worker(world, catcher)
    try:
        wait_until_all_sent(world, 3)
    finally:
        stop(second)
    ids = Counter(mail.message["Message-ID"] for mail in catcher.received)
    assert len(ids) == 3, ids  # every message arrived
    assert sorted(ids.values()) == [1, 1, copies]  # the one in flight at most twice
    assert len(audited_recipients(world)) == 3  # and sent once on the record


def wait_for_line(log: Path, words: str, timeout: float = 60) -> None:
    """Poll the worker's log until a line says `words`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if words in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"no {words!r} in the worker's log after {timeout} s:\n{log.read_text()}")


def said_once_each(log: Path) -> None:
    """The outage is in the log once when it starts and once when it ends, however many
    rounds failed in between; nothing of a traceback."""
    said = log.read_text()
    assert said.count("database unavailable") == 1, said
    assert said.count("database back after") == 1, said
    assert "Traceback" not in said, said


def test_a_worker_waits_out_a_postgresql_outage(
    world: World, catcher: MailCatcher, tmp_path: Path
) -> None:
    """The server refuses the database and kills the worker's connections
    (pg_terminate_backend): the worker waits with a doubling pause instead of exiting, and
    sends what came in meanwhile once the database is back."""
    if not on_postgres(world):
        pytest.skip("needs PostgreSQL (the SQLite run: the test below)")
    name = make_url(world.config.database_url).database
    admin = create_engine(os.environ[DATABASE_VARIABLE], isolation_level="AUTOCOMMIT")
    log = tmp_path / "worker.log"
    worker = start_worker(world, catcher, log)

    def allow_connections(allowed: bool) -> None:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {allowed}'))

    try:
        p1_reports(world, 1)
        wait_until_all_sent(world, 1)
        world.session.rollback()  # the test's own connection goes back to the pool, to be killed
        allow_connections(False)
        with admin.connect() as connection:
            killed = connection.scalars(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).all()
        assert killed and all(killed)
        wait_for_line(log, "database unavailable")
        time.sleep(3)  # refused round after round: 1 s, 2 s, ... apart
        assert worker.poll() is None, log.read_text()
        allow_connections(True)
        p1_reports(world, 1)  # the second report, stored once the database is back
        wait_until_all_sent(world, 2)
    finally:
        allow_connections(True)
        admin.dispose()
        stop(worker)
    assert worker.returncode == 0
    said_once_each(log)
    assert len(catcher.wait_for(2)) == 2


def test_a_worker_waits_out_a_locked_sqlite_database(
    world: World, catcher: MailCatcher, tmp_path: Path
) -> None:
    """Another writer holds the SQLite file past the busy timeout ('database is locked'): the
    worker waits and tries again instead of exiting, and sends once the writer is done."""
    if on_postgres(world):
        pytest.skip("SQLite's own outage: a writer holding the file")
    p1_reports(world, 1)  # stored; its fan-out needs to write
    world.session.rollback()  # no read of ours holds the file
    holder = sqlite3.connect(
        str(make_url(world.config.database_url).database), isolation_level=None
    )
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a long write elsewhere would hold it
    log = tmp_path / "worker.log"
    worker = start_worker(world, catcher, log)
    try:
        wait_for_line(log, "database unavailable")  # after the busy timeout (5 s)
        assert worker.poll() is None, log.read_text()
        holder.execute("ROLLBACK")
        wait_until_all_sent(world, 1)
    finally:
        holder.close()
        stop(worker)
    assert worker.returncode == 0
    said_once_each(log)
    assert "database is locked" in log.read_text()


def test_the_demos_mail_catcher_shows_a_notification_arrive(world: World, tmp_path: Path) -> None:
    """make demo's pieces: `notify catch` prints each message decoded, a worker sends to it,
    and SIGTERM (Ctrl-C in the demo) ends both."""
    port = free_port()
    log = tmp_path / "catcher.log"
    catcher = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "notify", "catch", "--port", str(port)],
        cwd=REPO,
        env=environment(world, f"smtp+plain://127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
    )
    worker = None
    try:
        wait_for_line(log, f"mail catcher on 127.0.0.1:{port}")
        worker = start_worker(world, f"smtp+plain://127.0.0.1:{port}")
        p1_reports(world, 1)
        wait_for_line(log, "--- mail to daniyar@111.kz ---")
        wait_for_line(log, "Subject: QR 111: 1 новое обращение P1 в очереди 'national'")
    finally:
        if worker is not None:
            stop(worker)
        stop(catcher)
    assert catcher.returncode == 0 and worker is not None and worker.returncode == 0
    assert "report 0" not in log.read_text()  # the report's text: never in a message
