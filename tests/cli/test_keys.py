"""The key commands: flask --app portal keys|inbox|staff ..., happy paths and every refusal."""

from __future__ import annotations

import stat
from pathlib import Path

import pyotp
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from portal import crypto
from portal.models import RecoveryKey, Staff
from portal.services import accounts, registry
from portal.web.context import get_session
from tests.conftest import SAMPLE_SCHOOLS
from tests.worlds import foreign_recovery_file

PASSWORD = "Айгерім-құпия-сөз-1"


def run(runner: FlaskCliRunner, *args: str, password: str | None = None) -> Result:
    stdin = None if password is None else password + "\n"
    return runner.invoke(args=list(args), input=stdin)


def succeeded(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result, message: str) -> None:
    """Exit code 2 and one line on standard error, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def usage_refused(result: Result, message: str) -> None:
    """click's own refusal of bad arguments: exit code 2, an Error line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Error: " in result.stderr and message in result.stderr, result.stderr


def add_args(email: str = "new@111.kz", role: str = "triage", *extra: str) -> list[str]:
    return ["staff", "add", "--email", email, "--role", role, *extra, "--password-stdin"]


def recover(runner: FlaskCliRunner, key: Path, inbox: str, email: str) -> Result:
    return run(
        runner, "keys", "recover", "--recovery-key", str(key), "--inbox", inbox, "--email", email
    )


def staff_count(app: Flask) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(Staff)) or 0


@pytest.fixture
def key_file(runner: FlaskCliRunner, tmp_path: Path) -> Path:
    """`keys init` run; the recovery key's file."""
    path = tmp_path / "recovery.key"
    succeeded(run(runner, "keys", "init", "--out", str(path)))
    return path


@pytest.fixture
def schools(app: Flask) -> None:
    """The sample registry (a regional inbox is for a region of the registry)."""
    with app.app_context():
        registry.seed_schools(get_session(), SAMPLE_SCHOOLS.read_bytes())


@pytest.fixture
def inboxes(runner: FlaskCliRunner, key_file: Path, schools: None) -> None:
    """A national inbox and one for Turkestan."""
    succeeded(run(runner, "inbox", "create", "national"))
    succeeded(run(runner, "inbox", "create", "turkestan", "--region", "Туркестанская область"))


# ---- keys init -----------------------------------------------------------------------------


def test_keys_init_writes_a_0600_file_matching_the_stored_public_key(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "recovery.key"
    output = succeeded(run(runner, "keys", "init", "--out", str(path)))
    assert f"recovery key written to {path}" in output
    assert "offline" in output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with app.app_context():
        session = get_session()
        private = accounts.read_recovery_key(session, path)
        (public,) = session.scalars(select(RecoveryKey.public_key)).all()
    assert crypto.public_key_of(private) == public


def test_keys_init_never_overwrites_a_file_and_runs_once(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    usage_refused(run(runner, "keys", "init"), "Missing option '--out'")
    precious = tmp_path / "precious.key"
    precious.write_text("another key\n", encoding="ascii")
    refused(run(runner, "keys", "init", "--out", str(precious)), "cannot create")
    assert precious.read_text(encoding="ascii") == "another key\n"
    refused(run(runner, "keys", "init", "--out", str(tmp_path / "no" / "k")), "cannot create")
    with app.app_context():
        assert get_session().scalar(select(RecoveryKey)) is None
    succeeded(run(runner, "keys", "init", "--out", str(tmp_path / "first.key")))
    refused(run(runner, "keys", "init", "--out", str(tmp_path / "second.key")), "exists already")
    assert not (tmp_path / "second.key").exists()


# ---- inboxes -------------------------------------------------------------------------------


def test_inboxes_and_grants_need_keys_init(runner: FlaskCliRunner, tmp_path: Path) -> None:
    refused(run(runner, "inbox", "create", "national"), "no recovery key")
    assert succeeded(run(runner, "inbox", "list")) == ""
    path = tmp_path / "recovery.key"
    path.write_text("private: AAAA\n", encoding="ascii")
    refused(recover(runner, path, "national", "x@111.kz"), "no recovery key")


def test_inbox_create_and_list(runner: FlaskCliRunner, key_file: Path, schools: None) -> None:
    national = succeeded(run(runner, "inbox", "create", "national"))
    assert "inbox national created (national)" in national
    assert "keys recover --inbox national" in national
    regional = run(runner, "inbox", "create", "turkestan", "--region", "Туркестанская область")
    assert "inbox turkestan created (region Туркестанская область)" in succeeded(regional)
    assert succeeded(run(runner, "inbox", "list")).splitlines() == [
        "national\t(national)\t-",
        "turkestan\tТуркестанская область\t-",
    ]


def test_inbox_create_refuses_a_taken_or_empty_name_or_region(
    runner: FlaskCliRunner, inboxes: None
) -> None:
    not_a_free_region = "is not a region of the registry without an inbox"
    refusals = [
        (["national"], "There is a national inbox already"),
        (["national", "--region", "Абайская область"], "inbox name 'national' is empty or taken"),
        (["other", "--region", "Туркестанская область"], not_a_free_region),
        (["  "], "An inbox name is 1 to 64 lower-case letters"),
        (["abai", "--region", " "], not_a_free_region),
        # The web's rules on the command line too (it took both before).
        (["Almaty Region! (old)"], "An inbox name is 1 to 64 lower-case letters"),
        (["almaty", "--region", "no such region"], not_a_free_region),
    ]
    for args, message in refusals:
        refused(run(runner, "inbox", "create", *args), message)
    assert len(succeeded(run(runner, "inbox", "list")).splitlines()) == 2


# ---- staff ---------------------------------------------------------------------------------


def test_staff_add_prints_a_totp_uri_the_server_can_check(
    app: Flask, runner: FlaskCliRunner, key_file: Path
) -> None:
    result = run(
        runner,
        "staff",
        "add",
        "--email",
        "Aigerim@111.kz",
        "--role",
        "triage",
        "--password-stdin",
        password=PASSWORD,
    )
    output = succeeded(result)
    assert "staff aigerim@111.kz (triage) created" in output
    (uri,) = [line.removeprefix("TOTP: ") for line in output.splitlines() if "otpauth" in line]
    assert uri.startswith("otpauth://totp/QR%20111:aigerim%40111.kz?")
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    with app.app_context():
        session = get_session()
        staff = accounts.staff_by_email(session, "aigerim@111.kz")
        config = app.extensions["portal.config"]
        assert pyotp.TOTP(accounts.totp_secret_of(staff, config.secret_key)).verify(totp.now())
        assert crypto.public_key_of(accounts.unlock_staff_key(staff, PASSWORD)) == staff.public_key
        assert staff.grants == []


def test_staff_add_reads_the_password_from_a_confirmed_prompt(
    app: Flask, runner: FlaskCliRunner, key_file: Path
) -> None:
    result = runner.invoke(
        args=["staff", "add", "--email", "a@111.kz", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert "otpauth://totp/" in succeeded(result)
    assert PASSWORD not in result.output
    with app.app_context():
        staff = accounts.staff_by_email(get_session(), "a@111.kz")
        assert accounts.unlock_staff_key(staff, PASSWORD)


def test_staff_add_with_the_recovery_key_grants_the_inbox(
    app: Flask, runner: FlaskCliRunner, key_file: Path, inboxes: None
) -> None:
    result = run(
        runner,
        "staff",
        "add",
        "--email",
        "aigerim@111.kz",
        "--role",
        "triage",
        "--inbox",
        "turkestan",
        "--recovery-key",
        str(key_file),
        "--password-stdin",
        password=PASSWORD,
    )
    assert "member of inbox turkestan" in succeeded(result)
    assert "turkestan\tТуркестанская область\taigerim@111.kz" in succeeded(
        run(runner, "inbox", "list")
    )
    with app.app_context():
        session = get_session()
        staff = accounts.staff_by_email(session, "aigerim@111.kz")
        inbox = accounts.get_inbox(session, "turkestan")
        private = accounts.unlock_staff_key(staff, PASSWORD)
        inbox_private = accounts.open_inbox_key(session, inbox, staff, private)
        assert crypto.public_key_of(inbox_private) == inbox.public_key


def test_staff_add_refusals_create_no_account(
    app: Flask, runner: FlaskCliRunner, key_file: Path, inboxes: None, tmp_path: Path
) -> None:
    succeeded(run(runner, *add_args("exists@111.kz"), password=PASSWORD))
    other = foreign_recovery_file(tmp_path / "other.key")
    paths = {"KEY": str(key_file), "OTHER": str(other)}
    refusals: list[tuple[list[str], str, str]] = [
        (add_args(), "too-short", "at least 12 characters"),
        (add_args(), "", "at least 12 characters"),
        (add_args("EXISTS@111.kz"), PASSWORD, "exists@111.kz has an account already"),
        (add_args("not-an-email"), PASSWORD, "'not-an-email' is not an email"),
        (
            add_args("new@111.kz", "triage", "--inbox", "turkestan"),
            PASSWORD,
            "--inbox needs --recovery-key",
        ),
        (
            add_args("new@111.kz", "triage", "--inbox", "nowhere", "--recovery-key", "KEY"),
            PASSWORD,
            "no inbox named 'nowhere'",
        ),
        (
            add_args("new@111.kz", "school", "--inbox", "turkestan", "--recovery-key", "KEY"),
            PASSWORD,
            "may not read reports",
        ),
        (
            add_args("new@111.kz", "triage", "--inbox", "turkestan", "--recovery-key", "OTHER"),
            PASSWORD,
            "is not the recovery key of this server",
        ),
    ]
    for args, password, message in refusals:
        refused(run(runner, *[paths.get(arg, arg) for arg in args], password=password), message)
        assert staff_count(app) == 1, message


def test_staff_add_refuses_an_unknown_role(app: Flask, runner: FlaskCliRunner) -> None:
    usage_refused(run(runner, *add_args("new@111.kz", "root"), password=PASSWORD), "'root'")
    assert staff_count(app) == 0


# ---- keys recover --------------------------------------------------------------------------


def test_keys_recover_grants_an_inbox(
    app: Flask, runner: FlaskCliRunner, key_file: Path, inboxes: None
) -> None:
    succeeded(run(runner, *add_args("Daniyar@111.kz"), password=PASSWORD))
    output = succeeded(recover(runner, key_file, "national", "DANIYAR@111.kz"))
    assert "daniyar@111.kz is now a member of inbox national" in output
    assert "national\t(national)\tdaniyar@111.kz" in succeeded(run(runner, "inbox", "list"))
    with app.app_context():
        session = get_session()
        staff = accounts.staff_by_email(session, "daniyar@111.kz")
        inbox = accounts.get_inbox(session, "national")
        private = accounts.unlock_staff_key(staff, PASSWORD)
        assert crypto.public_key_of(accounts.open_inbox_key(session, inbox, staff, private)) == (
            inbox.public_key
        )


def test_keys_recover_refusals(
    runner: FlaskCliRunner, key_file: Path, inboxes: None, tmp_path: Path
) -> None:
    succeeded(run(runner, *add_args("daniyar@111.kz"), password=PASSWORD))
    succeeded(run(runner, *add_args("school@111.kz", "school"), password=PASSWORD))
    refused(recover(runner, key_file, "nowhere", "daniyar@111.kz"), "no inbox named 'nowhere'")
    refused(recover(runner, key_file, "national", "nobody@111.kz"), "no staff member with email")
    refused(recover(runner, key_file, "national", "school@111.kz"), "may not read reports")
    garbled = tmp_path / "garbled.key"
    garbled.write_bytes(b"\xff\xfe not a key")
    refused(recover(runner, garbled, "national", "daniyar@111.kz"), "not a readable recovery key")
    other = foreign_recovery_file(tmp_path / "other.key")
    refused(recover(runner, other, "national", "daniyar@111.kz"), "not the recovery key")
    usage_refused(recover(runner, tmp_path / "missing.key", "national", "x@111.kz"), "missing.key")
    assert succeeded(run(runner, "inbox", "list")).splitlines() == [
        "national\t(national)\t-",
        "turkestan\tТуркестанская область\t-",
    ]
