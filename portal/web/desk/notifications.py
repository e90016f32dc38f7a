"""A member's own notification choices: the address, what to receive, in which language."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.models import Staff
from portal.services import notify
from portal.web.context import get_config, get_session
from portal.web.desk.forms import NotificationForm
from portal.web.desk.views import bp
from portal.web.forms import form_problems


@bp.route("/notifications", methods=["GET", "POST"], endpoint="notifications")
def notifications() -> Response | str:
    """Show the member's choices; store the ones sent."""
    staff: Staff = g.staff
    session = get_session()
    current = notify.choices_of(session, staff)
    form = NotificationForm()
    if request.method == "GET":
        form.address.data = current.address if current.own_address else ""
        form.p1_at_once.data = current.p1_at_once
        form.digest.data = current.digest
        form.language.data = current.language
    problems: list[str] = []
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                notify.set_choices(
                    session,
                    get_config(),
                    staff,
                    address=form.address.data or "",
                    p1_at_once=bool(form.p1_at_once.data),
                    digest=bool(form.digest.data),
                    language=form.language.data or "",
                )
            except notify.NotifyError as exc:
                problems = [str(exc)]
            else:
                flash(_("Your notification choices are saved."))
                return redirect(url_for("desk.notifications"), 303)
        else:
            problems = form_problems(form)
    return render_template(
        "desk/notifications.html",
        form=form,
        choices=current,
        problems=problems,
        digest_hour=get_config().notifications.digest_hour,
    )
