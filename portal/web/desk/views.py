"""The staff side: login, the inbox, a report's conversation, posters for school accounts."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import timedelta
from enum import Enum

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as browser_session
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from portal import clock
from portal.enums import Agency, Category, Priority, Role, Status
from portal.models import School, Staff
from portal.services import labels, login, posters, risk, triage
from portal.services.inputs import row_id
from portal.services.registry import get_school, list_schools, regions
from portal.web import access, kdf_bound
from portal.web.access import COOKIE
from portal.web.context import get_config, get_session
from portal.web.desk.forms import AssignForm, LoginForm, PriorityForm, StatusForm, TextForm
from portal.web.forms import form_problems
from portal.web.ratelimit import client_key, limiter

bp = Blueprint("desk", __name__, url_prefix="/staff")

access.guard(bp)


@bp.app_template_filter("waited")
def waited(span: timedelta) -> str:
    """A waiting time in bands, as staff need it: '12 min', '3 h', '2 d'.

    Minutes only in the first hour, where the P1 target (15 minutes) lives; past it, whole
    hours, then whole days. An exact waiting time on an inbox drawn every minute gave each
    report's time of arrival to the minute, school by school (issue 20).
    """
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes < 60:
        return _once_a_request(("min", minutes), lambda: _("%(minutes)d min", minutes=minutes))
    hours = minutes // 60
    if hours < 48:
        return _once_a_request(("h", hours), lambda: _("%(hours)d h", hours=hours))
    return _once_a_request(("d", hours // 24), lambda: _("%(days)d d", days=hours // 24))


@bp.app_template_filter("label")
def label(member: Enum) -> str:
    """What staff read for an enum value, in their language (portal/labels.py)."""
    # Keyed by its enum too: members of two StrEnums with one value are equal.
    return _once_a_request((type(member), member), lambda: labels.label(member))


@bp.app_template_filter("reason")
def reason(rule: str | None) -> str:
    """Why the intake made a report P1 (its rule's category, no words), in the staff's
    language; "" for none."""
    return _once_a_request(("reason", rule), lambda: risk.rule_label(rule))


def _once_a_request(key: Hashable, translate: Callable[[], str]) -> str:
    """A text translated once a request: a list of many rows repeats a few labels and times,
    and each translation looks the language up again (the inbox under a flood, issue 14)."""
    translated: dict[Hashable, str] = g.setdefault("translated_texts", {})
    if key not in translated:
        translated[key] = str(translate())
    return translated[key]


def _staff() -> Staff:
    staff: Staff = g.staff
    return staff


@bp.route("/login", methods=["GET", "POST"], endpoint="login")
@limiter.limit("10/minute", key_func=client_key, methods=["POST"])
@kdf_bound.bounded
def login_page() -> Response | str:
    """Email, password and TOTP code; one generic message for every failure."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            done = login.log_in(
                get_session(),
                get_config(),
                form.email.data,
                form.password.data,
                form.code.data,
                device=request.cookies.get(access.DEVICE_COOKIE, ""),
            )
        except login.LoginFailed:
            flash(_("Wrong email, password or code, or the account is locked for a while."))
            # Not typed back: a used or wrong code is of no more use, and every failure's
            # page must read the same whichever part was wrong.
            form.code.data = ""
        else:
            # A new form token too: one planted with the browser's cookie before login
            # (session fixation) must not sign the staff member's actions after it.
            browser_session.pop("csrf_token", None)
            response = redirect(url_for("desk.home"), 303)
            response.set_cookie(
                COOKIE,
                done.cookie,
                path=access.COOKIE_PATH,
                secure=get_config().is_production,
                httponly=True,
                samesite="Strict",
            )  # no max_age: the cookie share dies with the browser session
            response.set_cookie(
                access.DEVICE_COOKIE,
                done.device_cookie,
                max_age=int(login.DEVICE_LIFETIME.total_seconds()),
                path=access.COOKIE_PATH,
                secure=get_config().is_production,
                httponly=True,
                samesite="Strict",
            )  # long-lived: it outlives logging out, which is its point
            return response
    return render_template("desk/login.html", form=form, problems=form_problems(form))


@bp.post("/logout")
def logout() -> Response:
    """Destroy the server share of the key; the cookie is dropped too.

    No token check: logging out is always allowed, and a forged one only ends a session.
    """
    login.log_out(get_session(), get_config(), request.cookies.get(COOKIE, ""))
    response = redirect(url_for("desk.login"), 303)
    response.delete_cookie(COOKIE, path=access.COOKIE_PATH)
    return response


@bp.get("/")
def home() -> Response:
    """Each role's first page."""
    if _staff().role is Role.SCHOOL:
        return redirect(url_for("desk.poster_list"), 303)
    return redirect(url_for("desk.inbox"), 303)


@bp.get("/inbox")
def inbox() -> str:
    """The queue: life-safety first, then the longest waiting; says when it was drawn."""
    try:
        wanted = triage.QueueFilter.parse(request.args)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    session = get_session()
    page = triage.queue(session, _staff(), wanted, triage.targets_of(get_config()))
    return render_template(
        "desk/inbox.html",
        page=page,
        drawn_at=clock.now(),
        wanted=wanted,
        statuses=list(Status),
        priorities=list(Priority),
        categories=list(Category),
        regions=regions(session),
        colleagues=triage.members_of(session, triage.inbox_ids(session, _staff())),
    )


def _opened(public_id: str) -> triage.OpenedReport:
    try:
        return triage.open_report(get_session(), get_config(), _staff(), g.staff_private, public_id)
    except triage.NoSuchReport:
        abort(404)


@bp.get("/reports/<public_id>")
def report(public_id: str) -> str:
    """The conversation, decrypted for the reader; the opening is audited."""
    return _report_page(_opened(public_id))


def _report_page(
    opened: triage.OpenedReport,
    reply_form: TextForm | None = None,
    note_form: TextForm | None = None,
) -> str:
    """The report page; a reply or note that was refused comes back in its box."""
    assign_form = AssignForm(assignee=str(opened.report.assignee_id or ""))
    assign_form.assignee.choices = [("", _("nobody"))] + [
        (str(member.id), member.email) for member in opened.members
    ]
    status_form = StatusForm(status=opened.report.status.value)
    priority_form = PriorityForm(priority=opened.report.priority.value)
    return render_template(
        "desk/report.html",
        opened=opened,
        reply_form=reply_form or TextForm(prefix="reply", formdata=None),
        note_form=note_form or TextForm(prefix="note", formdata=None),
        status_form=status_form,
        priority_form=priority_form,
        assign_form=assign_form,
        next_statuses=triage.NEXT_STATUSES[opened.report.status],
        overdue=triage.is_overdue(opened.report, triage.targets_of(get_config()), clock.now()),
    )


def _act(public_id: str, action: Callable[[triage.OpenedReport], None]) -> Response:
    """Run a triage action on the report, then show it again with what happened."""
    opened = _opened(public_id)
    try:
        action(opened)
    except triage.TriageError as exc:
        flash(str(exc))
    return redirect(url_for("desk.report", public_id=public_id), 303)


def _form_error(form: TextForm | StatusForm | PriorityForm | AssignForm) -> None:
    for problem in form_problems(form):
        flash(problem)


Write = Callable[[triage.OpenedReport, str], None]


def _write(public_id: str, prefix: str, write: Write) -> Response | str:
    """A reply or a note: stored, or the page again with the text still in its box."""
    form = TextForm(prefix=prefix)
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors:
        # Forged or stale: nothing is opened, written or put on the log for such a request.
        _form_error(form)
        return redirect(url_for("desk.report", public_id=public_id), 303)
    opened = _opened(public_id)
    problems = [] if valid else form_problems(form)
    if not problems:
        try:
            write(opened, form.text.data or "")
        except triage.TriageError as exc:
            problems = [str(exc)]
        else:
            return redirect(url_for("desk.report", public_id=public_id), 303)
    for problem in problems:
        flash(problem)
    # A long answer to a child is not typed twice: the refused text is shown again.
    return _report_page(opened, **{f"{prefix}_form": form})


@bp.post("/reports/<public_id>/reply")
def reply(public_id: str) -> Response | str:
    """Answer the child."""
    return _write(
        public_id,
        "reply",
        lambda opened, text: triage.reply(get_session(), get_config(), _staff(), opened, text),
    )


@bp.post("/reports/<public_id>/note")
def note(public_id: str) -> Response | str:
    """Add an internal note."""
    return _write(
        public_id,
        "note",
        lambda opened, text: triage.add_note(get_session(), get_config(), _staff(), opened, text),
    )


@bp.post("/reports/<public_id>/status")
def status(public_id: str) -> Response:
    """Move the report along the workflow (refer, close, reopen)."""
    form = StatusForm()
    if not form.validate_on_submit():
        _form_error(form)
        return redirect(url_for("desk.report", public_id=public_id), 303)
    new = Status.parse(form.status.data)
    agency = Agency.parse(form.agency.data) if form.agency.data else None
    note_text = form.note.data or ""
    return _act(
        public_id,
        lambda opened: triage.change_status(
            get_session(), get_config(), _staff(), opened, new, agency=agency, note=note_text
        ),
    )


@bp.post("/reports/<public_id>/priority")
def priority(public_id: str) -> Response:
    """Change the priority, with a reason."""
    form = PriorityForm()
    if not form.validate_on_submit():
        _form_error(form)
        return redirect(url_for("desk.report", public_id=public_id), 303)
    new = Priority.parse(form.priority.data)
    reason = form.reason.data or ""
    return _act(
        public_id,
        lambda opened: triage.change_priority(
            get_session(), get_config(), _staff(), opened, new, reason
        ),
    )


@bp.post("/reports/<public_id>/assign")
def assign(public_id: str) -> Response:
    """Give the report to a member of its inbox, or to nobody."""
    form = AssignForm()
    chosen = (form.assignee.data or "").strip()
    if not form.validate_on_submit() or not (chosen == "" or row_id(chosen)):
        _form_error(form)
        return redirect(url_for("desk.report", public_id=public_id), 303)
    assignee = row_id(chosen)
    return _act(
        public_id,
        lambda opened: triage.assign(get_session(), get_config(), _staff(), opened, assignee),
    )


def _printable_schools() -> list[School]:
    """A school account's own schools; every active school for an admin."""
    staff = _staff()
    if staff.role is Role.ADMIN:
        return list_schools(get_session(), include_inactive=False)
    return sorted((school for school in staff.schools if school.active), key=lambda s: s.school_id)


@bp.get("/posters")
def poster_list() -> str:
    """The schools whose posters this account may print."""
    return render_template("desk/posters.html", schools=_printable_schools())


@bp.get("/posters/<school_id>.<kind>")
def poster(school_id: str, kind: str) -> Response:
    """A school's poster (pdf, svg, png) or its sticker sheet ('sheet', a PDF)."""
    if school_id not in {school.school_id for school in _printable_schools()}:
        abort(404)
    school = get_school(get_session(), school_id)
    try:
        download = posters.render_for_download(school, get_config().base_url, kind)
    except ValueError:
        abort(404)
    response = make_response(download.data)
    response.headers["Content-Type"] = download.media_type
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
