"""Operator commands: `flask --app portal db|schools|posters ...`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
import pyotp
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal import audit_cli, crypto, keys_cli, migrate, registry
from portal.db import engine_of, get_session
from portal.models import School

db_cli = AppGroup("db", help="Create and upgrade the database schema.")
schools_cli = AppGroup("schools", help="The school registry: import, export, codes.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the database on first run)."""
    engine = engine_of(current_app)
    migrate.upgrade(engine)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    migrate.make_revision(engine_of(current_app), message)


@schools_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def schools_import(csv_file: Path) -> None:
    """Import or update schools from a registry CSV file; a bad row refuses the whole file."""
    try:
        parsed = registry.parse_schools_csv(csv_file.read_bytes())
    except registry.BadSchoolsFile as exc:
        click.echo(f"{csv_file}: refused, nothing was imported:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    result = registry.import_schools(get_session(), parsed)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@schools_cli.command("export")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--include-inactive", is_flag=True, help="Also export deactivated schools.")
def schools_export(csv_file: Path, include_inactive: bool) -> None:
    """Write the registry with each school's code and check word (the posters' input)."""
    temporary = csv_file.with_name(f".{csv_file.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as stream:
        count = registry.export_schools(get_session(), stream, include_inactive=include_inactive)
    temporary.replace(csv_file)
    click.echo(f"{count} schools written to {csv_file}")


@schools_cli.command("list")
@click.option("--region", help="Only the schools of this region.")
def schools_list(region: str | None) -> None:
    """List schools with their codes, check words and state."""
    base_url = current_app.extensions["portal.config"].base_url
    for school in registry.list_schools(get_session(), region=region):
        state = "active" if school.active else "inactive"
        click.echo(
            f"{school.school_id}\t{school.code}\t{school.check_word}\t{state}\t"
            f"{school.region}\t{school.name_for('kk')}\t{base_url}/s/{school.code}"
        )


@schools_cli.command("rotate")
@click.argument("school_id")
def schools_rotate(school_id: str) -> None:
    """Issue a new code and check word; the old code stops working at once."""
    school = _or_exit(lambda: registry.rotate_code(get_session(), school_id))
    click.echo(f"{school.school_id}: new code {school.code}, check word {school.check_word}")
    click.echo("Print and put up the new poster; the old one no longer works.")


@schools_cli.command("deactivate")
@click.argument("school_id")
def schools_deactivate(school_id: str) -> None:
    """Switch a school's page off (its code then answers 'not found')."""
    school = _or_exit(lambda: registry.set_active(get_session(), school_id, False))
    click.echo(f"{school.school_id}: deactivated")


@schools_cli.command("activate")
@click.argument("school_id")
def schools_activate(school_id: str) -> None:
    """Switch a deactivated school's page back on, with its current code."""
    school = _or_exit(lambda: registry.set_active(get_session(), school_id, True))
    click.echo(f"{school.school_id}: active")


def _or_exit(action: Callable[[], School]) -> School:
    try:
        return action()
    except registry.UnknownSchool as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.command("posters")
@with_appcontext
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for OUT/<school_id>.<format> and OUT/sheets/<school_id>.pdf.",
)
@click.option("--region", help="Only the schools of this region.")
@click.option(
    "--format",
    "fmt",
    default="pdf",
    show_default=True,
    type=click.Choice(["pdf", "svg", "png"]),
    help="Poster file format.",
)
@click.option(
    "--lang",
    "languages",
    default="kk,ru",
    show_default=True,
    help="Poster languages, comma separated (kk, ru, en).",
)
def posters_command(out_dir: Path, region: str | None, fmt: str, languages: str) -> None:
    """Print posters and sticker sheets for the active schools, straight from the database."""
    from portal.posters import PosterError, write_posters  # reportlab loads for this only

    schools = registry.list_schools(get_session(), region=region, include_inactive=False)
    if not schools:
        click.echo(
            "error: no active school" + (f" in region {region!r}" if region else ""), err=True
        )
        sys.exit(2)
    base_url = current_app.extensions["portal.config"].base_url
    # click draws the bar only on a terminal; in a pipe or a log it prints the label once.
    with click.progressbar(length=len(schools), label="schools", file=sys.stderr) as bar:
        try:
            count = write_posters(
                schools,
                base_url,
                out_dir,
                fmt=fmt,
                languages=languages,
                progress=lambda done, _total: bar.update(done - bar.pos),
            )
        except PosterError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
    click.echo(f"{count} posters and sticker sheets written to {out_dir}")


@click.command("demo")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def demo_command(csv_file: Path) -> None:
    """Development only: sample schools, a demo inbox, one account per role, sample reports."""
    from portal.demo import DemoRefused, seed_demo

    config = current_app.extensions["portal.config"]
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
            f"          {totp.provisioning_uri(name=account.email, issuer_name='QR 111 demo')}"
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


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(db_cli)
    app.cli.add_command(schools_cli)
    app.cli.add_command(posters_command)
    app.cli.add_command(demo_command)
    for group in (keys_cli.keys_cli, keys_cli.inbox_cli, keys_cli.staff_cli):
        app.cli.add_command(group)
    app.cli.add_command(audit_cli.audit_cli)
    app.cli.add_command(audit_cli.reports_cli)
