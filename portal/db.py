"""The database engine and the per-request session."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_SESSION_FACTORY = "portal.sessionmaker"
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(database_url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    engine = create_engine(
        database_url,
        pool_pre_ping=not database_url.startswith("sqlite"),
        # Error messages and logs never carry bound values (sealed blobs, lookups, codes).
        hide_parameters=True,
        connect_args=_connect_args(database_url),
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _connect_args(database_url: str) -> dict[str, Any]:
    """A database that does not answer fails a request (and /healthz) in seconds, not never."""
    if database_url.startswith("postgresql") and "connect_timeout" not in database_url:
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return {}


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # FULL: a report acknowledged to a child must survive a crash right after (P4).
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    # Erasure means gone from the file too: freed pages are zeroed, not left for forensics.
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def init_app(app: Flask, database_url: str) -> None:
    """Attach an engine and session factory to the app; close sessions after each request."""
    engine = make_engine(database_url)
    app.extensions[_SESSION_FACTORY] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine_of(app: Flask) -> Engine:
    """The engine the app's sessions use."""
    factory: sessionmaker[Session] = app.extensions[_SESSION_FACTORY]
    engine: Engine = factory.kw["bind"]
    return engine


def get_session() -> Session:
    """The database session of the current app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[_SESSION_FACTORY]()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
