"""The invitee's page: a new member chooses a password (or proves it, for a TOTP reset),
scans the secret and confirms it with a code. Reached without a session (access.PUBLIC)."""

from __future__ import annotations

import hashlib

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal.services import accounts, enrolment
from portal.web.context import get_config, get_session
from portal.web.desk.forms import NewAccountForm, ResetForm
from portal.web.desk.views import bp
from portal.web.forms import form_problems
from portal.web.ratelimit import client_key, limiter


def link_key() -> str:
    """Attempts on one link count together, whichever address they come from."""
    token = str((request.view_args or {}).get("token", ""))
    return "enrol:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


@bp.route("/people/enrol/<token>", methods=["GET", "POST"])
@limiter.limit("10/minute", key_func=client_key, methods=["POST"])
@limiter.limit("30/hour", key_func=link_key, methods=["POST"])
def enrol(token: str) -> Response | tuple[str, int] | str:
    """Choose a password (or prove it, for a reset), scan the secret, confirm with a code."""
    session, config = get_session(), get_config()
    try:
        invitation = enrolment.find_link(session, token)
    except enrolment.BadLink as exc:
        status = 410 if isinstance(exc, enrolment.UsedLink | enrolment.ExpiredLink) else 404
        return render_template("desk/enrol_invalid.html", message=str(exc)), status
    reset = invitation.staff is not None
    form: NewAccountForm | ResetForm = ResetForm() if reset else NewAccountForm()
    problems: list[str] = []
    if form.validate_on_submit():
        try:
            enrolment.accept(session, config, token, form.password.data or "", form.code.data or "")
        except enrolment.BadLink as exc:  # expired or used while the page was open
            return render_template("desk/enrol_invalid.html", message=str(exc)), 410
        except enrolment.EnrolmentError as exc:
            problems.append(str(exc))
        else:
            flash(
                _("Your authenticator is set up. Log in with your email, password and a new code.")
            )
            return redirect(url_for("desk.login"), 303)
    else:
        problems = form_problems(form) if request.method == "POST" else []
    secret = enrolment.pending_secret(session, config, invitation)
    uri = accounts.totp_uri(secret, invitation.email)
    return render_template(
        "desk/enrol.html",
        form=form,
        reset=reset,
        invitation=invitation,
        problems=problems,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr=Markup(enrolment.qr_svg(uri, _("QR code for the authenticator app"))),  # noqa: S704
    )
