"""The admins' notifications page: each inbox's escalation list, and deliveries that fail."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal.enums import Role
from portal.models import Inbox, Staff
from portal.services import notify
from portal.services.inputs import row_id
from portal.web.admin.forms import ActionForm
from portal.web.context import get_config, get_session

bp = Blueprint("notifications", __name__, url_prefix="/notifications-admin")


@bp.get("/")
def page() -> str:
    """Escalation lists to name, and the deliveries failing now or given up on."""
    session = get_session()
    inboxes = list(session.scalars(select(Inbox).order_by(Inbox.name)))
    candidates = list(
        session.scalars(
            select(Staff)
            .where(Staff.active.is_(True), Staff.role != Role.SCHOOL)
            .order_by(Staff.email)
        )
    )
    return render_template(
        "admin/notifications/page.html",
        lists={
            inbox.id: {s.id for s in notify.escalation_list(session, inbox)} for inbox in inboxes
        },
        inboxes=inboxes,
        candidates=candidates,
        troubles=notify.troubles(session),
        form=ActionForm(),
        configured=get_config().notifications,
    )


@bp.post("/<int:inbox_id>/escalation")
def escalation(inbox_id: int) -> Response:
    """Name the inbox's escalation list (the boxes ticked)."""
    session = get_session()
    inbox = session.get(Inbox, inbox_id)
    if inbox is None:
        abort(404)
    chosen = [row_id(value) for value in request.form.getlist("member")]
    if not ActionForm().validate_on_submit() or None in chosen:
        flash(_("The form expired or was changed: try again."))
    else:
        try:
            named = notify.set_escalation_list(
                session, get_config(), g.staff, inbox, [i for i in chosen if i is not None]
            )
        except notify.NotifyError as exc:
            flash(str(exc))
        else:
            flash(
                _(
                    "Escalation list of %(inbox)s: %(count)s people.",
                    inbox=inbox.name,
                    count=len(named),
                )
            )
    return redirect(url_for("admin.notifications.page"), 303)
