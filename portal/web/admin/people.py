"""Admin pages for staff accounts and inboxes: invitations, TOTP resets, grants."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal.enums import Role
from portal.models import Inbox, Staff
from portal.services import enrolment
from portal.services.inputs import row_id
from portal.web.admin.forms import ActionForm, GrantForm, InboxForm, InviteForm, SchoolsForm
from portal.web.context import get_config, get_session
from portal.web.forms import form_problems

bp = Blueprint("people", __name__, url_prefix="/people")


NATIONAL = ""  # the region choice of the national inbox
Change = Callable[[Staff], None]


def _actor() -> Staff:
    staff: Staff = g.staff
    return staff


def _flash_problems(form: FlaskForm) -> None:
    for problem in form_problems(form):
        flash(problem)


def _member(staff_id: int) -> Staff:
    staff = enrolment.staff_by_id(get_session(), staff_id)
    if staff is None:
        abort(404)
    return staff


def _inbox(inbox_id: int) -> Inbox:
    inbox = get_session().get(Inbox, inbox_id)
    if inbox is None:
        abort(404)
    return inbox


def _link_page(issued: enrolment.IssuedLink, what: str) -> str:
    """The link, shown once: it is neither kept nor flashed (the session cookie is readable).

    The token goes after '#': browsers never send that part, so no access log sees it.
    """
    path = url_for("desk.enrol") + "#" + issued.token
    return render_template(
        "admin/people/link.html",
        link=get_config().base_url.rstrip("/") + path,
        invitation=issued.invitation,
        what=what,
    )


# ---- staff ------------------------------------------------------------------------------


def _index(form: InviteForm, problems: list[str] | None = None) -> str:
    session = get_session()
    return render_template(
        "admin/people/index.html",
        people=enrolment.list_staff(session),
        links=enrolment.pending_invitations(session),
        form=form,
        problems=problems or [],
        action_form=ActionForm(),
    )


@bp.get("/")
def index() -> str:
    """Every account, the pending links, and the invitation form."""
    return _index(InviteForm())


@bp.post("/invite")
def invite() -> str:
    """Make an invitation and show its link once."""
    form = InviteForm()
    if not form.validate_on_submit():
        return _index(form, form_problems(form))
    try:
        issued = enrolment.invite(
            get_session(),
            get_config(),
            _actor(),
            form.email.data or "",
            Role.parse(form.role.data),
            enrolment.parse_school_ids(form.schools.data or ""),
        )
    except enrolment.EnrolmentError as exc:
        return _index(form, [str(exc)])
    return _link_page(issued, "invitation")


@bp.post("/links/<int:invitation_id>/revoke")
def revoke_link(invitation_id: int) -> Response:
    """Stop a pending link."""
    form = ActionForm()
    if form.validate_on_submit():
        try:
            revoked = enrolment.revoke_invitation(
                get_session(), get_config(), _actor(), invitation_id
            )
        except enrolment.EnrolmentError as exc:
            flash(str(exc))
        else:
            flash(_("The link for %(email)s no longer works.", email=revoked.email))
    else:
        _flash_problems(form)
    return redirect(url_for("admin.people.index"), 303)


@bp.get("/<int:staff_id>")
def person(staff_id: int) -> str:
    """One account: its state, schools, inboxes and what an admin can do with it."""
    staff = _member(staff_id)
    schools = SchoolsForm(schools="\n".join(school.school_id for school in staff.schools))
    return render_template(
        "admin/people/person.html",
        person=staff,
        action_form=ActionForm(),
        schools_form=schools,
    )


def _on_person(staff_id: int, form: FlaskForm, done: LazyString, change: Change) -> Response:
    """Run a change on an account if the form is good, then show the account again."""
    staff = _member(staff_id)
    if not form.validate_on_submit():
        _flash_problems(form)
    else:
        try:
            change(staff)
        except enrolment.EnrolmentError as exc:
            flash(str(exc))
        else:
            flash(str(done) % {"email": staff.email})
    return redirect(url_for("admin.people.person", staff_id=staff_id), 303)


@bp.post("/<int:staff_id>/disable")
def disable(staff_id: int) -> Response:
    """Disable an account: its sessions end now and it cannot log in."""
    return _on_person(
        staff_id,
        ActionForm(),
        _l("%(email)s is disabled; its sessions have ended."),
        lambda staff: enrolment.set_active(get_session(), get_config(), _actor(), staff, False),
    )


@bp.post("/<int:staff_id>/enable")
def enable(staff_id: int) -> Response:
    """Enable a disabled account again."""
    return _on_person(
        staff_id,
        ActionForm(),
        _l("%(email)s can log in again."),
        lambda staff: enrolment.set_active(get_session(), get_config(), _actor(), staff, True),
    )


@bp.post("/<int:staff_id>/schools")
def schools(staff_id: int) -> Response:
    """Set the schools a school account prints for."""
    form = SchoolsForm()
    ids = enrolment.parse_school_ids(form.schools.data or "")
    return _on_person(
        staff_id,
        form,
        _l("The schools of %(email)s are saved."),
        lambda staff: enrolment.set_schools(get_session(), get_config(), _actor(), staff, ids),
    )


@bp.post("/<int:staff_id>/reset-totp")
def reset_totp(staff_id: int) -> Response | str:
    """A new enrolment link for an account; the old authenticator stops now."""
    staff = _member(staff_id)
    form = ActionForm()
    if not form.validate_on_submit():
        _flash_problems(form)
        return redirect(url_for("admin.people.person", staff_id=staff_id), 303)
    try:
        issued = enrolment.reset_totp(get_session(), get_config(), _actor(), staff)
    except enrolment.EnrolmentError as exc:
        flash(str(exc))
        return redirect(url_for("admin.people.person", staff_id=staff_id), 303)
    return _link_page(issued, "reset")


# ---- inboxes ----------------------------------------------------------------------------


def _inboxes(form: InboxForm, problems: list[str] | None = None) -> str:
    session = get_session()
    rows = enrolment.inbox_rows(session)
    regions = [(r, r) for r in enrolment.regions_without_inbox(session)]
    if all(row.inbox.region is not None for row in rows):  # one national inbox at most
        regions.insert(0, (NATIONAL, _("national (no region)")))
    form.region.choices = regions
    holders = [
        staff
        for staff in enrolment.list_staff(session)
        if staff.active and staff.role is not Role.SCHOOL
    ]
    candidates = {
        row.inbox.id: [staff for staff in holders if staff not in row.members] for row in rows
    }
    return render_template(
        "admin/people/inboxes.html",
        rows=rows,
        candidates=candidates,
        form=form,
        grant_form=GrantForm(),
        action_form=ActionForm(),
        problems=problems or [],
    )


@bp.get("/inboxes")
def inboxes() -> str:
    """Every inbox with its region, members and open reports; create, grant, revoke."""
    return _inboxes(InboxForm())


@bp.post("/inboxes")
def create_inbox() -> str | Response:
    """A new inbox; the admin creating it is its first member."""
    form = InboxForm()
    if not form.validate_on_submit():
        return _inboxes(form, form_problems(form))
    region = form.region.data or NATIONAL
    try:
        inbox = enrolment.create_inbox(
            get_session(),
            get_config(),
            _actor(),
            form.name.data or "",
            None if region == NATIONAL else region,
        )
    except enrolment.EnrolmentError as exc:
        return _inboxes(form, [str(exc)])
    flash(_("Inbox %(inbox)s is made; you are its first member.", inbox=inbox.name))
    return redirect(url_for("admin.people.inboxes"), 303)


@bp.post("/inboxes/<int:inbox_id>/grant")
def grant(inbox_id: int) -> Response:
    """Give the inbox to a member, with the acting admin's own membership."""
    inbox = _inbox(inbox_id)
    form = GrantForm()
    chosen = (form.member.data or "").strip()
    member_id = row_id(chosen)
    member = enrolment.staff_by_id(get_session(), member_id) if member_id else None
    if not form.validate_on_submit():
        _flash_problems(form)
    elif member is None:
        flash(_("Choose a member from the list."))
    else:
        try:
            enrolment.grant_inbox(
                get_session(), get_config(), _actor(), g.staff_private, inbox, member
            )
        except enrolment.EnrolmentError as exc:
            flash(str(exc))
        else:
            flash(
                _("%(email)s is now a member of %(inbox)s.", email=member.email, inbox=inbox.name)
            )
    return redirect(url_for("admin.people.inboxes"), 303)


@bp.post("/inboxes/<int:inbox_id>/revoke/<int:staff_id>")
def revoke_grant(inbox_id: int, staff_id: int) -> Response:
    """Take the inbox away from a member."""
    inbox, member = _inbox(inbox_id), _member(staff_id)
    form = ActionForm()
    if not form.validate_on_submit():
        _flash_problems(form)
    else:
        try:
            enrolment.revoke_inbox(get_session(), get_config(), _actor(), inbox, member)
        except enrolment.EnrolmentError as exc:
            flash(str(exc))
        else:
            flash(
                _(
                    "%(email)s is no longer a member of %(inbox)s.",
                    email=member.email,
                    inbox=inbox.name,
                )
            )
    return redirect(url_for("admin.people.inboxes"), 303)
