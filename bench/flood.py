"""Flood the child's form of a real server: who still gets through, and how fast.

Run by hand (`make bench` runs it on the embedded defaults):
    python bench/flood.py [--seconds 25] [--ordinary 20] [--pace 3]
                          [--hammer-connections 4] [--spread-addresses 500]
                          [--spread-connections 24]
                          [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/
                           --redis-url redis://127.0.0.1:6379/15] [--only abcdefg]
It serves the portal with gunicorn (gunicorn.conf.py) at the production Argon2id cost and the
production rate limits, the staff's pages on a gunicorn of their own as in production
(qr111-desk.service, one worker: nginx sends /staff there; its CPU counts as the server's),
behind one trusted proxy (PORTAL_TRUSTED_PROXIES=1: every client says who it is in
X-Forwarded-For). On the embedded defaults (SQLite, limits in memory) and, with
both URLs, again on PostgreSQL (a database of its own, dropped afterwards) and Redis (the
numbered database given, flushed afterwards). Each scenario gets a fresh gunicorn, fresh
rate-limit counts and the database as it was set up (the demo's schools and accounts, the staff
member logged in afresh): its figures do not depend on the reports the scenarios before it
left in the inbox, nor on which of them ran (--only):
(a) 20 ordinary children (each report from an address of its own: load the form, send, a few
    seconds apart) and a logged-in staff member reading the inbox: the unloaded figures;
(b) the same, plus one client hammering the form at full speed from one address: it must get
    429s while the children keep their p95 within 2x of (a);
(c) the same, plus a spread attack from many addresses: it must be held by the global limit
    and the bound on key derivations (503s, held back a second like every refusal) while the
    staff inbox keeps its p95 within 2x of (a).
(d) NAT: 5 pupils behind one address (its 5 reports a minute) each send and open their
    report twice while one mistypes 20 codes: every receipt and opening must answer 200;
(e) silence a school: 24 addresses send junk to one children's school at full speed; then a
    child at a new address writes to it and to another school (both 200), staff p95 <= 2x;
(f) one IPv6 /64 and (g) 500 addresses send wrong receipts at full speed: the children's
    reports must keep getting receipts, p95 <= 2x of (a).
Every attacker loads a page for each post (a token is good once, for one school and language).
Prints a table: requests, status counts, p50/p95 of the children's sends and of the staff's
inbox pages, ratios to (a), and whether each goal is met.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import http.cookiejar
import itertools
import multiprocessing
import os
import random
import re
import secrets
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urljoin

import child as child_bench
import crypto as crypto_bench

if TYPE_CHECKING:
    from sqlalchemy import Engine

REPO = child_bench.REPO
HOST = child_bench.HOST
SECRET_KEY = secrets.token_urlsafe(48)
STAFF_EMAIL = "triage@qr111.example"  # the demo's triage account (portal/services/demo.py)
STAFF_PASSWORD = "demo-password-111"  # noqa: S105 -- the demo's published password
GOAL_RATIO = 2.0
# A bounded load even if a server answered in no time.
MAX_REQUESTS_PER_CONNECTION = 200_000
DEMO_TOTP = re.compile(r"triage\s+" + re.escape(STAFF_EMAIL) + r".*?TOTP secret (\w+)", re.S)
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
# The receipt on a thank-you page: four groups of four digits in the digits paragraph.
RECEIPT = re.compile(rb'<p class="digits"[^>]*>(.*?)</p>', re.S)
# (d): pupils behind one address (the per-client limit's 5 a minute) and one's mistyped codes.
NAT_PUPILS = 5
NAT_MISTAKES = 20


@dataclass
class Tally:
    """Statuses and latencies of one kind of client in one scenario."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    requests: int = 0

    def add(self, status: str, seconds: float | None = None) -> None:
        """Count one request; its latency when it is one that is measured."""
        self.statuses[status] += 1
        self.requests += 1
        if seconds is not None:
            self.latencies.append(seconds)

    def merge(self, other: Tally) -> None:
        """Add another tally's counts."""
        self.statuses.update(other.statuses)
        self.latencies += other.latencies
        self.requests += other.requests

    def timing(self) -> crypto_bench.Timing | None:
        """Median and p95, as bench/crypto.py computes them; None without samples."""
        return crypto_bench.Timing("flood", self.latencies) if self.latencies else None


def address(*numbers: int) -> str:
    """An address of the private range 10/8 (the bench's clients, as the proxy reports them)."""
    return "10." + ".".join(str(n % 256) for n in numbers)


def form_fields(token: str, rng: random.Random) -> bytes:
    """The school form filled in as a child does."""
    return urlencode(
        {
            "csrf_token": token,
            "category": rng.choice(child_bench.CATEGORIES),
            "message": rng.choice(child_bench.TEXTS),
            "danger": "no",
            "grade": rng.choice(child_bench.GRADES),
            "homepage": "",
        }
    ).encode()


def load_form(browser: child_bench.Browser, path: str, client: str) -> tuple[str, str]:
    """GET a school's page; its form's token and action."""
    page = browser.request("GET", path, headers={"X-Forwarded-For": client})
    if page.status != 200:
        raise child_bench.WrongReply(f"GET {path}: {page.status}")
    form = child_bench.parse_page(page.body)
    token = form.hidden.get("csrf_token")
    if not token or form.form_action is None:
        raise child_bench.WrongReply(f"{path}: no form with a csrf_token")
    return token, urljoin(path, form.form_action)


def post_form(
    browser: child_bench.Browser, action: str, body: bytes, client: str
) -> child_bench.Reply:
    """POST the form as `client`."""
    headers = {**FORM_HEADERS, "X-Forwarded-For": client, "Origin": f"http://{HOST}:{browser.port}"}
    return browser.request("POST", action, body, headers)


def ordinary_child(
    port: int, number: int, paths: list[str], pace: float, deadline: float, tally: Tally
) -> None:
    """Children one after another at a human pace, each from its own address."""
    rng, browser = random.Random(number), child_bench.Browser(port)
    try:
        for visit in range(MAX_REQUESTS_PER_CONNECTION):
            started = time.perf_counter()
            if started >= deadline:
                break
            client = address(number + 1, visit // 256, visit)
            try:
                token, action = load_form(browser, rng.choice(paths), client)
                tally.add("GET 200")
                # Reading and typing take a while; the send is what the child waits for.
                time.sleep(rng.uniform(0.2, 0.8) * pace)
                reply = post_form(browser, action, form_fields(token, rng), client)
                tally.add(str(reply.status), reply.seconds)
            except (OSError, http.client.HTTPException, child_bench.WrongReply) as exc:
                tally.add(type(exc).__name__)
            time.sleep(max(0.0, pace * rng.uniform(0.8, 1.2) - (time.perf_counter() - started)))
    finally:
        browser.close()


def staff_reader(port: int, cookie: str, deadline: float, tally: Tally) -> None:
    """A staff member who keeps the inbox open (it refreshes itself) and reloads it often."""
    browser = child_bench.Browser(port)
    try:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            if time.perf_counter() >= deadline:
                break
            try:
                reply = browser.request("GET", "/staff/inbox", headers={"Cookie": cookie})
                if reply.status == 200 and STAFF_EMAIL.encode() not in reply.body:
                    raise child_bench.WrongReply("the inbox page is not the staff member's")
                tally.add(str(reply.status), reply.seconds)
            except (OSError, http.client.HTTPException, child_bench.WrongReply) as exc:
                tally.add(type(exc).__name__)
            time.sleep(0.25)
    finally:
        browser.close()


def attacker(port: int, attack: Attack, deadline: float, seed: int, tally: Tally) -> None:
    """One connection sending as fast as the server answers, round the addresses and the
    schools: junk reports, or wrong receipts to /check. Each post carries a token of a page
    loaded just before (a token is good once, for one school and language)."""
    rng, browser = random.Random(seed), child_bench.Browser(port)
    clients, schools = itertools.cycle(attack.addresses), itertools.cycle(attack.paths)
    try:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            if time.perf_counter() >= deadline:
                break
            client = next(clients)
            try:
                if attack.kind == "receipts":
                    token, action = load_form(browser, "/check", client)
                    body = urlencode({"csrf_token": token, "receipt": wrong_receipt(rng)}).encode()
                else:
                    token, action = load_form(browser, next(schools), client)
                    body = form_fields(token, rng)
                reply = post_form(browser, action, body, client)
                tally.add(str(reply.status))
            except (OSError, http.client.HTTPException, child_bench.WrongReply) as exc:
                tally.add(type(exc).__name__)
                time.sleep(0.05)  # a refused connection must not become a busy loop
    finally:
        browser.close()


def wrong_receipt(rng: random.Random) -> str:
    """16 random digits: a guess (one in 10^16 opens a report)."""
    return "".join(rng.choice("0123456789") for _ in range(16))


def attack_process(
    port: int,
    attack: Attack,
    seconds: float,
    results: multiprocessing.Queue[tuple[dict[str, int], int, float]],
) -> None:
    """An attacker in a process of its own: its threads never hold the measuring clients' GIL."""
    deadline = time.perf_counter() + seconds
    tallies = [Tally() for _ in range(attack.connections)]
    threads = [
        threading.Thread(target=attacker, args=(port, attack, deadline, n, tallies[n]))
        for n in range(attack.connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    results.put((dict(total.statuses), total.requests, time.process_time()))


@dataclass(frozen=True)
class Attack:
    """Who attacks: the addresses and school pages used in turn, over how many connections."""

    name: str
    addresses: list[str]
    paths: list[str]
    connections: int
    kind: str = "reports"  # or "receipts": wrong receipts to /check
    # Pages a child at a new address writes to once the attack is over: its report's status.
    probes: tuple[str, ...] = ()


@dataclass
class Scenario:
    """The figures of one scenario."""

    name: str
    seconds: float = 0.0
    children: Tally = field(default_factory=Tally)
    staff: Tally = field(default_factory=Tally)
    attack: Tally = field(default_factory=Tally)
    attack_name: str = ""
    attack_kind: str = ""
    probes: dict[str, str] = field(default_factory=dict)
    # CPU seconds: the server's processes, the attacker's process, and the share of the
    # machine that went to neither them nor the measuring clients.
    server_cpu: float | None = None
    attacker_cpu: float = 0.0
    others: float | None = None

    @property
    def requests(self) -> int:
        """Requests sent by everyone."""
        return self.children.requests + self.staff.requests + self.attack.requests


def run_scenario(
    name: str,
    server: child_bench.Server,
    desk: child_bench.Server,
    paths: list[str],
    cookie: str,
    args: argparse.Namespace,
    attack: Attack | None,
) -> Scenario:
    """Children and the staff member for args.seconds, with an attacker beside them."""
    scenario = Scenario(
        name,
        attack_name=attack.name if attack else "",
        attack_kind=attack.kind if attack else "",
    )
    spawn = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[dict[str, int], int, float]] = spawn.Queue()
    port, process = server.port, None
    if attack is not None:
        process = spawn.Process(
            target=attack_process,
            args=(port, attack, args.seconds, results),
        )
        process.start()
        time.sleep(1.0)  # it starts up (imports) before the measured clients do
    before = child_bench.CpuSnapshot.take(server.pid, (desk.pid,))
    started = time.perf_counter()
    deadline = started + args.seconds
    tallies = [Tally() for _ in range(args.ordinary)]
    threads = [
        threading.Thread(
            target=ordinary_child,
            args=(port, n, paths[:-1], args.pace, deadline, tallies[n]),
        )
        for n in range(args.ordinary)
    ]
    threads.append(
        threading.Thread(target=staff_reader, args=(desk.port, cookie, deadline, scenario.staff))
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scenario.seconds = time.perf_counter() - started
    cpu = child_bench.CpuUse.between(before, child_bench.CpuSnapshot.take(server.pid, (desk.pid,)))
    scenario.server_cpu = cpu.server
    for tally in tallies:
        scenario.children.merge(tally)
    if process is not None:
        statuses, requests, scenario.attacker_cpu = results.get(timeout=args.seconds + 120)
        process.join()
        scenario.attack.statuses.update(statuses)
        scenario.attack.requests = requests
    for number, path in enumerate(attack.probes if attack else ()):
        scenario.probes[path] = probe(port, path, address(254, 254, number))
    if cpu.others is not None:
        # The attacker's process is not the bench's: take it out of the others' share.
        machine = scenario.seconds * (os.cpu_count() or 1)
        scenario.others = max(0.0, cpu.others - scenario.attacker_cpu / machine)
    return scenario


def probe(port: int, path: str, client: str) -> str:
    """A child at an address that sent nothing yet writes once: the status of the send."""
    browser = child_bench.Browser(port)
    try:
        token, action = load_form(browser, path, client)
        reply = post_form(browser, action, form_fields(token, random.Random(0)), client)
        return str(reply.status)
    except (OSError, http.client.HTTPException, child_bench.WrongReply) as exc:
        return type(exc).__name__
    finally:
        browser.close()


@dataclass
class Nat:
    """(d)'s figures: pupils behind one address, one of them mistyping codes."""

    seconds: float = 0.0
    sends: Tally = field(default_factory=Tally)
    opens: Tally = field(default_factory=Tally)
    mistypes: Tally = field(default_factory=Tally)


def behind_one_address(port: int, path: str, pupils: int, mistakes: int) -> Nat:
    """Pupils behind one address each send a report and open it twice with its receipt, while
    one of them mistypes codes `mistakes` times in between."""
    nat, client, rng = Nat(), address(253, 0, 1), random.Random(7)
    browser = child_bench.Browser(port)
    started = time.perf_counter()
    wrong = 0
    try:
        for _pupil in range(pupils):
            token, action = load_form(browser, path, client)
            reply = post_form(browser, action, form_fields(token, rng), client)
            nat.sends.add(str(reply.status), reply.seconds)
            found = RECEIPT.search(reply.body)
            digits = b"".join(re.findall(rb"\d{4}", found.group(1))).decode() if found else ""
            for _ in range(2):
                for _ in range(min(mistakes - wrong, -(-mistakes // (2 * pupils)))):
                    token, action = load_form(browser, "/check", client)
                    body = urlencode({"csrf_token": token, "receipt": wrong_receipt(rng)})
                    nat.mistypes.add(str(post_form(browser, action, body.encode(), client).status))
                    wrong += 1
                token, action = load_form(browser, "/check", client)
                body = urlencode({"csrf_token": token, "receipt": digits or wrong_receipt(rng)})
                opened = post_form(browser, action, body.encode(), client)
                nat.opens.add(str(opened.status), opened.seconds)
    finally:
        browser.close()
    nat.seconds = time.perf_counter() - started
    return nat


class Backend:
    """Where the portal keeps its data: the embedded defaults, or PostgreSQL and Redis."""

    def __init__(self, name: str, instance: Path) -> None:
        self.name = name
        self.instance = instance
        self.database_url = f"sqlite:///{instance / 'portal.sqlite3'}"
        self.redis_url = ""
        self.redis_prefix = "qr111-flood-" + secrets.token_hex(4)

    def env(self, port: int = 5000) -> dict[str, str]:
        """The portal's environment: production Argon2id and limits, one trusted proxy."""
        env = {
            name: value
            for name, value in os.environ.items()
            # Production Argon2id and rate limits, whatever the caller's shell says.
            if not name.startswith(("PORTAL_KDF_", "PORTAL_LIMIT_", "PORTAL_RATELIMIT_"))
        }
        env.update(
            PORTAL_ENV="development",  # `flask demo` refuses production
            PORTAL_INSTANCE_PATH=str(self.instance),
            PORTAL_DATABASE_URL=self.database_url,
            PORTAL_SECRET_KEY=SECRET_KEY,
            PORTAL_BASE_URL=f"http://{HOST}:{port}",
            PORTAL_TRUSTED_PROXIES="1",
            PORTAL_REDIS_URL=self.redis_url,
            PORTAL_REDIS_PREFIX=self.redis_prefix,
        )
        return env

    def keep_start(self) -> None:
        """Keep the database as it is now: restore_start brings it back."""
        copy_sqlite(self.instance / "portal.sqlite3", self.instance / "start.sqlite3")

    def restore_start(self) -> None:
        """The database as keep_start kept it (no server may be using it)."""
        copy_sqlite(self.instance / "start.sqlite3", self.instance / "portal.sqlite3")

    def reset_limits(self) -> None:
        """Forget the rate-limit counts (a fresh gunicorn forgets those kept in memory)."""
        if self.redis_url:
            import redis

            with redis.Redis.from_url(self.redis_url) as client:
                keys = list(client.scan_iter(match=f"{self.redis_prefix}:limits*", count=1000))
                if keys:
                    client.delete(*keys)


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database with SQLite's backup API (its write-ahead log included)."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as copy:
        original.backup(copy)


class PostgresBackend(Backend):
    """PostgreSQL and Redis: the database kept as a template database beside it."""

    def __init__(self, instance: Path, admin: Engine, name: str) -> None:
        super().__init__("PostgreSQL + Redis", instance)
        self.admin = admin
        self.database = name

    def keep_start(self) -> None:
        """Keep the database as it is now, as a template (no server may be using it)."""
        self.execute(f"CREATE DATABASE {self.database}_start TEMPLATE {self.database}")

    def restore_start(self) -> None:
        """The database made again from the template keep_start made."""
        self.execute(f"DROP DATABASE {self.database} WITH (FORCE)")
        self.execute(f"CREATE DATABASE {self.database} TEMPLATE {self.database}_start")

    def execute(self, statement: str) -> None:
        """One statement on the server, outside any transaction (as CREATE DATABASE needs)."""
        from sqlalchemy import text

        with self.admin.connect() as connection:
            connection.execute(text(statement))


@contextmanager
def embedded(folder: Path) -> Iterator[Backend]:
    """SQLite in a temporary instance folder, limits in each worker's memory."""
    instance = folder / "embedded"
    instance.mkdir()
    yield Backend("SQLite + memory limits", instance)


@contextmanager
def served_by_postgres_and_redis(
    folder: Path, postgres_url: str, redis_url: str
) -> Iterator[Backend]:
    """A PostgreSQL database of our own (dropped afterwards) and a Redis database (flushed)."""
    import redis
    from sqlalchemy import create_engine, make_url

    instance = folder / "postgres"
    instance.mkdir()
    name = f"qr111_flood_{os.getpid()}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    backend = PostgresBackend(instance, admin, name)
    backend.execute(f"CREATE DATABASE {name}")
    backend.database_url = (
        make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    )
    backend.redis_url = redis_url
    try:
        yield backend
    finally:
        for database in (name, f"{name}_start"):
            backend.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()


def prepare(backend: Backend) -> tuple[list[str], str]:
    """Migrate, seed the demo; the school codes and the demo triage account's TOTP secret."""
    env = backend.env()
    child_bench.flask_command(env, "db", "upgrade")
    printed = child_bench.flask_command(env, "demo", str(child_bench.SAMPLE_SCHOOLS))
    found = DEMO_TOTP.search(printed)
    if not found:
        raise child_bench.BenchError("the demo printed no TOTP secret for its triage account")
    codes = []
    for line in child_bench.flask_command(env, "schools", "list").splitlines():
        columns = line.split("\t")
        if len(columns) > 3 and columns[3] == "active":
            codes.append(columns[1])
    if len(codes) < 2:
        raise child_bench.BenchError("the demo set-up left fewer than two active schools")
    return codes, found.group(1)


def gunicorn(backend: Backend, log: Path) -> AbstractContextManager[child_bench.Server]:
    """gunicorn with gunicorn.conf.py on a free port; stops exactly that process afterwards."""
    return child_bench.serve(backend.env, log)


def desk_gunicorn(backend: Backend, log: Path) -> AbstractContextManager[child_bench.Server]:
    """The staff's gunicorn as qr111-desk.service runs it (one worker; nginx sends /staff to
    it), on a free port; stops exactly that process afterwards."""
    return child_bench.serve(backend.env, log, workers=1)


def log_in(port: int, totp_secret: str) -> str:
    """Log the demo triage account in through the real form; the Cookie header to send."""
    import pyotp

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://{HOST}:{port}"
    with opener.open(f"{base}/staff/login", timeout=30) as response:
        page = response.read().decode("utf-8")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if not token:
        raise child_bench.BenchError("no form token on the login page")
    fields = {
        "csrf_token": token.group(1),
        "email": STAFF_EMAIL,
        "password": STAFF_PASSWORD,
        "code": pyotp.TOTP(totp_secret).now(),
    }
    data = urllib.parse.urlencode(fields).encode()
    with opener.open(f"{base}/staff/login", data, timeout=60) as response:
        if not response.geturl().endswith("/staff/inbox"):
            raise child_bench.BenchError(f"login ended on {response.geturl()}")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def measure(backend: Backend, args: argparse.Namespace, log: Path) -> list[Scenario]:
    """Set up the backend, then run the three scenarios, each on a fresh gunicorn."""
    codes, totp_secret = prepare(backend)
    paths = [child_bench.poster_path(code) for code in codes]
    # Attackers post straight to the form's address (/s/CODE serves the page and takes the
    # form); the hammer hits a school of its own: the children's schools keep their counts.
    actions = [f"/s/{code}" for code in codes]
    hammer = Attack("one address", [address(255, 0, 1)], actions[-1:], args.hammer_connections)
    spread = Attack(
        f"{args.spread_addresses} addresses",
        [address(200 + n // 65536, n // 256, n) for n in range(args.spread_addresses)],
        actions,
        args.spread_connections,
    )
    # (e): junk to one of the children's schools; afterwards a child at a new address writes
    # to it and to another school.
    silence = Attack(
        "24 addresses, junk to one school",
        [address(250, 0, n) for n in range(24)],
        actions[:1],
        24,
        probes=(paths[0], paths[1]),
    )
    rng = random.Random(64)
    slash64 = Attack(
        "one IPv6 /64, wrong receipts",
        [
            "2001:db8:64:64:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(4))
            for _ in range(500)
        ],
        [],
        args.spread_connections,
        kind="receipts",
    )
    receipts = dataclasses.replace(
        spread, name=f"{args.spread_addresses} addresses, wrong receipts", kind="receipts"
    )
    backend.keep_start()
    scenarios = []
    runs = [("(a) unloaded", None), ("(b) hammer", hammer), ("(c) spread", spread)]
    runs += [("(e) silence", silence), ("(f) /64 codes", slash64), ("(g) 500 codes", receipts)]
    # (a) always: it is what the others are compared with.
    runs = [run for run in runs if run[0][1] == "a" or run[0][1] in args.only]
    for name, attack in runs:
        backend.restore_start()
        backend.reset_limits()
        with gunicorn(backend, log) as server, desk_gunicorn(backend, log) as desk:
            # The TOTP code used is forgotten with the rest: a login again is no replay.
            cookie = log_in(desk.port, totp_secret)
            scenarios.append(run_scenario(name, server, desk, paths, cookie, args, attack))
        print_scenario(scenarios[-1])
    if "d" in args.only:
        backend.restore_start()
        backend.reset_limits()
        with gunicorn(backend, log) as server:
            nat = behind_one_address(server.port, paths[0], NAT_PUPILS, NAT_MISTAKES)
        print_nat(nat)
    return scenarios


def print_nat(nat: Nat) -> None:
    """(d)'s line: every pupil's receipt and opening, the mistyper's answers."""
    met = set(nat.sends.statuses) == {"200"} and set(nat.opens.statuses) == {"200"}
    print(
        f"  (d) NAT: {NAT_PUPILS} pupils behind one address, one mistyping {NAT_MISTAKES} codes, "
        f"{nat.seconds:.0f} s: sends {statuses(nat.sends)} (p50/p95 ms {ms(nat.sends.timing())}), "
        f"opens {statuses(nat.opens)}, mistypes {statuses(nat.mistypes)}; "
        f"{'met' if met else 'NOT met'}: every pupil's receipt and both openings answered 200",
        flush=True,
    )


def statuses(tally: Tally) -> str:
    """Status counts as 200:12 429:3."""
    return " ".join(f"{status}:{count}" for status, count in sorted(tally.statuses.items()))


def ms(timing: crypto_bench.Timing | None) -> str:
    """p50/p95 in milliseconds."""
    if timing is None:
        return "-"
    return f"{timing.median * 1e3:.0f}/{timing.p95 * 1e3:.0f}"


def ratio(timing: crypto_bench.Timing | None, base: crypto_bench.Timing | None) -> float | None:
    """p95 over the baseline's p95."""
    if timing is None or base is None or base.p95 <= 0:
        return None
    return timing.p95 / base.p95


def print_scenario(scenario: Scenario) -> None:
    """One line as soon as a scenario is done (the table comes at the end)."""
    print(
        f"  {scenario.name}: {scenario.seconds:.0f} s; children {statuses(scenario.children)}; "
        f"staff {statuses(scenario.staff)}"
        + (f"; attack {statuses(scenario.attack)}" if scenario.attack_name else ""),
        flush=True,
    )


def verdicts(scenarios: list[Scenario], global_per_second: float) -> list[tuple[str, bool]]:
    """The goal of each scenario, stated, and whether it was met."""
    base = scenarios[0]
    results = []
    for scenario in scenarios:
        children_ok = set(scenario.children.statuses) == {"GET 200", "200"}
        child_ratio = ratio(scenario.children.timing(), base.children.timing())
        staff_ratio = ratio(scenario.staff.timing(), base.staff.timing())
        staff_ok = set(scenario.staff.statuses) == {"200"}
        if scenario is base:
            results.append(
                ("every child's report and staff page answered 200", children_ok and staff_ok)
            )
        elif scenario.attack_kind == "receipts":
            met = children_ok and child_ratio is not None and child_ratio <= GOAL_RATIO
            results.append(
                (f"children's reports all 200 with receipts, p95 <= {GOAL_RATIO:g}x", met)
            )
        elif scenario.probes:
            probes_ok = set(scenario.probes.values()) == {"200"}
            met = (
                children_ok
                and probes_ok
                and staff_ok
                and staff_ratio is not None
                and staff_ratio <= GOAL_RATIO
            )
            results.append(
                (
                    f"a new child at the school and at another got 200 "
                    f"({', '.join(scenario.probes.values())}); children all 200; "
                    f"staff p95 <= {GOAL_RATIO:g}x",
                    met,
                )
            )
        elif scenario.attack_name == "one address":
            refused = scenario.attack.statuses["429"]
            met = (
                children_ok
                and refused > 0
                and child_ratio is not None
                and child_ratio <= GOAL_RATIO
            )
            results.append(
                (f"hammer got 429s ({refused}); children all 200, p95 <= {GOAL_RATIO:g}x", met)
            )
        else:
            stored = scenario.attack.statuses["200"] / scenario.seconds
            held = scenario.attack.statuses["429"] + scenario.attack.statuses["503"]
            met = (
                held > 0
                and stored <= global_per_second * 1.1
                and staff_ok
                and staff_ratio is not None
                and staff_ratio <= GOAL_RATIO
            )
            results.append(
                (
                    f"attack held ({stored:.1f} stored/s, limit {global_per_second:g}/s); "
                    f"staff all 200, p95 <= {GOAL_RATIO:g}x",
                    met,
                )
            )
    return results


def print_table(backend: Backend, scenarios: list[Scenario], global_per_second: float) -> None:
    """The figures of one backend."""
    base = scenarios[0]
    print(f"\n{backend.name}:")
    print(
        f"  {'scenario':<14} {'requests':>8}  {'children p50/p95 ms':>19} {'ratio':>5}"
        f"  {'staff p50/p95 ms':>16} {'ratio':>5}  goal"
    )
    for scenario, (goal, met) in zip(
        scenarios, verdicts(scenarios, global_per_second), strict=True
    ):
        requests = scenario.requests
        child_ratio = ratio(scenario.children.timing(), base.children.timing())
        staff_ratio = ratio(scenario.staff.timing(), base.staff.timing())
        print(
            f"  {scenario.name:<14} {requests:>8}  {ms(scenario.children.timing()):>19}"
            f" {child_ratio or 0:>5.2f}  {ms(scenario.staff.timing()):>16} {staff_ratio or 0:>5.2f}"
            f"  {'met' if met else 'NOT met'}: {goal}"
        )
        print(f"    {'children':<9} {statuses(scenario.children)}")
        print(f"    {'staff':<9} {statuses(scenario.staff)}")
        if scenario.attack_name:
            print(
                f"    {'attack':<9} {statuses(scenario.attack)}  "
                f"({scenario.attack_name}, {scenario.attack.requests / scenario.seconds:.0f} req/s)"
            )
        print(f"    {'CPU':<9} {cpu_use(scenario)}")


def cpu_use(scenario: Scenario) -> str:
    """Where the CPU went: the server (per request), the attacker, other processes."""
    if scenario.server_cpu is None:
        return "unknown (no /proc)"
    text = (
        f"server {scenario.server_cpu:.1f} s ({scenario.server_cpu / scenario.requests * 1e3:.1f} "
        f"ms a request), attacker {scenario.attacker_cpu:.1f} s, of "
        f"{scenario.seconds * (os.cpu_count() or 1):.0f} CPU-seconds"
    )
    if scenario.others is not None:
        text += f"; other processes took {scenario.others:.0%}"
    return text


def global_limit() -> float:
    """The production global limit of messages, per second (its first, tightest rule)."""
    from limits import parse_many

    from portal.config import RateLimits

    rule = parse_many(RateLimits().all_messages)[0]
    return rule.amount / rule.get_expiry()


def main(argv: list[str] | None = None) -> int:
    """Set up, serve, flood and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=25.0, help="each scenario (25)")
    parser.add_argument("--ordinary", type=int, default=20, help="ordinary children (20)")
    parser.add_argument("--pace", type=float, default=3.0, help="seconds between reports (3)")
    parser.add_argument("--hammer-connections", type=int, default=4, help="(b)'s connections (4)")
    parser.add_argument("--spread-addresses", type=int, default=500, help="(c)'s addresses (500)")
    parser.add_argument("--spread-connections", type=int, default=24, help="(c)'s connections (24)")
    parser.add_argument(
        "--postgres-url", default="", help="a PostgreSQL server where the bench makes its database"
    )
    parser.add_argument("--redis-url", default="", help="a Redis database the bench may flush")
    parser.add_argument(
        "--only", default="abcdefg", help="the scenarios to run, e.g. 'efg' ((a) always runs)"
    )
    args = parser.parse_args(argv)
    if bool(args.postgres_url) != bool(args.redis_url):
        parser.error("--postgres-url and --redis-url go together")
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(128 + signal.SIGTERM))

    cpus = os.cpu_count() or 1
    print(
        f"flood of the child's form on gunicorn (gunicorn.conf.py), production Argon2id and "
        f"limits; {cpus} CPUs shared by the server and the bench's own clients "
        f"(the attacker in a process of its own); Python {sys.version.split()[0]}"
    )
    print(
        f"{args.ordinary} children a report every ~{args.pace:g} s each, a staff member "
        f"reloading the inbox every 0.25 s; {args.seconds:g} s a scenario"
    )
    busy = child_bench.machine_busy()
    if busy is not None and busy > child_bench.BUSY_NEIGHBOURS:
        print(f"warning: {busy:.0%} of the CPUs were busy before the bench: figures run high")
    per_second = global_limit()
    with tempfile.TemporaryDirectory(prefix="qr111-bench-flood-") as temporary:
        folder = Path(temporary)
        backends = [embedded(folder)]
        if args.postgres_url:
            backends.append(served_by_postgres_and_redis(folder, args.postgres_url, args.redis_url))
        for making in backends:
            try:
                with making as backend:
                    print(f"\n{backend.name}:", flush=True)
                    scenarios = measure(backend, args, folder / "gunicorn.log")
                    print_table(backend, scenarios, per_second)
            except child_bench.BenchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                log = folder / "gunicorn.log"
                if log.exists():
                    print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
