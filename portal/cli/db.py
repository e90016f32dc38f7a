"""`flask --app portal db upgrade|revision`: the database schema."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal import migrate
from portal.web.context import engine_of

db_cli = AppGroup("db", help="Create and upgrade the database schema.")


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
