"""Operator commands for keys and accounts: `flask --app portal keys|inbox|staff ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from flask.cli import AppGroup

from portal import crypto
from portal.enums import Role
from portal.services import accounts, enrolment
from portal.web.context import get_config, get_session

T = TypeVar("T")

keys_cli = AppGroup("keys", help="The offline recovery key.")
inbox_cli = AppGroup("inbox", help="Triage inboxes (national, or one region).")
staff_cli = AppGroup("staff", help="Staff accounts.")


def _or_exit(action: Callable[[], T]) -> T:
    """Run an account operation; a known failure becomes a one-line error and exit code 2."""
    try:
        return action()
    except (accounts.AccountError, enrolment.EnrolmentError, crypto.CryptoError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, crypto.WrongPassword):
            message = "wrong password"
        click.echo(f"error: {message}", err=True)
        sys.exit(2)


@keys_cli.command("init")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="New file for the private recovery key (created 0600; never overwritten).",
)
def keys_init(out_path: Path) -> None:
    """Make the recovery key pair; move the file offline and delete it from this machine."""
    secret = get_config().secret_key
    _or_exit(lambda: accounts.create_recovery_key(get_session(), secret, out_path))
    click.echo(f"recovery key written to {out_path}")
    click.echo("Copy it to offline storage (two copies, two places), then delete it here.")


@keys_cli.command("recover")
@click.option(
    "--recovery-key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--inbox", "inbox_name", required=True, help="The inbox to grant.")
@click.option("--email", required=True, help="The staff member who gets the inbox.")
def keys_recover(key_path: Path, inbox_name: str, email: str) -> None:
    """Grant an inbox to a staff member with the recovery key, when no member can."""
    session = get_session()
    private = _or_exit(lambda: accounts.read_recovery_key(session, key_path))
    secret = get_config().secret_key
    _or_exit(lambda: accounts.recover_inbox(session, secret, inbox_name, email, private))
    click.echo(f"{accounts.normalize_email(email)} is now a member of inbox {inbox_name}")


@inbox_cli.command("create")
@click.argument("name")
@click.option("--region", help="The region whose schools report here; none: national inbox.")
def inbox_create(name: str, region: str | None) -> None:
    """Create an inbox; its private key is wrapped for the recovery key only."""
    inbox = _or_exit(
        lambda: enrolment.create_inbox(get_session(), get_config(), None, name, region)
    )
    where = f"region {inbox.region}" if inbox.region else "national"
    click.echo(f"inbox {inbox.name} created ({where})")
    click.echo(f"Grant it: flask --app portal keys recover --inbox {inbox.name} --email E ...")


@inbox_cli.command("list")
def inbox_list() -> None:
    """List inboxes with their regions and members."""
    for inbox in accounts.list_inboxes(get_session()):
        members = ", ".join(sorted(grant.staff.email for grant in inbox.grants)) or "-"
        click.echo(f"{inbox.name}\t{inbox.region or '(national)'}\t{members}")


def _read_password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password


@staff_cli.command("add")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--inbox", "inbox_name", help="Grant this inbox (needs --recovery-key).")
@click.option(
    "--recovery-key",
    "key_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The offline recovery key, to grant --inbox.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_add(
    email: str, role: str, inbox_name: str | None, key_path: Path | None, password_stdin: bool
) -> None:
    """Create a staff account and print its TOTP secret as an otpauth:// URI."""
    if inbox_name and key_path is None:
        click.echo(
            "error: --inbox needs --recovery-key (or grant later with `keys recover`)", err=True
        )
        sys.exit(2)
    session = get_session()
    recovery_private = (
        _or_exit(lambda: accounts.read_recovery_key(session, key_path)) if key_path else None
    )
    if inbox_name:
        # Checked before the account is made: a refused grant must not leave a half-made account.
        _or_exit(lambda: accounts.check_can_hold_inbox(Role.parse(role), email))
        _or_exit(lambda: accounts.get_inbox(session, inbox_name))
    password = _read_password(password_stdin, f"Password for {email}")
    config = get_config()
    first_inbox = (inbox_name, recovery_private) if inbox_name and recovery_private else None
    created = _or_exit(
        lambda: accounts.create_staff_account(
            session, config.kdf, config.secret_key, email, Role.parse(role), password, first_inbox
        )
    )
    uri = accounts.totp_uri(created.totp_secret, created.staff.email)
    click.echo(f"staff {created.staff.email} ({role}) created")
    if inbox_name:
        click.echo(f"member of inbox {inbox_name}")
    click.echo(f"TOTP: {uri}")
