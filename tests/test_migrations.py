"""Alembic migrations: the head matches the models, and they go down and up again."""

from __future__ import annotations

from flask import Flask

from portal import migrate
from portal.web.context import engine_of


def test_the_migrated_database_matches_the_models(app: Flask) -> None:
    engine = engine_of(app)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.pending_model_changes(engine) == []


def test_migrations_go_down_to_nothing_and_up_again(app: Flask) -> None:
    engine = engine_of(app)
    with engine.begin() as connection:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection=connection), "base")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.pending_model_changes(engine) == []
