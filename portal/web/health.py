"""The load balancer's health check: "ok" when the database answers, and nothing else."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.web.context import get_session

bp = Blueprint("health", __name__)


def database_answers(session: Session) -> bool:
    """Whether the database runs a trivial query."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The kind of failure only: connection errors can carry the database's address.
        current_app.logger.warning("health check: the database does not answer (%s)", type(exc))
        session.rollback()
        return False
    return True


@bp.get("/healthz")
def healthz() -> Response:
    """200 "ok" or 503 "unavailable": no version, no counts, nothing to fingerprint."""
    healthy = database_answers(get_session())
    response = make_response("ok\n" if healthy else "unavailable\n", 200 if healthy else 503)
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response
