"""The child's side: a school's landing page (anonymous, no cookie, no script)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from portal.db import get_session
from portal.i18n import select_language
from portal.registry import find_by_code

bp = Blueprint("child", __name__)

EMERGENCY_NUMBERS = ("112", "102", "103", "111")


@bp.get("/s/<code>")
@bp.get("/S/<code>", endpoint="school_upper")
def school(code: str) -> str:
    """The landing page a school's poster links to; unknown or old codes get a kind 404."""
    found = find_by_code(get_session(), code)
    if found is None:
        abort(404)
    return render_template(
        "child/school.html",
        school_name=found.name_for(select_language()),
        check_word=found.check_word,
    )


@bp.get("/")
def index() -> str:
    """The site's front page: what this is and the numbers to call."""
    return render_template("child/index.html")
