"""Alembic migrations driven from Python (no alembic.ini): upgrade, check, new revision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from portal.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(**attributes: Any) -> AlembicConfig:
    """An Alembic configuration pointing at portal/migrations."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes.update(attributes)
    return config


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (rolled back)."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to the given revision."""
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database down to the given revision (a developer's and the tests' tool)."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, run: Callable[[AlembicConfig], None]) -> None:
    """Run Alembic in one transaction; on SQLite with foreign keys off while it runs.

    SQLite alters a table by rebuilding it (copy, DROP, rename: Alembic's batch mode). With
    foreign keys on, the DROP deletes the rows that point at the table (ON DELETE CASCADE): a
    migration of `reports` erased every message. SQLite honours the switch only outside a
    transaction, so it is set before, and the keys are checked before the commit.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()
        try:
            with connection.begin():
                run(alembic_config(connection=connection))
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationError(f"foreign keys broken by the migration: {broken}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                connection.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has none."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def pending_model_changes(engine: Engine) -> list[Any]:
    """Differences between the migrated database and the models (empty when in step)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff: list[Any] = compare_metadata(context, Base.metadata)
        return diff


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the models (a developer's tool)."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection=connection), message=message, autogenerate=True)
