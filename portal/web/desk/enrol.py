"""The invitee's page: a new member chooses a password (or proves it, for a TOTP reset),
scans a new secret and confirms it with a code. Reached without a session (access.PUBLIC).

The link's token never reaches a URL the server sees: it is in the link's fragment, and
static/desk/enrol.js posts it (or the invitee pastes the link). The browser that posts it first
gets a cookie, and every later step needs that cookie (services/enrolment.py says why).
"""

from __future__ import annotations

import hashlib

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal import clock
from portal.models import StaffInvitation
from portal.services import accounts, enrolment
from portal.web.context import get_config, get_session
from portal.web.desk.forms import CodeForm, NewAccountForm, OpenLinkForm, ResetForm
from portal.web.desk.views import bp
from portal.web.forms import form_problems
from portal.web.ratelimit import client_key, limiter

COOKIE = "qr111_enrol"
PATH = "/staff/people/enrol"  # the cookie goes to this page only
Page = Response | tuple[str, int] | str


def link_key() -> str:
    """Attempts on one link count together, whichever address they come from."""
    given = request.cookies.get(COOKIE) or enrolment.token_of(request.form.get("link", ""))
    return "enrol:" + hashlib.sha256(given.encode("utf-8")).hexdigest()[:32]


def _invalid(exc: enrolment.BadLink) -> tuple[str, int]:
    status = 404 if type(exc) is enrolment.BadLink else 410
    return render_template("desk/enrol_invalid.html", message=str(exc)), status


@bp.route("/people/enrol", methods=["GET", "POST"])
@limiter.limit("10/minute", key_func=client_key, methods=["POST"])
@limiter.limit("30/hour", key_func=link_key, methods=["POST"])
def enrol() -> Page:
    """Open the link, then the password, then the new secret and its code."""
    step = request.form.get("step", "") if request.method == "POST" else ""
    if step == "open":
        return _open_link()
    try:
        invitation = enrolment.opened_link(get_session(), request.cookies.get(COOKIE, ""))
    except enrolment.BadLink as exc:
        if step:  # the link was used, revoked or expired while the page was open
            return _invalid(exc)
        # No link taken here yet (or an old one): the page that reads the link.
        form = OpenLinkForm(formdata=None)
        response = make_response(render_template("desk/enrol_open.html", form=form))
        response.delete_cookie(COOKIE, path=PATH)
        return response
    if step == "code":
        return _confirm(invitation)
    return _password(invitation, posted=step == "password")


def _open_link() -> Page:
    """The token posted from the link: this browser takes the link and gets its cookie."""
    form = OpenLinkForm()
    if not form.validate_on_submit():
        return render_template("desk/enrol_open.html", form=form, problems=form_problems(form))
    try:
        opened = enrolment.open_link(
            get_session(), enrolment.token_of(form.link.data or ""), request.cookies.get(COOKIE)
        )
    except enrolment.BadLink as exc:
        return _invalid(exc)
    response = redirect(url_for("desk.enrol"), 303)
    response.set_cookie(
        COOKIE,
        opened.browser_key,
        max_age=max(0, int((opened.invitation.expires_at - clock.now()).total_seconds())),
        path=PATH,
        secure=get_config().is_production,
        httponly=True,
        samesite="Strict",
    )
    return response


def _password(invitation: StaffInvitation, *, posted: bool) -> Page:
    """Choose a password (new account) or type it (reset); then the new secret is shown."""
    reset = invitation.staff is not None
    kind = ResetForm if reset else NewAccountForm
    form = kind() if posted else kind(formdata=None)
    problems: list[str] = []
    if posted and form.validate_on_submit():
        try:
            secret = enrolment.unlock_secret(
                get_session(), get_config(), invitation, form.password.data or ""
            )
        except enrolment.BadLink as exc:
            return _invalid(exc)
        except enrolment.EnrolmentError as exc:
            problems.append(str(exc))
        else:
            return _code_page(invitation, CodeForm(formdata=None), [], secret)
    elif posted:
        problems = form_problems(form)
    return render_template(
        "desk/enrol.html", form=form, reset=reset, invitation=invitation, problems=problems
    )


def _confirm(invitation: StaffInvitation) -> Page:
    """The code of the entry just scanned; the secret is not shown again (a new one is)."""
    form = CodeForm()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            enrolment.accept(get_session(), get_config(), invitation, form.code.data or "")
        except enrolment.BadLink as exc:
            return _invalid(exc)
        except enrolment.EnrolmentError as exc:
            problems.append(str(exc))
        else:
            flash(
                _("Your authenticator is set up. Log in with your email, password and a new code.")
            )
            response = redirect(url_for("desk.login"), 303)
            response.delete_cookie(COOKIE, path=PATH)
            return response
    else:
        problems = form_problems(form)
    return _code_page(invitation, form, problems, None)


def _code_page(
    invitation: StaffInvitation, form: CodeForm, problems: list[str], secret: str | None
) -> str:
    """The secret to scan (only right after the password) and the code field."""
    qr = spaced = None
    if secret is not None:
        uri = accounts.totp_uri(secret, invitation.email)
        qr = Markup(enrolment.qr_svg(uri, _("QR code for the authenticator app")))  # noqa: S704
        spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "desk/enrol_code.html",
        form=form,
        invitation=invitation,
        problems=problems,
        secret=spaced,
        qr=qr,
    )
