"""Fixtures shared by every test: an app on a fresh migrated database, its clients.

The suite runs twice (`make test`): on the embedded defaults (a SQLite file per test, rate
limits in memory, staff sessions in the database), and, when PORTAL_TEST_DATABASE_URL and
PORTAL_TEST_REDIS_URL are set, on a real PostgreSQL and Redis. There every test gets databases
of its own (copies of a template migrated once per run: CREATE DATABASE ... TEMPLATE) and a
Redis key prefix of its own; both are removed when the test ends.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import time_machine
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal import create_app, migrate
from portal.config import Config, Environment, RateLimits
from portal.crypto import KdfParams
from portal.database import make_engine
from portal.models import Inbox
from portal.services import accounts
from portal.web.context import engine_of

# Argon2id at 64 KiB and one pass: unit tests check behaviour; bench/crypto.py checks cost.
CHEAP_KDF = KdfParams(memory_kib=64, iterations=1, lanes=1)
SAMPLE_SCHOOLS = Path(__file__).resolve().parent.parent / "portal" / "data" / "schools-sample.csv"
DATABASE_VARIABLE = "PORTAL_TEST_DATABASE_URL"
REDIS_VARIABLE = "PORTAL_TEST_REDIS_URL"
MIGRATED = "migrated"  # the template every test database but an empty one is copied from
# Databases and Redis keys of this run carry its process id: runs side by side never meet,
# and what a killed run left behind is recognised (its process is gone) and removed.
RUN_PREFIX = "qr111_test_"
LOCK_TIMEOUT = "20s"
DROPPERS = 4  # threads dropping used test databases on PostgreSQL
EMBEDDED_ONLY = "embedded_only"  # the marker of tests of a SQLite or in-memory property
# The worlds tests are written in (a site, a desk, a world with inboxes and members): fixtures
# every package's tests share.
pytest_plugins = ("tests.worlds",)
# The whole run at a chosen instant: `pytest --clock 2027-12-31T23:59:00+05:00`, or this
# variable. .ci/run uses it for the instants where calendars break (make test-calendar).
CLOCK_VARIABLE = "QR111_CLOCK"


def pytest_addoption(parser: pytest.Parser) -> None:
    """--clock: the instant the run starts at."""
    parser.addoption(
        "--clock",
        metavar="INSTANT",
        default=os.environ.get(CLOCK_VARIABLE) or None,
        help="start the run's clock at this ISO 8601 instant with its offset (it then ticks); "
        f"tests that set their own clock keep theirs (default: ${CLOCK_VARIABLE}, else now)",
    )


def run_start(config: pytest.Config) -> datetime | None:
    """The instant of --clock, strictly parsed: an instant without its offset is refused."""
    given = config.getoption("--clock")
    if not given:
        return None
    try:
        instant = datetime.fromisoformat(given)
    except ValueError as error:
        raise pytest.UsageError(f"--clock {given!r}: not an ISO 8601 instant") from error
    if instant.tzinfo is None:
        raise pytest.UsageError(f"--clock {given!r}: give the offset, e.g. +05:00")
    return instant


@pytest.fixture(scope="session", autouse=True)
def run_clock(pytestconfig: pytest.Config) -> Iterator[datetime | None]:
    """The whole run at --clock's instant, the clock ticking from there (time-machine moves
    `datetime.now` and `time.time` for the portal, pyotp, itsdangerous and the limits alike;
    a test's own `time_machine.travel` nests inside)."""
    instant = run_start(pytestconfig)
    if instant is None:
        yield None
        return
    with time_machine.travel(instant, tick=True):
        yield instant


class Databases:
    """Test databases copied from templates: SQLite files, or PostgreSQL databases."""

    def __init__(self, server_url: str | None, folder: Path) -> None:
        self.folder = folder
        self.templates: dict[str, str] = {}  # name -> file path (SQLite) or database name
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._admin: Engine | None = None
        # On PostgreSQL a copy takes a few hundred milliseconds, and a drop as long or much
        # longer (it waits for a checkpoint): a thread makes each template's next copy while a
        # test runs, others drop what a test used after it, so tests wait for neither (a copy
        # is still used by one test only). Drops side by side share their checkpoints.
        self._copier = ThreadPoolExecutor(1, thread_name_prefix="test-database-copies")
        self._dropper = ThreadPoolExecutor(DROPPERS, thread_name_prefix="test-database-drops")
        self._next_copies: dict[str, Future[str]] = {}  # template -> its copy made ahead
        self._drops: list[Future[None]] = []
        if server_url:
            self._server = make_url(server_url)
            self._admin = create_engine(self._server, isolation_level="AUTOCOMMIT")
            self._drop_leftovers()

    @property
    def on_postgres(self) -> bool:
        """True in the second run."""
        return self._admin is not None

    def new(self, instance: Path, template: str | None = None) -> str:
        """The URL of a new database: empty, or a copy of a template (built on first use)."""
        if template is not None and template not in self.templates:
            if template != MIGRATED:
                raise KeyError(f"no test database template {template!r}")
            self.add_template(MIGRATED, lambda url: None)
        if self._admin is None:
            path = instance / "portal.sqlite3"
            if template is not None:
                shutil.copyfile(self.templates[template], path)
            return f"sqlite:///{path}"
        self._check_drops()
        if template is None:
            name = self._create(None)
        else:
            made_ahead = self._next_copies.pop(template, None)
            name = made_ahead.result() if made_ahead else self._create(template)
            self._next_copies[template] = self._copier.submit(self._create, template)
        # A test that waits on a lock held by itself fails after a while instead of hanging.
        url = self._server.set(database=name, query={"options": f"-c lock_timeout={LOCK_TIMEOUT}"})
        return url.render_as_string(hide_password=False)

    def _create(self, template: str | None) -> str:
        """Create a PostgreSQL database, empty or a copy of a template; returns its name."""
        name = self._name(str(next(self._numbers)))
        copy = f" TEMPLATE {self.templates[template]}" if template else ""
        # PostgreSQL copies a template only while nobody else copies it: one at a time.
        with self._lock:
            self._execute(f"CREATE DATABASE {name}{copy}")
        return name

    def _check_drops(self) -> None:
        """Fail as soon as a drop made in the background failed."""
        for done in [drop for drop in self._drops if drop.done()]:
            self._drops.remove(done)
            done.result()

    def add_template(self, name: str, build: Callable[[str], None]) -> None:
        """Make a template: a migrated database (a copy of MIGRATED but for it) that `build`
        fills in through the URL it is given, closing every connection it opened."""
        folder = self.folder / f"template-{name}"
        folder.mkdir()
        if name == MIGRATED:
            url = self.new(folder)
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
        else:
            url = self.new(folder, MIGRATED)
        build(url)
        if self._admin is None:
            # The last connection closed checkpoints the WAL: the file alone holds it all.
            assert [path.name for path in folder.iterdir()] == ["portal.sqlite3"]
            self.templates[name] = str(folder / "portal.sqlite3")
        else:
            self.templates[name] = str(make_url(url).database)

    def drop(self, url: str) -> None:
        """Remove a database made by `new` (a SQLite file goes with its temporary folder)."""
        if self._admin is not None:
            statement = f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"
            self._drops.append(self._dropper.submit(self._execute, statement))

    def close(self) -> None:
        """Remove the templates and the copies made ahead once every drop is done: nothing of
        the run stays on the server."""
        self._copier.shutdown()
        self._dropper.shutdown()
        if self._admin is not None:
            ahead = [copy.result() for copy in self._next_copies.values()]
            for name in [*ahead, *self.templates.values()]:
                self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            self._admin.dispose()
            self._check_drops()

    def _name(self, suffix: str) -> str:
        return f"{RUN_PREFIX}{os.getpid()}_{suffix}"

    def _execute(self, statement: str) -> None:
        assert self._admin is not None
        with self._admin.connect() as connection:
            connection.execute(text(statement))

    def _drop_leftovers(self) -> None:
        """Drop the databases of test runs whose process is gone (killed, or crashed)."""
        assert self._admin is not None
        with self._admin.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": RUN_PREFIX.replace("_", r"\_") + "%"},
            ).all()
        for name in names:
            pid = name.removeprefix(RUN_PREFIX).split("_")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclasses.dataclass
class Backend:
    """One test's databases and Redis key prefix, removed when the test ends."""

    databases: Databases
    redis_url: str | None
    redis_prefix: str
    made: dict[Path, str] = dataclasses.field(default_factory=dict)
    copies: list[str] = dataclasses.field(default_factory=list)

    def database(self, instance: Path, template: str | None = None) -> str:
        """A database of this test: empty (the same one for the same instance folder, as a
        SQLite file would be), or a new copy of a template."""
        if template is None:
            if instance not in self.made:
                self.made[instance] = self.databases.new(instance)
            return self.made[instance]
        url = self.databases.new(instance, template)
        self.copies.append(url)
        return url

    def redis(self) -> redis.Redis:
        """A client of the test's Redis (the second run only)."""
        assert self.redis_url, "no Redis in this run"
        return redis.Redis.from_url(self.redis_url)

    def redis_keys(self) -> list[bytes]:
        """Every Redis key under the test's prefix."""
        if not self.redis_url:
            return []
        with self.redis() as client:
            return list(client.scan_iter(match=f"{self.redis_prefix}:*", count=1000))

    def close(self) -> None:
        """Drop the databases, delete the keys."""
        for url in [*self.made.values(), *self.copies]:
            self.databases.drop(url)
        keys = self.redis_keys()
        if keys:
            with self.redis() as client:
                client.delete(*keys)


_active: Backend | None = None  # the running test's backend, for make_config


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """The run's database server: SQLite files, or PORTAL_TEST_DATABASE_URL's PostgreSQL."""
    found = Databases(os.environ.get(DATABASE_VARIABLE), tmp_path_factory.mktemp("databases"))
    yield found
    found.close()


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest, databases: Databases) -> Iterator[Backend]:
    """This test's databases and Redis prefix (PORTAL_TEST_REDIS_URL), cleaned up after it."""
    global _active
    marker = request.node.get_closest_marker(EMBEDDED_ONLY)
    if marker is not None and (databases.on_postgres or os.environ.get(REDIS_VARIABLE)):
        pytest.skip(f"embedded defaults only: {marker.args[0]}")
    number = next(_test_numbers)
    made = Backend(
        databases,
        os.environ.get(REDIS_VARIABLE) or None,
        f"{RUN_PREFIX}{os.getpid()}_{number}".replace("_", "-"),
    )
    _active = made
    try:
        yield made
    finally:
        _active = None
        made.close()


_test_numbers = itertools.count(1)


def make_config(instance: Path, **overrides: Any) -> Config:
    """A development configuration living in a temporary folder, on the running test's
    backends: its own database (empty unless `database_url` is given) and, in the second
    run, its own Redis prefix for rate limits and staff sessions.

    Outside a test (a session fixture building a template) `database_url` must be given."""
    if "database_url" not in overrides:
        if _active is None:
            raise RuntimeError("make_config needs a database_url outside a test")
        overrides["database_url"] = _active.database(instance)
    if _active is not None and _active.redis_url:
        limits: RateLimits = overrides.get("limits", RateLimits())
        overrides["limits"] = dataclasses.replace(limits, storage_url=_active.redis_url)
        overrides.setdefault("redis_url", _active.redis_url)
        overrides.setdefault("redis_prefix", _active.redis_prefix)
    config = Config(
        env=Environment.DEVELOPMENT,
        secret_key="test-secret-key-" + "x" * 32,
        database_url="",
        base_url="https://qr111.example.kz",
        instance_path=instance,
        testing=True,
        kdf=CHEAP_KDF,
    )
    return dataclasses.replace(config, **overrides)


def new_database(instance: Path, template: str | None = MIGRATED) -> str:
    """A database of the running test, by default a migrated one (a copy: nothing to run)."""
    if _active is None:
        raise RuntimeError("new_database runs inside a test")
    return _active.database(instance, template)


def add_inbox(session: Session, name: str, region: str | None = None) -> Inbox:
    """An inbox for a test's world: its keys made as the action makes them, not on record, so
    a world's audit log starts empty (the action, enrolment.create_inbox, is tested itself)."""
    inbox, _private = accounts.new_inbox(session, name, region)
    session.commit()
    return inbox


def stored_at_rest(app: Flask) -> dict[str, bytes]:
    """Everything the app keeps, by where: the files of its instance folder, and its database
    (SQLite's file with the WAL checkpointed, or a pg_dump) and its Redis keys and values.

    The app's connections are closed first. A pg_dump shows bytea as hex: search with
    `found_in`, which looks for both forms.
    """
    engine = engine_of(app)
    config: Config = app.extensions["portal.config"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            busy, _frames, _moved = connection.exec_driver_sql(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).one()
            assert busy == 0
    engine.dispose()
    folder = Path(app.instance_path)
    stored = {path.name: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    if engine.dialect.name == "postgresql":
        stored["pg_dump"] = pg_dump(config.database_url)
    if config.redis_url:
        stored["redis"] = redis_dump(config.redis_url, config.redis_prefix)
    return stored


def pg_dump(database_url: str) -> bytes:
    """The plain SQL dump of a PostgreSQL database (what a backup holds)."""
    program = shutil.which("pg_dump")
    if program is None:
        pytest.fail("pg_dump is missing: install postgresql-client to check what a dump holds")
    url = make_url(database_url).set(drivername="postgresql", query={})
    done = subprocess.run(
        [program, "--no-owner", url.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert b"CREATE TABLE" in done.stdout
    return done.stdout


def redis_dump(redis_url: str, prefix: str | None) -> bytes:
    """Every key under the prefix (or, with None, every key of the database) and its values,
    whatever their type."""
    parts: list[bytes] = []
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter(match=f"{prefix}:*" if prefix else "*", count=1000):
            kind = client.type(key)
            parts.append(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"list":
                parts += client.lrange(key, 0, -1)
            elif kind == b"set":
                parts += client.smembers(key)
            elif kind == b"zset":
                parts += client.zrange(key, 0, -1)
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    parts += [field, value]
            else:  # a stream, or a type yet to come: its serialized form, not nothing
                parts.append(client.dump(key) or b"")
    return b"\n".join(parts)


def found_in(stored: dict[str, bytes], needle: bytes) -> list[str]:
    """Where the bytes are kept: as they are, or in hex (how pg_dump writes bytea)."""
    forms = [needle, needle.hex().encode("ascii")]
    return [name for name, data in stored.items() if any(form in data for form in forms)]


@pytest.fixture(autouse=True)
def cheap_key_derivation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Argon2id cheap, unless a test is marked production_kdf."""
    if request.node.get_closest_marker("production_kdf") is None:
        monkeypatch.setattr("portal.crypto.reports.RECEIPT_LOOKUP_KDF", CHEAP_KDF)


@pytest.fixture(autouse=True)
def quick_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusals held back 10 ms instead of a second; tests of the wait set their own."""
    monkeypatch.setattr("portal.web.ratelimit.SLOW_REFUSAL_SECONDS", 0.01)


@pytest.fixture
def app(tmp_path: Path, backend: Backend) -> Iterator[Flask]:
    """An app on its own database, migrated to the newest revision."""
    instance = tmp_path / "instance"
    instance.mkdir()
    application = create_app(make_config(instance, database_url=new_database(instance)))
    yield application
    engine_of(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs the app's `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served by a real HTTP server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
