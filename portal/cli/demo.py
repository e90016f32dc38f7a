"""`flask --app portal demo FILE.csv`: the set-up behind `make demo` (development only)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pyotp
from flask.cli import with_appcontext

from portal import crypto
from portal.services import accounts, registry
from portal.web.context import get_config, get_session


@click.command("demo")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def demo_command(csv_file: Path) -> None:
    """Development only: sample schools, a demo inbox, one account per role, sample reports."""
    from portal.services.demo import DemoRefused, seed_demo

    config = get_config()
    try:
        demo = seed_demo(get_session(), config, csv_file)
    except DemoRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo("School pages (any case of the code works, under /s/ or /S/):")
    for school in registry.list_schools(get_session(), include_inactive=False)[:5]:
        click.echo(f"  {config.base_url}/s/{school.code}   check word {school.check_word}")
    click.echo(f"Staff login: {config.base_url}/staff/login (password, then the TOTP code)")
    for account in demo.accounts:
        totp = pyotp.TOTP(account.totp_secret)
        click.echo(f"  {account.role.value:<7} {account.email}  password: {account.password}")
        click.echo(f"          TOTP secret {account.totp_secret} (code now: {totp.now()})")
        click.echo(
            f"          {accounts.totp_uri(account.totp_secret, account.email, 'QR 111 demo')}"
        )
    click.echo("  Add the secret to an authenticator app; each code works for one login only.")
    if demo.receipts:
        click.echo(
            f"Sample reports: their receipts open the conversation at {config.base_url}/check"
        )
        for receipt in demo.receipts:
            click.echo(f"  {crypto.format_receipt(receipt)}")
    click.echo(f"Recovery key of the demo: {demo.recovery_file}")
    click.echo(f"Posters: flask --app portal posters --out {config.instance_path / 'posters'}")
