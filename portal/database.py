"""The database: the engine of a URL, and retrying a unit of work after a unique clash.

No Flask here: the web app, the command line and the tests build their engines with
`make_engine`, and the services commit with `commit_retrying` / `add_retrying`.

**Retrying.** Two writers can pick the same value for a unique column at the same time (a
receipt, the next position of a conversation, the next sequence number of the audit log). The
database refuses the second one with an IntegrityError; the fix is to build the work again from
what is stored now. Two ways to undo the refused attempt:

- `commit_retrying`: roll back the whole transaction. `build` must therefore redo everything the
  transaction holds, and the commit is part of the unit.
- `add_retrying`: roll back to a SAVEPOINT taken just before the insert. The caller's earlier
  work in the transaction stays, and the caller commits it all together later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")
ATTEMPTS = 3  # clashes are rare; a few attempts are enough
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


def commit_retrying(session: Session, build: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Build and commit; on a unique clash roll back, build again (up to `attempts` times)."""

    def attempt() -> T:
        try:
            built = build()
            session.commit()
        except IntegrityError:
            session.rollback()  # expires what was loaded: the next build reads afresh
            raise
        return built

    return _retrying(attempt, attempts)


def add_retrying(session: Session, make: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Make a new object from what is stored now and insert it inside a SAVEPOINT; on a unique
    clash roll back to the savepoint and make it again. Flushed, not committed.

    The caller's pending changes are flushed first, outside the retried part: their own errors
    are not retried, and a rolled-back attempt keeps them. `make` builds the object without
    adding it, and runs before the savepoint: with SQLite, whose driver opens a transaction only
    at the first write, its reads then see the newest data instead of an old snapshot that could
    not be written on.
    """
    session.flush()

    def attempt() -> T:
        made = make()
        # Leaving the block with an exception rolls back to the savepoint, and only to it.
        with session.begin_nested():
            session.add(made)
            session.flush()
        return made

    return _retrying(attempt, attempts)


def _retrying(attempt: Callable[[], T], attempts: int) -> T:
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except IntegrityError:
            if number == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
