"""Who may reach which staff page: one table, checked before every staff view runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from flask import Blueprint, abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from portal.enums import Role
from portal.services import sessions
from portal.web.context import get_config, get_session
from portal.web.forms import LogoutForm

COOKIE = "qr111_staff"
COOKIE_PATH = "/staff"  # every staff blueprint lives under it; the child's pages never see it
# A browser that logged in before (services/login.py): its failed logins count apart.
DEVICE_COOKIE = "qr111_device"
ADMIN = frozenset({Role.ADMIN})
TRIAGE = frozenset({Role.TRIAGE, Role.ADMIN})
POSTERS = frozenset({Role.SCHOOL, Role.ADMIN})
EVERYONE = frozenset(Role)

# Who may reach what, in one place; an endpoint missing here is refused to everyone.
ACCESS: Mapping[str, frozenset[Role]] = {
    "desk.home": EVERYONE,
    "desk.logout": EVERYONE,
    "desk.inbox": TRIAGE,
    "desk.report": TRIAGE,
    "desk.reply": TRIAGE,
    "desk.note": TRIAGE,
    "desk.status": TRIAGE,
    "desk.priority": TRIAGE,
    "desk.assign": TRIAGE,
    "desk.poster_list": POSTERS,
    "desk.poster": POSTERS,
    "desk.notifications": TRIAGE,
    "admin.notifications.page": ADMIN,
    "admin.notifications.escalation": ADMIN,
    "admin.schools.school_list": ADMIN,
    "admin.schools.school": ADMIN,
    "admin.schools.rotate_code": ADMIN,
    "admin.schools.deactivate": ADMIN,
    "admin.schools.reactivate": ADMIN,
    "admin.schools.upload": ADMIN,
    "admin.figures.page": ADMIN,
    "admin.figures.export_csv": ADMIN,
    "admin.audit.log": ADMIN,
    "admin.audit.verify": ADMIN,
    "admin.people.index": ADMIN,
    "admin.people.invite": ADMIN,
    "admin.people.revoke_link": ADMIN,
    "admin.people.person": ADMIN,
    "admin.people.disable": ADMIN,
    "admin.people.enable": ADMIN,
    "admin.people.schools": ADMIN,
    "admin.people.reset_totp": ADMIN,
    "admin.people.inboxes": ADMIN,
    "admin.people.create_inbox": ADMIN,
    "admin.people.grant": ADMIN,
    "admin.people.revoke_grant": ADMIN,
}
# Reached without a session; each of these views checks what it needs itself.
PUBLIC = frozenset({"desk.login", "desk.enrol"})


def require_login() -> Response | None:
    """Resume the session and check the role against ACCESS before any staff view runs."""
    if request.endpoint in PUBLIC:
        return None
    cookie = request.cookies.get(COOKIE, "")
    idle = timedelta(minutes=get_config().triage.idle_minutes)
    try:
        unlocked = sessions.resume_session(get_session(), cookie, idle_timeout=idle)
    except sessions.SessionInvalid:
        response = redirect(url_for("desk.login"), 303)
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
