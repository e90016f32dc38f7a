"""What a request or a command works with: the app's configuration and its database session."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from portal.config import Config
from portal.database import make_engine
from portal.services import sessions

_SESSION_FACTORY = "portal.sessionmaker"
_READ_FACTORY = "portal.read-sessionmaker"


def init_app(app: Flask, config: Config) -> None:
    """Attach an engine and session factory to the app; close sessions after each request.

    Every session carries the app's staff-session store (Redis when configured), so the
    services find it without asking Flask.
    """
    engine = make_engine(config.database_url)
    info = {sessions.STORE_INFO: sessions.shared_store(config)}
    app.extensions[_SESSION_FACTORY] = sessionmaker(engine, expire_on_commit=False, info=info)
    # A page that reads one statement and writes nothing (the school's page) needs no
    # transaction: outside one, PostgreSQL gets no BEGIN before it and no ROLLBACK after it,
    # two of the page's four round trips (issue 17). Same pool, same connections.
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.extensions[_READ_FACTORY] = sessionmaker(reader, expire_on_commit=False, info=info)
    app.teardown_appcontext(_close_session)


def engine_of(app: Flask) -> Engine:
    """The engine the app's sessions use."""
    factory: sessionmaker[Session] = app.extensions[_SESSION_FACTORY]
    engine: Engine = factory.kw["bind"]
    return engine


def get_session() -> Session:
    """The database session of the current app context, opened on first use."""
    return _opened(_SESSION_FACTORY)


def get_read_session() -> Session:
    """A session of the current app context outside any transaction, for a request that only
    reads, one statement (each statement is its own snapshot); opened on first use."""
    return _opened(_READ_FACTORY)


# The app context's attribute holding each factory's session, closed at teardown.
_OPENED_AS = {_SESSION_FACTORY: "db_session", _READ_FACTORY: "db_read_session"}


def _opened(factory: str) -> Session:
    name = _OPENED_AS[factory]
    if name not in g:
        setattr(g, name, current_app.extensions[factory]())
    session: Session = getattr(g, name)
    return session


def _close_session(_exc: BaseException | None) -> None:
    # After the response is made: a connection that died meanwhile must not turn a page already
    # rendered (a receipt, a form with the child's text) into the server's bare 500.
    for name in _OPENED_AS.values():
        session: Session | None = g.pop(name, None)
        if session is not None:
            _quietly(session.close, "closing")


def roll_back() -> None:
    """Roll back the request's session, if it has one; a database gone meanwhile is logged, not
    raised (an error page is being drawn, and it needs no database)."""
    session: Session | None = g.get("db_session")
    if session is not None:
        _quietly(session.rollback, "rolling back")


def _quietly(action: Callable[[], None], doing: str) -> None:
    try:
        action()
    except SQLAlchemyError as exc:
        # The kind of failure only: connection errors can carry the database's address.
        current_app.logger.warning("%s the database session failed (%s)", doing, type(exc))


def get_config() -> Config:
    """The configuration of the running app."""
    config: Config = current_app.extensions["portal.config"]
    return config
