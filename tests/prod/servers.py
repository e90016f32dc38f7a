"""Real gunicorn servers for the production tests: databases, processes, and a small browser.

Each server is a gunicorn started with the repository's gunicorn.conf.py on a free port of
127.0.0.1, in a process group of its own, so that a test can stop (or kill -9) exactly it.
"""

from __future__ import annotations

import dataclasses
import html
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from portal import create_app, migrate
from portal.config import Config, Environment, RateLimits
from portal.enums import Role
from portal.services import accounts, registry
from portal.web.context import engine_of, get_session
from tests.conftest import CHEAP_KDF, SAMPLE_SCHOOLS, add_inbox

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SECRET_KEY = "prod-test-secret-key-" + "y" * 32
STAFF_EMAIL = "triage@111.kz"
STAFF_PASSWORD = "a long staff passphrase 111"
UNTHROTTLED = "1000000/second"
DATABASE_VARIABLE = "PORTAL_TEST_DATABASE_URL"
REDIS_VARIABLE = "PORTAL_TEST_REDIS_URL"
# The test runs' database prefix (tests/conftest.py drops those of dead runs by their pid).
RUN_PREFIX = "qr111_test_"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Four groups of four digits, each in its <span> (in pairs that wrap together).
RECEIPT = re.compile(
    r'<p class="digits"[^>]*>((?:\s*<span[^>]*>(?:\s*<span>\d{4}</span>){2}</span>){2})\s*</p>'
)
START_SECONDS = 30


def service_url(variable: str) -> str:
    """A test service's URL from the environment, or skip (the second run of .ci/run sets it)."""
    url = os.environ.get(variable, "")
    if not url:
        pytest.skip(f"{variable} is not set")
    return url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server; dropped afterwards."""
    name = f"{RUN_PREFIX}{os.getpid()}_prod_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty database of the kind ("sqlite" or "postgresql"), removed afterwards."""
    if kind == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'portal.sqlite3'}"
    else:
        with postgres_database(service_url(DATABASE_VARIABLE)) as url:
            yield url


@dataclass(frozen=True)
class Prepared:
    """A migrated database with the sample schools, a national inbox and one triage member."""

    url: str
    code: str
    totp_secret: str


def setup_config(url: str, instance: Path) -> Config:
    """The configuration of an app that prepares the servers' database (cheap Argon2id, the
    servers' secret key)."""
    return Config(
        env=Environment.DEVELOPMENT,
        secret_key=SECRET_KEY,
        database_url=url,
        base_url="https://qr111.example.kz",
        instance_path=instance,
        kdf=CHEAP_KDF,
    )


def prepare(url: str, folder: Path) -> Prepared:
    """Migrate the database and fill it in (cheap Argon2id, the servers' secret key)."""
    instance = folder / "setup-instance"
    instance.mkdir(parents=True)
    config = setup_config(url, instance)
    app = create_app(config)
    migrate.upgrade(engine_of(app))
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        recovery_file = folder / "recovery.key"
        accounts.init_recovery_key(session, recovery_file)
        add_inbox(session, "national")
        made = accounts.add_staff(
            session, STAFF_EMAIL, Role.TRIAGE, STAFF_PASSWORD, CHEAP_KDF, SECRET_KEY
        )
        recovery = accounts.read_recovery_key(session, recovery_file)
        accounts.grant_with_recovery_key(session, "national", STAFF_EMAIL, recovery)
        code = registry.list_schools(session)[0].code
    engine_of(app).dispose()
    return Prepared(url, code, made.totp_secret)


def portal_env(database_url: str, instance: Path, **variables: str) -> dict[str, str]:
    """The environment of a server: this database, cheap Argon2id, no rate limits unless told."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PORTAL_")}
    env.update(
        PORTAL_ENV="development",
        PORTAL_INSTANCE_PATH=str(instance),
        PORTAL_DATABASE_URL=database_url,
        PORTAL_SECRET_KEY=SECRET_KEY,
        PORTAL_BASE_URL=f"http://{HOST}",
        PORTAL_KDF_MEMORY_KIB=str(CHEAP_KDF.memory_kib),
        PORTAL_KDF_ITERATIONS=str(CHEAP_KDF.iterations),
        PORTAL_KDF_LANES=str(CHEAP_KDF.lanes),
        PORTAL_LIMIT_CLIENT=UNTHROTTLED,
        PORTAL_LIMIT_SCHOOL=UNTHROTTLED,
        PORTAL_LIMIT_GLOBAL=UNTHROTTLED,
        PORTAL_LIMIT_RECEIPT_FAILURES=UNTHROTTLED,
    )
    env.update(variables)
    return env


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A running gunicorn: its process (the leader of its own group), port and log files."""

    process: subprocess.Popen[bytes]
    port: int
    access_log: Path
    error_log: Path

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self.port}"

    def kill_hard(self) -> None:
        """kill -9 the master and its workers at once (its group is its own), as a crash."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Stop gracefully (the access log is flushed); kill -9 if that takes too long."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill_hard()


def health(url: str) -> int:
    """The status of /healthz, or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@contextmanager
def gunicorn(env: dict[str, str], folder: Path, workers: int = 2) -> Iterator[Server]:
    """Serve the portal with gunicorn.conf.py on a free port until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    access_log, error_log = folder / f"access-{port}.log", folder / f"error-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(REPO / "gunicorn.conf.py"),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
    ]
    with access_log.open("wb") as stdout, error_log.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    server = Server(process, port, access_log, error_log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while health(server.url) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{error_log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@dataclass
class Reply:
    """A response: its status, final URL and body."""

    status: int
    url: str
    body: str

    def token(self) -> str:
        """The form token of the page."""
        found = TOKEN.search(self.body)
        assert found, f"no form token on {self.url} ({self.status})"
        return found.group(1)

    def receipt(self) -> str | None:
        """The 16 digits of a thank-you page, if it is one."""
        found = RECEIPT.search(self.body)
        return "".join(re.findall(r"\d{4}", found.group(1))) if found else None

    def shows(self, typed: str) -> bool:
        """The page shows this text (HTML-escaped, as the browser renders it)."""
        return html.escape(typed, quote=False) in self.body


@dataclass
class Browser:
    """A browser with its own cookies (they go to any port of 127.0.0.1, as browsers do)."""

    jar: http.cookiejar.CookieJar = dataclasses.field(default_factory=http.cookiejar.CookieJar)
    language: str = "en"
    # The client's address as a trusted proxy reports it (a server with PORTAL_TRUSTED_PROXIES):
    # people who are not the same client in a test, where every request comes from 127.0.0.1.
    client: str = ""

    def open(self, url: str, form: dict[str, str] | None = None) -> Reply:
        """GET, or POST the form; redirects are followed."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Accept-Language": self.language}
        if self.client:
            headers["X-Forwarded-For"] = self.client
        request = urllib.request.Request(url, data, headers)  # noqa: S310 -- our own http URL
        try:
            with opener.open(request, timeout=30) as response:
                return Reply(response.status, response.url, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, url, error.read().decode())

    def send_report(self, base: str, code: str, text: str) -> Reply:
        """Load the school's page and send the form."""
        page = self.open(f"{base}/s/{code}")
        form = {"csrf_token": page.token(), "category": "bullying", "danger": "no", "message": text}
        return self.open(f"{base}/s/{code}", form)

    def check(self, base: str, receipt: str, message: str = "") -> Reply:
        """Open the conversation with a receipt (and write more to it)."""
        page = self.open(f"{base}/check")
        return self.open(
            f"{base}/check", {"csrf_token": page.token(), "receipt": receipt, "message": message}
        )


def limits_env(limits: RateLimits) -> dict[str, str]:
    """PORTAL_LIMIT_* variables for these limits."""
    return {
        "PORTAL_LIMIT_CLIENT": limits.client_messages,
        "PORTAL_LIMIT_SCHOOL": limits.school_messages,
        "PORTAL_LIMIT_GLOBAL": limits.all_messages,
        "PORTAL_LIMIT_RECEIPT_FAILURES": limits.receipt_failures,
    }
