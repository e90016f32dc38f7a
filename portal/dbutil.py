"""Retrying a unit of database work when a unique constraint says someone else got there first.

Two writers can pick the same value for a unique column at the same time (a receipt, the next
position of a conversation, the next sequence number of the audit log). The database refuses
the second one with an IntegrityError; the fix is to build the work again from what is stored
now. Two ways to undo the refused attempt:

- `commit_retrying`: roll back the whole transaction. `build` must therefore redo everything the
  transaction holds, and the commit is part of the unit.
- `add_retrying`: roll back to a SAVEPOINT taken just before the insert. The caller's earlier
  work in the transaction stays, and the caller commits it all together later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")
ATTEMPTS = 3  # clashes are rare; a few attempts are enough


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
