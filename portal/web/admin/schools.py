"""The admin's school registry pages: search, a school's code and posters, rotation,
deactivation and CSV upload (the rules of `flask schools import`), every change audited."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from portal.models import School, Staff
from portal.services import registry
from portal.web.admin.forms import ActionForm, ConfirmForm, ImportForm
from portal.web.context import get_config, get_session
from portal.web.forms import form_problems
from qr.urls import validate_base_url

bp = Blueprint("schools", __name__, url_prefix="/schools")

# The national registry (~7,700 schools) is about 1.6 MB of CSV: room for twice that.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 300  # a wholly wrong file has a problem on every line: show the first
STATES = {"": None, "active": True, "inactive": False}
MAX_PAGE = 10_000
EXPIRED = _l("The form had expired or was sent from elsewhere: please try again.")


@dataclass(frozen=True)
class SchoolFilter:
    """What the school list shows; every value parsed strictly (a bad one is an error)."""

    text: str = ""
    region: str | None = None
    state: str = ""
    page: int = 1

    @classmethod
    def parse(cls, args: Mapping[str, str], known_regions: list[str]) -> SchoolFilter:
        """Read the query string; ValueError names the bad parameter (in the page's language)."""
        text = (args.get("q") or "").strip()
        if len(text) > 200:
            raise ValueError(_("the search text is longer than 200 characters"))
        region = (args.get("region") or "").strip() or None
        if region is not None and region not in known_regions:
            raise ValueError(
                _("there is no region %(region)s in the registry", region=repr(region))
            )
        state = (args.get("state") or "").strip()
        if state not in STATES:
            raise ValueError(
                _(
                    "state %(state)s is not one of: active, inactive (or empty for all)",
                    state=repr(state),
                )
            )
        page = (args.get("page") or "1").strip()
        if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            raise ValueError(_("page %(page)s is not a page number", page=repr(page)))
        return cls(text=text, region=region, state=state, page=int(page))

    def search(self, session: Session) -> registry.SchoolPage:
        """The page of schools this filter selects."""
        return registry.search_schools(
            session, text=self.text, region=self.region, active=STATES[self.state], page=self.page
        )


def public_url(base_url: str, school: School) -> str:
    """The school's page for children, as a link."""
    return f"{validate_base_url(base_url)}/s/{school.code}"


def _staff() -> Staff:
    staff: Staff = g.staff
    return staff


def _secret() -> str:
    return get_config().secret_key


def _school_or_404(school_id: str) -> School:
    try:
        return registry.get_school(get_session(), school_id)
    except registry.UnknownSchool:
        abort(404)


def _flash_errors(form: FlaskForm) -> None:
    for problem in form_problems(form, expired=EXPIRED):
        flash(problem)


@bp.before_request
def _room_for_the_registry() -> None:
    """Only the upload may be larger than the app's default request size."""
    if request.endpoint == "admin.schools.upload":
        request.max_content_length = MAX_UPLOAD_BYTES + 64 * 1024  # the form around the file


@bp.get("/")
def school_list() -> str | tuple[str, int]:
    """Search the registry: name, school id, region, district or code; region; state."""
    session = get_session()
    known = registry.regions(session)
    try:
        wanted = SchoolFilter.parse(request.args, known)
    except ValueError as exc:
        # The page again, with the reason and an empty list: a 400 the admin can act on.
        empty = registry.SchoolPage([], 0, 1, 1)
        page = render_template(
            "admin/schools/list.html",
            page=empty,
            wanted=SchoolFilter(),
            regions=known,
            bad=str(exc),
        )
        return page, 400
    return render_template(
        "admin/schools/list.html", page=wanted.search(session), wanted=wanted, regions=known
    )


@bp.get("/<school_id>")
def school(school_id: str) -> str:
    """A school's code, check word, public URL, posters, and the actions on it."""
    found = _school_or_404(school_id)
    return render_template(
        "admin/schools/school.html",
        school=found,
        url=public_url(get_config().base_url, found),
        rotate_form=ConfirmForm(),
        deactivate_form=ConfirmForm(),
        reactivate_form=ActionForm(),
    )


@bp.post("/<school_id>/rotate")
def rotate_code(school_id: str) -> Response:
    """Rotate the code after the admin confirmed that the old posters stop working."""
    found = _school_or_404(school_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        registry.rotate_code(
            get_session(), found.school_id, actor=_staff(), server_secret=_secret()
        )
        flash(
            _(
                "New code %(code)s: print and put up the new posters; the old ones no longer work.",
                code=found.code,
            )
        )
    return redirect(url_for("admin.schools.school", school_id=school_id), 303)


@bp.post("/<school_id>/deactivate")
def deactivate(school_id: str) -> Response:
    """Stop the school's page and posters."""
    found = _school_or_404(school_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        registry.set_active(
            get_session(), found.school_id, False, actor=_staff(), server_secret=_secret()
        )
        flash(_("The school is deactivated: its page and posters no longer work."))
    return redirect(url_for("admin.schools.school", school_id=school_id), 303)


@bp.post("/<school_id>/reactivate")
def reactivate(school_id: str) -> Response:
    """Open the school's page again (with its current code)."""
    found = _school_or_404(school_id)
    form = ActionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        registry.set_active(
            get_session(), found.school_id, True, actor=_staff(), server_secret=_secret()
        )
        flash(_("The school is active again: its current posters work."))
    return redirect(url_for("admin.schools.school", school_id=school_id), 303)


@bp.route("/import", methods=["GET", "POST"])
def upload() -> str:
    """Upload the registry CSV: any bad row refuses the whole file, with every problem."""
    limit_mb = MAX_UPLOAD_BYTES // (1024 * 1024)
    too_large = _(
        "The file is larger than %(limit)d MB: nothing was imported. Split it by region.",
        limit=limit_mb,
    )
    try:
        form = ImportForm()
    except RequestEntityTooLarge:
        flash(too_large)
        return render_template(
            "admin/schools/import.html", form=ImportForm(formdata=None), limit_mb=limit_mb
        )
    problems: list[str] = []
    result: registry.ImportResult | None = None
    if form.validate_on_submit():
        data = form.file.data.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            flash(too_large)
        else:
            try:
                result = registry.import_schools(
                    get_session(), data, actor=_staff(), server_secret=_secret()
                )
            except registry.BadSchoolsFile as exc:
                problems = exc.messages  # refused before the database was touched
    elif request.method == "POST":
        _flash_errors(form)
    return render_template(
        "admin/schools/import.html",
        form=form,
        result=result,
        problems=problems[:MAX_PROBLEMS_SHOWN],
        hidden_problems=max(0, len(problems) - MAX_PROBLEMS_SHOWN),
        limit_mb=limit_mb,
    )
