"""`flask --app portal schools …`: the school registry (import, export, list, codes); each change
is audited by the same service function as on the admin pages, with "via": "cli"."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.models import School
from portal.services import registry
from portal.web.context import get_config, get_session

schools_cli = AppGroup("schools", help="The school registry: import, export, codes.")


@schools_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def schools_import(csv_file: Path) -> None:
    """Import or update schools from a registry CSV file; a bad row refuses the whole file."""
    try:
        result = registry.import_schools(
            get_session(), csv_file.read_bytes(), actor=None, server_secret=_secret()
        )
    except registry.BadSchoolsFile as exc:
        click.echo(f"{csv_file}: refused, nothing was imported:", err=True)
        for problem in exc.messages:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
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
    base_url = get_config().base_url
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
    school = _or_exit(
        lambda: registry.rotate_code(get_session(), school_id, actor=None, server_secret=_secret())
    )
    click.echo(f"{school.school_id}: new code {school.code}, check word {school.check_word}")
    click.echo("Print and put up the new poster; the old one no longer works.")


@schools_cli.command("deactivate")
@click.argument("school_id")
def schools_deactivate(school_id: str) -> None:
    """Switch a school's page off (its code then answers 'not found')."""
    click.echo(f"{_set_active(school_id, False).school_id}: deactivated")


@schools_cli.command("activate")
@click.argument("school_id")
def schools_activate(school_id: str) -> None:
    """Switch a deactivated school's page back on, with its current code."""
    click.echo(f"{_set_active(school_id, True).school_id}: active")


def _secret() -> str:
    return get_config().secret_key


def _set_active(school_id: str, active: bool) -> School:
    return _or_exit(
        lambda: registry.set_active(
            get_session(), school_id, active, actor=None, server_secret=_secret()
        )
    )


def _or_exit(action: Callable[[], School]) -> School:
    try:
        return action()
    except registry.UnknownSchool as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
