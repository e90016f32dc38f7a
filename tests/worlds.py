"""The worlds the tests are written in: a database with schools, the recovery key, inboxes and
members (`world`), the child's site over HTTP (`site`), the staff desk (`desk`), their helpers."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_app, crypto
from portal.config import Config, RateLimits
from portal.enums import Category, Priority, Role
from portal.models import Inbox, Report, School, Staff
from portal.services import accounts, registry, reports
from portal.web.context import engine_of, get_session
from tests.conftest import SAMPLE_SCHOOLS, Databases, add_inbox, make_config, new_database

REGION = "Туркестанская область"  # has its own inbox in the world fixture
OTHER_REGION = "г. Астана"  # has none: its schools report to the national inbox
REGIONAL_PASSWORD = "Айгерім-құпия-сөз-1"
NATIONAL_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Member:
    """A staff account and the secrets only its owner knows."""

    staff: Staff
    password: str
    totp_secret: str


@dataclass(frozen=True)
class World:
    """A database with schools, the recovery key, a national and a regional inbox, two members."""

    app: Flask
    session: Session
    config: Config
    recovery_file: Path
    recovery_private: bytes
    national: Inbox
    regional: Inbox
    national_member: Member  # member of the national inbox only
    regional_member: Member  # member of the regional inbox only
    national_school: School  # in OTHER_REGION
    regional_school: School  # in REGION

    def staff_key(self, member: Member) -> bytes:
        """The member's private key, unlocked with their password."""
        return accounts.unlock_staff_key(member.staff, member.password)

    def inbox_key(self, inbox: Inbox, member: Member) -> bytes:
        """The inbox private key as the member opens it (password, then grant)."""
        return accounts.open_inbox_key(self.session, inbox, member.staff, self.staff_key(member))

    def submit(
        self, school: School, text: str, priority: Priority = Priority.P2
    ) -> tuple[Report, str]:
        """A child's report on the school; returns it and its receipt."""
        stored, receipt = reports.submit_report(
            self.session,
            school,
            Category.BULLYING,
            priority,
            text,
            server_secret=self.config.secret_key,
        )
        return self.session.get_one(Report, stored.id), receipt

    def find_by_receipt(self, typed: str, session: Session | None = None) -> Report | None:
        """The live report a typed receipt finds, as the child's pages look it up."""
        receipt = reports.stretch_receipt(typed, self.config.secret_key)
        return (
            None if receipt is None else reports.find_by_receipt(session or self.session, receipt)
        )

    def child_keys(self, report: Report, receipt: str) -> crypto.ReportKeys:
        """The report's keys as the child opens them with the receipt."""
        stretched = reports.stretch_receipt(receipt, self.config.secret_key)
        assert stretched is not None
        return reports.keys_for_child(report, stretched)

    def staff_keys(self, report: Report, member: Member) -> crypto.ReportKeys:
        """The report's keys as a member of its inbox opens them."""
        inbox = self.session.get(Inbox, report.inbox_id)
        assert inbox is not None
        return reports.keys_for_staff(report, self.inbox_key(inbox, member))


def add_member(
    session: Session,
    config: Config,
    email: str,
    password: str,
    role: Role = Role.TRIAGE,
) -> Member:
    """Create a staff account with the app's KDF cost and server secret."""
    created = accounts.add_staff(session, email, role, password, config.kdf, config.secret_key)
    return Member(created.staff, password, created.totp_secret)


def foreign_recovery_file(path: Path) -> Path:
    """Write a well-formed recovery key file of another server: a key this database never saw."""
    private = base64.urlsafe_b64encode(crypto.generate_keypair().private).decode("ascii")
    path.write_text(f"{accounts.RECOVERY_FILE_HEADER}\nprivate: {private}\n", encoding="ascii")
    return path


@pytest.fixture
def config(app: Flask) -> Config:
    """The app's configuration (cheap Argon2id, a fixed server secret)."""
    found: Config = app.extensions["portal.config"]
    return found


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session inside an app context."""
    with app.app_context():
        yield get_session()


@pytest.fixture
def schools(session: Session) -> list[School]:
    """The sample registry, imported."""
    registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
    return registry.list_schools(session)


@pytest.fixture
def recovery_file(session: Session, tmp_path: Path) -> Path:
    """`keys init` done: the recovery key's file (outside the instance folder)."""
    path = tmp_path / "recovery.key"
    accounts.init_recovery_key(session, path)
    return path


def build_world(session: Session, config: Config, recovery_file: Path) -> dict[str, str]:
    """Make the world's keys, inboxes and members; returns each member's TOTP secret."""
    accounts.init_recovery_key(session, recovery_file)
    recovery_private = accounts.read_recovery_key(session, recovery_file)
    add_inbox(session, "national")
    add_inbox(session, "turkestan", REGION)
    totp: dict[str, str] = {}
    for email, inbox, password in (
        ("Daniyar@111.kz", "national", NATIONAL_PASSWORD),
        ("aigerim@111.kz", "turkestan", REGIONAL_PASSWORD),
    ):
        member = add_member(session, config, email, password)
        accounts.grant_with_recovery_key(session, inbox, email, recovery_private)
        totp[member.staff.email] = member.totp_secret
    return totp


WORLD = "world"  # the name of the world's database template


@dataclass(frozen=True)
class Snapshot:
    """The world's database template, and the secrets made with it."""

    template: str
    recovery_key: bytes
    totp: dict[str, str]


@pytest.fixture(scope="session")
def world_snapshot(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Snapshot:
    """The world built once (registry import, keys, inboxes, staff) as a database template.

    Copying the template is much faster than building the world again for every test.
    """
    folder = tmp_path_factory.mktemp("world")
    instance = folder / "instance"
    instance.mkdir()
    totp: dict[str, str] = {}

    def build(database_url: str) -> None:
        app = create_app(make_config(instance, database_url=database_url))
        with app.app_context():
            session = get_session()
            registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
            totp.update(
                build_world(session, app.extensions["portal.config"], folder / "recovery.key")
            )
        engine_of(app).dispose()

    databases.add_template(WORLD, build)
    return Snapshot(WORLD, (folder / "recovery.key").read_bytes(), totp)


@pytest.fixture
def world(tmp_path: Path, world_snapshot: Snapshot) -> Iterator[World]:
    """An app on a copy of the world's database (no migration to run): schools, the recovery
    key, a national and a regional inbox, one member in each. Do not combine with `app`."""
    instance = tmp_path / "world-instance"
    instance.mkdir()
    database_url = new_database(instance, world_snapshot.template)
    recovery_file = tmp_path / "recovery.key"
    recovery_file.write_bytes(world_snapshot.recovery_key)
    recovery_file.chmod(0o600)
    app = create_app(make_config(instance, database_url=database_url))
    with app.app_context():
        session = get_session()
        schools = registry.list_schools(session)

        def member(email: str, password: str) -> Member:
            staff = accounts.staff_by_email(session, email)
            return Member(staff, password, world_snapshot.totp[staff.email])

        yield World(
            app=app,
            session=session,
            config=app.extensions["portal.config"],
            recovery_file=recovery_file,
            recovery_private=accounts.read_recovery_key(session, recovery_file),
            national=accounts.get_inbox(session, "national"),
            regional=accounts.get_inbox(session, "turkestan"),
            national_member=member("daniyar@111.kz", NATIONAL_PASSWORD),
            regional_member=member("aigerim@111.kz", REGIONAL_PASSWORD),
            national_school=next(school for school in schools if school.region == OTHER_REGION),
            regional_school=next(school for school in schools if school.region == REGION),
        )
    engine_of(app).dispose()


# ---- the child's side over HTTP -------------------------------------------------------

TEXT = "Мені сыныптастарым ұрады. Меня бьют одноклассники."
# Four groups of four digits, each in its <span> (in pairs that wrap together).
RECEIPT = re.compile(
    r'<p class="digits"[^>]*>((?:\s*<span[^>]*>(?:\s*<span>\d{4}</span>){2}</span>){2})\s*</p>'
)


@dataclasses.dataclass(frozen=True)
class Site:
    """An app with schools and a national inbox, and the code of one school."""

    app: Flask
    client: FlaskClient
    code: str

    @property
    def page(self) -> str:
        """The school's page (and the form's action)."""
        return f"/s/{self.code}"

    def token(self, url: str | None = None) -> str:
        """The signed form token of a freshly loaded page."""
        body = self.client.get(url or self.page).get_data(as_text=True)
        found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
        assert found, "no form token on the page"
        return found.group(1)

    def send(self, **fields: str) -> TestResponse:
        """Post the school's form with a fresh token; fields override the defaults."""
        data = {"csrf_token": self.token(), "message": TEXT, "danger": "no", **fields}
        return self.client.post(self.page, data=data)

    def reports(self) -> list[tuple[Category, Priority, int]]:
        """Every stored report: category, priority and number of entries."""
        with self.app.app_context():
            found = get_session().scalars(select(Report).order_by(Report.id))
            return [(report.category, report.priority, len(report.entries)) for report in found]


def receipt_of(response: TestResponse) -> str:
    """The 16 digits a thank-you page shows."""
    found = RECEIPT.search(response.get_data(as_text=True))
    assert found, "no receipt on the page"
    return "".join(re.findall(r"\d{4}", found.group(1)))


def typed_back(response: TestResponse, text: str = TEXT) -> bool:
    """The page gives the text back (HTML-escaped, as the browser shows it)."""
    return html.escape(text, quote=False) in response.get_data(as_text=True)


def build_site(tmp_path: Path, limits: RateLimits | None = None) -> Iterator[Site]:
    """A fresh app on its own database with the sample schools and a national inbox."""
    instance = tmp_path / "instance"
    instance.mkdir()
    config = make_config(
        instance, limits=limits or RateLimits(), database_url=new_database(instance)
    )
    app = create_app(config)
    with app.app_context():
        session = get_session()
        registry.seed_schools(session, SAMPLE_SCHOOLS.read_bytes())
        accounts.init_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "national")
        code = registry.list_schools(session)[0].code
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the messages asserted below
    yield Site(app, client, code)
    engine_of(app).dispose()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The default site."""
    yield from build_site(tmp_path)


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[[RateLimits], Site]]:
    """Build a site with other rate limits."""
    built: list[Iterator[Site]] = []

    def make(limits: RateLimits) -> Site:
        generator = build_site(tmp_path, limits)
        built.append(generator)
        return next(generator)

    yield make
    for generator in built:
        next(generator, None)


# The staff desk: a site with one account of each role, for the tests of staff pages.

STAFF_PASSWORD = "a long staff passphrase 111"


@dataclass(frozen=True)
class Account:
    """A staff account of the desk and its TOTP secret."""

    email: str
    totp: str


@dataclass(frozen=True)
class Desk:
    """A site with a triage member, an admin, a school account and an outsider's inbox."""

    site: Site
    triage: Account
    admin: Account
    school: Account
    outsider: Account  # triage, but of another inbox
    school_id: str

    def client(self, language: str = "en") -> FlaskClient:
        """A fresh browser asking for this language (English: the staff text asserted in tests)."""
        browser = self.site.app.test_client()
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        return browser

    def log_in(
        self, account: Account, code: str | None = None, language: str = "en"
    ) -> FlaskClient:
        """A browser logged in as the account (password and the current TOTP code)."""
        browser = self.client(language)
        response = self.post_login(browser, account, code)
        assert response.status_code == 303, response.get_data(as_text=True)
        assert response.headers["Location"].endswith("/staff/")
        return browser

    def post_login(
        self, browser: FlaskClient, account: Account, code: str | None = None, password: str = ""
    ) -> TestResponse:
        """Post the login form."""
        page = browser.get("/staff/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token
        return browser.post(
            "/staff/login",
            data={
                "csrf_token": token.group(1),
                "email": account.email,
                "password": password or STAFF_PASSWORD,
                "code": code or pyotp.TOTP(account.totp).now(),
            },
        )


def form_token(browser: FlaskClient, path: str) -> str:
    """The CSRF token of a staff page."""
    found = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', browser.get(path).get_data(as_text=True)
    )
    assert found
    return found.group(1)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """The site and its staff."""
    sites = build_site(tmp_path)
    site = next(sites)
    with site.app.app_context():
        session = get_session()
        config = site.app.extensions["portal.config"]
        recovery = accounts.read_recovery_key(session, tmp_path / "recovery.key")
        add_inbox(session, "elsewhere", "Nowhere region")

        def account(email: str, role: Role, inbox: str | None) -> Account:
            made = accounts.add_staff(
                session, email, role, STAFF_PASSWORD, config.kdf, config.secret_key
            )
            if inbox:
                accounts.grant_with_recovery_key(session, inbox, email, recovery)
            return Account(made.staff.email, made.totp_secret)

        triage = account("triage@111.kz", Role.TRIAGE, "national")
        admin = account("admin@111.kz", Role.ADMIN, "national")
        outsider = account("outsider@111.kz", Role.TRIAGE, "elsewhere")
        school = account("school@111.kz", Role.SCHOOL, None)
        own = session.scalar(select(School).where(School.code == site.code))
        assert own is not None
        school_staff = accounts.staff_by_email(session, school.email)
        school_staff.schools.append(own)
        session.commit()
        school_id = own.school_id
    yield Desk(site, triage, admin, school, outsider, school_id)
    next(sites, None)


def report_id(desk: Desk) -> str:
    """The public id of the newest report."""
    with desk.site.app.app_context():
        found = get_session().scalar(select(Report.public_id).order_by(Report.id.desc()))
    assert found
    return found
