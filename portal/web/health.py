"""The load balancer's health check: does the database answer, can every school's reports
arrive, does Redis answer."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.models import Inbox, School
from portal.services import sessions
from portal.web import ratelimit
from portal.web.context import get_session

bp = Blueprint("health", __name__)

# The second line of /healthz while some active school's reports have no inbox to go to.
NO_INBOX = "no inbox for some schools"
# The line while the configured Redis does not answer: children still write (the limits count in
# each worker's memory), staff cannot sign in.
REDIS_DOWN = "redis unavailable: limits per worker, no staff sign-in"


def redis_down() -> bool:
    """Whether a Redis this instance uses (staff sessions, rate limits) does not answer."""
    store = get_session().info.get(sessions.STORE_INFO)
    if isinstance(store, sessions.RedisStore) and not store.answers():
        return True
    return not ratelimit.counts_of(current_app).primary_answers()


def schools_without_inbox(session: Session) -> bool | None:
    """Whether some active school has no inbox for its reports (neither its region's nor a
    national one, as reports.inbox_for_school routes them); None when the database does not
    answer."""
    receiving = select(Inbox.id).where(or_(Inbox.region == School.region, Inbox.region.is_(None)))
    stranded = select(School.id).where(School.active.is_(True), ~receiving.exists()).limit(1)
    try:
        return session.scalar(stranded) is not None
    except SQLAlchemyError as exc:
        # The kind of failure only: connection errors can carry the database's address.
        current_app.logger.warning("health check: the database does not answer (%s)", type(exc))
        session.rollback()
        return None


@bp.get("/healthz")
def healthz() -> Response:
    """What the load balancer needs, and nothing to fingerprint (no version, count or school).

    503 "unavailable" when the database does not answer (or has no tables). 200 "ok" when it
    does; while some active school has no inbox to receive its reports (a registry imported
    before the inboxes were made), a second line says so: "ok\\nno inbox for some schools".
    That stays a 200 on purpose: the instance still serves every school's page with the
    numbers to call, telling the child to call 111, and taking every instance out of the
    load balancer would hide even those. Likewise while Redis does not answer ("ok\nredis
    unavailable: ..."): children still write, their limits counted in each worker's memory,
    and only staff sign-in waits for it. Monitoring should alert on any body but "ok".
    """
    stranded = schools_without_inbox(get_session())
    if stranded is None:
        body, status = "unavailable\n", 503
    else:
        lines = ["ok", *([NO_INBOX] if stranded else []), *([REDIS_DOWN] if redis_down() else [])]
        body, status = "".join(f"{line}\n" for line in lines), 200
    response = make_response(body, status)
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response
