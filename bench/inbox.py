"""Benchmark the triage inbox with 100,000 reports: the list page and opening a report.

Run by hand (`make bench` runs it after bench/child.py):
    python bench/inbox.py [--reports 100000] [--requests 200] [--warmup 20]
                          [--backends sqlite,postgresql] [--postgres-url URL]
For each backend it makes a fresh database (SQLite: a file in a temporary folder; PostgreSQL: a
database of its own on the server of --postgres-url, created here and dropped afterwards),
migrates it, imports 7,700 synthetic schools, makes an inbox key pair and staff accounts with
the real code, and fills the reports. A few are sent through
portal.services.reports.submit_report at full cost; the rest are sealed in bulk with
portal.crypto.seal_report and the real message sealing, but with a cheap Argon2id for the
child's receipt (its wrap and lookup): the bench measures the inbox, not Argon2id, and every
report stays openable by staff. Then a triage member logs in (password at production Argon2id
cost, TOTP) and the app is driven in-process through the Flask test client (no HTTP server, no
network): the inbox's first page, filtered pages, and opening reports (decrypt the conversation,
write an audit record). Prints median and p95 per page against the goals, the CPU time a request
costs (the app's, and PostgreSQL's server processes'; unlike wall time, hardly changed by other
work on the machine) and the SQL statements each request ran."""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# Sibling scripts (python puts bench/ first on sys.path): the same percentiles as
# bench/crypto.py, the synthetic school names of bench/posters.py, the children's texts of
# bench/child.py.
import child as child_bench
import crypto as crypto_bench
import posters as posters_bench
import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

import portal.crypto.reports as crypto_reports
from portal import clock, create_app, crypto, migrate
from portal.config import load_config
from portal.enums import Category, EntryKind, Priority, Role, Status
from portal.models import Entry, Inbox, Report, School
from portal.services import accounts, enrolment, registry, reports
from portal.web.context import engine_of, get_session

GOALS_MS = {"list": 50.0, "open": 30.0}
SCHOOLS = 7_700
# Reports sent through submit_report at full Argon2id cost: the real path, end to end.
GENUINE = 10
# The receipt's Argon2id in the bulk fill: the least Argon2id allows (see the module docstring).
CHEAP_KDF = crypto.KdfParams(memory_kib=8, iterations=1, lanes=1)
BATCH = 5_000
DAYS = 280  # ~360 reports a day: 100,000 is about the last nine months of the real 111 line
REGIONAL = "Туркестанская область"
# --flood: the schools its reports go to (bench/flood.py's children write to a few schools).
FLOOD_SCHOOLS = 6  # the one region with an inbox of its own in the bench
PASSWORD = secrets.token_urlsafe(24)  # the bench staff accounts' password, new each run
READER = "reader@bench.qr111.example"
COLLEAGUES = 4
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/"
# (priority, share of all reports): a few hundred open P1/P2 once ~80% are closed.
PRIORITIES = ((Priority.P1, 0.005), (Priority.P2, 0.02), (Priority.P3, 0.975))
CATEGORIES = (
    (Category.BULLYING, 0.34),
    (Category.SCHOOL, 0.16),
    (Category.HOME, 0.16),
    (Category.ONLINE, 0.12),
    (Category.OTHER, 0.12),
    (Category.SEXUAL, 0.05),
    (Category.SELF_HARM, 0.05),
)
CLOSED_SHARE = 0.8
OPEN_STATUSES = [Status.NEW, Status.IN_PROGRESS, Status.REFERRED]
FOLLOW_UP_SHARE = 0.25  # reports with a conversation: a reply, the child's answer, a note
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class BenchError(RuntimeError):
    """The bench could not set up or the app answered wrongly."""


@dataclass
class Counter:
    """SQL statements the app's engine ran (reset before each request)."""

    statements: int = 0

    def attach(self, engine: Engine) -> None:
        """Count every statement of this engine."""

        def count(*_args: Any) -> None:
            self.statements += 1

        event.listen(engine, "before_cursor_execute", count)


@dataclass(frozen=True)
class Page:
    """One row of the result table: a page's timed requests."""

    backend: str
    name: str
    goal: str
    timed: Timed
    detail: dict[str, crypto_bench.Timing] = field(default_factory=dict)

    @property
    def timing(self) -> crypto_bench.Timing:
        """The percentiles of the timed requests."""
        return crypto_bench.Timing(self.name, [seconds for _, seconds in self.timed.samples])

    @property
    def met(self) -> bool:
        """p95 within the goal."""
        return self.timing.p95 * 1e3 <= GOALS_MS[self.goal]


@dataclass(frozen=True)
class Filled:
    """What the fill made, and what the measurement will ask for."""

    seconds: float
    reports: int
    entries: int
    open_reports: int
    open_urgent: int
    filters: list[str]
    to_open: list[str]


def school_csv(rng: random.Random) -> bytes:
    """SCHOOLS synthetic schools in the import format, spread over bench/posters.py's regions."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["school_id", "name_kk", "name_ru", "region", "district", "address"])
    regions = [*posters_bench.REGIONS, REGIONAL]
    for index in range(SCHOOLS):
        kk, ru = posters_bench.school_names(rng, rng.randrange(1, 400))
        writer.writerow([f"{20_000_000 + index}", kk, ru, rng.choice(regions), "", ""])
    return out.getvalue().encode("utf-8")


@contextmanager
def cheap_receipt_lookup() -> Iterator[None]:
    """The receipt lookup's Argon2id at CHEAP_KDF for the bulk fill (restored afterwards)."""
    saved = crypto_reports.RECEIPT_LOOKUP_KDF
    crypto_reports.RECEIPT_LOOKUP_KDF = CHEAP_KDF
    try:
        yield
    finally:
        crypto_reports.RECEIPT_LOOKUP_KDF = saved


def weighted(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    """One value of a (value, weight) table."""
    return rng.choices([value for value, _ in table], [weight for _, weight in table])[0]


def open_status(rng: random.Random, age: timedelta) -> Status:
    """The status of a report still open: the young ones mostly new."""
    young = age < timedelta(days=1)
    return rng.choices(OPEN_STATUSES, [0.6, 0.35, 0.05] if young else [0.1, 0.6, 0.3])[0]


def sealed_rows(
    rng: random.Random,
    inbox: Inbox,
    lookup_key: bytes,
    school: School,
    created: datetime,
    now: datetime,
    staff_ids: list[int],
    *,
    flood: bool = False,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One report's row and its entries' rows, sealed by the real crypto code (a flood's
    report is open: it came in the last hour)."""
    sealed, keys = crypto.seal_report(inbox.public_key, crypto.new_receipt(), lookup_key)
    report_id = sealed.report_id
    closed = not flood and rng.random() < CLOSED_SHARE
    status = Status.CLOSED if closed else open_status(rng, now - created)
    answered = None if status is Status.NEW else created + timedelta(minutes=rng.randrange(5, 600))
    answered = min(answered, now) if answered else None
    texts = child_bench.TEXTS
    entries = [(EntryKind.CHILD, rng.choice(texts))]
    if rng.random() < 0.5:
        entries.append((EntryKind.INTAKE, f'{{"grade": {rng.randrange(1, 12)}}}'))
    if answered and rng.random() < FOLLOW_UP_SHARE:
        entries.append((EntryKind.STAFF, "Здравствуй. Спасибо, что написал(а). Мы рядом."))
        entries.append((EntryKind.CHILD, rng.choice(texts)))
        entries.append((EntryKind.NOTE, "Связались со школьным психологом."))
    entry_rows = []
    for position, (kind, message) in enumerate(entries):
        if kind in (EntryKind.NOTE, EntryKind.INTAKE):
            blob = crypto.seal_note(keys.notes_key, report_id, position, message)
        else:
            author = crypto.Author.CHILD if kind is EntryKind.CHILD else crypto.Author.STAFF
            blob = crypto.seal_message(keys.message_key, report_id, position, author, message)
        at = created if position == 0 else min(now, created + timedelta(hours=position))
        entry_rows.append({"position": position, "kind": kind, "sealed": blob, "created_at": at})
    report = {
        "public_id": report_id,
        "school_pk": school.id,
        "inbox_id": inbox.id,
        "category": weighted(rng, CATEGORIES),
        "priority": weighted(rng, PRIORITIES),
        "status": status,
        "receipt_lookup": sealed.receipt_lookup,
        "key_for_inbox": sealed.key_for_inbox,
        "key_for_receipt": sealed.key_for_receipt,
        "created_at": created,
        "updated_at": entry_rows[-1]["created_at"],
        "answered_at": answered,
        "assignee_id": rng.choice(staff_ids) if answered and rng.random() < 0.8 else None,
        "closed_at": min(now, created + timedelta(days=rng.randrange(1, 20))) if closed else None,
    }
    return report, entry_rows


def fill(app: Flask, instance: Path, count: int, seed: int, flood: int = 0) -> tuple[Filled, str]:
    """Schools, keys, inboxes, staff and `count` reports, `flood` of them in the last hour to
    FLOOD_SCHOOLS schools (bench/flood.py's state: bursts everywhere); what to measure, the
    TOTP secret."""
    started = time.perf_counter()
    rng = random.Random(seed)
    config = app.extensions["portal.config"]
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, school_csv(rng))
        schools = registry.list_schools(session)
        accounts.init_recovery_key(session, instance / "recovery.key")
        recovery = accounts.read_recovery_key(session, instance / "recovery.key")
        national = enrolment.create_inbox(session, config, None, "national", None)
        regional = enrolment.create_inbox(session, config, None, "turkestan", REGIONAL)
        staff_ids = []
        totp = ""
        for number in range(COLLEAGUES + 1):
            email = READER if number == 0 else f"colleague{number}@bench.qr111.example"
            made = accounts.add_staff(
                session, email, Role.TRIAGE, PASSWORD, config.kdf, config.secret_key
            )
            totp = totp or made.totp_secret
            staff_ids.append(made.staff.id)
            for inbox in (national, regional):
                accounts.grant_with_recovery_key(session, inbox.name, email, recovery)
        # Busy schools and quiet ones: a heavy-tailed share of the reports for each school.
        shares = itertools.accumulate(rng.paretovariate(1.2) for _ in schools)
        cumulative = list(shares)
        for number in range(min(GENUINE, count)):
            reports.submit_report(
                session,
                schools[number],
                Category.BULLYING,
                Priority.P1 if number % 3 == 0 else Priority.P2,
                child_bench.TEXTS[number % len(child_bench.TEXTS)],
                server_secret=config.secret_key,
                grade=7,
            )
        lookup_key = reports.lookup_secret(config.secret_key)
        now = clock.now()
        # Oldest first, as reports arrive: ids grow with time like in a real database. A flood's
        # reports (True) go to a few schools, half of them to the first (the junk's target).
        flooded = rng.sample(schools, FLOOD_SCHOOLS)
        ages = sorted(
            [(rng.random() * DAYS, False) for _ in range(count - GENUINE - flood)]
            + [(rng.random() / 24, True) for _ in range(flood)],
            reverse=True,
        )
        entries = 0
        # Ids given here: RETURNING them from a bulk insert costs SQLAlchemy quadratic time.
        next_id = (session.scalar(select(func.max(Report.id))) or 0) + 1
        with cheap_receipt_lookup():
            for start in range(0, len(ages), BATCH):
                report_rows, entry_rows = [], []
                for age, in_flood in ages[start : start + BATCH]:
                    if in_flood:
                        school = flooded[0] if rng.random() < 0.5 else rng.choice(flooded)
                    else:
                        school = rng.choices(schools, cum_weights=cumulative)[0]
                    inbox = regional if school.region == REGIONAL else national
                    created = now - timedelta(days=age)
                    report, its_entries = sealed_rows(
                        rng, inbox, lookup_key, school, created, now, staff_ids, flood=in_flood
                    )
                    report_rows.append({"id": next_id, **report})
                    entry_rows += [{"report_id": next_id, **entry} for entry in its_entries]
                    next_id += 1
                session.execute(insert(Report), report_rows)
                session.execute(insert(Entry), entry_rows)
                session.commit()
                entries += len(entry_rows)
        if session.get_bind().dialect.name == "postgresql":
            # The id sequence goes on after the ids given above (as if it had drawn them).
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('reports', 'id'), max(id)) FROM reports")
            )
            session.commit()
        settle(engine_of(app))
        filters, to_open = plan_requests(session, rng)
        open_reports = session.scalar(select(func.count()).where(Report.status != Status.CLOSED))
        open_urgent = session.scalar(
            select(func.count()).where(
                Report.status != Status.CLOSED, Report.priority != Priority.P3
            )
        )
    return Filled(
        seconds=time.perf_counter() - started,
        reports=count,
        entries=entries + GENUINE * 2,
        open_reports=open_reports or 0,
        open_urgent=open_urgent or 0,
        filters=filters,
        to_open=to_open,
    ), totp


def settle(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, what autovacuum does after a load this size (statistics for
    the planner, the visibility map for index-only scans); done now so that every run starts
    alike. SQLite: nothing, as the portal runs no ANALYZE there either."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def plan_requests(session: Any, rng: random.Random) -> tuple[list[str], list[str]]:
    """Filtered inbox URLs staff really use, and the reports to open (each a different one)."""
    busiest = session.execute(
        select(School.school_id, func.count())
        .join(Report, Report.school_pk == School.id)
        .group_by(School.school_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()[0]
    region = rng.choice(posters_bench.REGIONS)
    filters = [
        f"status=closed&region={region}",
        "priority=p2",
        f"school={busiest}&status=closed",
        "assignee=none&category=bullying",
        "status=in_progress&page=3",
    ]
    urgent = list(
        session.scalars(
            select(Report.public_id).where(
                Report.status != Status.CLOSED, Report.priority != Priority.P3
            )
        )
    )
    others = list(session.scalars(select(Report.public_id).order_by(func.random()).limit(2_000)))
    return filters, rng.sample(urgent, min(len(urgent), 300)) + others


def log_in(app: Flask, totp_secret: str) -> FlaskClient:
    """A browser logged in as the reader, through the real login form."""
    browser = app.test_client()
    page = browser.get("/staff/login").get_data(as_text=True)
    token = TOKEN.search(page)
    if token is None:
        raise BenchError("no form token on the login page")
    response = browser.post(
        "/staff/login",
        data={
            "csrf_token": token.group(1),
            "email": READER,
            "password": PASSWORD,
            "code": pyotp.TOTP(totp_secret).now(),
        },
    )
    if response.status_code != 303:
        raise BenchError(f"login answered {response.status_code}")
    return browser


@dataclass(frozen=True)
class Timed:
    """The timed requests of one page: (path, seconds) each, SQL statements each, CPU in all."""

    samples: list[tuple[str, float]]
    statements: list[int]
    cpu_seconds: float


def database_pids(engine: Engine) -> list[int]:
    """The PostgreSQL server processes serving the bench database (none for SQLite)."""
    if engine.dialect.name != "postgresql":
        return []
    query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    with engine.connect() as connection:
        return list(connection.scalars(query))


def cpu_seconds(pids: list[int]) -> float:
    """CPU time so far of this process (the app) and of the database processes `pids`."""
    return time.process_time() + sum(child_bench.tree_cpu(pid) or 0.0 for pid in pids)


def timed_gets(
    browser: FlaskClient,
    engine: Engine,
    counter: Counter,
    paths: Callable[[int], str],
    runs: int,
    warmup: int,
) -> Timed:
    """GET paths(0), paths(1), ...: warm-up first, then `runs` timed."""
    samples: list[tuple[str, float]] = []
    statements: list[int] = []
    pids: list[int] = []
    cpu_before = 0.0
    for number in range(warmup + runs):
        if number == warmup:  # every connection of the pool is open by now
            pids = database_pids(engine)
            cpu_before = cpu_seconds(pids)
        path = paths(number)
        counter.statements = 0
        started = time.perf_counter()
        response = browser.get(path)
        body = response.get_data()
        seconds = time.perf_counter() - started
        if response.status_code != 200 or not body:
            raise BenchError(f"GET {path} answered {response.status_code}")
        if number >= warmup:
            samples.append((path, seconds))
            statements.append(counter.statements)
    return Timed(samples, statements, cpu_seconds(pids) - cpu_before)


def measure(
    backend: str, app: Flask, filled: Filled, totp_secret: str, runs: int, warmup: int
) -> list[Page]:
    """Log in, then time the three pages."""
    engine = engine_of(app)
    counter = Counter()
    counter.attach(engine)
    browser = log_in(app, totp_secret)

    def gets(paths: Callable[[int], str]) -> Timed:
        return timed_gets(browser, engine, counter, paths, runs, warmup)

    first = gets(lambda _: "/staff/inbox")
    filters = filled.filters
    filtered = gets(lambda n: f"/staff/inbox?{filters[n % len(filters)]}")
    if len(filled.to_open) < warmup + runs:
        raise BenchError(f"only {len(filled.to_open)} reports to open")
    opened = gets(lambda n: f"/staff/reports/{filled.to_open[n]}")
    by_filter: dict[str, list[float]] = {}
    for path, seconds in filtered.samples:
        by_filter.setdefault(path.split("?", 1)[1], []).append(seconds)
    return [
        Page(backend, "inbox, first page", "list", first),
        Page(
            backend,
            f"inbox, filtered ({len(filters)} kinds)",
            "list",
            filtered,
            {name: crypto_bench.Timing(name, samples) for name, samples in by_filter.items()},
        ),
        Page(backend, "open a report", "open", opened),
    ]


@contextmanager
def sqlite_database() -> Iterator[tuple[str, Path]]:
    """A SQLite file in a temporary folder (on the disk bench/ lives on, not a RAM disk)."""
    with tempfile.TemporaryDirectory(prefix="qr111-bench-inbox-") as temporary:
        instance = Path(temporary) / "instance"
        instance.mkdir()
        yield f"sqlite:///{instance / 'portal.sqlite3'}", instance


@contextmanager
def postgres_database(server_url: str) -> Iterator[tuple[str, Path]]:
    """A database of its own on the PostgreSQL server, dropped afterwards whatever happens."""
    url = make_url(server_url)
    name = f"qr111_bench_inbox_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise BenchError(f"cannot create a database on {url.host}:{url.port}: {exc}") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="qr111-bench-inbox-") as temporary:
            instance = Path(temporary) / "instance"
            instance.mkdir()
            yield url.set(database=name).render_as_string(hide_password=False), instance
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(backend: str, args: argparse.Namespace) -> list[Page]:
    """Fill one backend's database and measure it."""
    database = sqlite_database() if backend == "sqlite" else postgres_database(args.postgres_url)
    with database as (url, instance):
        config = load_config(
            {
                "PORTAL_ENV": "development",
                "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
                "PORTAL_DATABASE_URL": url,
                "PORTAL_INSTANCE_PATH": str(instance),
                "PORTAL_BASE_URL": "https://qr111.example.kz",
            }
        )
        app = create_app(config)
        try:
            migrate.upgrade(engine_of(app))
            filled, totp_secret = fill(app, instance, args.reports, args.seed, args.flood)
            print(
                f"{backend}: filled {filled.reports:,} reports ({filled.entries:,} sealed "
                f"entries, {filled.open_reports:,} open, {filled.open_urgent:,} of them P1/P2) "
                f"and {SCHOOLS:,} schools in {filled.seconds:.1f} s"
            )
            return measure(backend, app, filled, totp_secret, args.requests, args.warmup)
        finally:
            engine_of(app).dispose()


def print_table(pages: list[Page], skipped: dict[str, str]) -> None:
    """The result table, then the filtered pages one by one."""
    print(
        f"\n{'backend':<11} {'page':<28} {'median':>8} {'p95':>8} {'goal p95':>9}  "
        f"{'result':<8} {'CPU/req':>8}  SQL/req"
    )
    for page in pages:
        statements = sorted(page.timed.statements)
        cpu = page.timed.cpu_seconds / len(page.timed.samples)
        print(
            f"{page.backend:<11} {page.name:<28} {page.timing.median * 1e3:6.1f}ms "
            f"{page.timing.p95 * 1e3:6.1f}ms {GOALS_MS[page.goal]:7.0f}ms  "
            f"{'met' if page.met else 'NOT met':<8} {cpu * 1e3:6.1f}ms  "
            f"{statements[len(statements) // 2]}"
        )
    for backend, reason in skipped.items():
        print(f"{backend:<11} not measured: {reason}")
    print(
        "CPU/req: CPU time of this process (the app) and of its PostgreSQL server processes,\n"
        "    per request: the cost of a request whatever else runs on the machine."
    )
    for page in pages:
        for name, detail in page.detail.items():
            print(
                f"    {page.backend} ?{name}: median {detail.median * 1e3:.1f} ms, "
                f"p95 {detail.p95 * 1e3:.1f} ms"
            )


def backends(text_value: str) -> list[str]:
    """Parse 'sqlite,postgresql'."""
    chosen = [part.strip() for part in text_value.split(",") if part.strip()]
    unknown = set(chosen) - {"sqlite", "postgresql"}
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"{text_value!r}: choose from sqlite,postgresql")
    return chosen


def main(argv: list[str] | None = None) -> int:
    """Fill, log in, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=100_000, help="reports to fill (100000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests a page (200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first (20)")
    parser.add_argument(
        "--backends", type=backends, default=["sqlite", "postgresql"], help="sqlite,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help=f"server to create the bench database on ({DEFAULT_POSTGRES})",
    )
    parser.add_argument("--seed", type=int, default=111, help="random seed of the fill (111)")
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        help="of the reports, how many came in the last hour to a few schools (0)",
    )
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress as it goes
    if args.reports <= GENUINE + args.flood:
        parser.error(f"--reports must be more than {GENUINE} + --flood")
    print(
        f"triage inbox, {args.reports:,} reports; in-process through the Flask test client "
        f"(no HTTP server): {args.warmup} warm-up then {args.requests} timed requests a page"
    )
    print(
        f"fill: {GENUINE} reports through submit_report at production Argon2id, the rest sealed "
        "by the real crypto with a cheap Argon2id for the child's receipt (wrap and lookup):\n"
        "    this measures the inbox, not Argon2id; the staff login runs at production cost"
    )
    # The bench shares the machine with whatever else runs: say so when that is much.
    busy = child_bench.machine_busy()
    if busy is not None and busy > child_bench.BUSY_NEIGHBOURS:
        print(f"warning: {busy:.0%} of the CPUs were busy before the bench: figures run high")
    pages: list[Page] = []
    skipped: dict[str, str] = {}
    for backend in args.backends:
        try:
            pages += run_backend(backend, args)
        except BenchError as exc:
            print(f"{backend}: {exc}", file=sys.stderr)
            skipped[backend] = str(exc).splitlines()[0]
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"    load average after {backend}: {load} ({os.cpu_count()} CPUs)")
    print_table(pages, skipped)
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
