"""Who may reach which staff page: one table, checked before every staff view runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from flask import Blueprint, abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from portal import get_config, sessions
from portal.db import get_session
from portal.enums import Role
from portal.staff_forms import LogoutForm

COOKIE = "qr111_staff"
COOKIE_PATH = "/staff"  # every staff blueprint lives under it; the child's pages never see it
ADMIN = frozenset({Role.ADMIN})
TRIAGE = frozenset({Role.TRIAGE, Role.ADMIN})
POSTERS = frozenset({Role.SCHOOL, Role.ADMIN})
EVERYONE = frozenset(Role)

# Who may reach what, in one place; an endpoint missing here is refused to everyone.
ACCESS: Mapping[str, frozenset[Role]] = {
    "staff.home": EVERYONE,
    "staff.logout": EVERYONE,
    "staff.inbox": TRIAGE,
    "staff.report": TRIAGE,
    "staff.reply": TRIAGE,
    "staff.note": TRIAGE,
    "staff.status": TRIAGE,
    "staff.priority": TRIAGE,
    "staff.assign": TRIAGE,
    "staff.poster_list": POSTERS,
    "staff.poster": POSTERS,
    "schools.school_list": ADMIN,
    "schools.school": ADMIN,
    "schools.rotate_code": ADMIN,
    "schools.deactivate": ADMIN,
    "schools.reactivate": ADMIN,
    "schools.upload": ADMIN,
    "figures.page": ADMIN,
    "figures.export_csv": ADMIN,
    "audit.log": ADMIN,
    "audit.verify": ADMIN,
    "people.index": ADMIN,
    "people.invite": ADMIN,
    "people.revoke_link": ADMIN,
    "people.person": ADMIN,
    "people.disable": ADMIN,
    "people.enable": ADMIN,
    "people.schools": ADMIN,
    "people.reset_totp": ADMIN,
    "people.inboxes": ADMIN,
    "people.create_inbox": ADMIN,
    "people.grant": ADMIN,
    "people.revoke_grant": ADMIN,
}
# Reached without a session; each of these views checks what it needs itself.
PUBLIC = frozenset({"staff.login", "people.enrol"})


def require_login() -> Response | None:
    """Resume the session and check the role against ACCESS before any staff view runs."""
    if request.endpoint in PUBLIC:
        return None
    cookie = request.cookies.get(COOKIE, "")
    idle = timedelta(minutes=get_config().triage.idle_minutes)
    try:
        unlocked = sessions.resume_session(get_session(), cookie, idle_timeout=idle)
    except sessions.SessionInvalid:
        response = redirect(url_for("staff.login"), 303)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response
    if unlocked.staff.role not in ACCESS.get(request.endpoint or "", frozenset()):
        abort(403)
    g.staff = unlocked.staff
    g.staff_private = unlocked.staff_private
    return None


def _bar_forms() -> dict[str, LogoutForm]:
    """The log-out button of the bar carries its token.

    Never bound to the request: an error page (a body over the limit, a broken multipart)
    renders the bar too, and reading that body again would turn the 413 or 400 into a 500.
    """
    return {"logout_form": LogoutForm(formdata=None)}


def _private_pages(response: Response) -> Response:
    """Nothing of a staff page stays in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


def guard(bp: Blueprint) -> None:
    """Put a staff blueprint behind the login and the ACCESS table."""
    if not (bp.url_prefix or "").startswith(COOKIE_PATH):
        raise ValueError(f"staff blueprint {bp.name} must live under {COOKIE_PATH}")
    bp.before_request(require_login)
    bp.context_processor(_bar_forms)
    bp.after_request(_private_pages)
